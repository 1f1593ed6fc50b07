"""Cost against prompt length: a forward pass and each scope, seconds, ratio to Temperature and
peak memory, on real text (LAMBADA passages) of 32 to 2,048 tokens.

Times are each method's own (``timing.scope_s`` of the result; a plain no-grad forward for
``forward``): the median of ``repeats`` runs after one warm-up at lengths up to ``repeat_upto``,
a single run above (each run is then seconds long and its noise small), and a single run too
where the warm-up took 10 s or more (Fisher exact). A method whose next
run is predicted (from its growth so far) to exceed ``limit_s`` is skipped from there on, so
Fisher exact stops where it would take minutes.

    python -m benchmarks.bench_cost [--lengths 32,64,...] [--repeats 3] [--limit-s 180]
"""

from __future__ import annotations

import argparse
import math
import time

from jscope_desktop.engine.compute.forward import plain_forward
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute

from .common import (
    PeakMemory,
    add_model_args,
    environment,
    lambada_ids,
    load,
    median_seconds,
    pyplot,
    save_figure,
    write_result,
)

NAME = "cost"
SINGLE_ABOVE_S = 10.0  # a warm-up this long is the measurement (Fisher exact: no repeats)
LENGTHS = (32, 64, 128, 256, 512, 1024, 2048)
# name -> (scope, fisher method); None = a plain forward
METHODS = {
    "forward": None,
    "temperature": ("temperature", "fast"),
    "semantic": ("semantic", "fast"),
    "fisher_fast": ("fisher", "fast"),
    "fisher_exact": ("fisher", "exact"),
    "integrated": ("integrated", "fast"),
}


def _runner(lm, ids, method):
    spec = METHODS[method]
    if spec is None:
        return lambda: plain_forward(lm, ids)[1]
    req = AttributionRequest(token_ids=ids, scope=spec[0], fisher_method=spec[1])
    return lambda: attribute(lm, req).timing.scope_s


def measure(lm, lengths, repeats=3, repeat_upto=512, limit_s=180.0, methods=tuple(METHODS), log=print):
    """{method: {length: {"seconds", "runs", "peak_mb"} or {"skipped": reason}}}."""
    table = {m: {} for m in methods}
    warm = lambada_ids(lm, min(lengths))
    for m in methods:  # first calls allocate once for the process: keep that out of the numbers
        if m != "fisher_exact":
            _runner(lm, warm, m)()
    for L in lengths:
        ids = lambada_ids(lm, L)
        for m in methods:
            prev = [(k, v["seconds"]) for k, v in table[m].items() if "seconds" in v]
            predicted = _predict(prev, L)
            if predicted > limit_s:
                table[m][str(L)] = {"skipped": f"predicted {predicted:.0f} s > limit {limit_s:.0f} s"}
                continue
            many = L <= repeat_upto
            with PeakMemory(lm.device) as mem:
                sec, runs = median_seconds(_runner(lm, ids, m), repeats if many else 1, warmup=many,
                                           single_above=SINGLE_ABOVE_S)
            table[m][str(L)] = {"seconds": sec, "runs": runs, "peak_mb": mem.peak_mb}
            log(f"  cost {m:13s} {L:5d} tokens  {sec:9.3f} s  peak +{mem.peak_mb:7.1f} MB")
    return table


def _predict(prev: list[tuple[str, float]], L: int) -> float:
    """Seconds expected at length L from the last two measured lengths (power-law growth,
    at least linear)."""
    if not prev:
        return 0.0
    (l1, t1) = (int(prev[-1][0]), prev[-1][1])
    if len(prev) < 2:
        return t1 * L / l1
    l0, t0 = int(prev[-2][0]), prev[-2][1]
    slope = max(1.0, math.log(max(t1, 1e-9) / max(t0, 1e-9)) / math.log(l1 / l0))
    return t1 * (L / l1) ** slope


def add_ratios(table: dict) -> None:
    """Add ``ratio_to_temperature`` to every measured entry (same length, same run)."""
    temp = table.get("temperature", {})
    for rows in table.values():
        for L, v in rows.items():
            t = temp.get(L, {}).get("seconds")
            if "seconds" in v and t:
                v["ratio_to_temperature"] = v["seconds"] / t


def plot(result: dict, out_dir):
    """Log-log seconds and peak memory against length, one line per method."""
    plt = pyplot()
    if plt is None:
        return None
    fig, (ax_t, ax_r, ax_m) = plt.subplots(1, 3, figsize=(15, 4.4))
    for m, rows in result["methods"].items():
        pts = [(int(L), v) for L, v in rows.items() if "seconds" in v]
        if not pts:
            continue
        xs, style = [p[0] for p in pts], {"marker": "o", "color": f"C{list(METHODS).index(m)}", "label": m}
        ax_t.plot(xs, [p[1]["seconds"] for p in pts], **style)
        ax_r.plot(xs, [p[1].get("ratio_to_temperature", float("nan")) for p in pts], **style)
        ax_m.plot(xs, [max(p[1]["peak_mb"], 0.1) for p in pts], **style)
    panels = ((ax_t, "seconds (median)"), (ax_r, "time / Temperature Scope"),
              (ax_m, "peak memory above start (MB)"))
    for ax, ylabel in panels:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(result["lengths"], [str(L) for L in result["lengths"]])
        ax.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
        ax.set_xlabel("prompt length (tokens)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    env = result["environment"]
    fig.suptitle(f"Cost against prompt length — {env['model']['name']}, {env['device']}, "
                 f"{env['threads']} threads", fontsize=10)
    return save_figure(plt, fig, out_dir, NAME)


def run(lm, out_dir, lengths=LENGTHS, repeats=3, repeat_upto=512, limit_s=180.0,
        methods=tuple(METHODS), log=print) -> dict:
    """Measure, write ``cost.json`` and ``cost.png`` into ``out_dir``; return the result."""
    t0 = time.perf_counter()
    table = measure(lm, lengths, repeats, repeat_upto, limit_s, methods, log=log)
    add_ratios(table)
    result = {"environment": environment(lm), "lengths": list(lengths), "repeats": repeats,
              "repeat_upto": repeat_upto, "limit_s": limit_s, "methods": table,
              "timing": "each method's own seconds (timing.scope_s; forward: a no-grad forward), "
                        "median of `repeats` after a warm-up up to `repeat_upto` tokens, one run above",
              "wall_s": time.perf_counter() - t0}
    write_result(out_dir, NAME, result)
    plot(result, out_dir)
    return result


def summary_rows(result: dict, at=(128, 1024)) -> list[list[str]]:
    """Rows (method, seconds and ratio at each length in ``at``) for the summary table."""
    rows = []
    for m, by_len in result["methods"].items():
        cells = [m]
        for L in at:
            v = by_len.get(str(L), {})
            cells.append(f"{v['seconds']:.3g} s ({v.get('ratio_to_temperature', float('nan')):.2f}×)"
                         if "seconds" in v else "–")
        rows.append(cells)
    return rows


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--repeat-upto", type=int, default=512)
    p.add_argument("--limit-s", type=float, default=180.0)
    p.add_argument("--methods", default=",".join(METHODS), help="subset of " + ", ".join(METHODS))
    args = p.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    methods = args.methods.split(",")
    if set(methods) - set(METHODS):
        p.error(f"unknown method(s); choose from {', '.join(METHODS)}")
    run(load(args), args.out, lengths, args.repeats, args.repeat_upto, args.limit_s, methods)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
