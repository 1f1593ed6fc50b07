"""`jscope examples`: list the paper's case studies, or run one (or all) headless and print what
to look at with the key numbers."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.errors import JScopeError
from ..engine.examples import EXAMPLES, Example, get_example, run_example, summary_lines
from ..engine.io import check_distinct, check_writable
from ..engine.results.result import AttributionResult
from ..render.outputs import save_page, save_picture
from .options import (
    add_html_option,
    add_image_options,
    add_model_options,
    chosen_image,
    load_model,
)


def add_parser(sub) -> None:
    """Register ``examples`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "examples", help="list or run the paper's case studies",
        description="Without NAME, list the paper's case studies; with NAME (or --all), run it "
        "on the model (default: the embedded one) and print its note and key numbers. A "
        "comparison writes one file per scope, the scope's name added to each file name.",
    )
    p.add_argument("name", nargs="?", help="the example to run (see the list)")
    p.add_argument("--all", action="store_true", help="run every example, one after the other")
    add_model_options(p)
    p.add_argument("--json", metavar="FILE", help="write the result (JSON contract) to FILE")
    add_image_options(p)
    add_html_option(p)
    p.set_defaults(run=run, usage_error=p.error)


def output_paths(example: Example, path: str | Path | None) -> list[Path | None]:
    """One output path per result of ``example``: ``path`` itself for one result; for a
    comparison ``stem-<scope><suffix>`` per scope (e.g. ``out-fisher.json``)."""
    if path is None:
        return [None] * len(example.scopes())
    path = Path(path)
    if len(example.scopes()) == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{scope}{path.suffix}") for scope in example.scopes()]


def run(args: argparse.Namespace) -> int:
    """List the examples, or run the chosen one(s) and print note and numbers."""
    image = chosen_image(args)
    outputs = args.json or image or args.html
    if args.all and (args.name or outputs):
        args.usage_error("--all runs every example and prints their numbers; give either NAME "
                         "(with --json/--png/--html) or --all.")
    if not args.name and not args.all:
        if outputs:
            args.usage_error("name the example whose result to write (see `jscope examples`).")
        print_list()
        return 0
    chosen = list(EXAMPLES) if args.all else [get_example(args.name)]  # unknown: before loading
    if not args.all:
        files = [p for opt in (args.json, image and image[1], args.html)
                 for p in output_paths(chosen[0], opt) if p is not None]
        check_distinct(files)  # before any work: every output can be written, none twice
        for path in files:
            check_writable(path)
    lm = load_model(args.model, args.device, args.dtype)
    failed = 0
    for n, example in enumerate(chosen):
        if n:
            print()
        print(f"{example.id} — {example.title} [{example.figure}]")
        print(f"  {example.note}")
        try:
            ex_run = run_example(lm, example)
        except JScopeError as exc:
            if not args.all:
                raise
            print(f"  failed: {exc}")
            failed += 1
            continue
        for line in summary_lines(ex_run):
            print(f"  {line}")
        if not args.all:
            write_outputs(example, ex_run.results, args.json, image, args.html)
    return 1 if failed else 0


def print_list() -> None:
    """One line per example: id, figure and title."""
    width = max(len(e.id) for e in EXAMPLES)
    for e in EXAMPLES:
        print(f"{e.id:<{width}}  {e.figure:<28}  {e.title}")
    print("\nRun one with `jscope examples NAME` (all: `jscope examples --all`).")


def write_outputs(example: Example, results: list[AttributionResult], json_path: str | None,
                  image: tuple[str, Path] | None, html: str | None) -> None:
    """Write each result's JSON, picture and web page (a comparison: one file per scope)."""
    jsons, images = output_paths(example, json_path), output_paths(example, image and image[1])
    pages = output_paths(example, html)
    for result, j, i, h in zip(results, jsons, images, pages):
        if j is not None:
            result.save(j)
        if h is not None:
            save_page(result, h)
        if i is not None:
            save_picture(result, i)

