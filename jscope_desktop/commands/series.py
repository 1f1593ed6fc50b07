"""`jscope series`: explain how the model extrapolates a time series (paper Sec. 3.4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.errors import JScopeError
from ..engine.models import DEVICES, DTYPES, load_model
from ..engine.result import AttributionResult
from ..engine.series.explain import (
    DEFAULT_N_VALUES,
    SERIES_SCOPES,
    SeriesRequest,
    explain_series,
    prepare_series,
    read_values,
)
from ..engine.series.generators import system_names


def add_parser(sub) -> None:
    """Register ``series`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "series", help="explain the prediction of a time series' next value",
        description="Serialise a series as 'v1,v2,...,vn,' and explain the first digit of the "
        "next value; also writes the model's exact next-value distribution.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--system", help=f"a built-in generator: {', '.join(system_names())}")
    src.add_argument("--values", metavar="FILE", help="one value a line, or a CSV file")
    p.add_argument("--column", help="CSV column (header name or 1-based number; default: last)")
    p.add_argument("--n-values", type=int,
                   help=f"length of the series (default {DEFAULT_N_VALUES} for a system, "
                   "every value of a file)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generator")
    p.add_argument("--digits", type=int, default=2, help="digits per value, 2 or 3")
    p.add_argument("--cutoff", type=int, help="explain the prediction after the first K values")
    p.add_argument("--scope", default="temperature", choices=SERIES_SCOPES)
    p.add_argument("--model", help="model folder or .gguf file (default: the embedded model)")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--dtype", default="float32", choices=list(DTYPES))
    p.add_argument("--json", metavar="FILE", required=True, help="write the result here")
    p.add_argument("--png", metavar="FILE", help="also draw the series and the distribution here")
    p.set_defaults(run=run)


def request_from_args(args: argparse.Namespace) -> SeriesRequest:
    """The engine request the arguments describe (reads the values file, if any)."""
    values = read_values(args.values, args.column) if args.values else None
    return SeriesRequest(
        system=args.system, values=values, n_values=args.n_values, seed=args.seed,
        digits=args.digits, cutoff=args.cutoff, scope=args.scope,
    )


def run(args: argparse.Namespace) -> int:
    """Check the input, load the model, explain the series, write JSON (and PNG)."""
    req = request_from_args(args)
    prepare_series(req)  # bad input fails here, before the model is loaded
    _check_writable(args.json)
    if args.png:
        _check_writable(args.png)
    lm = load_model(args.model, args.device, args.dtype)
    result = explain_series(lm, req)
    try:
        result.save(args.json)
    except OSError as exc:
        raise JScopeError(f"Could not write {args.json}: {exc.strerror}.") from exc
    if args.png:
        _save_png(result, args.png)
    _print_summary(result)
    return 0


def _check_writable(path: str) -> None:
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise JScopeError(f"Cannot write {path}: the folder {folder} does not exist.")


def _save_png(result: AttributionResult, path: str) -> None:
    from ..render.series_plot import save_series_image

    try:
        save_series_image(result, path)
    except (OSError, ValueError) as exc:
        raise JScopeError(str(exc).rstrip(".") + ".") from exc


def _print_summary(result: AttributionResult) -> None:
    from ..render.series_data import summary_line

    print(summary_line(result))
