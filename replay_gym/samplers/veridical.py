"""Veridical replay: the day's real activations themselves, not down-sampled (METHOD §3)."""

from __future__ import annotations

from typing import Any

import torch

from replay_gym.samplers.base import Sampler

__all__ = ["VeridicalSampler"]


class VeridicalSampler(Sampler):
    """Replays stored activations instead of generated ones (the paper's "veridical" condition).

    The fitted tensor is kept by reference, not copied (at the paper's block 4 one day is
    11,700 x 512 x 14 x 14 floats, 4.7 GB), so do not modify it in place after :meth:`fit`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._activations: torch.Tensor | None = None
        self._indices: list[torch.Tensor] = []

    def _fit(self, activations: torch.Tensor, labels: torch.Tensor, n_classes: int) -> None:
        self._activations = activations
        self._indices = [(labels == c).nonzero().flatten() for c in range(n_classes)]

    def _state_dict(self) -> dict[str, Any]:
        return {"activations": self._activations, "indices": list(self._indices)}

    def _load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self._activations = state["activations"].to(device)
        self._indices = [index.to(device) for index in state["indices"]]

    def count(self, label: int) -> int:
        """Number of stored activations of class ``label``."""
        self._check_fitted()
        return len(self._indices[self._check_label(label)])

    def _sample(self, label: int, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` stored activations of the class, without replacement while possible.

        While ``n`` <= the class's count the draws are distinct; beyond it they are uniform
        with replacement, so some activations repeat.
        """
        assert self._activations is not None
        index = self._indices[label]
        count = len(index)
        if n <= count:
            picks = torch.randperm(count, generator=generator, device=generator.device)[:n]
        else:
            picks = torch.randint(count, (n,), generator=generator, device=generator.device)
        return self._activations[index[picks.to(index.device)]]

    def sample_night(
        self, samples_per_class: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All stored activations exactly once, grouped by class in class order (not shuffled).

        ``samples_per_class`` and ``generator`` are accepted for the common interface and
        ignored: a veridical night replays the whole day once. Within a class the stored order
        is kept. When the fitted activations were already class-ordered, the returned tensor
        is the stored one itself (no copy).

        Returns:
            ``(activations [N, C, H, W], labels int64 [N])``.

        Raises:
            RuntimeError: If the sampler has not been fitted.
        """
        self._check_fitted()
        assert self._activations is not None
        order = torch.cat(self._indices)
        labels = torch.arange(self.n_classes, device=order.device).repeat_interleave(
            torch.tensor([len(i) for i in self._indices], device=order.device)
        )
        if torch.equal(order, torch.arange(len(order), device=order.device)):
            return self._activations, labels
        return self._activations[order], labels
