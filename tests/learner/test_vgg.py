import pytest
import torch
from torchvision.models import vgg16

from replay_gym.learner.vgg import VGG16, init_head


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VGG16(widths=(4, 8, 8, 16, 16), input_size=32, hidden=16, n_classes=3).eval()


@pytest.mark.parametrize("layer", [1, 2, 3, 4, 5])
def test_forward_from_a_layer_equals_the_full_forward(model, layer):
    x = torch.rand(5, 3, 32, 32)
    with torch.no_grad():
        acts = model.activations(x, layer)
        assert acts.shape == (5, (4, 8, 8, 16, 16)[layer - 1], 32 >> layer, 32 >> layer)
        torch.testing.assert_close(model.forward_from(acts, layer), model(x), rtol=0, atol=0)


def test_layout_matches_torchvision_vgg16_so_imagenet_weights_load():
    ours = VGG16(input_size=32, hidden=8, n_classes=2)
    theirs = vgg16().features.state_dict()
    missing = ours.features.load_state_dict(theirs, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    assert ours.pool_index == (4, 9, 16, 23, 30)


def test_parameters_above_exclude_the_frozen_part(model):
    above = {id(p) for p in model.parameters_above(3)}
    below = {id(p) for p in model.below(3).parameters()}
    assert not above & below
    assert above | below == {id(p) for p in model.parameters()}


def test_bad_layer_is_named(model):
    with pytest.raises(ValueError, match="layer must be 1-5"):
        model.above(6)


def test_head_init_is_glorot_from_the_generator(model):
    init_head(model, torch.Generator().manual_seed(1))
    first = model.head[1].weight.clone()
    init_head(model, torch.Generator().manual_seed(1))
    assert torch.equal(first, model.head[1].weight)
    fan_out, fan_in = first.shape
    assert first.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5
    assert torch.count_nonzero(model.head[1].bias) == 0
