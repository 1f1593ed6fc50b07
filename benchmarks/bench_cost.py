"""Cost against prompt length: a forward pass and each scope, seconds, ratio to Temperature and
peak memory, on real text (LAMBADA passages) of 32 to 2,048 tokens.

Times are each method's own (``timing.scope_s`` of the result; a plain no-grad forward for
``forward``): the median of ``repeats`` runs after one warm-up at lengths up to ``repeat_upto``,
a single run above (each run is then seconds long and its noise small), and a single run too
where the warm-up took 10 s or more (Fisher exact). A method whose next
run is predicted (from its growth so far) to exceed ``limit_s`` is skipped from there on, so
Fisher exact stops where it would take minutes.

The engine call against a forward (``--engine-call``, ``cost_engine_call.json/png``): at 11,
121, 512 and 1,029 tokens and 1 and 2 threads, a Temperature Scope's whole ``attribute()`` call
(prediction, graph, backward pass, result) and its ``timing.scope_s`` against a plain no-grad
forward of the same tokens, timed in one process, interleaved (forward, call, forward, call …)
after one warm-up of each; the ratios are medians of the per-repeat ratios. Beside them, the
floor under any autograd engine, timed on its own in the same loop: the bare graph forward and
one backward pass (``floor_ratio``), and the whole call over that floor (``call_over_floor``).

    python -m benchmarks.bench_cost [--lengths 32,64,...] [--repeats 3] [--limit-s 180]
    python -m benchmarks.bench_cost --engine-call [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import torch

from jscope_desktop.engine.compute.forward import build_graph, plain_forward, sync, vjp
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


ENGINE_LENGTHS = (11, 121, 512, 1029)
ENGINE_THREADS = (1, 2)
# the targets: whole Temperature call / plain forward, at most this, up to a length
ENGINE_TARGETS = ((128, 1.9), (1029, 2.3))


def engine_target(n_tokens: int) -> float:
    """The ratio a whole Temperature call may reach at ``n_tokens`` (1.9× up to 128 tokens,
    2.3× above)."""
    return next((r for L, r in ENGINE_TARGETS if n_tokens <= L), ENGINE_TARGETS[-1][1])


def engine_call(lm, lengths=ENGINE_LENGTHS, threads=ENGINE_THREADS, repeats=5,
                log=print) -> dict:
    """{threads: {length: {"forward_s", "call_s", "scope_s", "call_ratio", "scope_ratio",
    "call_ratios", "target", "ok"}}}: seconds are medians; ``call_ratio`` is the median of
    the per-repeat (whole call / plain forward) ratios, ``scope_ratio`` the same of
    ``timing.scope_s`` / plain forward, ``ok`` whether ``call_ratio`` is within the target."""
    before = torch.get_num_threads()
    table: dict = {}
    try:
        for n_threads in threads:
            torch.set_num_threads(n_threads)
            rows = table[str(n_threads)] = {}
            for L in lengths:
                ids = lambada_ids(lm, L)
                req = AttributionRequest(token_ids=ids, scope="temperature")
                fwd, call, scope, graph, back = [], [], [], [], []
                for i in range(repeats + 1):  # the first of each is the warm-up
                    f = plain_forward(lm, ids)[1]
                    t0 = time.perf_counter()
                    r = attribute(lm, req)
                    c = time.perf_counter() - t0
                    g, b = graph_and_backward(lm, ids)
                    if i:
                        fwd.append(f)
                        call.append(c)
                        scope.append(r.timing.scope_s)
                        graph.append(g)
                        back.append(b)
                ratios = [c / f for c, f in zip(call, fwd)]
                med = statistics.median
                row = {"forward_s": med(fwd), "call_s": med(call), "scope_s": med(scope),
                       "call_ratio": med(ratios),
                       "scope_ratio": med(s / f for s, f in zip(scope, fwd)),
                       "call_ratios": ratios, "target": engine_target(L),
                       "graph_forward_ratio": med(g / f for g, f in zip(graph, fwd)),
                       "backward_ratio": med(b / f for b, f in zip(back, fwd)),
                       "floor_ratio": med((g + b) / f for g, b, f in zip(graph, back, fwd)),
                       "call_over_floor": med(c / (g + b) for c, g, b in zip(call, graph, back))}
                row["ok"] = row["call_ratio"] <= row["target"]
                rows[str(L)] = row
                log(f"  engine call {n_threads} thr {L:5d} tokens  forward {row['forward_s']:.3f} s"
                    f"  call {row['call_ratio']:.2f}× (target ≤ {row['target']}×)"
                    f"  scope {row['scope_ratio']:.2f}×  floor {row['floor_ratio']:.2f}× "
                    f"(graph {row['graph_forward_ratio']:.2f}× + backward "
                    f"{row['backward_ratio']:.2f}×)  call/floor {row['call_over_floor']:.3f}")
    finally:
        torch.set_num_threads(before)
    return table


def graph_and_backward(lm, ids: list[int]) -> tuple[float, float]:
    """Seconds of the bare autograd work a Temperature call cannot avoid, timed on their own:
    the graph's forward (:func:`build_graph`) and one backward pass of a unit direction at the
    last position (the floor under any engine built on autograd)."""
    t0 = time.perf_counter()
    graph = build_graph(lm, ids, len(ids) - 1)
    sync(lm)
    t1 = time.perf_counter()
    u = graph.h.detach()
    vjp(graph, u / u.norm())
    sync(lm)
    return t1 - t0, time.perf_counter() - t1


def plot_engine_call(result: dict, out_dir):
    """Whole call and scope_s over a plain forward against length, one line per thread count,
    with the targets."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for k, (n_threads, rows) in enumerate(result["threads"].items()):
        xs = [int(L) for L in rows]
        ax.plot(xs, [v["call_ratio"] for v in rows.values()], "o-", color=f"C{k}",
                label=f"whole call, {n_threads} thread{'s' if n_threads != '1' else ''}")
        ax.plot(xs, [v["scope_ratio"] for v in rows.values()], "s--", color=f"C{k}", alpha=0.6,
                label=f"timing.scope_s, {n_threads} thread{'s' if n_threads != '1' else ''}")
        if all("floor_ratio" in v for v in rows.values()):
            ax.plot(xs, [v["floor_ratio"] for v in rows.values()], "v:", color=f"C{k}",
                    alpha=0.8, label=f"bare graph forward + backward, {n_threads} "
                                     f"thread{'s' if n_threads != '1' else ''}")
    xs = result["lengths"]
    ax.step(xs, [engine_target(L) for L in xs], where="mid", color="k", lw=1, label="target")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(L) for L in xs])
    ax.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
    ax.set_xlabel("prompt length (tokens)")
    ax.set_ylabel("seconds / plain no-grad forward")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    env = result["environment"]
    ax.set_title(f"Temperature Scope: the engine call against a forward — {env['model']['name']}, "
                 f"{env['device']}", fontsize=9)
    return save_figure(plt, fig, out_dir, f"{NAME}_engine_call")


def run_engine_call(lm, out_dir, lengths=ENGINE_LENGTHS, threads=ENGINE_THREADS, repeats=5,
                    log=print) -> dict:
    """Measure :func:`engine_call`, write ``cost_engine_call.json`` and ``.png``; return it."""
    t0 = time.perf_counter()
    load = os.getloadavg()[0]  # a shared machine's load moves these ratios: kept beside them
    table = engine_call(lm, lengths, threads, repeats, log)
    result = {"environment": environment(lm), "lengths": list(lengths), "repeats": repeats,
              "load_average": [load, os.getloadavg()[0]],
              "threads": table, "targets": {"upto_128": 1.9, "above_128": 2.3},
              "ok": all(v["ok"] for rows in table.values() for v in rows.values()),
              "timing": "one process, interleaved plain forward / whole attribute() call, one "
                        "warm-up of each, medians of `repeats`",
              "wall_s": time.perf_counter() - t0}
    write_result(out_dir, f"{NAME}_engine_call", result)
    plot_engine_call(result, out_dir)
    return result


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--repeat-upto", type=int, default=512)
    p.add_argument("--limit-s", type=float, default=180.0)
    p.add_argument("--methods", default=",".join(METHODS), help="subset of " + ", ".join(METHODS))
    p.add_argument("--engine-call", action="store_true",
                   help="only the whole Temperature call against a forward (11–1,029 tokens, "
                        "1 and 2 threads)")
    args = p.parse_args(argv)
    if args.engine_call:
        run_engine_call(load(args), args.out, repeats=args.repeats)
        return 0
    lengths = [int(x) for x in args.lengths.split(",")]
    methods = args.methods.split(",")
    if set(methods) - set(METHODS):
        p.error(f"unknown method(s); choose from {', '.join(METHODS)}")
    run(load(args), args.out, lengths, args.repeats, args.repeat_upto, args.limit_s, methods)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
