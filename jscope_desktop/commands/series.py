"""`jscope series`: explain how the model extrapolates a time series (paper Sec. 3.4)."""

from __future__ import annotations

import argparse
import sys

from ..engine.results.result import AttributionResult
from ..engine.series.explain import (
    DEFAULT_N_VALUES,
    SeriesRequest,
    explain_series,
    prepare_series,
    read_values,
    series_scopes,
)
from ..engine.series.generators import system_names
from ..render.outputs import save_page, save_picture
from .options import (
    add_exclude_option,
    add_html_option,
    add_image_options,
    add_model_options,
    check_outputs,
    chosen_image,
    load_model,
)


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
    p.add_argument("--scope", default="temperature", choices=series_scopes())
    add_model_options(p)
    p.add_argument("--json", metavar="FILE", required=True, help="write the result here")
    add_image_options(p, "the series and the distribution")
    add_html_option(p)
    add_exclude_option(p)
    p.set_defaults(run=run)


def request_from_args(args: argparse.Namespace) -> SeriesRequest:
    """The engine request the arguments describe (reads the values file, if any)."""
    values = read_values(args.values, args.column) if args.values else None
    return SeriesRequest(
        system=args.system, values=values, n_values=args.n_values, seed=args.seed,
        digits=args.digits, cutoff=args.cutoff, scope=args.scope,
    )


def run(args: argparse.Namespace) -> int:
    """Check the input, load the model, explain the series, write JSON (and the image)."""
    req = request_from_args(args)
    prepare_series(req)  # bad input fails here, before the model is loaded
    image = chosen_image(args)
    image = image and image[1]
    check_outputs(args.json, image, [args.values], html=args.html)
    lm = load_model(args.model, args.device, args.dtype)
    result = explain_series(lm, req)
    if args.json == "-":
        sys.stdout.write(result.to_json() + "\n")
    else:
        result.save(args.json)
    if args.html:
        save_page(result, args.html, exclude=args.exclude_from_scale)
    if image:
        save_picture(result, image, exclude=args.exclude_from_scale.to_text())
    if args.json != "-":
        _print_summary(result)
    return 0


def _print_summary(result: AttributionResult) -> None:
    from ..render.core.series_data import summary_line

    print(summary_line(result))
