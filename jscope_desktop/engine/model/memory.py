"""Memory: what this process holds, what the system can still give, and what a model folder's
weights hold (read from the safetensors headers, nothing loaded). Torch-free but for a GPU's
figures."""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
from pathlib import Path


def physical_memory() -> int | None:
    """Bytes of RAM on this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _proc_bytes(path: str, key: str) -> int | None:
    """The ``key:`` line of a Linux /proc file (in kB there) as bytes, or None elsewhere."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def resident_bytes() -> int:
    """Resident memory of this process now (Linux: VmRSS; elsewhere the peak so far)."""
    rss = _proc_bytes("/proc/self/status", "VmRSS")
    if rss is not None:
        return rss
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def release_freed() -> None:
    """Hand memory freed by finished work back to the system (glibc keeps freed heap pages
    resident otherwise, and the resident size would count them as held); a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def free_bytes() -> int:
    """Memory the system can still give (Linux: MemAvailable; elsewhere half the RAM)."""
    available = _proc_bytes("/proc/meminfo", "MemAvailable")
    return available if available is not None else (physical_memory() or 8 * 2**30) // 2


def memory_now(device: str) -> tuple[int, int]:
    """(bytes the process holds now, bytes it may reach) on ``device``: resident memory and
    resident plus available on the CPU; allocated and allocated plus free on a GPU."""
    if device.startswith("cuda"):
        import torch

        dev = torch.device(device)
        free, _ = torch.cuda.mem_get_info(dev)
        held = torch.cuda.memory_allocated(dev)
        return held, held + free
    held = resident_bytes()
    return held, held + free_bytes()


def safetensors_parameters(folder: Path) -> int | None:
    """Parameters in a folder's ``*.safetensors`` files, read from their headers only."""
    total, files = 0, sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    try:
        for path in files:
            with path.open("rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                if n > 100 * 2**20:
                    return None
                header = json.loads(f.read(n))
            for name, t in header.items():
                if name != "__metadata__":
                    count = 1
                    for s in t["shape"]:
                        count *= int(s)
                    total += count
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
    return total
