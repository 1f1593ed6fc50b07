"""Which device a run uses: ``auto|cpu|cuda[:N]|mps`` resolved to one that is present.

Torch is imported only when the answer needs it. On a machine without a GPU driver ``auto`` is
the CPU without importing torch (seconds on a busy machine), so that a run the cost model
refuses before loading the weights is refused at once (:func:`device_name`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import JScopeError
from .choices import DEVICE_NAMES

DEVICES = DEVICE_NAMES
# device files of GPU drivers besides NVIDIA's numbered ones: ROCm, WSL's bridge, Jetson
GPU_DEVICE_FILES = ("kfd", "dxg", "nvhost-ctrl-gpu", "nvgpu")


def check_device_name(device: str) -> None:
    """Raise a one-sentence error for a device setting that is none of ``DEVICES`` or ``cuda:N``."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise JScopeError(f"Unknown device '{device}'; choose one of {', '.join(DEVICES)}.")


def gpu_driver_present() -> bool:
    """Whether this machine may have a GPU torch could use: an NVIDIA (desktop or Jetson) or
    ROCm driver's device files, WSL's GPU bridge, or macOS (MPS). False means ``auto`` is
    surely the CPU."""
    if sys.platform != "linux":
        return True  # macOS may have MPS; elsewhere there is no cheap way to tell
    dev = Path("/dev")
    return (Path("/proc/driver/nvidia").exists() or any(dev.glob("nvidia[0-9]*"))
            or any((dev / name).exists() for name in GPU_DEVICE_FILES))


def device_name(device: str) -> str:
    """The device a setting resolves to, as text (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``);
    imports torch only where a GPU could be present or one is asked for."""
    check_device_name(device)
    if device == "cpu" or (device == "auto" and not gpu_driver_present()):
        return "cpu"
    return str(resolve_device(device))


def resolve_device(device: str):
    """Turn ``auto|cpu|cuda|mps`` into a present ``torch.device``, or raise a one-sentence error."""
    import torch

    check_device_name(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise JScopeError("CUDA was asked for but this machine has no CUDA device; use --device cpu.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise JScopeError("MPS was asked for but this machine has no Apple GPU; use --device cpu.")
    return torch.device(device)


def available_devices() -> list[str]:
    """Devices present on this machine, in the order ``auto`` would pick them, plus ``cpu``."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return [*found, "cpu"]
