"""Fisher fast against its settings: relative L2 error and Spearman ρ against Fisher exact, and
time as a ratio to Temperature, over a grid of (eigen-directions kept, probes), on a few varied
real prompts of 10–50 tokens. The default setting is read from the engine and marked.

Per prompt: exact scores once; Temperature's time is the median of 3 runs after a warm-up; each
grid point runs once per seed (seeds 0..seeds−1). Per grid point the JSON keeps every value and
the summary takes medians over prompts × seeds.

    python -m benchmarks.bench_fisher [--ranks 0,4,8,16,32] [--probes 4,8,16,32] [--seeds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from jscope_desktop.engine import fisher as fisher_mod
from jscope_desktop.engine.attribute import AttributionRequest, attribute
from jscope_desktop.engine.faithfulness.stats import spearman
from jscope_desktop.engine.tokens import encode_prompt

from .common import add_model_args, environment, load, median_seconds, pyplot, save_figure, write_result

NAME = "fisher_accuracy"
RANKS = (0, 4, 8, 16, 32)
PROBES = (4, 8, 16, 32)
PROMPTS = (
    "The capital of France is",
    "Translate to German: The researchers published their findings about the new attribution "
    "method last week. German:",
    "12,15,19,24,30,37,45,54,64,",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
    "After they had left, Paul and Debbie looked at each other, then at Bob. It was late, and "
    "the train would not wait for anyone, least of all for",
    "Q: Is a tomato a fruit or a vegetable?\nA:",
)


def default_setting() -> tuple[int, int]:
    """The engine's default (eigen-directions, probes) of Fisher fast."""
    return fisher_mod.DEFAULT_RANK["fast"], fisher_mod.DEFAULT_PROBES


def _scores(lm, ids, method, rank=None, probes=8, seed=0):
    r = attribute(lm, AttributionRequest(token_ids=ids, scope="fisher", fisher_method=method,
                                         fisher_rank=rank, fisher_probes=probes, seed=seed))
    return np.array(r.scores, dtype=np.float64), r.timing.scope_s


def measure_prompt(lm, text, grid, seeds, log=print) -> dict:
    """One prompt: its exact scores, Temperature's time, and per grid point the errors/times."""
    ids = encode_prompt(lm.tokenizer, text).token_ids
    exact, exact_s = _scores(lm, ids, "exact")
    req = AttributionRequest(token_ids=ids, scope="temperature")
    temp_s, _ = median_seconds(lambda: attribute(lm, req).timing.scope_s, 3)
    points = {}
    for rank, probes in grid:
        errs, rhos, ratios = [], [], []
        for seed in range(seeds):
            est, sec = _scores(lm, ids, "fast", rank, probes, seed)
            errs.append(float(np.linalg.norm(est - exact) / np.linalg.norm(exact)))
            rhos.append(spearman(est, exact))
            ratios.append(sec / temp_s)
        points[f"{rank},{probes}"] = {"rel_l2": errs, "spearman": rhos, "time_ratio": ratios}
    log(f"  fisher {len(ids):3d} tokens  exact {exact_s:.1f} s  temperature {temp_s:.3f} s")
    return {"text": text, "n_tokens": len(ids), "exact_s": exact_s, "temperature_s": temp_s,
            "exact_over_temperature": exact_s / temp_s, "points": points}


def summarize(prompts: list[dict], grid) -> dict:
    """Per grid point: medians (and the worst error) over prompts × seeds; the Pareto frontier
    (no other point is both cheaper and more accurate)."""
    out = {}
    for rank, probes in grid:
        key = f"{rank},{probes}"
        errs = [e for p in prompts for e in p["points"][key]["rel_l2"]]
        rhos = [r for p in prompts for r in p["points"][key]["spearman"]]
        ratios = [t for p in prompts for t in p["points"][key]["time_ratio"]]
        out[key] = {"rank": rank, "probes": probes, "median_rel_l2": statistics.median(errs),
                    "max_rel_l2": max(errs), "median_spearman": statistics.median(rhos),
                    "min_spearman": min(rhos), "median_time_ratio": statistics.median(ratios)}
    for key, v in out.items():
        v["frontier"] = not any(
            w["median_time_ratio"] <= v["median_time_ratio"] and w["median_rel_l2"] < v["median_rel_l2"]
            for k, w in out.items() if k != key)
    return out


def plot(result: dict, out_dir):
    """Error against time ratio for every grid point; the frontier joined; the default starred."""
    plt = pyplot()
    if plt is None:
        return None
    pts = result["grid"]
    default = "{},{}".format(*result["default"])
    fig, (ax_e, ax_s) = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, key, label in ((ax_e, "median_rel_l2", "median relative L2 error vs exact"),
                           (ax_s, "median_spearman", "median Spearman ρ vs exact")):
        for v in pts.values():
            ax.scatter(v["median_time_ratio"], v[key], s=18 + 3 * v["probes"],
                       color="C0" if v["frontier"] else "0.6", zorder=3)
            ax.annotate(f"r{v['rank']} p{v['probes']}", (v["median_time_ratio"], v[key]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
        front = sorted((v["median_time_ratio"], v[key]) for v in pts.values() if v["frontier"])
        ax.plot(*zip(*front), "-", color="C0", label="frontier")
        if default in pts:
            d = pts[default]
            ax.scatter(d["median_time_ratio"], d[key], marker="*", s=260, color="C3", zorder=4,
                       label=f"default (rank {result['default'][0]}, probes {result['default'][1]})")
        ax.set_xlabel("time / Temperature Scope (median)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_e.set_yscale("log")
    ax_e.legend(fontsize=8)
    env = result["environment"]
    fig.suptitle(f"Fisher fast: accuracy against cost — {env['model']['name']}, "
                 f"{len(result['prompts'])} prompts × {result['seeds']} seeds", fontsize=10)
    return save_figure(plt, fig, out_dir, NAME)


def run(lm, out_dir, ranks=RANKS, probes=PROBES, seeds=2, prompts=PROMPTS, log=print) -> dict:
    """Measure the grid (plus the engine's default), write JSON and PNG; return the result."""
    t0 = time.perf_counter()
    default = default_setting()
    grid = sorted({(r, p) for r in ranks for p in probes} | {default})
    measured = [measure_prompt(lm, text, grid, seeds, log) for text in prompts]
    result = {"environment": environment(lm), "default": list(default), "seeds": seeds,
              "grid": summarize(measured, grid), "prompts": measured,
              "wall_s": time.perf_counter() - t0}
    write_result(out_dir, NAME, result)
    plot(result, out_dir)
    return result


def summary_rows(result: dict) -> list[list[str]]:
    """Frontier points and the default: setting, error, Spearman, time ratio."""
    default = "{},{}".format(*result["default"])
    rows = []
    for k, v in sorted(result["grid"].items(), key=lambda kv: kv[1]["median_time_ratio"]):
        if v["frontier"] or k == default:
            rows.append([f"rank {v['rank']}, probes {v['probes']}" + (" (default)" if k == default else ""),
                         f"{100 * v['median_rel_l2']:.1f} %", f"{v['median_spearman']:.3f}",
                         f"{v['median_time_ratio']:.2f}×"])
    return rows


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--ranks", default=",".join(map(str, RANKS)))
    p.add_argument("--probes", default=",".join(map(str, PROBES)))
    p.add_argument("--seeds", type=int, default=2)
    args = p.parse_args(argv)
    run(load(args), args.out, [int(x) for x in args.ranks.split(",")],
        [int(x) for x in args.probes.split(",")], args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
