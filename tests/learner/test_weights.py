import hashlib
import io

import pytest
import torch
from torchvision.models import vgg16

from replay_gym.config import LearnerConfig
from replay_gym.learner import weights
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


IMAGENET = LearnerConfig(widths=(64, 128, 256, 512, 512), weights="imagenet")


def test_imagenet_offline_error_says_how_to_supply_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsUnavailableError, match="weights=/path/to/vgg16.pth") as error:
        load_base_state(IMAGENET)
    assert str(tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth") in str(error.value)


def hub_file(folder, state: dict, digits: int = 8):
    """Save ``state`` into torch hub's cache under ``folder`` as ``vgg16-<sha256 prefix>.pth``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    path = folder / "hub" / "checkpoints" / f"vgg16-{digest[:digits]}.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def test_hub_weights_matching_their_name_load(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = {"features.0.weight": torch.arange(6.0).reshape(2, 3)}
    path = hub_file(tmp_path, state)
    monkeypatch.setattr(weights, "imagenet_url", lambda: f"https://example.org/m/{path.name}")
    assert torch.equal(load_base_state(IMAGENET)["features.0.weight"], state["features.0.weight"])


def test_a_file_planted_in_the_hub_cache_is_refused_unread(
    monkeypatch, tmp_path, marker, evil_torch_file
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    planted = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(evil_torch_file)
    with pytest.raises(ValueError, match="refused .*vgg16-397923af.pth: its SHA-256 begins"):
        load_base_state(IMAGENET)
    assert not marker.exists()
    # with a name that matches its hash, the pickle gets as far as torch.load(weights_only=True)
    named = planted.with_name(f"vgg16-{hashlib.sha256(evil_torch_file).hexdigest()[:8]}.pth")
    named.write_bytes(evil_torch_file)
    monkeypatch.setattr(weights, "imagenet_url", lambda: f"https://example.org/m/{named.name}")
    with pytest.raises(ValueError, match="refused weights file .*weights_only"):
        load_base_state(IMAGENET)
    assert not marker.exists()


def test_a_download_that_fails_its_hash_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def tampered(url, dst, hash_prefix=None, progress=True):
        raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "0000")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", tampered)
    with pytest.raises(ValueError, match="downloaded but refused: invalid hash value"):
        load_base_state(IMAGENET)


def test_hub_weights_without_a_hash_in_their_name_are_refused():
    with pytest.raises(ValueError, match="carries no hash prefix"):
        weights.hub_state("https://example.org/m/vgg16.pth")


def test_a_weights_file_holding_a_pickle_is_refused_unrun(tmp_path, marker, evil_torch_file):
    path = tmp_path / "evil.pt"
    path.write_bytes(evil_torch_file)
    with pytest.raises(ValueError, match="refused weights file .*weights_only=True"):
        load_base_state(LearnerConfig(weights=str(path)))
    assert not marker.exists()


def test_device_resolution():
    from replay_gym.learner.cortex import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


# -- the shipped bases: their SHA-256 is checked before they are read -------------------------


@pytest.mark.parametrize("name", sorted(weights.SHIPPED_BASES))
def test_each_shipped_base_loads_offline_with_its_recorded_hash(name):
    base = weights.SHIPPED_BASES[name]
    assert weights.file_sha256(base.path) == base.sha256
    meta = weights.shipped_metadata(name)
    if "sha256" in meta:  # bases made since the hash was recorded say it beside them too
        assert meta["sha256"] == base.sha256 and meta["bytes"] == base.path.stat().st_size
    config = LearnerConfig(weights=name, widths=tuple(meta["widths"]))
    state = load_base_state(config)
    assert state and all(k.startswith("features.") for k in state)
    learner = Learner(config, 5, state, torch.Generator().manual_seed(0))
    assert torch.equal(learner.model.features[0].weight, state["features.0.weight"])


def _shipped_copy(monkeypatch, tmp_path, name: str, content: bytes):
    """Point SHIPPED_BASES[name] at a copy in ``tmp_path`` holding ``content``."""
    base = weights.SHIPPED_BASES[name]
    (tmp_path / base.meta_path.name).write_bytes(base.meta_path.read_bytes())
    (tmp_path / base.file).write_bytes(content)
    monkeypatch.setattr(weights, "ASSETS", tmp_path)
    return tmp_path / base.file


def test_a_tampered_shipped_base_is_refused(monkeypatch, tmp_path):
    name = "embedded-fashion-mnist"
    content = bytearray(weights.SHIPPED_BASES[name].path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path = _shipped_copy(monkeypatch, tmp_path, name, bytes(content))
    with pytest.raises(
        ValueError,
        match=rf"refused {path}: its SHA-256 begins [0-9a-f]{{64}}, "
        r"but SHIPPED_BASES\['embedded-fashion-mnist'\]",
    ):
        load_base_state(LearnerConfig(weights=name))


def test_a_pickle_put_in_place_of_a_shipped_base_is_refused_unread(
    monkeypatch, tmp_path, marker, evil_torch_file
):
    _shipped_copy(monkeypatch, tmp_path, "embedded", evil_torch_file)
    with pytest.raises(ValueError, match="the shipped base of the embedded default .* not read"):
        load_base_state(LearnerConfig())
    assert not marker.exists()


def test_a_missing_shipped_base_says_how_to_regenerate_it(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "ASSETS", tmp_path)
    with pytest.raises(
        WeightsUnavailableError, match="pretrain --base embedded-fashion-mnist --out .* --overwrite"
    ):
        load_base_state(LearnerConfig(weights="embedded-fashion-mnist"))


def test_check_sha256_accepts_a_prefix_or_the_whole_hash(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    digest = hashlib.sha256(b"abc").hexdigest()
    assert weights.file_sha256(path) == digest
    weights.check_sha256(path, digest, claim="c", what="w", remedy="r")
    weights.check_sha256(path, digest[:8].upper(), claim="c", what="w", remedy="r")
    with pytest.raises(
        ValueError,
        match=rf"refused {path}: its SHA-256 begins {digest[:4]}, but "
        "the list says 0000, so it is not x .* Do y.",
    ):
        weights.check_sha256(path, "0000", claim="the list says", what="x", remedy="Do y.")


def test_check_base_state_names_missing_and_mis_shaped_conv_weights():
    model = {"features.0.weight": torch.zeros(8, 3, 3, 3), "features.0.bias": torch.zeros(8),
             "classifier.0.weight": torch.zeros(2, 2)}
    weights.check_base_state({k: v for k, v in model.items() if k.startswith("features.")}, model)
    with pytest.raises(ValueError, match=r"missing \['features.0.bias'\]"):
        weights.check_base_state({"features.0.weight": torch.zeros(8, 3, 3, 3)}, model)
    with pytest.raises(ValueError, match=r"features.0.weight: file \(4, 3, 3, 3\) vs model \(8"):
        weights.check_base_state({"features.0.weight": torch.zeros(4, 3, 3, 3),
                                  "features.0.bias": torch.zeros(8)}, model)


def test_load_weights_only_reads_tensors_and_names_what_it_refuses(
    tmp_path, marker, evil_torch_file
):
    buffer = io.BytesIO()
    torch.save({"w": torch.arange(3)}, buffer)
    buffer.seek(0)
    assert torch.equal(weights.load_weights_only(buffer, "state")["w"], torch.arange(3))
    (tmp_path / "text.pt").write_text("not a torch file")
    with pytest.raises(ValueError, match="cannot read my file"):
        weights.load_weights_only(tmp_path / "text.pt", "my file")
    (tmp_path / "evil.pt").write_bytes(evil_torch_file)
    with pytest.raises(ValueError, match="refused my file: it holds objects other than tensors"):
        weights.load_weights_only(tmp_path / "evil.pt", "my file")
    assert not marker.exists()
