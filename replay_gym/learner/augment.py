"""Day-time augmentation: random rotation, shift, zoom and flip, reflection-filled (METHOD §1).

The paper used Keras' ``ImageDataGenerator(rotation_range=20, width_shift_range=0.2,
height_shift_range=0.2, zoom_range=0.2, horizontal_flip=True, fill_mode='reflect')``. This is
the same family of transforms done in one batched ``affine_grid`` + ``grid_sample`` call, so a
batch of 36 images at 224x224 costs one resampling pass.

Per image, as in Keras: an angle uniform in ±``rotation`` degrees, horizontal and vertical
shifts uniform in ±``shift`` of the side, independent horizontal and vertical zoom factors
uniform in [1 - ``zoom``, 1 + ``zoom``] (a factor above 1 shows more of the image, so the
content shrinks), then a horizontal flip with probability 0.5. Borders are filled by reflection
about the image edge (Keras/scipy ``reflect``: ``d c b a | a b c d``), which is what
``grid_sample(padding_mode="reflection", align_corners=False)`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["AffineParams", "affine_params", "apply_affine", "augment_images"]


@dataclass(frozen=True)
class AffineParams:
    """Explicit per-image transform parameters, so tests and callers can pin a transform.

    All fields are 1-D tensors of one length (the batch size), on any device.

    Attributes:
        angle: Rotation in degrees; positive turns the content counter-clockwise as displayed
            (row 0 at the top).
        shift_x: Horizontal shift as a fraction of the width; positive moves content right.
        shift_y: Vertical shift as a fraction of the height; positive moves content down.
        zoom_x: Horizontal zoom factor (Keras convention: above 1 shows more, content shrinks).
        zoom_y: Vertical zoom factor, same convention.
        flip: Bool; ``True`` flips the image left-right after the other transforms.
    """

    angle: torch.Tensor
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    zoom_x: torch.Tensor
    zoom_y: torch.Tensor
    flip: torch.Tensor

    def __post_init__(self) -> None:
        """Check every field is 1-D and all have the same length."""
        lengths = set()
        for name in ("angle", "shift_x", "shift_y", "zoom_x", "zoom_y", "flip"):
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or value.ndim != 1:
                raise ValueError(f"AffineParams.{name} must be a 1-D tensor, got {value!r}")
            lengths.add(value.shape[0])
        if len(lengths) != 1:
            raise ValueError(f"AffineParams fields must all have one length, got {sorted(lengths)}")

    def __len__(self) -> int:
        return self.angle.shape[0]

    @classmethod
    def identity(cls, batch: int) -> AffineParams:
        """Parameters that leave ``batch`` images unchanged (a starting point for tests)."""
        zeros = torch.zeros(batch, dtype=torch.float64)
        return cls(
            angle=zeros, shift_x=zeros, shift_y=zeros, zoom_x=zeros + 1, zoom_y=zeros + 1,
            flip=torch.zeros(batch, dtype=torch.bool),
        )


def _check_ranges(rotation: float, shift: float, zoom: float) -> None:
    """Raise ``ValueError`` naming the first augmentation range that is out of bounds."""
    if not (math.isfinite(rotation) and rotation >= 0):
        raise ValueError(f"rotation must be a finite angle >= 0 degrees, got {rotation}")
    if not 0 <= shift < 1:
        raise ValueError(f"shift must be in [0, 1) (a fraction of the side), got {shift}")
    if not 0 <= zoom < 1:
        raise ValueError(f"zoom must be in [0, 1) (zoom factors 1 ± zoom), got {zoom}")


def affine_params(
    batch: int,
    generator: torch.Generator,
    *,
    rotation: float = 20.0,
    shift: float = 0.2,
    zoom: float = 0.2,
    hflip: bool = True,
) -> AffineParams:
    """Draw Keras-style random transform parameters for ``batch`` images.

    Six uniforms per image come from one ``torch.rand`` call on ``generator``'s device (so the
    stream, and the result, do not depend on which ranges are zero), returned as float64.

    Args:
        batch: Number of images.
        generator: Source of all randomness.
        rotation: Largest rotation in degrees (>= 0).
        shift: Largest shift as a fraction of the side, in [0, 1).
        zoom: Largest zoom deviation from 1, in [0, 1).
        hflip: Whether to flip horizontally with probability 0.5.

    Returns:
        The drawn parameters, on ``generator``'s device.

    Raises:
        ValueError: If ``batch`` is negative or a range is out of bounds.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 0:
        raise ValueError(f"batch must be a non-negative int, got {batch!r}")
    _check_ranges(rotation, shift, zoom)
    u = torch.rand(batch, 6, generator=generator, device=generator.device, dtype=torch.float64)
    signed = 2 * u[:, :5] - 1  # uniform in [-1, 1)
    return AffineParams(
        angle=signed[:, 0] * rotation,
        shift_x=signed[:, 1] * shift,
        shift_y=signed[:, 2] * shift,
        zoom_x=1 + signed[:, 3] * zoom,
        zoom_y=1 + signed[:, 4] * zoom,
        flip=(u[:, 5] < 0.5) & hflip,
    )


def _theta(params: AffineParams, height: int, width: int) -> torch.Tensor:
    """The [B, 2, 3] output-to-input maps in ``affine_grid``'s normalised coordinates (float64).

    In pixel units about the centre the map is ``p_in = R Z F p_out + R t`` (Keras' order:
    rotation, then shift, then zoom; the flip comes last on the output). Conjugating by
    ``S = diag(W/2, H/2)`` moves it to normalised coordinates, which keeps rotations true on
    non-square images.
    """
    angle = torch.deg2rad(params.angle.to(torch.float64))
    cos, sin = torch.cos(angle), torch.sin(angle)
    zx = params.zoom_x.to(torch.float64) * torch.where(params.flip, -1.0, 1.0).to(angle)
    zy = params.zoom_y.to(torch.float64)
    # Content moves by +shift, so the output samples the input at -shift (pixels).
    tx = -params.shift_x.to(torch.float64) * width
    ty = -params.shift_y.to(torch.float64) * height
    half_w, half_h = width / 2, height / 2
    theta = torch.empty(len(params), 2, 3, dtype=torch.float64, device=angle.device)
    # A_norm = S^-1 (R diag(zx, zy)) S, b_norm = S^-1 R t.
    theta[:, 0, 0] = cos * zx
    theta[:, 0, 1] = -sin * zy * half_h / half_w
    theta[:, 1, 0] = sin * zx * half_w / half_h
    theta[:, 1, 1] = cos * zy
    theta[:, 0, 2] = (cos * tx - sin * ty) / half_w
    theta[:, 1, 2] = (sin * tx + cos * ty) / half_h
    return theta


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(f"images must be 4-D [B, C, H, W], got ndim={images.ndim} "
                         f"(shape {tuple(images.shape)})")
    if not images.is_floating_point():
        raise ValueError(f"images must be a floating-point tensor, got dtype {images.dtype}")


def apply_affine(images: torch.Tensor, params: AffineParams) -> torch.Tensor:
    """Apply explicit per-image transforms with reflection-filled borders.

    Args:
        images: Float tensor [B, C, H, W], any value range.
        params: One set of parameters per image (``len(params) == B``).

    Returns:
        The transformed images, same shape, dtype and device.

    Raises:
        ValueError: If ``images`` is not a 4-D float tensor or the batch sizes differ.
    """
    _check_images(images)
    if len(params) != images.shape[0]:
        raise ValueError(
            f"params hold {len(params)} transforms but images has batch size {images.shape[0]}"
        )
    if images.shape[0] == 0:
        return images.clone()
    height, width = images.shape[-2:]
    theta = _theta(params, height, width).to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(
        images, grid, mode="bilinear", padding_mode="reflection", align_corners=False
    )


def augment_images(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    rotation: float = 20.0,
    shift: float = 0.2,
    zoom: float = 0.2,
    hflip: bool = True,
) -> torch.Tensor:
    """Randomly rotate, shift, zoom and flip each image independently (Keras semantics).

    Random numbers are drawn on ``generator``'s device (a CPU generator makes the result
    independent of the images' device) and the transforms are applied on the images' device.

    Args:
        images: Float tensor [B, C, H, W], any value range.
        generator: Source of all randomness.
        rotation: Largest rotation in degrees (>= 0).
        shift: Largest horizontal and vertical shift as a fraction of the side, in [0, 1).
        zoom: Largest zoom deviation from 1, in [0, 1).
        hflip: Whether to flip horizontally with probability 0.5.

    Returns:
        Augmented images, same shape, dtype and device.

    Raises:
        ValueError: If ``images`` is not a 4-D float tensor or a range is out of bounds.
    """
    _check_images(images)
    params = affine_params(
        images.shape[0], generator, rotation=rotation, shift=shift, zoom=zoom, hflip=hflip
    )
    return apply_affine(images, params)
