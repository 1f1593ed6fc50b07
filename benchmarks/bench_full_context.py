"""Every scope but Fisher exact at the model's full context (the embedded model: 8,192 tokens):
each run's peak memory (the process's VmHWM) and time against the cost model's estimate.

The direction scopes (Semantic, Contrast, Temperature, grad×input) run together in one several-
scope pass (one graph, one batched backward), Fisher fast and Integrated on their own (Integrated
with ``--ig-steps`` steps: its time grows linearly in them, its peak does not). LAMBADA passages
(the first ones, joined by blank lines) make the prompt.

    python -m benchmarks.bench_full_context [--tokens 8192] [--ig-steps 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.explain.multi import attribute_many
from jscope_desktop.engine.model.load import load_model
from jscope_desktop.engine.planning.calibration import estimate_loaded

from .bench_scale import text_ids
from .common import RESULTS, environment, peak_of, write_result

NAME = "full_context"
DIRECTION_SCOPES = ["semantic", "contrast", "temperature", "grad_input"]


def main(argv=None) -> int:
    """Run each row, write ``full_context.json`` after each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, help="default: the model's context length")
    ap.add_argument("--ig-steps", type=int, default=4)
    ap.add_argument("--rows", default="direction,fisher,integrated",
                    help="which runs: direction (the four direction scopes together), fisher, integrated")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    lm = load_model(device="cpu")
    n = args.tokens or lm.info.context_length
    ids = text_ids(lm, n)
    attribute(lm, AttributionRequest(token_ids=ids[:64], scope="temperature"))  # warm-up
    result = {"environment": environment(lm), "tokens": len(ids), "rows": []}
    rows = [("direction", "direction scopes together", lambda: attribute_many(
                 lm, AttributionRequest(token_ids=ids), DIRECTION_SCOPES, force=True),
             [AttributionRequest(token_ids=ids, scope=s) for s in DIRECTION_SCOPES]),
            ("fisher", "fisher fast", lambda: attribute(lm, AttributionRequest(token_ids=ids, scope="fisher"),
                                              force=True),
             [AttributionRequest(token_ids=ids, scope="fisher")]),
            ("integrated", f"integrated ({args.ig_steps} steps)", lambda: attribute(
                lm, AttributionRequest(token_ids=ids, scope="integrated", ig_steps=args.ig_steps),
                force=True),
             [AttributionRequest(token_ids=ids, scope="integrated", ig_steps=args.ig_steps)])]
    chosen = args.rows.split(",")
    result["skipped"] = [label for key, label, _, _ in rows if key not in chosen]
    for key, label, run, reqs in rows:
        if key not in chosen:
            continue
        ests = [estimate_loaded(lm, r, len(ids)) for r in reqs]
        m = peak_of(run)
        out = m.pop("out")
        results = getattr(out, "results", [out])
        finite = all(all(s == s for s in r.scores) for r in results)
        # several scopes: the costliest one's peak, and their times as separate runs (the
        # engine's own estimate of a several-scope run; one pass costs less)
        row = {"run": label, **m, "predicted_peak_bytes": max(e.peak_bytes for e in ests),
               "predicted_seconds": sum(e.seconds for e in ests), "finite_scores": finite,
               "scopes": [r.scope for r in results]}
        row["peak_ratio"] = row["predicted_peak_bytes"] / row["peak_bytes"]
        row["time_ratio"] = row["predicted_seconds"] / row["seconds"]
        result["rows"].append(row)
        print(f"  {label}: {row['seconds']:.0f} s, peak {row['peak_bytes'] / 2**30:.2f} GB "
              f"(predicted {row['predicted_peak_bytes'] / 2**30:.2f} GB, "
              f"{row['predicted_seconds']:.0f} s)", flush=True)
        write_result(args.out, NAME, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
