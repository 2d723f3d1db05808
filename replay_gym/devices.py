"""Which torch devices exist here; the checks ``learner.device`` and ``learner.compile`` get.

torch is imported only when a device other than ``cpu`` or ``auto`` is named, or when
``compile`` is on, so building the presets (and ``--help``) stays quick.
"""

from __future__ import annotations

import functools
import sys

ALWAYS = ("auto", "cpu")
"""Device names valid on every machine (``auto``: CUDA when present, else the CPU)."""


def available_devices() -> list[str]:
    """Every device name this machine can run the learner on: ``auto``, ``cpu``, ``cuda:N``..."""
    import torch

    names = list(ALWAYS)
    if torch.cuda.is_available():
        names += ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names


def check_device(name: str, setting: str = "learner.device") -> None:
    """Refuse a device that does not exist here, listing those that do.

    Args:
        name: A torch device string (``cpu``, ``cuda``, ``cuda:1``, ``mps``) or ``auto``.
        setting: The setting's name, for the message.

    Raises:
        ValueError: ``name`` is not a device string, or no such device exists on this machine
            (no CUDA, a CUDA index beyond the GPUs present, an unsupported device type).
    """
    if name in ALWAYS:
        return
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        why = "is not a device replay-gym can use"
    elif device.type == "cuda" and not torch.cuda.is_available():
        why = "but CUDA is not available here"
    elif device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        why = f"names a GPU beyond the {torch.cuda.device_count()} present"
    elif device.type == "mps" and not torch.backends.mps.is_available():
        why = "but Apple's MPS is not available here"
    else:
        return
    raise ValueError(f"{setting}={name!r} {why}; devices here: {', '.join(available_devices())}")


def compile_unavailable(device: str = "cpu") -> str | None:
    """Why ``torch.compile`` cannot run here for the learner on ``device``; None when it can.

    Checks what the compiler needs before it is first used: a Python version that TorchDynamo
    supports, and for inductor's code generation a C++ compiler (CPU) or triton (CUDA). The
    answer is cached per device type (finding the compiler runs it once).

    Args:
        device: The learner's device setting (``cpu``, ``cuda``, ``cuda:1``, ``auto``...).
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return _compile_unavailable(torch.device(device).type)


@functools.cache
def _compile_unavailable(device_type: str) -> str | None:
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile does not support Python {sys.version.split()[0]}"
    if device_type == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "torch.compile on CUDA needs triton, not installed"
    if device_type != "cpu":
        return f"replay-gym compiles only on cpu and cuda, not on {device_type}"
    from torch._inductor import config as inductor_config
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        get_cpp_compiler()
    except Exception as error:  # InvalidCxxCompiler, or the search failing to run
        names = inductor_config.cpp.cxx
        return f"torch.compile on the CPU needs a C++ compiler ({names}), none found: {error}"
    return None


def check_compile(enabled: bool, device: str, setting: str = "learner.compile") -> None:
    """Refuse ``compile=True`` where ``torch.compile`` cannot work, saying why.

    Args:
        enabled: The setting's value; False is always fine (and imports nothing).
        device: The learner's device setting.
        setting: The setting's name, for the message.

    Raises:
        ValueError: ``enabled`` but :func:`compile_unavailable` names a reason.
    """
    if not enabled:
        return
    why = compile_unavailable(device)
    if why is not None:
        raise ValueError(f"{setting}=True but {why}; set {setting}=False here")
