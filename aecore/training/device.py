"""Choosing the compute device: the GPU when there is one, the CPU otherwise."""

from __future__ import annotations

import torch

from aecore.errors import AELabError


class DeviceError(AELabError):
    """The requested device is not available."""


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda when available else cpu; 'cuda' without a GPU raises DeviceError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("no CUDA GPU is available on this machine; use device 'cpu' or 'auto'")
    if name not in ("cpu", "cuda"):
        raise DeviceError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def device_label(device: torch.device | str | None = None, threads: int | None = None) -> str:
    """A human name: 'GPU: NVIDIA H100 80GB HBM3' or 'CPU (2 threads)' (this process's threads unless given)."""
    device = resolve_device("auto") if device is None else torch.device(device)
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    n = torch.get_num_threads() if threads is None else threads
    return f"CPU ({n} thread{'s' if n != 1 else ''})"
