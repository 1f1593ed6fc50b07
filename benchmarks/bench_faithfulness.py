"""Faithfulness on LAMBADA passages (``--explain last``): the deletion test of every scope and
the random floor, and leave-one-out agreement, with the paper's LLaMA-3.2-1B numbers beside.

Same engine as ``jscope faithfulness`` and resumable the same way: finished passages are kept in
``faithfulness.json.partial.jsonl`` until ``faithfulness.json`` is written, so a stopped long
run continues where it stopped.

    python -m benchmarks.bench_faithfulness [--passages 200] [--loo-passages 20]
    python -m benchmarks.bench_faithfulness --parallel [--passages 4] [--repeats 2]

``--parallel`` times the same passages sequentially (this process, torch's own threads), on
``--workers 2`` and on ``--ray local --workers 2`` (Ray started here, one model per worker,
``cpu_count // 2`` threads each), in interleaved rounds, and checks that the three reports
agree; it writes ``faithfulness_parallel.json`` and ``.png`` (:func:`run_parallel`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from jscope_desktop.engine.errors import Cancelled
from jscope_desktop.engine.faithfulness.measure import FaithfulnessConfig, faithfulness_scopes
from jscope_desktop.engine.faithfulness.run import (
    build_report,
    load_prompts,
    read_partial,
    run_faithfulness,
    run_header,
)

from .common import (
    LAMBADA,
    add_model_args,
    environment,
    load,
    pyplot,
    save_figure,
    write_result,
)

NAME = "faithfulness"
PARALLEL = "faithfulness_parallel"
# (row name, --ray address or None for this process, workers)
PARALLEL_CONFIGS = (("sequential", None, 1), ("--workers 2", "local", 2),
                    ("--ray local, 2 actors", "local", 2))
FRACTIONS = (0.05, 0.1, 0.2)
# Paper, LLaMA-3.2-1B, LAMBADA, mean Δ log p(top-1) after deleting the top 10 % tokens.
PAPER_TOP10 = {"fisher": -8.59, "temperature": -8.66, "semantic": -8.47, "grad_input": -8.30,
               "integrated": -7.07, "random": -1.27}


def plot(result: dict, out_dir):
    """Grouped bars: mean Δ log p per scope and fraction with 95 % intervals (paper's top-10 %
    values as black crosses); right, mean LOO Spearman ρ per scope."""
    plt = pyplot()
    if plt is None:
        return None
    scopes = result["scopes"]
    keys = [f"{f:g}" for f in result["fractions"]]
    fig, (ax, ax_loo) = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [2, 1]})
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        xs = [i + (j - (len(keys) - 1) / 2) * width for i in range(len(scopes))]
        stats = [result["results"][s][key] for s in scopes]
        means = [st["mean"] if st["mean"] is not None else 0.0 for st in stats]
        err = [[m - (st["ci95"][0] if st["ci95"][0] is not None else m) for m, st in zip(means, stats)],
               [(st["ci95"][1] if st["ci95"][1] is not None else m) - m for m, st in zip(means, stats)]]
        ax.bar(xs, means, width, yerr=err, capsize=2, label=f"top {float(key) * 100:g} %")
        if key == "0.1":
            px = [x for x, s in zip(xs, scopes) if s in PAPER_TOP10]
            ax.scatter(px, [PAPER_TOP10[s] for s in scopes if s in PAPER_TOP10], marker="x",
                       color="k", zorder=5, label="paper, LLaMA-3.2-1B, top 10 %")
    ax.set_xticks(range(len(scopes)), scopes, rotation=25, ha="right")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("Δ log p(top-1) after deletion (nats)")
    # above the bars: inside, it would cover the deepest ones
    ax.legend(fontsize=8, ncol=4, loc="lower left", bbox_to_anchor=(0, 1.01), frameon=False)
    ax.grid(True, axis="y", alpha=0.3)
    loo = result.get("loo_spearman") or {}
    if loo:
        st = [loo[s]["kl"] for s in scopes]
        m = [x["mean"] if x["mean"] is not None else 0.0 for x in st]
        lo = [a - (x["ci95"][0] if x["ci95"][0] is not None else a) for a, x in zip(m, st)]
        hi = [(x["ci95"][1] if x["ci95"][1] is not None else a) - a for a, x in zip(m, st)]
        ax_loo.bar(range(len(scopes)), m, yerr=[lo, hi], capsize=2, color="C4")
        ax_loo.set_title(f"LOO agreement, n = {st[0]['n']}", fontsize=9)
    ax_loo.set_xticks(range(len(scopes)), scopes, rotation=25, ha="right")
    ax_loo.set_ylabel("mean Spearman ρ with LOO KL")
    ax_loo.axhline(0, color="k", lw=0.6)
    ax_loo.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"Deletion faithfulness on LAMBADA — {result['model']['name']}, "
                 f"{result['n_prompts']} passages (95 % t-intervals)", fontsize=10)
    return save_figure(plt, fig, out_dir, NAME)


def run(lm, out_dir, passages=200, loo_passages=20, scopes=None, fractions=FRACTIONS,
        deadline: float | None = None, log=print) -> dict:
    """Measure the first ``passages`` LAMBADA passages, write JSON and PNG; return the report.

    ``deadline`` (a ``time.monotonic()`` value): stop there and report the passages finished so
    far (the first k, in order); the sidecar stays, so running again with the same settings
    continues the run instead of starting over.
    """
    t0 = time.perf_counter()
    cfg = FaithfulnessConfig(scopes=list(scopes or faithfulness_scopes()), fractions=list(fractions),
                             explain="last", loo=loo_passages > 0, loo_prompts=loo_passages)
    texts = load_prompts(LAMBADA)[:passages]
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f"{NAME}.json.partial.jsonl"

    def progress(done, total, message):
        if message != "done" and (done % 10 == 0 or done == total - 1):
            log(f"  faithfulness {done}/{total} passages, {time.perf_counter() - t0:.0f} s")

    stopped = None
    try:
        results = run_faithfulness(lm, texts, cfg, partial, progress,
                                   cancel=lambda: deadline is not None and time.monotonic() > deadline)
    except Cancelled:
        done = read_partial(partial, run_header(lm, cfg))
        results = [done[i] for i in range(len(texts)) if i in done and all(j in done for j in range(i))]
        stopped = (f"stopped by the time budget after {len(results)} of {len(texts)} passages; "
                   "run again with the same settings to continue")
        log(f"  faithfulness {stopped}")
        if not results:
            raise
    report = build_report(lm, cfg, results, str(LAMBADA.relative_to(LAMBADA.parents[2])))
    report["paper_llama_3_2_1b_top10"] = PAPER_TOP10
    report["passages_requested"] = len(texts)
    report["stopped"] = stopped
    report["wall_s"] = time.perf_counter() - t0
    write_result(out_dir, NAME, report)
    if stopped is None:
        partial.unlink(missing_ok=True)
    plot(report, out_dir)
    return report


def _parallel_once(model, device: str, dtype: str, texts: list[str], cfg, address, workers,
                   seq_threads: int | None = None):
    """One timed run as the command runs it (the sequential one on ``seq_threads`` torch
    threads, None: torch's own); returns (row, report without timings)."""
    from jscope_desktop.engine.faithfulness.parallel import run_faithfulness_on_workers
    from jscope_desktop.engine.model.load import load_model

    start = time.perf_counter()
    marks = {}
    if address is None:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(seq_threads or before)
        try:
            lm = load_model(model, device, dtype)
            marks["ready"] = time.perf_counter()
            results = run_faithfulness(lm, texts, cfg)
            threads = torch.get_num_threads()
        finally:
            torch.set_num_threads(before)
    else:
        results, lm = run_faithfulness_on_workers(
            texts, cfg, model, device, dtype, address=address, workers=workers,
            ready=lambda: marks.setdefault("ready", time.perf_counter()))
        threads = max(1, (os.cpu_count() or 1) // workers)
    end = time.perf_counter()
    report = build_report(lm, cfg, results, "lambada")
    for p in report["per_prompt"]:
        del p["seconds"]
    row = {"startup_s": marks["ready"] - start, "run_s": end - marks["ready"],
           "wall_s": end - start, "threads_per_worker": threads}
    return row, report


def _max_diff(a, b) -> float:
    """The largest absolute difference between the numbers of two JSON values (inf when their
    shapes differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return float("inf")
        return max((_max_diff(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return float("inf")
        return max((_max_diff(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool):
        return abs(float(a) - float(b))
    return 0.0 if a == b else float("inf")


def run_parallel(lm, out_dir, passages: int = 4, repeats: int = 2, model: str | None = None,
                 configs=PARALLEL_CONFIGS, seq_threads: int | None = None, log=print) -> dict:
    """Time the first ``passages`` LAMBADA passages (``--explain last``, every scope, no LOO)
    sequentially, on ``--workers 2`` and on ``--ray local`` in ``repeats`` interleaved rounds;
    write ``faithfulness_parallel.json`` (medians, every run, and whether each configuration's
    report equals the sequential one apart from timings) and its plot. ``model`` is the
    ``--model`` the workers load (``lm`` was loaded from it; None: the embedded model);
    ``seq_threads``: torch threads of the sequential run (None: torch's own; 1 compares one
    process on one core against two workers on one core each, the fair test on a machine
    other jobs load, where a 2-thread process stalls on its spinning threads)."""
    t0 = time.perf_counter()
    cfg = FaithfulnessConfig(scopes=faithfulness_scopes(), fractions=list(FRACTIONS),
                             explain="last", loo=False)
    texts = load_prompts(LAMBADA)[:passages]
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
    reports: dict[str, dict] = {}
    for r in range(max(1, repeats)):
        for name, address, workers in configs:
            row, report = _parallel_once(model, lm.device.type, lm.dtype_name, texts, cfg,
                                         address, workers, seq_threads)
            runs[name].append(row)
            reports.setdefault(name, report)
            log(f"  faithfulness {name:24s} round {r + 1}: run {row['run_s']:.1f} s, start-up "
                f"{row['startup_s']:.1f} s")
    want = reports[configs[0][0]]
    table = []
    for name, address, workers in configs:
        rows = runs[name]
        med = {k: statistics.median(x[k] for x in rows) for k in ("run_s", "startup_s", "wall_s")}
        table.append({"name": name, "workers": workers, "ray": address, **med,
                      "passages_per_min": len(texts) / med["run_s"] * 60,
                      "threads_per_worker": rows[0]["threads_per_worker"],
                      "identical_to_sequential": reports[name] == want,
                      "max_abs_diff_to_sequential": _max_diff(reports[name], want),
                      "runs": rows})
    base = table[0]
    for row in table:
        row["run_speedup"] = base["run_s"] / row["run_s"]
        row["wall_speedup"] = base["wall_s"] / row["wall_s"]
        log(f"  faithfulness {row['name']:24s} median run {row['run_s']:.1f} s "
            f"({row['run_speedup']:.2f}× sequential), wall {row['wall_s']:.1f} s, identical: "
            f"{row['identical_to_sequential']} (max |Δ| {row['max_abs_diff_to_sequential']:.2g})")
    result = {"environment": environment(lm), "n_passages": len(texts), "explain": "last",
              "scopes": cfg.scopes, "fractions": cfg.fractions, "loo": False,
              "cpus": os.cpu_count(), "repeats": repeats, "configs": table,
              "note": "the machine is shared with other jobs; rounds are interleaved (A B C A B "
                      "C ...) and medians reported, so a slow spell hits every configuration",
              "wall_s": time.perf_counter() - t0}
    write_result(out_dir, PARALLEL, result)
    plot_parallel(result, out_dir)
    return result


def plot_parallel(result: dict, out_dir):
    """Seconds per configuration: the passages (run) and the start-up before them, stacked."""
    plt = pyplot()
    if plt is None:
        return None
    rows = result["configs"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    x = list(range(len(rows)))
    ax.bar(x, [r["run_s"] for r in rows], 0.55, label="passages (run)")
    ax.bar(x, [r["startup_s"] for r in rows], 0.55, bottom=[r["run_s"] for r in rows],
           label="start-up (model load; Ray and workers)")
    for i, r in zip(x, rows):
        same = "identical" if r["identical_to_sequential"] else \
            f"max |Δ| {r['max_abs_diff_to_sequential']:.1g}"
        ax.text(i, r["wall_s"], f"{r['run_speedup']:.2f}× run\n{same}", ha="center",
                va="bottom", fontsize=8)
    ax.set_xticks(x, [f"{r['name']}\n{r.get('threads_per_worker', '?')} torch thread(s) each"
                      for r in rows], fontsize=8)
    ax.set_ylabel("seconds (median)")
    ax.set_ylim(0, max(r["wall_s"] for r in rows) * 1.4)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    env = result["environment"]
    ax.set_title(f"jscope faithfulness, {result['n_passages']} LAMBADA passages, every scope\n"
                 f"{env['model']['name']}, {result['cpus']} shared CPUs (median of "
                 f"{result['repeats']} interleaved rounds)", fontsize=9)
    return save_figure(plt, fig, out_dir, PARALLEL)


def summary_rows(result: dict) -> list[list[str]]:
    """(scope, Δ at each fraction with interval, LOO ρ, paper's top-10 %) rows."""
    rows = []
    for s in result["scopes"]:
        cells = [s]
        for f in result["fractions"]:
            st = result["results"][s][f"{f:g}"]
            lo, hi = st["ci95"]
            cells.append("–" if st["mean"] is None else
                         f"{st['mean']:.2f}" + ("" if lo is None else f" [{lo:.2f}, {hi:.2f}]"))
        loo = (result.get("loo_spearman") or {}).get(s, {}).get("kl", {})
        cells.append("–" if loo.get("mean") is None else f"{loo['mean']:.2f}")
        cells.append(f"{PAPER_TOP10[s]:.2f}" if s in PAPER_TOP10 else "–")
        rows.append(cells)
    return rows


def parallel_rows(result: dict) -> list[list[str]]:
    """(configuration, run s, speed-up, start-up s, same report) rows of :func:`run_parallel`."""
    return [[r["name"], f"{r['run_s']:.1f}", f"{r['run_speedup']:.2f}×", f"{r['startup_s']:.1f}",
             "identical" if r["identical_to_sequential"] else
             f"max |Δ| {r['max_abs_diff_to_sequential']:.1g}"] for r in result["configs"]]


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--passages", type=int, default=200)
    p.add_argument("--loo-passages", type=int, default=20)
    p.add_argument("--scopes", default=",".join(faithfulness_scopes()))
    p.add_argument("--parallel", action="store_true", help="time sequential against "
                   "--workers 2 and --ray local on --passages (default 4) passages")
    p.add_argument("--repeats", type=int, default=2, help="rounds of --parallel")
    p.add_argument("--seq-threads", type=int, help="torch threads of --parallel's sequential "
                   "run (default: torch's own)")
    args = p.parse_args(argv)
    if args.parallel:
        run_parallel(load(args), args.out, args.passages if args.passages != 200 else 4,
                     args.repeats, model=args.model, seq_threads=args.seq_threads)
        return 0
    run(load(args), args.out, args.passages, args.loo_passages, args.scopes.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
