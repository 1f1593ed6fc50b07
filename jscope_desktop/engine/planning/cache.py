"""The calibration cache: measurements kept per model, device and dtype in one JSON table in the
user cache (beside the converted models), read whole and replaced whole.

A run's measurement is kept in memory at once and written off the run's path: a writer thread
replaces the file shortly after (a rename, no fsync) and the process writes what is left when it
exits (:func:`flush`), so no run waits for the disk. A corrupt or unreadable file is ignored
(the estimate then falls back to the warm-up's measurement or a guess); a file that cannot be
written costs only the next process's accuracy.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from pathlib import Path

from ..scopes.base import PLAN_KINDS

CACHE_NAME = "calibration.json"
KEEP = 16  # measurements kept per model, device, dtype and kind
# throughputs are read from the newest few only: measurements taken while the machine was busy
# (a 20× slower hour on a shared machine) must not outweigh how fast it runs now
RECENT = 4
# besides a throughput per plan kind: "pass" (passes, seconds): the fixed seconds of a pass
# whatever its length (the weights streamed through the cores once); "direction" (1, ratio):
# one direction of a batched backward pass against a backward pass of its own; "baseline"
# (1, bytes): the process's resident memory once the model was warmed up
KINDS = (*PLAN_KINDS, "pass", "direction", "baseline")
WRITE_DELAY_S = 1.0  # a burst of runs (a batch, a live session) is written once

Records = dict[str, list[tuple[float, float]]]


def cache_file() -> Path:
    """Where measurements are kept (beside the converted models; ``$JSCOPE_CACHE_DIR`` moves it)."""
    from ..model.gguf_cache import cache_root

    return cache_root() / CACHE_NAME


def source_key(source: str | os.PathLike) -> str | None:
    """A model's identity in the cache: its path, size and modification time (a changed file is
    a new model); None for a model that is not a file or folder (built in a test)."""
    p = Path(source)
    try:
        st = (p / "config.json").stat() if p.is_dir() else p.stat()
    except OSError:
        return None
    return f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def device_key(device: str, dtype: str) -> str:
    """The device part of a cache key: e.g. ``cpu/4 threads/float32`` or ``cuda/NVIDIA H200/bfloat16``.

    For the CPU, torch is not imported when it is not yet: its thread count is then torch's
    default (:func:`default_threads`), so a refusal before loading stays torch-free."""
    if device.startswith("cuda"):
        import torch

        return f"cuda/{torch.cuda.get_device_name(torch.device(device))}/{dtype}"
    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else default_threads()
    return f"{device}/{threads} threads/{dtype}"


def default_threads() -> int:
    """The intra-op threads torch starts with: ``MKL_NUM_THREADS`` or ``OMP_NUM_THREADS`` when
    set, else the machine's physical cores (as torch counts them), else its logical CPUs."""
    for name in ("MKL_NUM_THREADS", "OMP_NUM_THREADS"):  # torch lets MKL's override OMP's
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    cores = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            package = None
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "physical id":
                    package = value.strip()
                elif key.strip() == "core id":
                    cores.add((package, value.strip()))
    except OSError:
        pass
    return len(cores) or os.cpu_count() or 1


def read_cache() -> dict:
    """The whole table (empty when missing, unreadable or not a table)."""
    return _read(cache_file())


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def records_of(entry) -> Records:
    """Valid ``kind -> [(units, seconds)]`` of a cache entry (anything malformed is dropped)."""
    out: Records = {}
    if not isinstance(entry, dict):
        return out
    for kind in KINDS:
        rows = entry.get(kind)
        if not isinstance(rows, list):
            continue
        good = [(float(r[0]), float(r[1])) for r in rows if isinstance(r, list) and len(r) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                        and v < 1e30 for v in r)]
        if good:
            out[kind] = good[-KEEP:]
    return out


def stored(model_key: str | None, dev_key: str) -> Records:
    """The measurements the cache holds for a model on a device (empty if none or unreadable)."""
    if model_key is None:
        return {}
    key = f"{model_key}#{dev_key}"
    with _lock:  # what this process measured and has not written yet counts too
        pending = _pending.get(cache_file(), {}).get(key)
    return records_of(pending if pending is not None else read_cache().get(key))


_lock = threading.Lock()  # guards _pending and _timer
_write_lock = threading.Lock()  # one writer at a time, so a later snapshot is never overwritten
# file -> cache key -> entry not written yet (the file is fixed when the run is kept: a test's
# measurements never land in the user's cache)
_pending: dict[Path, dict[str, dict]] = {}
_timer: threading.Timer | None = None


def keep(model_key: str, dev_key: str, recs: Records) -> None:
    """Keep ``recs`` as the entry of a model on a device: written shortly, off the caller's
    path (see the module's docstring)."""
    global _timer
    with _lock:
        _pending.setdefault(cache_file(), {})[f"{model_key}#{dev_key}"] = {
            k: [list(r) for r in v[-KEEP:]] for k, v in recs.items()}
        if _timer is None:
            _timer = threading.Timer(WRITE_DELAY_S, flush)
            _timer.daemon = True
            _timer.start()


def flush() -> None:
    """Write the measurements not written yet (merged into the file as it is now; entries of
    models that no longer exist are dropped). A cache that cannot be written is skipped."""
    global _timer
    with _write_lock:
        with _lock:
            pending = dict(_pending)
            _pending.clear()
            _timer = None
        for path, entries in pending.items():
            data = {k: v for k, v in _read(path).items() if _still_there(k)}
            data.update(entries)
            try:
                _write_cache(path, data)
            except Exception:  # noqa: BLE001 - a read-only cache costs only the next estimate's accuracy
                pass


atexit.register(flush)


def _still_there(cache_key: str) -> bool:
    """Whether the model file or folder a cache entry was measured on still exists (entries of
    deleted models, e.g. temporary ones, are dropped when the cache is next written)."""
    path = cache_key.split("|", 1)[0]
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def _write_cache(path: Path, data: dict) -> None:
    """Replace the cache file ``path`` by ``data``: compact JSON, a temporary file renamed over
    it (no fsync: a cache lost in a crash is read as empty)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
