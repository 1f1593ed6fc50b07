"""What every benchmark shares: model loading, real text of a given length, timing, peak memory,
JSON output and the optional matplotlib figure."""

from __future__ import annotations

import ctypes
import gc
import json
import os
import platform
import resource
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from jscope_desktop.engine.faithfulness.run import load_prompts
from jscope_desktop.engine.io import write_json
from jscope_desktop.engine.model.load import LoadedModel, load_model
from jscope_desktop.engine.model.tokens import encode_prompt

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
LAMBADA = DATA / "lambada_prompts_1000.json"


def add_model_args(parser) -> None:
    """``--model``, ``--device``, ``--dtype``, ``--out`` on an argparse parser."""
    parser.add_argument("--model", help="model folder or .gguf (default: the embedded model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for JSON and PNG files")


def load(args) -> LoadedModel:
    """The model named by ``--model/--device/--dtype``."""
    return load_model(args.model, args.device, args.dtype)


def environment(lm: LoadedModel) -> dict:
    """Model, device and software facts written beside every result."""
    return {
        "model": lm.info.to_dict(), "device": str(lm.device), "dtype": lm.dtype_name,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def lambada_ids(lm: LoadedModel, n_tokens: int) -> list[int]:
    """The first ``n_tokens`` token ids of the LAMBADA passages joined by blank lines (real
    text of any length; the model's own special tokens at the start)."""
    texts, ids, used = load_prompts(LAMBADA), [], 0
    while len(ids) < n_tokens and used < len(texts):
        used = min(len(texts), max(used * 2, 8))
        ids = encode_prompt(lm.tokenizer, "\n\n".join(texts[:used])).token_ids
    if len(ids) < n_tokens:
        raise ValueError(f"the LAMBADA passages give only {len(ids)} tokens, not {n_tokens}")
    return ids[:n_tokens]


def sync(lm: LoadedModel) -> None:
    """Wait for queued device work so a wall-clock time covers it."""
    if lm.device.type == "cuda":
        torch.cuda.synchronize(lm.device)


class PeakMemory:
    """Peak memory above the starting level while the ``with`` block runs, in MB.

    CUDA: the allocator's peak. Linux: the resident set size sampled every 5 ms from
    ``/proc/self/statm``, from a baseline taken after freed memory is returned to the OS
    (``malloc_trim``). Without /proc, the growth of ``ru_maxrss`` (a lower bound: 0 unless the
    process's all-time peak rises).
    """

    def __init__(self, device: torch.device):
        self.device, self.peak_mb = device, None
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        elif Path("/proc/self/statm").exists():
            _release_freed_memory()
            self._base = self._peak = _rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            self._base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, _rss())

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        elif hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            peak = max(self._peak, _rss())
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak_mb = max(0.0, (peak - self._base) / 2**20)


def _release_freed_memory() -> None:
    """Hand memory freed by earlier work back to the OS (glibc keeps it otherwise, and the
    resident size would no longer rise when the next method allocates)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def median_seconds(fn: Callable[[], float], repeats: int, warmup: bool = True,
                   single_above: float | None = None) -> tuple[float, list]:
    """Median of ``repeats`` calls of ``fn`` (each returns its own seconds), after one
    uncounted warm-up call when ``warmup``; returns (median, all times).

    A warm-up that takes at least ``single_above`` seconds is the measurement itself (a run that
    long has little noise, and repeating it would spend minutes).
    """
    if warmup:
        first = fn()
        if single_above is not None and first >= single_above:
            return first, [first]
    times = [fn() for _ in range(max(1, repeats))]
    return statistics.median(times), times


def write_result(out_dir: Path, name: str, result: dict) -> Path:
    """Write ``<out_dir>/<name>.json`` atomically and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    write_json(path, result)
    return path


def pyplot():
    """matplotlib's pyplot on the Agg backend, or None (with a message) if it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'); no plot written.")
        return None
    return plt


def save_figure(plt, fig, out_dir: Path, name: str) -> Path:
    """Save ``fig`` as ``<out_dir>/<name>.png`` (150 dpi) and close it."""
    path = out_dir / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def read_json(path: Path) -> dict:
    """A result written by :func:`write_result`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def peak_of(run: Callable[[], object]) -> dict:
    """Call ``run()``: its wall time, the process's resident memory before it and its peak
    (Linux ``VmHWM``, reset through ``/proc/self/clear_refs`` first), and what it returned
    (``out``)."""
    from jscope_desktop.engine.model.memory import resident_bytes

    gc.collect()
    _release_freed_memory()
    base = resident_bytes()
    with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to the current VmRSS
        f.write("5")
    t0 = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - t0
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    return {"seconds": seconds, "base_bytes": base, "peak_bytes": hwm, "out": out}
