"""`jscope faithfulness`: the deletion test of the scopes over a prompts file (resumable).

Finished prompts go to ``FILE.partial.jsonl`` beside ``--json FILE`` as they finish; a stopped
run started again with the same arguments continues there. The sidecar is removed once ``FILE``
(which holds every per-prompt result too) is written.

``--workers N`` / ``--ray local|auto|HOST:PORT`` measure the prompts on the Ray workers of
``jscope batch`` (:mod:`jscope_desktop.engine.faithfulness.parallel`): the same numbers and the
same report (apart from timings), prompts in input order, and the same first error.

``--filler zero,pad`` measures both fillers on one attribution pass (the scores are computed
once per prompt) and writes one report per filler: ``FILE`` with ``_<filler>`` before its
suffix (``out.json`` → ``out_zero.json``, ``out_pad.json``); ``--html``/``--png`` likewise.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..engine.compute.fisher import FISHER_METHODS
from ..engine.errors import JScopeError
from ..engine.faithfulness.filler import parse_fillers
from ..engine.faithfulness.measure import (
    DEFAULT_FRACTIONS,
    EXPLAIN_MODES,
    FaithfulnessConfig,
    faithfulness_scopes,
)
from ..engine.faithfulness.prompts import check_last_word
from ..engine.faithfulness.resume import sidecar_path
from ..engine.faithfulness.run import build_reports, load_prompts, run_faithfulness
from ..engine.io import check_distinct, check_writable, user_path, write_json
from ..engine.results.request import IG_BASELINES
from .batch import add_worker_options, wants_workers
from .options import add_model_options, load_model


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
    add_model_options(p)
    p.add_argument("--fisher", default="fast", choices=FISHER_METHODS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-loo", action="store_true", help="skip the leave-one-out agreement")
    p.add_argument("--loo-n", type=int, metavar="M",
                   help="leave-one-out on the first M prompts only (it costs one forward per token)")
    p.add_argument("--filler", default="zero", metavar="zero|pad|eos|bos|TOKEN[,...]",
                   help="what replaces an ablated token's input embedding: zero, the pad, eos or "
                        "bos token's embedding, or one token's text; several (comma-separated) "
                        "share one attribution pass and write one report each (default: zero)")
    p.add_argument("--ig-baseline", default="zero", choices=IG_BASELINES,
                   help="integrated: the path's baseline (default: zero)")
    p.add_argument("--json", required=True, metavar="FILE", help="write the results here")
    p.add_argument("--html", metavar="FILE", help="also write the self-contained web report")
    p.add_argument("--png", metavar="FILE", help="also write the report's picture (PNG)")
    p.add_argument("--sanity", metavar="FILE",
                   help="a `jscope sanity` JSON whose curves the web report and picture show")
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
                             loo_prompts=args.loo_n, fillers=parse_fillers(args.filler),
                             ig_baseline=args.ig_baseline)
    cfg.check()
    return cfg


def per_filler(path: str | None, filler: str, several: bool) -> Path | None:
    """The output file of ``filler``: ``path`` itself for one filler; with several, ``_<filler>``
    (its text reduced to letters, digits, ``-`` and ``_``) before the suffix."""
    if path is None:
        return None
    p = user_path(path)
    if not several:
        return p
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", filler).strip("_") or "token"
    return p.with_name(f"{p.stem}_{safe}{p.suffix}")


def run(args) -> int:
    """Check the input, load the model, measure every prompt with a progress bar, write JSON
    (and the web report and picture when asked) per filler."""
    cfg = config_from_args(args)
    if args.n is not None and args.n < 1:
        raise JScopeError("--n must be at least 1.")
    sanity = _read_sanity(args.sanity)
    several = len(cfg.fillers) > 1
    outs = {f: [per_filler(getattr(args, o), f, several) for o in ("json", "html", "png")]
            for f in cfg.fillers}
    written = [p for paths in outs.values() for p in paths if p is not None]
    if len(set(written)) != len(written):
        raise JScopeError("Two fillers would write the same file; give fillers whose names "
                          "differ in letters or digits.")
    for p in written:
        check_writable(p)
    for paths in outs.values():  # a picture suffix that is no image format: refused before work
        if paths[2] is not None:
            from ..render.figures.formats import image_format

            try:
                image_format(paths[2])
            except ValueError as exc:
                raise JScopeError(str(exc)) from None
    prompts, out, partial = prompts_and_sidecar(args, cfg.explain)
    check_distinct(written, [args.prompts] + ([args.sanity] if args.sanity else []))
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
    reports = build_reports(lm, cfg, results, str(args.prompts))
    for name, report in reports.items():
        path_json, path_html, path_png = outs[name]
        write_json(path_json, report)
        if report["filler"].get("fallback"):
            print(f"jscope: filler {name}: {report['filler']['fallback']}.", file=sys.stderr)
        if path_html or path_png:
            from ..render.outputs import save_faithfulness_page, save_faithfulness_picture

            if path_html:
                save_faithfulness_page(report, path_html, sanity)
            if path_png:
                save_faithfulness_picture(report, path_png, sanity)
        _print_table(report, cfg)
    partial.unlink(missing_ok=True)
    return 0


def prompts_and_sidecar(args, explain: str) -> tuple[list[str], Path, Path]:
    """The first ``--n`` prompts of ``--prompts`` (each checked to end in a word when
    ``explain`` is ``last``), the ``--json`` path and its resumable sidecar (checked not to be
    the prompts file): what ``jscope faithfulness`` and ``jscope sanity`` both start from."""
    prompts = load_prompts(args.prompts)[: args.n]
    if explain == "last":
        for i, text in enumerate(prompts):
            check_last_word(text, i)
    out = user_path(args.json)
    partial = sidecar_path(out)
    check_distinct([partial], [args.prompts])  # the sidecar is read back: it is not a new output
    return prompts, out, partial


def _read_sanity(path: str | None) -> dict | None:
    """The sanity report at ``path`` (None: none), checked to be one."""
    if path is None:
        return None
    from ..engine.io import read_user_json

    data = read_user_json(user_path(path), "sanity report", "the JSON `jscope sanity` writes")
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) \
            or data.get("order") != "output_to_input":
        raise JScopeError(f"{path} is not a report written by `jscope sanity`.")
    return data


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

    table = Table(title=f"Δ log p(top-1), mean [95 % CI], n = {report['n_prompts']}, filler "
                        f"{report['filler']['name']}")
    table.add_column("scope")
    for f in cfg.fractions:
        table.add_column(f"top {f * 100:g} %", justify="right")
    table.add_column("AOPC", justify="right")
    if cfg.loo:
        table.add_column("LOO ρ (KL)", justify="right")
    for s in cfg.scopes:
        cells = [_fmt(report["results"][s][f"{f:g}"]) for f in cfg.fractions]
        cells.append(_fmt(report["aopc"][s], 3))
        if cfg.loo:
            cells.append(_fmt(report["loo_spearman"][s]["kl"]))
        table.add_row(s, *cells)
    Console().print(table)
    if report["multi_token_last_words"]:
        print(f"{report['multi_token_last_words']} of {report['n_prompts']} last words are several "
              "tokens; their first token is the target.")


def _fmt(stat: dict, digits: int = 2) -> str:
    if stat["mean"] is None:
        return "–"
    lo, hi = stat["ci95"]
    return f"{stat['mean']:.{digits}f}" + ("" if lo is None else f" [{lo:.{digits}f}, {hi:.{digits}f}]")
