"""Batch throughput against workers: items per minute of `jscope batch` in this process, on two
local Ray workers (``--workers 2``) and on ``--ray local`` with two actors, for the same short
prompts (the first words of LAMBADA passages) and the Temperature scope.

Each configuration runs as the command runs it: the sequential one loads the model in this
process and uses torch's own thread count; the Ray ones each start Ray on this machine, load the
model once per worker (``os.cpu_count() // workers`` threads each) and shut Ray down. ``run_s``
is the time from the first model being ready to the last line (what the command's summary line
reports as items per minute); ``startup_s`` is what comes before, paid once per run: the model
load in this process, or Ray's start and the first worker's model load. ``--workers 2`` and
``--ray local --workers 2`` are one code path, so their two rows also show the run-to-run noise.
Each configuration runs ``--repeats`` times (in rounds); the JSON has every run and the medians.

    python -m benchmarks.bench_batch [--items 24] [--words 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

import torch

from jscope_desktop.cli import build_parser
from jscope_desktop.commands.batch import item_line
from jscope_desktop.engine.faithfulness.run import load_prompts
from jscope_desktop.engine.model.load import load_model
from jscope_desktop.engine.runners.batch import BatchItem

from .common import LAMBADA, add_model_args, environment, load, pyplot, save_figure, write_result

NAME = "batch"
N_ITEMS = 24
N_WORDS = 12
REPEATS = 3
# (row name, --ray address or None for this process, workers)
CONFIGS = (("sequential", None, 1), ("--workers 2", "local", 2), ("--ray local, 2 actors", "local", 2))


def items(n: int = N_ITEMS, words: int = N_WORDS) -> list[BatchItem]:
    """``n`` items: the first ``words`` words of the first ``n`` LAMBADA passages."""
    texts = load_prompts(LAMBADA)[:n]
    return [BatchItem(i, f"p{i}", {"prompt": " ".join(t.split()[:words])})
            for i, t in enumerate(texts, 1)]


def options(device: str, dtype: str) -> argparse.Namespace:
    """The options `jscope batch` parses for the Temperature scope (the defaults), picklable."""
    args = build_parser().parse_args(["batch", "in.jsonl", "--out", "out.jsonl", "--device",
                                      device, "--dtype", dtype])
    return argparse.Namespace(**{k: v for k, v in vars(args).items()
                                 if k not in ("run", "usage_error")})


def measure_sequential(model, device: str, dtype: str, batch: list[BatchItem]) -> dict:
    """The in-process path: the model loaded here (``startup_s``), then every item on it, one
    after another."""
    start = time.perf_counter()
    lm = load_model(model, device, dtype)
    ready = time.perf_counter()
    opts = options(device, dtype)
    errors = sum("error" in item_line(lm, item, opts) for item in batch)
    return {"startup_s": ready - start, "run_s": time.perf_counter() - ready, "errors": errors,
            "threads_per_worker": torch.get_num_threads()}


def measure_ray(model, device: str, dtype: str, batch: list[BatchItem], address: str,
                workers: int) -> dict:
    """Ray workers as the command starts them (Ray started here and shut down after)."""
    from jscope_desktop.engine.runners.ray_pool import RayWorkers

    run_item = functools.partial(item_line, args=options(device, dtype))
    start = time.perf_counter()
    with RayWorkers(run_item, model, device, dtype, address=address, workers=workers) as pool:
        ready = time.perf_counter()
        errors = sum("error" in line for line in pool.lines(batch))
        end = time.perf_counter()
    return {"startup_s": ready - start, "run_s": end - ready, "errors": errors,
            "threads_per_worker": max(1, (os.cpu_count() or 1) // workers)}


def plot(result: dict, out_dir):
    """Items per minute per configuration (steady state, and with Ray's start-up counted)."""
    plt = pyplot()
    if plt is None:
        return None
    rows = result["configs"]
    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["items_per_min"] for r in rows], 0.4, label="run (summary line)")
    ax.bar([i + 0.2 for i in x], [r["wall_items_per_min"] for r in rows], 0.4,
           label="with start-up")
    for i, r in zip(x, rows):
        ax.text(i - 0.2, r["items_per_min"], f"{r['ratio_to_sequential']:.2f}×", ha="center",
                va="bottom", fontsize=8)
    ax.set_xticks(list(x), [r["name"] for r in rows], fontsize=8)
    ax.set_ylabel("items per minute")
    ax.legend(fontsize=8)
    env = result["environment"]
    ax.set_title(f"jscope batch, {result['n_items']} prompts — {env['model']['name']}, "
                 f"{result['cpus']} CPUs (median of {result['repeats']})", fontsize=10)
    return save_figure(plt, fig, out_dir, NAME)


def run(lm, out_dir, n_items: int = N_ITEMS, words: int = N_WORDS, configs=CONFIGS,
        repeats: int = REPEATS, model: str | None = None, log=print) -> dict:
    """Measure every configuration ``repeats`` times on the same items (in rounds, so that a
    slow spell of the machine hits all of them), write JSON (and PNG) with the medians; ``model``
    is the ``--model`` the workers load (``lm`` was loaded from it; None: the embedded model)."""
    batch = items(n_items, words)
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
    t0 = time.perf_counter()
    for r in range(max(1, repeats)):
        for name, address, workers in configs:
            if address is None:
                row = measure_sequential(model, lm.device.type, lm.dtype_name, batch)
            else:
                row = measure_ray(model, lm.device.type, lm.dtype_name, batch, address, workers)
            runs[name].append(row)
            log(f"  batch {name:24s} round {r + 1}: {len(batch) / row['run_s'] * 60:7.1f} "
                f"items/min  (run {row['run_s']:.1f} s, start-up {row['startup_s']:.1f} s, "
                f"{row['errors']} errors)")
    table = []
    for name, address, workers in configs:
        rows = runs[name]
        run_s = statistics.median(r["run_s"] for r in rows)
        startup_s = statistics.median(r["startup_s"] for r in rows)
        table.append({"name": name, "workers": workers, "ray": address, "run_s": run_s,
                      "startup_s": startup_s, "items_per_min": len(batch) / run_s * 60,
                      "wall_items_per_min": len(batch) / (run_s + startup_s) * 60,
                      "threads_per_worker": rows[0]["threads_per_worker"],
                      "errors": sum(r["errors"] for r in rows), "runs": rows})
    base = table[0]["items_per_min"] if table[0]["ray"] is None else None
    for row in table:
        row["ratio_to_sequential"] = row["items_per_min"] / base if base else None
        log(f"  batch {row['name']:24s} median {row['items_per_min']:7.1f} items/min "
            f"({row['ratio_to_sequential']:.2f}× sequential), start-up {row['startup_s']:.1f} s")
    result = {"environment": environment(lm), "n_items": len(batch), "words": words,
              "scope": "temperature", "cpus": os.cpu_count(), "repeats": repeats,
              "configs": table, "wall_s": time.perf_counter() - t0}
    write_result(out_dir, NAME, result)
    plot(result, out_dir)
    return result


def summary_rows(result: dict) -> list[list[str]]:
    """(configuration, items/min, ratio to sequential, start-up s) rows."""
    return [[r["name"], f"{r['items_per_min']:.1f}", f"{r['ratio_to_sequential']:.2f}×",
             f"{r['startup_s']:.1f}"] for r in result["configs"]]


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--items", type=int, default=N_ITEMS)
    p.add_argument("--words", type=int, default=N_WORDS)
    p.add_argument("--repeats", type=int, default=REPEATS)
    args = p.parse_args(argv)
    run(load(args), args.out, args.items, args.words, repeats=args.repeats, model=args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
