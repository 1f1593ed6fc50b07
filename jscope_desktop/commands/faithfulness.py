"""`jscope faithfulness`: the deletion test of the scopes over a prompts file (resumable).

Finished prompts go to ``FILE.partial.jsonl`` beside ``--json FILE`` as they finish; a stopped
run started again with the same arguments continues there. The sidecar is removed once ``FILE``
(which holds every per-prompt result too) is written.

``--workers N`` / ``--ray local|auto|HOST:PORT`` measure the prompts on the Ray workers of
``jscope batch`` (:mod:`jscope_desktop.engine.faithfulness.parallel`): the same numbers and the
same report (apart from timings), prompts in input order, and the same first error.
"""

from __future__ import annotations

import sys

from ..engine.compute.fisher import FISHER_METHODS
from ..engine.errors import JScopeError
from ..engine.faithfulness.measure import (
    DEFAULT_FRACTIONS,
    EXPLAIN_MODES,
    FaithfulnessConfig,
    faithfulness_scopes,
)
from ..engine.faithfulness.prompts import check_last_word
from ..engine.faithfulness.run import build_report, load_prompts, run_faithfulness
from ..engine.io import check_distinct, check_writable, user_path, write_json
from ..engine.model.choices import DEVICE_NAMES as DEVICES
from ..engine.model.dtype import DTYPE_CHOICES
from .batch import add_worker_options, wants_workers
from .options import load_model


def add_parser(sub) -> None:
    """Register ``faithfulness`` on the subparsers ``sub``."""
    p = sub.add_parser("faithfulness", help="deletion test: ablate the top-scored tokens, re-run")
    p.add_argument("--prompts", required=True, metavar="FILE",
                   help='JSON list of strings or of {"text": str} objects')
    p.add_argument("--n", type=int, help="use the first N prompts (default: all)")
    p.add_argument("--scopes", default=",".join(faithfulness_scopes()),
                   help="comma-separated scopes, 'random' included (default: all)")
    p.add_argument("--fractions", default=",".join(f"{f:g}" for f in DEFAULT_FRACTIONS),
                   help="comma-separated fractions of tokens to ablate, each in (0, 1)")
    p.add_argument("--explain", default="next", choices=EXPLAIN_MODES,
                   help="next: the token after the text; last: the text's own last word")
    p.add_argument("--model", help="model folder or .gguf file (default: the embedded model)")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--dtype", default="float32", choices=list(DTYPE_CHOICES))
    p.add_argument("--fisher", default="fast", choices=FISHER_METHODS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-loo", action="store_true", help="skip the leave-one-out agreement")
    p.add_argument("--loo-n", type=int, metavar="M",
                   help="leave-one-out on the first M prompts only (it costs one forward per token)")
    p.add_argument("--json", required=True, metavar="FILE", help="write the results here")
    add_worker_options(p, "prompts")
    p.set_defaults(run=run)


def config_from_args(args) -> FaithfulnessConfig:
    """The checked configuration, or a one-sentence :class:`JScopeError`."""
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    try:
        fractions = [float(f) for f in args.fractions.split(",") if f.strip()]
    except ValueError:
        raise JScopeError(f"--fractions must be numbers separated by commas, not {args.fractions!r}.") \
            from None
    cfg = FaithfulnessConfig(scopes=scopes, fractions=fractions, explain=args.explain,
                             seed=args.seed, fisher_method=args.fisher, loo=not args.no_loo,
                             loo_prompts=args.loo_n)
    cfg.check()
    return cfg


def run(args) -> int:
    """Check the input, load the model, measure every prompt with a progress bar, write JSON."""
    cfg = config_from_args(args)
    if args.n is not None and args.n < 1:
        raise JScopeError("--n must be at least 1.")
    prompts = load_prompts(args.prompts)[: args.n]
    if cfg.explain == "last":
        for i, text in enumerate(prompts):
            check_last_word(text, i)
    out = user_path(args.json)
    partial = out.with_name(out.name + ".partial.jsonl")
    check_distinct([out], [args.prompts])  # the sidecar is read back: it is not a new output
    check_distinct([partial], [args.prompts])
    check_writable(out)
    if wants_workers(args):
        from ..engine.faithfulness.parallel import run_faithfulness_on_workers
        from ..engine.runners.ray_pool import import_ray

        import_ray()  # before any work: one sentence when Ray is missing
        results, lm = _run_with_bar(lambda progress: run_faithfulness_on_workers(
            prompts, cfg, args.model, args.device, args.dtype, address=args.ray or "local",
            workers=args.workers, partial=partial, progress=progress), len(prompts))
    else:
        lm = load_model(args.model, args.device, args.dtype)
        results = _run_with_bar(lambda progress: run_faithfulness(lm, prompts, cfg, partial,
                                                                  progress=progress),
                                len(prompts))
    report = build_report(lm, cfg, results, str(args.prompts))
    write_json(out, report)
    partial.unlink(missing_ok=True)
    _print_table(report, cfg)
    return 0


def _run_with_bar(work, total: int):
    """``work(progress)`` with a progress bar on stderr (when it is a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(file=sys.stderr)
    columns = (TextColumn("faithfulness"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("prompts", total=total)
        return work(lambda done, total, msg: bar.update(task, completed=done))


def _print_table(report: dict, cfg: FaithfulnessConfig) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Δ log p(top-1), mean [95 % CI], n = {report['n_prompts']}")
    table.add_column("scope")
    for f in cfg.fractions:
        table.add_column(f"top {f * 100:g} %", justify="right")
    if cfg.loo:
        table.add_column("LOO ρ (KL)", justify="right")
    for s in cfg.scopes:
        cells = [_fmt(report["results"][s][f"{f:g}"]) for f in cfg.fractions]
        if cfg.loo:
            cells.append(_fmt(report["loo_spearman"][s]["kl"]))
        table.add_row(s, *cells)
    Console().print(table)
    if report["multi_token_last_words"]:
        print(f"{report['multi_token_last_words']} of {report['n_prompts']} last words are several "
              "tokens; their first token is the target.")


def _fmt(stat: dict) -> str:
    if stat["mean"] is None:
        return "–"
    lo, hi = stat["ci95"]
    return f"{stat['mean']:.2f}" + ("" if lo is None else f" [{lo:.2f}, {hi:.2f}]")
