import time

import pytest
import torch

from replay_gym.learner.augment import AffineParams, affine_params, apply_affine, augment_images


def _images(batch: int = 4, height: int = 16, width: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, height, width, generator=g) * 2 + 0.5  # all positive


def _params(batch: int, **fields: object) -> AffineParams:
    base = AffineParams.identity(batch)
    values = {name: getattr(base, name) for name in
              ("angle", "shift_x", "shift_y", "zoom_x", "zoom_y", "flip")}
    for name, value in fields.items():
        values[name] = torch.full((batch,), value, dtype=values[name].dtype)
    return AffineParams(**values)


def test_identity_when_all_ranges_zero() -> None:
    images = _images(height=12, width=20)
    g = torch.Generator().manual_seed(1)
    out = augment_images(images, g, rotation=0, shift=0, zoom=0, hflip=False)
    torch.testing.assert_close(out, images, atol=1e-5, rtol=0)


def test_forced_flip_equals_flip() -> None:
    images = _images(height=10, width=14)
    out = apply_affine(images, _params(4, flip=True))
    torch.testing.assert_close(out, images.flip(-1), atol=1e-5, rtol=0)


def test_rotation_90_is_counter_clockwise_rot90() -> None:
    images = _images(height=9, width=9)
    out = apply_affine(images, _params(4, angle=90.0))
    torch.testing.assert_close(out, torch.rot90(images, 1, dims=(-2, -1)), atol=1e-4, rtol=0)


@pytest.mark.parametrize(("field", "dim"), [("shift_x", -1), ("shift_y", -2)])
def test_pure_shift_moves_pattern_and_reflects_border(field: str, dim: int) -> None:
    images = _images(height=8, width=8)
    out = apply_affine(images, _params(4, **{field: 0.25}))  # 2 pixels right / down
    moved = out.narrow(dim, 2, 6)
    torch.testing.assert_close(moved, images.narrow(dim, 0, 6), atol=1e-5, rtol=0)
    # Keras 'reflect' (half-sample symmetric): b a | a b c ...
    torch.testing.assert_close(out.narrow(dim, 0, 1), images.narrow(dim, 1, 1), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.narrow(dim, 1, 1), images.narrow(dim, 0, 1), atol=1e-5, rtol=0)


def test_zoom_out_shrinks_content() -> None:
    # A centred bright square; zoom factor 2 (shows twice the field) halves its side.
    images = torch.zeros(1, 3, 16, 16)
    images[..., 4:12, 4:12] = 1.0
    out = apply_affine(images, _params(1, zoom_x=2.0, zoom_y=2.0))
    centre = out[0, 0, 6:10, 6:10]
    assert torch.all(centre > 0.99)
    assert out[0, 0, 8, 3] < 0.01 and out[0, 0, 3, 8] < 0.01


def test_reflection_fill_leaves_no_blank_pixels() -> None:
    images = _images(batch=8, height=24, width=24)
    params = _params(8, shift_x=0.45, shift_y=-0.45, angle=37.0, zoom_x=1.3, zoom_y=0.8)
    out = apply_affine(images, params)
    assert out.min() >= images.min() - 1e-5  # a zero fill would show up as 0 < 0.5
    g = torch.Generator().manual_seed(3)
    out = augment_images(images, g, rotation=45, shift=0.9, zoom=0.5)
    assert out.min() >= images.min() - 1e-5


def test_seeded_reproducible_and_seed_dependent() -> None:
    images = _images(batch=6)
    a = augment_images(images, torch.Generator().manual_seed(7))
    b = augment_images(images, torch.Generator().manual_seed(7))
    c = augment_images(images, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_params_are_per_image_and_in_range() -> None:
    g = torch.Generator().manual_seed(0)
    p = affine_params(4000, g, rotation=20, shift=0.2, zoom=0.2, hflip=True)
    assert p.angle.abs().max() <= 20 and p.angle.std() > 5
    for shift in (p.shift_x, p.shift_y):
        assert shift.abs().max() <= 0.2
    for zoom in (p.zoom_x, p.zoom_y):
        assert 0.8 <= zoom.min() and zoom.max() <= 1.2
    assert not torch.equal(p.zoom_x, p.zoom_y)  # independent, as in Keras
    # Flip probability 0.5: 5 standard errors of a Bernoulli mean over 4000 draws.
    assert abs(p.flip.double().mean().item() - 0.5) < 5 * (0.25 / 4000) ** 0.5
    no_flip = affine_params(100, g, hflip=False)
    assert not no_flip.flip.any()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"rotation": -1.0}, "rotation"), ({"shift": 1.0}, "shift"), ({"shift": -0.1}, "shift"),
     ({"zoom": 1.0}, "zoom"), ({"rotation": float("nan")}, "rotation")],
)
def test_bad_ranges_raise(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        augment_images(_images(), torch.Generator(), **kwargs)


def test_bad_images_raise() -> None:
    with pytest.raises(ValueError, match="ndim"):
        augment_images(torch.rand(3, 8, 8), torch.Generator())
    with pytest.raises(ValueError, match="floating"):
        augment_images(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.Generator())
    with pytest.raises(ValueError, match="batch size"):
        apply_affine(_images(batch=2), AffineParams.identity(3))


def test_paper_batch_is_fast() -> None:
    images = torch.rand(36, 3, 224, 224)
    g = torch.Generator().manual_seed(0)
    augment_images(images, g)
    start = time.perf_counter()
    out = augment_images(images, g)
    elapsed = time.perf_counter() - start
    print(f"augment 36x3x224x224: {elapsed * 1000:.1f} ms")
    assert out.shape == images.shape
    assert elapsed < 5.0  # generous: one batched grid_sample, not a per-image loop
