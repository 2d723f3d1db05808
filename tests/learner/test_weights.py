import pytest
import torch
from torchvision.models import vgg16

from replay_gym.config import LearnerConfig
from replay_gym.learner.cortex import Learner
from replay_gym.learner.weights import (
    WeightsUnavailableError,
    embedded_metadata,
    load_base_state,
)


def test_embedded_base_loads_and_matches_the_default_widths():
    config = LearnerConfig()
    state = load_base_state(config)
    assert state and all(k.startswith("features.") for k in state)
    assert tuple(embedded_metadata()["widths"]) == config.widths
    learner = Learner(config, 10, state, torch.Generator().manual_seed(0))
    assert torch.equal(learner.model.features[0].weight, state["features.0.weight"])


def test_embedded_base_refuses_other_widths():
    with pytest.raises(ValueError, match="pretrained with widths"):
        load_base_state(LearnerConfig(widths=(8, 8, 8, 8, 8)))


@pytest.mark.slow
def test_full_torchvision_state_dict_file_loads_only_the_conv_base(tmp_path):
    path = tmp_path / "vgg16.pth"
    torch.save(vgg16().state_dict(), path)
    config = LearnerConfig(widths=(64, 128, 256, 512, 512), weights=str(path), hidden=8)
    state = load_base_state(config)
    assert set(state) == {k for k in vgg16().state_dict() if k.startswith("features.")}
    learner = Learner(config, 3, state, torch.Generator().manual_seed(0))
    assert torch.equal(learner.model.features[28].bias, state["features.28.bias"])


def test_mis_shaped_file_is_named(tmp_path):
    path = tmp_path / "small.pt"
    torch.save({f"features.{k}": v for k, v in vgg16().features.state_dict().items()}, path)
    state = load_base_state(LearnerConfig(weights=str(path)))
    with pytest.raises(ValueError, match="do not fit learner.widths"):
        Learner(LearnerConfig(weights=str(path)), 3, state, torch.Generator())


def test_unreadable_and_foreign_files_are_named(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read weights file"):
        load_base_state(LearnerConfig(weights=str(junk)))
    foreign = tmp_path / "foreign.pt"
    torch.save({"layer.weight": torch.zeros(1)}, foreign)
    with pytest.raises(ValueError, match="no 'features"):
        load_base_state(LearnerConfig(weights=str(foreign)))


def test_imagenet_offline_error_says_how_to_supply_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from torchvision.models import VGG16_Weights

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(VGG16_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    config = LearnerConfig(widths=(64, 128, 256, 512, 512), weights="imagenet")
    with pytest.raises(WeightsUnavailableError, match="learner.weights=/path/to/vgg16.pth"):
        load_base_state(config)


def test_device_resolution():
    from replay_gym.learner.cortex import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
