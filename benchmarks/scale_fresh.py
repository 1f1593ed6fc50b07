"""The estimate on a fresh machine (``bench_scale --fresh``): every measurement is a new
``jscope`` process under ``/usr/bin/time -v`` with its own calibration cache directory.

For each case (a scope at a length, on a model) and each state of the cache:

* ``empty``: a cache with nothing measured (the embedded model's converted folder linked in, as
  the first load would write it); ``jscope attribute --estimate --json`` in one process (what a
  person sees first: it loads and warms the model, which calibrates), then the run itself in
  another (the estimate's calibration in its cache, as for a person who looked before running).
* ``after5``: the same, on a copy of a cache in which five runs of other prompts were made.

Predicted: the estimate's ``peak_bytes`` and ``seconds``. Measured: the run process's maximum
resident set size (``/usr/bin/time -v``) and the seconds of its engine call less the model's
warm-up inside it (``run_s``; ``call_s`` keeps the whole call). Tuning and validation are apart:
the five runs and every constant were chosen on LAMBADA passages from the 500th on (at 64–1,024
tokens); the cases run on the first passages, at 256, 2,048 and 8,000 tokens (and 512 on the
1.2B model). Threads: one (``OMP_NUM_THREADS=1``; the machine is shared).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import LAMBADA, ROOT

CASES = {"embedded": (("temperature", 256), ("fisher_fast", 256), ("temperature", 2048),
                      ("fisher_fast", 2048), ("temperature", 8000)),
         "1.2b": (("temperature", 512),)}
TRAINING = {"embedded": (("temperature", 128), ("fisher_fast", 128), ("temperature", 512),
                         ("fisher_fast", 512), ("temperature", 1024)),
            "1.2b": (("temperature", 64), ("temperature", 128), ("temperature", 128),
                     ("temperature", 256), ("temperature", 256))}
SCOPE_ARGS = {"temperature": ["--scope", "temperature"],
              "fisher_fast": ["--scope", "fisher", "--fisher", "fast"]}
STATES = ("empty", "after5")
PEAK_TARGET = 0.25  # predicted peak within ±25 % of the measured one
TIME_TARGET = 1.5  # predicted seconds within ×1.5 of the measured ones
BIG_FOLDER = Path(tempfile.gettempdir()) / "jscope-bench-llama-1.2b"
# the caches after the training runs, reused by later invocations (delete it to train again)
TRAINED = Path(tempfile.gettempdir()) / "jscope-fresh-trained"


def prompt_text(tokenizer, n: int, skip: int) -> str:
    """About ``n`` tokens of LAMBADA passages from the ``skip``-th on, as text."""
    from jscope_desktop.engine.faithfulness.run import load_prompts
    from jscope_desktop.engine.model.tokens import encode_prompt

    texts = load_prompts(LAMBADA)[skip:]
    used, ids = 8, []
    while len(ids) < n and used <= len(texts):
        ids = encode_prompt(tokenizer, "\n\n".join(texts[:used])).token_ids
        used *= 2
    return tokenizer.decode(ids[:n], skip_special_tokens=True)


def jscope(argv: list[str], cache: Path, stdin: str, log_dir: Path) -> dict:
    """Run ``jscope argv`` in a new process under ``/usr/bin/time -v`` with ``cache`` as its
    cache directory: its maximum resident set size, wall time, the engine call's seconds and
    the system load before it."""
    env = {**os.environ, "JSCOPE_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT.parent)}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "benchmarks.cli_timed",
                          *argv], input=stdin, capture_output=True, text=True, env=env,
                         cwd=ROOT.parent, timeout=3600)
    (log_dir / f"{int(time.time() * 1000)}.log").write_text(out.stderr[-20000:])
    if out.returncode != 0:
        raise RuntimeError(f"jscope {' '.join(argv[:3])} failed: {out.stderr[-1500:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    times = re.search(r"JSCOPE_TIMES (\{.*\})", out.stderr)
    row = {"max_rss_bytes": int(rss.group(1)) * 1024, "process_s": time.perf_counter() - t0,
           "load_before": load}
    row.update(json.loads(times.group(1)) if times else {})
    return row


def measure_case(model_args: list[str], scope: str, text: str, cache: Path, work: Path) -> dict:
    """The estimate (one process) and the run (another) of ``scope`` on ``text``, both with
    ``cache``; predicted against measured."""
    base = ["attribute", "-", *SCOPE_ARGS[scope], *model_args, "--device", "cpu"]
    est_file, run_file = work / "estimate.json", work / "result.json"
    est_proc = jscope([*base, "--estimate", "--json", str(est_file)], cache, text, work)
    est = json.loads(est_file.read_text())
    run = jscope([*base, "--force", "--json", str(run_file)], cache, text, work)
    result = json.loads(run_file.read_text())
    run_s = run["call_s"] - run["warm_s"]
    row = {"tokens": len(result["token_ids"]), "predicted_peak_bytes": est["peak_bytes"],
           "predicted_seconds": est["seconds"], "peak_bytes": run["max_rss_bytes"],
           "run_s": run_s, "call_s": run["call_s"], "warm_s": run["warm_s"],
           "scope_s": result["timing"]["scope_s"], "estimate_process": est_proc,
           "run_process": run, "load_before": [est_proc["load_before"], run["load_before"]]}
    row["peak_ratio"] = est["peak_bytes"] / run["max_rss_bytes"]
    row["time_ratio"] = est["seconds"] / run_s
    row["ok"] = (abs(row["peak_ratio"] - 1) <= PEAK_TARGET
                 and 1 / TIME_TARGET <= row["time_ratio"] <= TIME_TARGET)
    return row


def empty_cache(root: Path, links: list[Path]) -> Path:
    """A new cache directory holding only ``links`` (converted model folders)."""
    d = Path(tempfile.mkdtemp(prefix="cache-", dir=root))
    for p in links:
        (d / p.name).symlink_to(p)
    return d


def train(model_args: list[str], tokenizer, model: str, root: Path, links: list[Path]) -> Path:
    """A cache in which the :data:`TRAINING` runs were made (each a process of its own; kept in
    :data:`TRAINED` for later invocations)."""
    kept = TRAINED / model
    if (kept / "calibration.json").is_file():
        return kept
    cache = empty_cache(root, links)
    for i, (scope, n) in enumerate(TRAINING[model]):
        text = prompt_text(tokenizer, n, skip=500 + 40 * i)
        argv = ["attribute", "-", *SCOPE_ARGS[scope], *model_args, "--device", "cpu", "--force",
                "--json", str(root / "train.json")]
        row = jscope(argv, cache, text, root)
        print(f"  {model} training run {i + 1}: {scope} {n} tokens {row['call_s']:.1f} s",
              flush=True)
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy(cache / "calibration.json", kept / "calibration.json")
    return kept


def run_model(model: str, model_args: list[str], tokenizer, links: list[Path], root: Path,
              table: dict, save, cases=None, states=STATES) -> None:
    """Every case of ``model`` in ``states``: on an empty cache, after the training runs."""
    rows = table.setdefault(model, {})
    trained = train(model_args, tokenizer, model, root, links) if "after5" in states else None
    for scope, n in cases or CASES[model]:
        text = prompt_text(tokenizer, n, skip=0)
        for state in states:
            cache = empty_cache(root, links)
            if state == "after5":
                shutil.copy(trained / "calibration.json", cache / "calibration.json")
            work = Path(tempfile.mkdtemp(prefix="case-", dir=root))
            row = measure_case(model_args, scope, text, cache, work)
            rows.setdefault(f"{scope} {n}", {})[state] = row
            print(f"  {model} {scope} {n} {state}: peak {row['peak_ratio']:.2f}× time "
                  f"{row['time_ratio']:.2f}× (run {row['run_s']:.1f} s, load "
                  f"{row['load_before'][1]:.1f})", flush=True)
            save()


def big_folder(tokenizer) -> Path:
    """The random 1.2B Llama-shaped model of ``bench_scale`` saved as a model folder (once)."""
    if (BIG_FOLDER / "config.json").is_file():
        return BIG_FOLDER
    from .bench_scale import big_model

    lm = big_model(tokenizer)
    lm.model.save_pretrained(BIG_FOLDER, safe_serialization=True)
    tokenizer.save_pretrained(BIG_FOLDER)
    return BIG_FOLDER


def summary(table: dict) -> dict:
    """Median, p90 and worst of |log ratio| per state, as ratios (and the share within target)."""
    import statistics

    out: dict = {}
    for state in LABELS:
        rows = [r[state] for m in table.values() for r in m.values() if state in r]
        if not rows:
            continue
        out[state] = {"n": len(rows), "ok": sum(r["ok"] for r in rows)}
        for key in ("peak_ratio", "time_ratio"):
            vals = sorted(r[key] for r in rows)
            off = sorted(vals, key=lambda v: abs(math.log(v)))
            out[state][key] = {"median": statistics.median(vals),
                               "p90_off": off[min(len(off) - 1, int(0.9 * len(off)))],
                               "worst": off[-1], "all": vals}
    return out


LABELS = {"empty": "empty cache", "after5": "after 5 runs",
          "after5_first": "after 5 runs made while the machine was ~2.5× slower"}


def plot(result: dict, out_dir: Path):
    """Predicted over measured peak memory and time per case, on an empty cache and after five
    runs, with the target bands."""
    from .common import pyplot

    plt = pyplot()
    if plt is None:
        return None
    cases = [(m, c) for m, rows in result["models"].items() for c in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, key, band, label in ((axes[0], "peak_ratio", (1 - PEAK_TARGET, 1 + PEAK_TARGET),
                                  "predicted / measured process peak"),
                                 (axes[1], "time_ratio", (1 / TIME_TARGET, TIME_TARGET),
                                  "predicted / measured run time")):
        ax.axhspan(*band, color="tab:green", alpha=0.12, label="target")
        ax.axhline(1.0, color="k", lw=0.8)
        for k, (state, marker) in enumerate((("empty", "o"), ("after5", "s"),
                                             ("after5_first", "x"))):
            xs = [i + (k - 1) * 0.2 for i, (m, c) in enumerate(cases)
                  if state in result["models"][m][c]]
            ys = [result["models"][m][c][state][key] for m, c in cases
                  if state in result["models"][m][c]]
            ax.plot(xs, ys, marker, ls="", label=LABELS[state])
        short = {"temperature": "Temp.", "fisher_fast": "Fisher fast"}
        ax.set_xticks(range(len(cases)), [f"{m}\n{short.get(c.split()[0], c)} {c.split()[-1]}"
                                          for m, c in cases], fontsize=7)
        ax.set_yscale("log")
        ticks = [0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0]
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_ylim(0.45, 2.3)
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8)
    fig.subplots_adjust(bottom=0.22)
    fig.suptitle("The estimate on a fresh machine: new processes, one thread, "
                 "/usr/bin/time -v peaks", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    path = out_dir / "scale_fresh.png"
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def run(out_dir: Path, models: list[str], cases: dict | None = None,
        states: tuple[str, ...] = STATES) -> dict:
    """Measure every case of ``models``, write ``scale_fresh.json`` (after each case) and
    ``scale_fresh.png``; return the result."""
    from transformers import AutoTokenizer

    from jscope_desktop.engine.model.gguf_cache import convert_gguf, embedded_gguf_path

    from .bench_scale import LOCK
    from .common import read_json, write_result

    path = out_dir / "scale_fresh.json"
    result = read_json(path) if path.exists() else {"models": {}}
    result.update({"threads": 1, "protocol": __doc__.strip(),
                   "training": {m: [list(c) for c in TRAINING[m]] for m in TRAINING},
                   "cases": {m: [list(c) for c in CASES[m]] for m in CASES}})

    def save():
        result["summary"] = summary(result["models"])
        write_result(out_dir, "scale_fresh", result)

    converted = convert_gguf(embedded_gguf_path())  # linked into every cache, as a first load writes it
    tokenizer = AutoTokenizer.from_pretrained(str(converted))
    root = Path(tempfile.mkdtemp(prefix="jscope-fresh-"))
    for model in models:
        if model == "embedded":
            run_model(model, [], tokenizer, [converted], root, result["models"], save,
                      (cases or {}).get(model), states)
            continue
        import fcntl

        with open(LOCK, "w") as lock:  # one >1B model in memory on this machine at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
            folder = big_folder(tokenizer)
            run_model(model, ["--model", str(folder)], tokenizer, [], root, result["models"],
                      save, (cases or {}).get(model), states)
    save()
    plot(result, out_dir)
    shutil.rmtree(root, ignore_errors=True)
    return result
