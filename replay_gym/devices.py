"""Which torch devices exist on this machine, and the check ``learner.device`` gets when built.

torch is imported only when a device other than ``cpu`` or ``auto`` is named, so building the
presets (and ``--help``) stays quick.
"""

from __future__ import annotations

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
