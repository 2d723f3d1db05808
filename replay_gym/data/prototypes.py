"""The embedded default data set: procedural image categories made by distorting prototypes.

In the prototype-distortion tradition (Posner & Keele, 1968) each category is one prototype
image, and its exemplars are random distortions of it. A prototype here is a smooth coloured
background with a sinusoidal grating and five coloured shapes (ellipses, rectangles, strokes,
rings); an exemplar moves each shape on its own, warps the whole picture (affine + smooth
elastic field), shifts its colours and adds pixel noise. Everything is rendered analytically at
the exemplar's warped coordinates, so no interpolation blurs the edges.

Classes differ in difficulty on purpose, so that a learner trained briefly knows some classes
well and others weakly (the situation the paper's replay selector exploits):

* each class has a distortion *level* in ``difficulty`` (default 0-1), spread evenly over any
  run of consecutive classes (golden-ratio sequence), which scales every distortion
  (:meth:`Distortion.at_level`);
* in every block of ten classes, some (default three) are made *similar* to another class of
  the block: each copies most of that partner's shapes and mixes in its background
  (:func:`prototype`).

A class's identity depends only on ``(seed, first_class + index)``, so another range of
``first_class`` (e.g. 1000 onwards for pretraining a base) gives disjoint categories.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from replay_gym.data.splits import SPLITS, ImageSplits, assemble_splits

N_SHAPES = 5
"""Shapes in every prototype."""
TEXTURE_GRID = 4
"""Side of the low-resolution colour field that the background is interpolated from."""
RENDER_PIXELS = 1 << 19
"""Images x pixels rendered at once: 512 images at 32x32, 10 at 224x224."""
BLOCK = 10
"""Similarity partners are chosen inside blocks of this many consecutive class indices."""
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
"""Step of the low-discrepancy sequence that spreads the classes' distortion levels."""

_TAG_LEVEL, _TAG_PARTNER, _TAG_PROTOTYPE, _TAG_EXEMPLARS = 1, 2, 3, 4
"""Seed-sequence tags that keep the random streams of the different uses apart."""

ELLIPSE, RECTANGLE, STROKE, RING = range(4)
SHAPE_KINDS = ("ellipse", "rectangle", "stroke", "ring")


@dataclass(frozen=True)
class Distortion:
    """How far one class's exemplars stray from its prototype (all ranges are maxima or stds).

    Lengths are fractions of the image side.
    """

    rotation: float
    """Largest rotation of the whole image, degrees."""
    shift: float
    """Largest translation of the whole image."""
    zoom: float
    """Largest relative zoom in or out."""
    warp: float
    """Standard deviation of the smooth elastic displacement."""
    jitter: float
    """Standard deviation of each shape's own displacement; also scales its size, angle and
    colour jitter."""
    dropout: float
    """Probability that a shape is missing from an exemplar."""
    hue: float
    """Largest hue rotation, degrees."""
    light: float
    """Largest brightness shift and relative contrast change."""
    noise: float
    """Standard deviation of per-pixel Gaussian noise (intensities in 0-1)."""

    @classmethod
    def none(cls) -> Distortion:
        """No distortion at all: rendering gives the prototype itself."""
        return cls(*(0.0,) * len(dataclasses.fields(cls)))

    @classmethod
    def at_level(cls, level: float) -> Distortion:
        """The distortion of a class at ``level`` (0: barely distorted; 1: hard)."""
        if level < 0:
            raise ValueError(f"distortion level must be >= 0, got {level}")
        return cls(
            rotation=4.0 + 36.0 * level,
            shift=0.02 + 0.12 * level,
            zoom=0.04 + 0.16 * level,
            warp=0.005 + 0.035 * level,
            jitter=0.01 + 0.11 * level,
            dropout=0.25 * level,
            hue=4.0 + 56.0 * level,
            light=0.04 + 0.26 * level,
            noise=0.02 + 0.08 * level,
        )


@dataclass(frozen=True)
class ClassSpec:
    """Identity and difficulty of one procedural class (inspect with :func:`class_specs`)."""

    index: int
    """Global class index ``first_class + i``: with the seed, all that defines the class."""
    name: str
    """``proto-NNN``."""
    level: float
    """Distortion level in the ``difficulty`` range."""
    partner: int | None
    """Global index of the class whose prototype this one is blended towards, if any."""
    similarity: float
    """Blend weight towards ``partner`` (0 when there is none)."""

    @property
    def partner_name(self) -> str | None:
        """Name of the partner class, if any."""
        return None if self.partner is None else class_name(self.partner)

    @property
    def distortion(self) -> Distortion:
        """The distortion ranges of this class's exemplars."""
        return Distortion.at_level(self.level)


@dataclass(frozen=True, eq=False)
class Prototype:
    """Parameters of one prototype image, in normalised coordinates (the image spans -1..1)."""

    texture: np.ndarray  # [3, G, G] background colour field
    grating: np.ndarray  # [3 + 3] colour amplitude (3), frequency, angle, phase
    kinds: np.ndarray  # [K] int shape kinds
    shapes: np.ndarray  # [K, 8] centre x, y, half-size a, b, angle, red, green, blue


def class_name(index: int) -> str:
    """Name of the procedural class with global ``index``."""
    return f"proto-{index:03d}"


def class_specs(
    n_classes: int,
    *,
    seed: int = 0,
    first_class: int = 0,
    difficulty: tuple[float, float] = (0.0, 1.0),
    similar_per_block: int = 3,
    similarity: float = 0.6,
) -> tuple[ClassSpec, ...]:
    """Per-class distortion level and similarity partner of classes ``first_class ..``.

    Args:
        n_classes: Number of classes.
        seed: Data seed.
        first_class: Global index of the first class; disjoint ranges give disjoint categories.
        difficulty: Lowest and highest distortion level (see :meth:`Distortion.at_level`).
        similar_per_block: In each block of 10 consecutive indices, how many classes are
            blended towards another class of the block (0-5).
        similarity: Blend weight towards the partner (0: independent, 1: the partner's copy).
    """
    _check_knobs(n_classes, seed, first_class, difficulty, similar_per_block, similarity)
    low, high = difficulty
    offset = float(np.random.default_rng([seed, _TAG_LEVEL]).random())
    specs = []
    for index in range(first_class, first_class + n_classes):
        level = low + (high - low) * ((offset + index * GOLDEN) % 1.0)
        partner = _partner(index, seed, similar_per_block)
        specs.append(
            ClassSpec(
                index=index,
                name=class_name(index),
                level=round(level, 4),
                partner=partner,
                similarity=0.0 if partner is None else similarity,
            )
        )
    return tuple(specs)


def _check_knobs(
    n_classes: int,
    seed: int,
    first_class: int,
    difficulty: tuple[float, float],
    similar_per_block: int,
    similarity: float,
) -> None:
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if first_class < 0:
        raise ValueError(f"first_class must be >= 0, got {first_class}")
    if len(difficulty) != 2 or not 0 <= difficulty[0] <= difficulty[1]:
        raise ValueError(f"difficulty must be (low, high) with 0 <= low <= high, got {difficulty}")
    if not 0 <= similar_per_block <= BLOCK // 2:
        raise ValueError(f"similar_per_block must be 0-{BLOCK // 2}, got {similar_per_block}")
    if not 0.0 <= similarity <= 1.0:
        raise ValueError(f"similarity must be in [0, 1], got {similarity}")


def _partner(index: int, seed: int, similar_per_block: int) -> int | None:
    """The class ``index`` is blended towards: a seeded pairing inside its block of ten."""
    block, position = divmod(index, BLOCK)
    order = np.random.default_rng([seed, block, _TAG_PARTNER]).permutation(BLOCK)
    slot = int(np.flatnonzero(order == position)[0])
    if slot >= similar_per_block:
        return None
    return block * BLOCK + int(order[slot + similar_per_block])


def _own_prototype(index: int, seed: int) -> Prototype:
    """The unblended prototype of class ``index``."""
    rng = np.random.default_rng([seed, index, _TAG_PROTOTYPE])
    base = rng.uniform(0.15, 0.85, size=(3, 1, 1))
    texture = base + rng.uniform(-0.15, 0.15, size=(3, TEXTURE_GRID, TEXTURE_GRID))
    amplitude = rng.uniform(-0.15, 0.15, 3)
    wave = [rng.uniform(1.0, 3.5), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)]
    grating = np.concatenate([amplitude, wave])
    kinds = rng.integers(0, len(SHAPE_KINDS), N_SHAPES)
    shapes = np.column_stack(
        [
            rng.uniform(-0.6, 0.6, (N_SHAPES, 2)),
            rng.uniform(0.12, 0.35, (N_SHAPES, 2)),
            rng.uniform(0, np.pi, N_SHAPES),
            rng.uniform(0.0, 1.0, (N_SHAPES, 3)),
        ]
    )
    return Prototype(texture=texture, grating=grating, kinds=kinds, shapes=shapes)


def prototype(spec: ClassSpec, seed: int) -> Prototype:
    """The prototype of ``spec``: its own, or a blend with its partner's.

    A blend with similarity ``s`` copies the partner's first ``round(s K)`` shapes exactly
    (kind, place, size, colour) and mixes the backgrounds as ``(1 - s) own + s partner``.
    """
    own = _own_prototype(spec.index, seed)
    if spec.partner is None or spec.similarity == 0:
        return own
    other = _own_prototype(spec.partner, seed)
    s = spec.similarity
    n_taken = round(s * N_SHAPES)
    kinds, shapes = own.kinds.copy(), own.shapes.copy()
    kinds[:n_taken], shapes[:n_taken] = other.kinds[:n_taken], other.shapes[:n_taken]
    return Prototype(
        texture=(1 - s) * own.texture + s * other.texture,
        grating=(1 - s) * own.grating + s * other.grating,
        kinds=kinds,
        shapes=shapes,
    )


def prototype_splits(
    n_classes: int,
    train_per_class: int,
    val_per_class: int,
    test_per_class: int,
    *,
    size: int = 32,
    seed: int = 0,
    first_class: int = 0,
    difficulty: tuple[float, float] = (0.0, 1.0),
    similar_per_block: int = 3,
    similarity: float = 0.6,
) -> ImageSplits:
    """Generate the procedural classes' train/val/test exemplars (deterministic in ``seed``).

    Each split of each class draws from its own seeded stream, so changing one split's count
    leaves the other splits' images unchanged. Knobs as in :func:`class_specs`.
    """
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    counts = (train_per_class, val_per_class, test_per_class)
    for split, count in zip(SPLITS, counts, strict=True):
        if count < 1:
            raise ValueError(f"{split}_per_class must be >= 1, got {count}")
    specs = class_specs(
        n_classes, seed=seed, first_class=first_class, difficulty=difficulty,
        similar_per_block=similar_per_block, similarity=similarity,
    )
    per_class = [_render_class(spec, seed, counts, size) for spec in specs]
    return assemble_splits([spec.name for spec in specs], per_class)


def _render_class(
    spec: ClassSpec, seed: int, counts: tuple[int, int, int], size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train, val and test exemplars of one class, each split from its own seeded stream."""
    proto = prototype(spec, seed)
    train, val, test = (
        render_exemplars(proto, spec.distortion, n, size, _generator(seed, spec.index, split))
        for split, n in enumerate(counts)
    )
    return train, val, test


def render_prototype(spec: ClassSpec, seed: int, size: int = 32) -> torch.Tensor:
    """The undistorted prototype of ``spec`` as uint8 ``[3, size, size]`` (to show or compare)."""
    generator = torch.Generator().manual_seed(0)  # draws are all scaled by zero
    return render_exemplars(prototype(spec, seed), Distortion.none(), 1, size, generator)[0]


def _generator(seed: int, index: int, split: int) -> torch.Generator:
    """The torch random stream of one split of one class."""
    state = np.random.SeedSequence([seed, index, _TAG_EXEMPLARS, split]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def render_exemplars(
    proto: Prototype, distortion: Distortion, n: int, size: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` distorted exemplars of ``proto`` as uint8 ``[n, 3, size, size]``.

    Rendered in chunks of :data:`RENDER_PIXELS` pixels, which bounds memory at large sizes.
    """
    chunk = max(1, RENDER_PIXELS // (size * size))
    parts = [
        _render_chunk(proto, distortion, min(chunk, n - start), size, generator)
        for start in range(0, n, chunk)
    ]
    return torch.cat(parts) if parts else torch.empty((0, 3, size, size), dtype=torch.uint8)


def _render_chunk(
    proto: Prototype, distortion: Distortion, n: int, size: int, generator: torch.Generator
) -> torch.Tensor:
    """One batch of :func:`render_exemplars`."""
    coords = _warped_coords(distortion, n, size, generator)
    image = _background(proto, coords)
    image = _paint_shapes(image, proto, distortion, coords, generator)
    image = _jitter_colour(image, distortion, generator)
    image = image + distortion.noise * torch.randn(image.shape, generator=generator)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def _uniform(shape: tuple[int, ...], limit: float, generator: torch.Generator) -> torch.Tensor:
    """Uniform draws in ``[-limit, limit]``."""
    return (torch.rand(shape, generator=generator) * 2 - 1) * limit


def _warped_coords(
    distortion: Distortion, n: int, size: int, generator: torch.Generator
) -> torch.Tensor:
    """Where each output pixel samples the prototype: ``[n, size, size, 2]`` (x, y) in -1..1."""
    angle = torch.deg2rad(_uniform((n,), distortion.rotation, generator))
    scale = 1 + _uniform((n,), distortion.zoom, generator)
    shift = _uniform((n, 2), 2 * distortion.shift, generator)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    field = torch.randn((n, 2, 4, 4), generator=generator) * 2 * distortion.warp
    field = F.interpolate(field, size=(size, size), mode="bicubic", align_corners=False)
    return grid + field.permute(0, 2, 3, 1)


def _background(proto: Prototype, coords: torch.Tensor) -> torch.Tensor:
    """Smooth colour field plus grating, sampled at the warped coordinates: ``[n, 3, S, S]``."""
    n = coords.shape[0]
    texture = torch.as_tensor(proto.texture, dtype=torch.float32).expand(n, -1, -1, -1)
    field = F.grid_sample(
        texture, coords, mode="bicubic", padding_mode="reflection", align_corners=False
    )
    amp, (freq, angle, phase) = proto.grating[:3], proto.grating[3:]
    x, y = coords[..., 0], coords[..., 1]
    wave = torch.sin(np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + phase)
    amp_t = torch.as_tensor(amp, dtype=torch.float32).view(1, 3, 1, 1)
    return field + amp_t * wave.unsqueeze(1)


def _paint_shapes(
    image: torch.Tensor,
    proto: Prototype,
    distortion: Distortion,
    coords: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """Composite the prototype's shapes, each moved, resized, turned and recoloured a little."""
    n, size = image.shape[0], image.shape[-1]
    shapes = torch.as_tensor(proto.shapes, dtype=torch.float32).expand(n, -1, -1)
    j = distortion.jitter
    centre = shapes[..., 0:2] + 2 * j * torch.randn((n, N_SHAPES, 2), generator=generator)
    half = shapes[..., 2:4] * torch.exp(j * torch.randn((n, N_SHAPES, 1), generator=generator))
    angle = shapes[..., 4] + 2 * j * torch.randn((n, N_SHAPES), generator=generator)
    colour = shapes[..., 5:8] + j * torch.randn((n, N_SHAPES, 3), generator=generator)
    present = torch.rand((n, N_SHAPES), generator=generator) >= distortion.dropout
    dist = _signed_distances(proto.kinds, coords, centre, half, angle)
    alpha = (0.5 - dist * (size / 2.0)).clamp(0, 1) * present[..., None, None]
    for k in range(N_SHAPES):
        a = alpha[:, k : k + 1]
        image = torch.lerp(image, colour[:, k, :, None, None].expand_as(image), a)
    return image


def _signed_distances(
    kinds: np.ndarray,
    coords: torch.Tensor,
    centre: torch.Tensor,
    half: torch.Tensor,
    angle: torch.Tensor,
) -> torch.Tensor:
    """Approximate signed distance ``[n, K, S, S]`` to each shape (negative inside)."""
    dx = coords[:, None, :, :, 0] - centre[:, :, 0, None, None]
    dy = coords[:, None, :, :, 1] - centre[:, :, 1, None, None]
    cos, sin = torch.cos(angle)[..., None, None], torch.sin(angle)[..., None, None]
    u = dx * cos + dy * sin
    v = dy * cos - dx * sin
    a, b = half[..., 0, None, None], half[..., 1, None, None]
    out = torch.empty_like(u)
    for kind in np.unique(kinds).tolist():
        slots = torch.as_tensor(np.flatnonzero(kinds == kind))
        out[:, slots] = _shape_distance(kind, u[:, slots], v[:, slots], a[:, slots], b[:, slots])
    return out


def _shape_distance(
    kind: int, u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """Signed distance in the shape's own frame; ``a``, ``b`` are its half-sizes."""
    if kind == ELLIPSE:
        return (torch.hypot(u / a, v / b) - 1) * torch.minimum(a, b)
    if kind == RECTANGLE:
        return torch.maximum(u.abs() - a, v.abs() - 0.6 * b)
    if kind == STROKE:
        return torch.hypot((u.abs() - a).clamp(min=0), v) - 0.25 * b
    if kind == RING:
        return (torch.hypot(u, v) - a).abs() - 0.25 * b
    raise ValueError(f"unknown shape kind {kind}; kinds are 0-{len(SHAPE_KINDS) - 1}")


def _jitter_colour(
    image: torch.Tensor, distortion: Distortion, generator: torch.Generator
) -> torch.Tensor:
    """Per-exemplar hue rotation (about the grey axis), brightness and contrast change."""
    n = image.shape[0]
    angle = torch.deg2rad(_uniform((n,), distortion.hue, generator))
    image = torch.einsum("nij,njhw->nihw", _hue_matrix(angle), image)
    mean = image.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 1 + _uniform((n, 1, 1, 1), distortion.light, generator)
    brightness = _uniform((n, 1, 1, 1), distortion.light, generator)
    return (image - mean) * contrast + mean + brightness


def _hue_matrix(angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[n, 3, 3]`` about the grey axis (Rodrigues' formula)."""
    k = torch.full((3,), 1 / math.sqrt(3.0))
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    outer = torch.outer(k, k)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    return cos * torch.eye(3) + sin * cross + (1 - cos) * outer
