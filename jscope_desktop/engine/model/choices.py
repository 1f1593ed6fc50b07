"""The names a device or dtype setting may take (torch-free, so the app's settings can check a
stored value before torch is imported; ``models`` maps them to torch objects)."""

from __future__ import annotations

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
DTYPE_NAMES = ("float32", "bfloat16", "float16")
# a setting may also say "auto": float32 where the weights fit in it, else the checkpoint's half
# dtype (engine/model/dtype.py)
DTYPE_AUTO = "auto"
DTYPE_CHOICES = (*DTYPE_NAMES, DTYPE_AUTO)
