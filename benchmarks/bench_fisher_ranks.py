"""Fisher fast's rank intervals against Fisher exact, on the held-out prompts.

Each Fisher fast result carries, per token, a rank interval (``fisher.rank_intervals``: the 5th
and 95th percentile of its rank over parametric-bootstrap redraws, fisher_fast.rank_intervals).
Two tokens whose intervals are disjoint have a *settled* order. Measured here, on
``data/fisher_holdout.json`` (never used to choose any Fisher setting), for each rank check of
the default (``fisher_config.RANK_RULE``: ``top``, ``spearman``, ``both``) and ``seeds`` seeds:

- ``settled_pair_error``: of all settled pairs (every prompt × seed), the share whose order
  Fisher exact reverses (target ≤ 2 %); also per prompt;
- ``top_settled``: the share of runs whose top-5 order was settled, and ``top_wrong``: of those,
  the share whose top-5 (which tokens, in which order) differs from exact's;
- ``spearman_pass``: the share of prompts whose median Spearman ρ against exact is ≥ 0.99;
- ``mean_probes``: probes spent (5 to 20).

    python -m benchmarks.bench_fisher_ranks [--seeds 3] [--cache DIR] [--prompts FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from jscope_desktop.engine.compute import fisher_config
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.faithfulness.stats import spearman
from jscope_desktop.engine.model.tokens import encode_prompt

from .bench_fisher import exact_scores, prompts_of
from .common import DATA, add_model_args, environment, load, write_result

NAME = "fisher_ranks"
HOLDOUT = DATA / "fisher_holdout.json"
RULES = ("top", "spearman", "both")


def settled_pairs(intervals: list, est: np.ndarray, exact: np.ndarray) -> tuple[int, int]:
    """(settled pairs, of them reversed by ``exact``): pairs of tokens with disjoint rank
    intervals; a pair exact ties counts as reversed unless the estimate ties it too."""
    iv = np.array(intervals, dtype=np.int64)  # (T, 2)
    lo, hi = iv[:, 0], iv[:, 1]
    disjoint = (hi[:, None] < lo[None, :]) | (hi[None, :] < lo[:, None])
    upper = np.triu(np.ones_like(disjoint), 1)
    pairs = disjoint & upper
    agree = np.sign(est[:, None] - est[None, :]) == np.sign(exact[:, None] - exact[None, :])
    return int(pairs.sum()), int((pairs & ~agree).sum())


def top_order(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` highest scores, best first (ties: the earlier token first)."""
    return list(np.argsort(-scores, kind="stable")[:k])


def measure(lm, texts, seeds: int, cache: Path | None, rules=RULES, log=print) -> dict:
    """Per rule: the aggregates of the module docstring, and per prompt rows."""
    before = fisher_config.RANK_RULE
    out = {rule: {"prompts": []} for rule in rules}
    try:
        for n, text in enumerate(texts):
            ids = encode_prompt(lm.tokenizer, text).token_ids
            exact, _ = exact_scores(lm, ids, cache)
            for rule in rules:
                fisher_config.RANK_RULE = rule
                rows = []
                for seed in range(seeds):
                    r = attribute(lm, AttributionRequest(token_ids=ids, scope="fisher",
                                                         fisher_method="fast", seed=seed))
                    est = np.array(r.scores, dtype=np.float64)
                    iv = r.fisher.rank_intervals
                    pairs, wrong = settled_pairs(iv, est, exact)
                    k = min(fisher_config.RANK_TOP, len(ids))
                    top_fixed = all(iv[i][0] == iv[i][1] == p + 1
                                    for p, i in enumerate(top_order(est, k)))
                    rows.append({"seed": seed, "probes": r.fisher.probes,
                                 "spearman": float(spearman(est, exact)),
                                 "settled_pairs": pairs, "wrong_pairs": wrong,
                                 "top_settled": top_fixed,
                                 "top_wrong": top_fixed and top_order(est, k) != top_order(exact, k)})
                out[rule]["prompts"].append({"tokens": len(ids), "runs": rows})
            log(f"  ranks {n + 1}/{len(texts)} {len(ids)} tokens: " + ", ".join(
                f"{rule} {sum(r['wrong_pairs'] for r in out[rule]['prompts'][-1]['runs'])}/"
                f"{sum(r['settled_pairs'] for r in out[rule]['prompts'][-1]['runs'])} wrong"
                for rule in rules))
    finally:
        fisher_config.RANK_RULE = before
    for rule in rules:
        out[rule].update(summarise(out[rule]["prompts"]))
    return out


def summarise(prompts: list[dict]) -> dict:
    """Aggregates over prompts × seeds (see the module docstring)."""
    runs = [r for p in prompts for r in p["runs"]]
    pairs, wrong = sum(r["settled_pairs"] for r in runs), sum(r["wrong_pairs"] for r in runs)
    per_prompt = [sum(r["wrong_pairs"] for r in p["runs"]) / max(1, sum(r["settled_pairs"]
                  for r in p["runs"])) for p in prompts]
    settled = [r for r in runs if r["top_settled"]]
    rhos = [statistics.median(r["spearman"] for r in p["runs"]) for p in prompts]
    return {"settled_pairs": pairs, "wrong_pairs": wrong,
            "settled_pair_error": wrong / pairs if pairs else None,
            "worst_prompt_error": max(per_prompt, default=None),
            "p90_prompt_error": float(np.quantile(per_prompt, 0.9)) if per_prompt else None,
            "all_pairs": sum(p["tokens"] * (p["tokens"] - 1) // 2 * len(p["runs"]) for p in prompts),
            "top_settled": len(settled) / len(runs) if runs else None,
            "top_wrong": (sum(r["top_wrong"] for r in settled) / len(settled)) if settled else None,
            "spearman_pass": sum(rho >= 0.99 for rho in rhos) / len(rhos) if rhos else None,
            "median_spearman": statistics.median(rhos) if rhos else None,
            "mean_probes": statistics.mean(r["probes"] for r in runs) if runs else None}


def main(argv=None) -> int:
    """Measure and write ``fisher_ranks.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--prompts", type=Path, default=HOLDOUT)
    p.add_argument("--cache", type=Path, help="folder caching exact references between runs")
    p.add_argument("--rules", default=",".join(RULES))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    lm = load(args)
    texts = prompts_of(args.prompts)
    table = measure(lm, texts, args.seeds, args.cache, tuple(args.rules.split(",")))
    result = {"environment": environment(lm), "prompt_set": args.prompts.name,
              "default_rule": fisher_config.RANK_RULE, "seeds": args.seeds,
              "interval": {"level": fisher_config.RANK_INTERVAL_LEVEL,
                           "samples": fisher_config.RANK_INTERVAL_SAMPLES,
                           "top": fisher_config.RANK_TOP},
              "rules": table, "wall_s": time.perf_counter() - t0}
    write_result(args.out, NAME, result)
    for rule, v in table.items():
        print(f"{rule}: settled-pair error {v['settled_pair_error']}, top settled "
              f"{v['top_settled']}, top wrong {v['top_wrong']}, Spearman pass "
              f"{v['spearman_pass']}, mean probes {v['mean_probes']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
