"""`jscope sanity`: the model-randomisation check of the scopes (Adebayo et al.; the reference's
rebuttal): the decoder blocks re-initialised one at a time from the output side, every map
recomputed at each step, Spearman's ρ with the original map per step
(:mod:`jscope_desktop.engine.faithfulness.sanity`). ``--workers``/``--ray`` as faithfulness.

Finished passages go to ``FILE.partial.jsonl`` beside ``--json FILE`` as they finish; a stopped
run started again with the same arguments continues there; the sidecar is removed once ``FILE``
is written."""

from __future__ import annotations

import time

from ..engine.compute.fisher import FISHER_METHODS
from ..engine.errors import JScopeError
from ..engine.faithfulness.measure import EXPLAIN_MODES
from ..engine.faithfulness.run import about
from ..engine.faithfulness.sanity import SanityConfig, layers_of, run_sanity, sanity_report, sanity_scopes
from ..engine.io import check_distinct, check_writable, write_json
from ..engine.results.request import IG_BASELINES
from .batch import add_worker_options, wants_workers
from .faithfulness import _run_with_bar, prompts_and_sidecar
from .options import add_model_options, load_model


def add_parser(sub) -> None:
    """Register ``sanity`` on the subparsers ``sub``."""
    p = sub.add_parser("sanity", help="model-randomisation check: re-initialise the blocks from "
                                      "the output side, compare every map with the original")
    p.add_argument("--prompts", required=True, metavar="FILE",
                   help='JSON list of strings or of {"text": str} objects')
    p.add_argument("--n", type=int, help="use the first N prompts (default: all)")
    p.add_argument("--scopes", default=",".join(sanity_scopes()),
                   help="comma-separated scopes (default: every registered scope)")
    p.add_argument("--explain", default="last", choices=EXPLAIN_MODES,
                   help="last: the text's own last word (default); next: the token after it")
    add_model_options(p)
    p.add_argument("--fisher", default="fast", choices=FISHER_METHODS)
    p.add_argument("--ig-baseline", default="zero", choices=IG_BASELINES,
                   help="integrated: the path's baseline (default: zero)")
    p.add_argument("--seed", type=int, default=0, help="seeds the re-initialisation (per block)")
    p.add_argument("--json", required=True, metavar="FILE",
                   help="write the results here (finished passages go to FILE.partial.jsonl as "
                        "they finish: a stopped run started again continues there)")
    add_worker_options(p, "prompts")
    p.set_defaults(run=run)


def run(args) -> int:
    """Check the input, load the model (or the workers), run every passage, write the JSON."""
    cfg = SanityConfig(scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
                       explain=args.explain, seed=args.seed, fisher_method=args.fisher,
                       ig_baseline=args.ig_baseline)
    cfg.check()
    if args.n is not None and args.n < 1:
        raise JScopeError("--n must be at least 1.")
    prompts, out, partial = prompts_and_sidecar(args, cfg.explain)
    check_distinct([out], [args.prompts])
    check_writable(out)
    t0 = time.perf_counter()
    if wants_workers(args):
        from ..engine.faithfulness.parallel import run_sanity_on_workers
        from ..engine.runners.ray_pool import import_ray

        import_ray()
        results, lm = _run_with_bar(lambda progress: run_sanity_on_workers(
            prompts, cfg, args.model, args.device, args.dtype, address=args.ray or "local",
            workers=args.workers, partial=partial, progress=progress), len(prompts))
    else:
        lm = load_model(args.model, args.device, args.dtype)
        results = _run_with_bar(lambda progress: run_sanity(lm, prompts, cfg, progress,
                                                            partial=partial), len(prompts))
    a = about(lm)
    report = sanity_report({"model": a.model, "device": a.device, "dtype": a.dtype}, cfg, results,
                           str(args.prompts), layers_of(results))
    report["wall_s"] = time.perf_counter() - t0
    write_json(out, report)
    partial.unlink(missing_ok=True)
    _print_curve(report)
    return 0


def _print_curve(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Spearman ρ with the original map, n = {report['n_prompts']}")
    table.add_column("blocks re-initialised", justify="right")
    for s in report["scopes"]:
        table.add_column(s, justify="right")
    for step in report["steps"]:
        cells = [("–" if step["spearman"][s]["mean"] is None else f"{step['spearman'][s]['mean']:.3f}")
                 for s in report["scopes"]]
        table.add_row(str(step["blocks_randomised"]), *cells)
    Console().print(table)
