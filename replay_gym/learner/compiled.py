"""``torch.compile`` for the learner's forward passes (``learner.compile``).

Only inference above the replay layer is compiled: a night's validation and test predictions
from cached activations. Measured on this project's CPU during development (README, "RL
training throughput"), the compiled training step (forward, backward) was slower than the eager
one at every replay layer, so it stays eager, and with it every random draw of the training
step (dropout).

Dynamo keeps its compiled graphs per code object, here ``nn.Sequential.forward``, shared by
every learner of the process: a new learner (every ``reset``) reuses the graphs of the last one
with the same architecture, layer and batch shape, and compiles nothing. Shapes are static (a
graph per batch size: the full evaluation batch and the remainders); with a dynamic batch
dimension the block-4 validation forward was slower than eager in development. A process may
hold several layers and architectures (the throughput benchmark runs all five layers), so the
calls raise dynamo's limit of graphs per code object from its default (8; above it dynamo
silently falls back to eager) to :data:`RECOMPILE_LIMIT`.
"""

from __future__ import annotations

import torch
from torch import nn

from replay_gym.devices import compile_unavailable

__all__ = ["RECOMPILE_LIMIT", "CompiledForward", "compile_unavailable"]

RECOMPILE_LIMIT = 64
"""Compiled graphs dynamo may keep per code object while a :class:`CompiledForward` runs."""


class CompiledForward:
    """An inference-only ``torch.compile`` of ``module`` with static shapes.

    Calling it runs the compiled module (compiling on first use of a shape). ``module`` keeps
    its own parameters, so its state dict, and any model holding it, has no ``_orig_mod.``
    keys; loading weights into it in place is seen by the compiled code.

    Args:
        module: The module to run compiled; its parameters are shared, not copied.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self._compiled = torch.compile(module, dynamic=False)

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """``module(inputs)``, compiled, in eval mode."""
        self.module.eval()
        with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
            return self._compiled(inputs)
