"""Faithfulness on LAMBADA passages (``--explain last``): the deletion test of every scope and
the random floor, and leave-one-out agreement, with the paper's LLaMA-3.2-1B numbers beside.

Same engine as ``jscope faithfulness`` and resumable the same way: finished passages are kept in
``faithfulness.json.partial.jsonl`` until ``faithfulness.json`` is written, so a stopped long
run continues where it stopped.

    python -m benchmarks.bench_faithfulness [--passages 200] [--loo-passages 20]
"""

from __future__ import annotations

import argparse
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

from .common import LAMBADA, add_model_args, load, pyplot, save_figure, write_result

NAME = "faithfulness"
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


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--passages", type=int, default=200)
    p.add_argument("--loo-passages", type=int, default=20)
    p.add_argument("--scopes", default=",".join(faithfulness_scopes()))
    args = p.parse_args(argv)
    run(load(args), args.out, args.passages, args.loo_passages, args.scopes.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
