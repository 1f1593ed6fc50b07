"""The names a device or dtype setting may take (torch-free, so the app's settings can check a
stored value before torch is imported; ``models`` maps them to torch objects)."""

from __future__ import annotations

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
DTYPE_NAMES = ("float32", "bfloat16", "float16")
