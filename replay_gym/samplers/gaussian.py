"""Generative replay: a per-class multivariate normal over down-sampled activations (METHOD §3).

For a class with ``n`` activations, down-sampled and flattened to the rows of ``A`` [n, d], the
sample covariance is ``B^T B`` with ``B = (A - mean) / sqrt(n - 1)``. Hence
``mean + z @ B`` with ``z ~ N(0, I_n)`` is an exact draw from ``N(mean, cov)``: its covariance
is ``B^T I B``. Only ``B`` is kept (n x d), never the d x d covariance, which at the paper's
block 4 (d = 512 x 7 x 7 = 25,088) would take 2.5 GB per class against 117 MB for ``B``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from replay_gym.samplers.base import Sampler, _as_int

__all__ = ["GaussianSampler", "downsample", "upsample"]

_FIT_CHUNK = 256
"""Activations down-sampled at once while fitting: bounds the full-resolution scratch copy
(256 x 512 x 14 x 14 float32 = 100 MB at the paper's block 4)."""


def _check_factor(factor: int) -> int:
    factor = _as_int("factor", factor)
    if factor < 1:
        raise ValueError(f"down-sampling factor must be a positive int, got {factor}")
    return factor


def downsample(maps: torch.Tensor, factor: int) -> torch.Tensor:
    """Average each channel's map over non-overlapping ``factor`` x ``factor`` blocks.

    Args:
        maps: Float tensor [N, C, H, W].
        factor: Block side; must divide both H and W.

    Returns:
        Tensor [N, C, H / factor, W / factor]; ``maps`` itself when ``factor`` is 1.

    Raises:
        ValueError: If ``maps`` is not 4-D or ``factor`` does not divide the map size.
    """
    factor = _check_factor(factor)
    if maps.ndim != 4:
        raise ValueError(f"maps must be 4-D [N, C, H, W], got shape {tuple(maps.shape)}")
    height, width = maps.shape[-2:]
    if height % factor or width % factor:
        raise ValueError(
            f"down-sampling factor {factor} does not divide the {height}x{width} map"
        )
    if factor == 1:
        return maps
    return F.avg_pool2d(maps, factor)


def upsample(maps: torch.Tensor, factor: int) -> torch.Tensor:
    """Up-sample by repetition (nearest neighbour): each value fills a ``factor``-sided block.

    Args:
        maps: Tensor [..., h, w].
        factor: Block side (positive).

    Returns:
        Tensor [..., h * factor, w * factor]; ``maps`` itself when ``factor`` is 1.

    Raises:
        ValueError: If ``maps`` has fewer than 2 dims or ``factor`` is not positive.
    """
    factor = _check_factor(factor)
    if maps.ndim < 2:
        raise ValueError(f"maps must have at least 2 dims [..., h, w], got {tuple(maps.shape)}")
    if factor == 1:
        return maps
    return maps.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def _upsample_into(out: torch.Tensor, low: torch.Tensor, factor: int) -> None:
    """Write ``upsample(low, factor)`` into contiguous ``out`` without an intermediate copy."""
    n, channels, height, width = low.shape
    blocks = out.view(n, channels, height, factor, width, factor)
    blocks.copy_(low[:, :, :, None, :, None].expand_as(blocks))


class GaussianSampler(Sampler):
    """Per-class full-covariance Gaussian at low resolution, sampled exactly through ``B``.

    Args:
        downsample: Average-pooling factor applied to each channel's map before fitting;
            samples are up-sampled back by repetition (METHOD §3: 4, 4, 2, 2, 1 for blocks 1-5).
        chunk_size: Most samples generated at once, bounding the low-resolution scratch memory
            when many samples are requested.
        rectify: Clip samples at zero (``gaussian-rectified``). Every replay layer is a max-pool
            of ReLU maps, so real activations are never negative, while the Gaussian puts
            15-30 % of its values below zero; fitting refuses negative activations. Not the
            paper's sampler: its samples no longer have the fitted moments.

    Memory: for each class, ``B`` [n, d] in the activations' dtype plus the mean [d].
    """

    def __init__(self, downsample: int, *, chunk_size: int = 2048, rectify: bool = False) -> None:
        super().__init__()
        if not isinstance(rectify, bool):
            raise TypeError(f"rectify must be a bool, got {rectify!r}")
        self.rectify = rectify
        self.factor = _check_factor(downsample)
        self.chunk_size = _as_int("chunk_size", chunk_size)
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self._means: list[torch.Tensor] = []
        self._bases: list[torch.Tensor] = []
        self._low_shape: tuple[int, int, int] = (0, 0, 0)

    def _fit(self, activations: torch.Tensor, labels: torch.Tensor, n_classes: int) -> None:
        channels, height, width = activations.shape[1:]
        if height % self.factor or width % self.factor:
            raise ValueError(
                f"down-sampling factor {self.factor} does not divide the {height}x{width} map"
            )
        if self.rectify and bool((activations < 0).any()):
            raise ValueError(
                f"a rectified Gaussian models non-negative activations (ReLU, then max-pool), "
                f"but these reach {float(activations.min()):.3g}; use sampler.kind='gaussian'"
            )
        low_shape = (channels, height // self.factor, width // self.factor)
        dim = math.prod(low_shape)
        counts = torch.bincount(labels, minlength=n_classes).tolist()
        for c, count in enumerate(counts):
            if count < 2:
                raise ValueError(
                    f"class {c} has {count} activation(s); a covariance needs at least 2"
                )
        means: list[torch.Tensor] = []
        bases: list[torch.Tensor] = []
        for c in range(n_classes):
            index = (labels == c).nonzero().flatten()
            basis = torch.empty(len(index), dim, device=activations.device, dtype=activations.dtype)
            # Down-sample in chunks so only B, not a full-resolution copy of the class, is held.
            for start in range(0, len(index), _FIT_CHUNK):
                rows = index[start:start + _FIT_CHUNK]
                low = downsample(activations[rows], self.factor)
                basis[start:start + len(rows)] = low.flatten(1)
            mean = basis.mean(dim=0)
            basis.sub_(mean).div_(math.sqrt(len(index) - 1))
            means.append(mean)
            bases.append(basis)
        self._means, self._bases, self._low_shape = means, bases, low_shape

    def _sample(self, label: int, n: int, generator: torch.Generator) -> torch.Tensor:
        mean, basis = self._means[label], self._bases[label]
        out = torch.empty((n, *self.shape), device=mean.device, dtype=mean.dtype)
        for start in range(0, n, self.chunk_size):
            rows = min(self.chunk_size, n - start)
            z = torch.randn(
                rows, basis.shape[0], generator=generator, device=generator.device,
                dtype=basis.dtype,
            ).to(basis.device)
            low = torch.addmm(mean, z, basis).view(rows, *self._low_shape)
            if self.rectify:
                low.clamp_min_(0)
            _upsample_into(out[start:start + rows], low, self.factor)
        return out

    def _state_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "rectify": self.rectify,
            "low_shape": list(self._low_shape),
            "means": list(self._means),
            "bases": list(self._bases),
        }

    def _load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        if int(state["factor"]) != self.factor:
            raise ValueError(
                f"saved Gaussian sampler down-samples by {state['factor']}, this one by "
                f"{self.factor}"
            )
        if bool(state.get("rectify", False)) != self.rectify:
            raise ValueError(
                f"saved Gaussian sampler has rectify={state.get('rectify', False)}, this one "
                f"{self.rectify}"
            )
        channels, height, width = (int(v) for v in state["low_shape"])
        self._low_shape = (channels, height, width)
        self._means = [mean.to(device) for mean in state["means"]]
        self._bases = [basis.to(device) for basis in state["bases"]]

    @property
    def low_shape(self) -> tuple[int, int, int]:
        """(C, H / factor, W / factor): the shape the Gaussian lives in."""
        self._check_fitted()
        return self._low_shape

    def moments(self, label: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean [d] and covariance [d, d] of class ``label`` in the flattened low-resolution space.

        Builds the d x d matrix ``B^T B``: meant for tests and small d only.

        Raises:
            RuntimeError: If the sampler has not been fitted.
            ValueError: If ``label`` is out of range.
        """
        self._check_fitted()
        label = self._check_label(label)
        basis = self._bases[label]
        return self._means[label].clone(), basis.T @ basis
