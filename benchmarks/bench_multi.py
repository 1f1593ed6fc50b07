"""Several scopes in one pass: Semantic + Contrast + Temperature + Grad × input + Fisher fast
together (``engine.multi.attribute_many``: one forward graph, the four directions riding in
Fisher's one batched backward pass) against Fisher fast alone, on several prompts.

Per prompt, the two runs alternate (A B A B …) after a warm-up of each, in one process; the
ratio is the median joint time over the median Fisher-alone time. Times are the scope
computation (``timing.total_s`` of the joint run against ``timing.scope_s`` of Fisher alone:
graph, backward passes and scores; the plain forward pass, the same in both, is apart), and
the whole call's wall time beside it. The five separate single runs are timed once too, and
every joint result is checked against its single run (largest relative difference).

    python -m benchmarks.bench_multi [--repeats 5] [--lambada 128,256]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.explain.multi import attribute_many

from .common import add_model_args, environment, lambada_ids, load, pyplot, save_figure, write_result

NAME = "multi"
SCOPES = ("semantic", "contrast", "temperature", "grad_input", "fisher")
TARGET = 1.2  # joint run ≤ 1.2 × Fisher fast alone
PROMPTS = {
    "fact": "The capital of France is",
    "prose": "She opened the door slowly, and the cold wind from the mountains rushed into the",
    "code": "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) +",
    "arithmetic": "Question: what is 17 plus 25? Answer: 17 plus 25 is",
    "list": "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday,",
    "dialogue": "Alice: Did you bring the tickets?\nBob: I left them on the kitchen table, next "
                "to the\nAlice: Then we have to go back to the",
    "markup": "<ul>\n  <li>apples</li>\n  <li>pears</li>\n  <li>plums</li>\n</",
    "translation": "English: The house is red. French: La maison est rouge. English: The cat is "
                   "black. French: Le chat est",
}
LAMBADA_LENGTHS = (128,)


def _max_rel_diff(a: list, b: list) -> float:
    x = np.array([v for v in a if v is not None], dtype=float)
    y = np.array([v for v in b if v is not None], dtype=float)
    return float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-30))


def measure(lm, req: AttributionRequest, repeats: int) -> dict:
    """Joint run against Fisher fast alone on ``req``'s prompt, interleaved; see the module."""
    fisher = req.but(scope="fisher")
    attribute(lm, fisher)  # warm-up of each
    attribute_many(lm, req, list(SCOPES))
    joint, alone, joint_wall, alone_wall = [], [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        m = attribute_many(lm, req, list(SCOPES))
        joint_wall.append(time.perf_counter() - t)
        joint.append(m.timing.total_s)
        t = time.perf_counter()
        f = attribute(lm, fisher)
        alone_wall.append(time.perf_counter() - t)
        alone.append(f.timing.scope_s)
    singles = {s: attribute(lm, req.but(scope=s)) for s in SCOPES}
    diff = {s: _max_rel_diff(m.result(s).scores, singles[s].scores) for s in SCOPES}
    jm, am = statistics.median(joint), statistics.median(alone)
    return {"tokens": len(m.results[0].token_ids), "joint_s": jm, "fisher_alone_s": am,
            "ratio": jm / am, "joint_wall_s": statistics.median(joint_wall),
            "fisher_alone_wall_s": statistics.median(alone_wall),
            "wall_ratio": statistics.median(joint_wall) / statistics.median(alone_wall),
            "separate_sum_s": sum(r.timing.scope_s for r in singles.values()),
            "forward_s": m.timing.forward_s, "joint_backward_passes": m.timing.backward_passes,
            "fisher_backward_passes": f.timing.backward_passes, "max_rel_diff": diff,
            "joint_times": joint, "alone_times": alone}


def plot(result: dict, out_dir):
    """Per prompt: Fisher alone, the joint run and the five separate runs (seconds)."""
    plt = pyplot()
    if plt is None:
        return None
    rows = result["prompts"]
    names = list(rows)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7.6, 4.2))
    for k, (key, label) in enumerate((("fisher_alone_s", "Fisher fast alone"),
                                      ("joint_s", "all five in one pass"),
                                      ("separate_sum_s", "five separate runs"))):
        ax.bar(x + (k - 1) * 0.27, [rows[n][key] for n in names], 0.27, label=label)
    for i, n in enumerate(names):
        ax.annotate(f"{rows[n]['ratio']:.2f}×", (x[i], rows[n]["joint_s"]), ha="center",
                    va="bottom", fontsize=7)
    ax.set_xticks(x, [f"{n}\n{rows[n]['tokens']} tok" for n in names], fontsize=7)
    ax.set_ylabel("scope seconds (median)")
    ax.set_title(f"Semantic+Contrast+Temperature+Grad×input+Fisher fast vs Fisher fast alone — "
                 f"median {result['median_ratio']:.2f}×", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return save_figure(plt, fig, out_dir, NAME)


def run(lm, out_dir, repeats: int = 5, prompts: dict | None = None,
        lambada: tuple[int, ...] = LAMBADA_LENGTHS, log=print) -> dict:
    """Measure every prompt (and LAMBADA text of each length), write JSON and PNG."""
    t0 = time.perf_counter()
    reqs = {name: AttributionRequest(prompt=text) for name, text in (prompts or PROMPTS).items()}
    for n in lambada:
        if n <= lm.info.context_length:
            reqs[f"lambada_{n}"] = AttributionRequest(token_ids=lambada_ids(lm, n))
    table = {}
    for name, req in reqs.items():
        row = measure(lm, req, repeats)
        table[name] = row
        log(f"  multi {name:12s} {row['tokens']:4d} tok  joint {row['joint_s']:.3f} s  "
            f"Fisher alone {row['fisher_alone_s']:.3f} s  ({row['ratio']:.2f}×)  "
            f"separate {row['separate_sum_s']:.3f} s")
    ratios = sorted(r["ratio"] for r in table.values())
    result = {"environment": environment(lm), "scopes": list(SCOPES), "repeats": repeats,
              "target_ratio": TARGET, "median_ratio": statistics.median(ratios),
              "worst_ratio": ratios[-1],
              "median_wall_ratio": statistics.median(r["wall_ratio"] for r in table.values()),
              "worst_max_rel_diff": max(max(r["max_rel_diff"].values()) for r in table.values()),
              "prompts": table, "wall_s": time.perf_counter() - t0}
    write_result(out_dir, NAME, result)
    plot(result, out_dir)
    return result


def summary_rows(result: dict) -> list[list[str]]:
    """(prompt, tokens, joint s, Fisher alone s, ratio, separate s) rows."""
    return [[name, str(r["tokens"]), f"{r['joint_s']:.3g}", f"{r['fisher_alone_s']:.3g}",
             f"{r['ratio']:.2f}×", f"{r['separate_sum_s']:.3g}"]
            for name, r in result["prompts"].items()]


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--lambada", default=",".join(map(str, LAMBADA_LENGTHS)),
                   help="LAMBADA lengths in tokens (empty: none)")
    args = p.parse_args(argv)
    lengths = tuple(int(x) for x in args.lambada.split(",") if x)
    result = run(load(args), args.out, args.repeats, lambada=lengths)
    print(f"median ratio {result['median_ratio']:.3f}× (target ≤ {TARGET}×), worst "
          f"{result['worst_ratio']:.3f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
