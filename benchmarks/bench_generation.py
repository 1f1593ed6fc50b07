"""Generation matrix: attributing N generated tokens in one batched pass against N separate
single-position runs (the same tokens, the same scope), seconds and the largest difference.

The tokens are generated once (greedy) and given to both, so only attribution is timed:
``timing.scope_s`` of the matrix result against the sum of the N results' ``timing.scope_s``.

    python -m benchmarks.bench_generation [--n 4,8,16,32] [--scopes temperature,semantic]
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model.tokens import encode_prompt

from .common import add_model_args, environment, load, pyplot, save_figure, write_result

NAME = "generation"
N_TOKENS = (4, 8, 16, 32)
SCOPES = ("temperature", "semantic")
PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who"


def _generation_module():
    """The engine's generation module, or None when this checkout does not have it yet."""
    try:
        mod = importlib.import_module("jscope_desktop.engine.explain.generation")
    except ModuleNotFoundError:
        return None
    return mod if hasattr(mod, "generate_attribution") else None


def measure(lm, gen, n: int, scope: str, prompt: str = PROMPT) -> dict:
    """Batched matrix vs N separate runs for ``n`` generated tokens."""
    prompt_ids = encode_prompt(lm.tokenizer, prompt).token_ids
    new = gen.generate_tokens(lm, prompt_ids, n)
    gen.generate_attribution(lm, prompt, len(new), scope=scope, generated=new)  # warm-up
    batched = gen.generate_attribution(lm, prompt, len(new), scope=scope, generated=new)
    ids = batched.token_ids
    separate_s, worst = 0.0, 0.0
    for row, p in zip(batched.scores, batched.positions):
        needs_target = scope != "temperature"
        r = attribute(lm, AttributionRequest(token_ids=ids[: p + 1], scope=scope,
                                             target_id=ids[p + 1] if needs_target else None))
        separate_s += r.timing.scope_s
        a, b = np.array(row[: p + 1], dtype=float), np.array(r.scores, dtype=float)
        worst = max(worst, float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)))
    return {"n": len(new), "batched_s": batched.timing.scope_s, "separate_s": separate_s,
            "speedup": separate_s / batched.timing.scope_s, "max_rel_diff": worst,
            "batched_backward_passes": batched.timing.backward_passes}


def plot(result: dict, out_dir):
    """Seconds against N (log-log) for the batched matrix and N separate runs, per scope."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    for i, (scope, rows) in enumerate(result["scopes"].items()):
        ns = [r["n"] for r in rows]
        ax.plot(ns, [r["batched_s"] for r in rows], "o-", color=f"C{i}", label=f"{scope}: batched")
        ax.plot(ns, [r["separate_s"] for r in rows], "s--", color=f"C{i}", label=f"{scope}: N separate")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ns = sorted({r["n"] for rows in result["scopes"].values() for r in rows})
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
    ax.set_xlabel("generated tokens N")
    ax.set_ylabel("attribution seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Generation matrix — {result['environment']['model']['name']}", fontsize=10)
    return save_figure(plt, fig, out_dir, NAME)


def run(lm, out_dir, n_tokens=N_TOKENS, scopes=SCOPES, log=print) -> dict:
    """Measure every N and scope, write JSON and PNG; a skip note if the engine lacks it."""
    gen = _generation_module()
    if gen is None:
        msg = "skipped: jscope_desktop.engine.explain.generation.generate_attribution is not available"
        log(f"  generation {msg}")
        result = {"skipped": msg}
        write_result(out_dir, NAME, result)
        return result
    t0 = time.perf_counter()
    table = {}
    for scope in scopes:
        table[scope] = []
        for n in n_tokens:
            row = measure(lm, gen, n, scope)
            table[scope].append(row)
            log(f"  generation {scope:11s} N={row['n']:3d}  batched {row['batched_s']:.3f} s  "
                f"separate {row['separate_s']:.3f} s  ({row['speedup']:.1f}×)")
    result = {"environment": environment(lm), "prompt": PROMPT, "scopes": table,
              "wall_s": time.perf_counter() - t0}
    write_result(out_dir, NAME, result)
    plot(result, out_dir)
    return result


def summary_rows(result: dict) -> list[list[str]]:
    """(scope, N, batched s, separate s, speedup, max rel. diff) rows."""
    if "skipped" in result:
        return [[result["skipped"], "", "", "", "", ""]]
    return [[scope, str(r["n"]), f"{r['batched_s']:.3g}", f"{r['separate_s']:.3g}",
             f"{r['speedup']:.1f}×", f"{r['max_rel_diff']:.1e}"]
            for scope, rows in result["scopes"].items() for r in rows]


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--n", default=",".join(map(str, N_TOKENS)))
    p.add_argument("--scopes", default=",".join(SCOPES))
    args = p.parse_args(argv)
    run(load(args), args.out, [int(x) for x in args.n.split(",")], args.scopes.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
