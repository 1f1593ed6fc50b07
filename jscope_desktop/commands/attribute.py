"""`jscope attribute`: explain one prediction (JSON, an image, or a terminal view)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from ..engine.errors import EMPTY_PROMPT, JScopeError
from ..engine.fisher_config import DEFAULT_PROBES, DEFAULT_RANK, FISHER_METHODS, RANK_MAX_PROBES
from ..engine.io import could_not_write, user_path
from ..engine.request import AttributionRequest, RequestError, check_request
from ..engine.result import AttributionResult
from ..engine.scopes import get_scope, scope_names
from .options import (
    add_exclude_option,
    add_html_option,
    add_image_options,
    add_model_options,
    check_outputs,
    chosen_image,
    load_model,
    positive_integer,
    progress_status,
    read_prompt,
    save_html_file,
)

__all__ = ["add_request_options", "build_request", "request_from_args", "run", "save_image_file",
           "write_outputs", "load_model", "read_prompt"]


# how the CLI names the request's settings in the engine's sentences
SETTING_FLAGS = {"target": "--target", "foil": "--foil", "scope": "--scope",
                 "fisher_rel_error": "--fisher-error", "fisher_probes": "--fisher-probes",
                 "fisher_rank": "--fisher-rank", "ig_steps": "--steps", "seed": "--seed",
                 "top_k": "--top-k", "fisher_method": "--fisher", "position": "--position",
                 "fisher_budget": "--fisher-budget"}


def add_parser(sub) -> None:
    """Register ``attribute`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "attribute", help="explain which input tokens caused a prediction",
        description="Explain which input tokens caused a model's next-token prediction.",
    )
    p.add_argument("prompt", help="the prompt text, or - to read it from stdin "
                   "(one trailing newline is dropped)")
    add_request_options(p, several=True)
    add_model_options(p)
    p.add_argument("--json", metavar="FILE", help="write the result (JSON contract) to FILE "
                   "(- for stdout) instead of printing the terminal view")
    add_image_options(p)
    add_html_option(p)
    add_exclude_option(p)
    add_cost_options(p)
    p.set_defaults(run=run, usage_error=p.error)


def add_request_options(p, scopes: list[str] | None = None, several: bool = False) -> None:
    """The options that fill an :class:`AttributionRequest` (scope, target, foil, settings);
    with ``several``, ``--scope`` also takes ``a,b,c`` or ``all`` (checked by the command)."""
    targeted = ", ".join(n for n in scope_names() if get_scope(n).needs_target)
    if several:
        from .multi_scope import SCOPE_HELP, ScopeChoices

        p.add_argument("--scope", default="temperature", choices=ScopeChoices(scopes or scope_names()),
                       metavar="SCOPE[,SCOPE...]|all",
                       help=f"{SCOPE_HELP}; one of {', '.join(scopes or scope_names())}")
    else:
        p.add_argument("--scope", default="temperature", choices=scopes or scope_names())
    p.add_argument("--target", help="text of one token to explain, leading space included "
                   f"(default: the top prediction); for {targeted}")
    p.add_argument("--foil", help="text of one token to contrast with (contrast; default: the "
                   "second most probable token)")
    p.add_argument("--position", type=int, help="index into the tokens (special tokens "
                   "included; negative counts from the end) whose next-token prediction is "
                   "explained (default: the last)")
    p.add_argument("--fisher", default="fast", choices=FISHER_METHODS,
                   help="Fisher method (fisher scope; default: fast)")
    p.add_argument("--fisher-rank", type=positive_integer, metavar="K",
                   help=f"fast: F's top K eigen-directions seed the Krylov step (2 K exact "
                        f"directions; default {DEFAULT_RANK['fast']}); lowrank: the top K "
                        f"(default {DEFAULT_RANK['lowrank']})")
    p.add_argument("--fisher-probes", type=positive_integer, metavar="N",
                   help=f"exactly N random probes of the rest of F (fast; default: "
                        f"{DEFAULT_PROBES}, doubled up to {RANK_MAX_PROBES} while the ranks are "
                        f"in doubt)")
    p.add_argument("--fisher-error", type=float, metavar="E",
                   help="add probes until the estimated relative error is at most E (fast)")
    p.add_argument("--fisher-budget", type=int, metavar="N",
                   help="spend exactly N VJP-equivalent directions (fast; replaces "
                        "--fisher-rank/--fisher-probes; no probes are added)")
    p.add_argument("--steps", type=positive_integer, default=16, help="integrated: steps along the path")
    p.add_argument("--seed", type=int, default=0, help="seed of the Fisher probes")
    p.add_argument("--top-k", type=positive_integer, default=10, help="predictions kept in the result")
    p.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template")


def build_request(args, prompt: str, **overrides) -> AttributionRequest:
    """The request the options describe, not checked; ``overrides`` (e.g. an item's own
    target, foil, position or chat) replace the options of the same name."""
    settings = dict(
        prompt=prompt, scope=args.scope, target=args.target, foil=args.foil,
        position=args.position, chat=args.chat, fisher_method=args.fisher,
        fisher_rank=args.fisher_rank, fisher_probes=args.fisher_probes,
        fisher_rel_error=args.fisher_error, ig_steps=args.steps, seed=args.seed,
        fisher_budget=args.fisher_budget,
        top_k=args.top_k,
    )
    settings.update(overrides)
    return AttributionRequest(**settings)


def request_from_args(args, prompt: str) -> AttributionRequest:
    """The request the options describe, checked; a request that cannot run is a usage error
    (exit 2) whose sentence names the options."""
    request = build_request(args, prompt)
    try:
        check_request(request, refuse_unused=True)
    except RequestError as exc:
        args.usage_error(exc.sentence(SETTING_FLAGS))
    return request


def run(args) -> int:
    """Load the model, run the scope, then write the JSON/image or print the terminal view."""
    prompt = read_prompt(args.prompt)
    from .multi_scope import run_several, wants_several

    if wants_several(args.scope):
        if args.estimate:
            args.usage_error("--estimate takes one scope; estimate each of them on its own")
        return run_several(args, prompt, SETTING_FLAGS)
    request = request_from_args(args, prompt)
    if not prompt.strip():  # the engine says the same; saying it before loading saves seconds
        raise JScopeError(EMPTY_PROMPT)
    image = chosen_image(args)
    check_outputs(args.json, image and image[1], html=args.html)
    if args.estimate:
        return write_estimate(args, request)
    if not args.force:  # before the weights are read: a run that cannot fit costs no load
        refuse_unfit(args, request)
    from ..engine.attribute import attribute

    with progress_status() as progress:
        lm = load_model(args.model, args.device, args.dtype, progress=progress)
        result = attribute(lm, request, progress=progress, memory_limit=args.memory_limit,
                           force=args.force)
    write_outputs(result, args.json, image, args.html, args.exclude_from_scale)
    if not args.json:
        from ..render.terminal import print_result

        print_result(result, exclude=args.exclude_from_scale)
    return 0


def write_outputs(result: AttributionResult, json_path: str | None,
                  image: tuple[str, Path] | None, html: str | None = None,
                  exclude=None) -> None:
    """Write the JSON contract (``-``: stdout), then the image and the web page (if asked);
    ``exclude`` (a ``render.view_options.ScaleExclusion``) is the pictures' attention-sink
    control, the JSON keeps every score."""
    if json_path == "-":  # the data first: a picture that fails never costs the result
        sys.stdout.write(result.to_json() + "\n")
    elif json_path:
        result.save(json_path)
    if html:
        save_html_file(result, html, exclude)
    if image:
        save_image_file(result, image[1], exclude)


def save_image_file(result: AttributionResult, path: Path, exclude=None) -> None:
    """Save the annotated picture of ``result`` (format from the suffix) through the render
    layer's exporter."""
    # The exporter paints with Qt; a command line never shows a window.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        export = importlib.import_module("jscope_desktop.render.export")
        matrix = importlib.import_module("jscope_desktop.render.matrix")
    except ImportError as exc:  # a bare machine may lack Qt's system libraries
        raise JScopeError(f"Image export is not available here: {exc}.") from exc
    text = exclude.to_text() if exclude is not None else ""
    try:
        if result.positions is not None:  # a generation matrix is drawn as the matrix
            matrix.save_matrix_image(result, user_path(path), exclude=text)
        else:
            export.save_image(result, user_path(path), exclude=text)
    except OSError as exc:
        raise could_not_write(path, exc) from exc




def add_cost_options(p) -> None:
    """--estimate, --memory-limit SIZE and --force (the cost model, DESIGN "Estimate")."""
    p.add_argument("--estimate", action="store_true", help="only estimate the run's peak memory "
                   "and time (JSON with --json FILE); nothing is computed but the estimate")
    p.add_argument("--memory-limit", type=memory_size, metavar="SIZE", help="refuse a run "
                   "predicted to need more memory than SIZE (e.g. 8GB, 512MB)")
    p.add_argument("--force", action="store_true", help="run even when the estimate says the "
                   "run will not fit")


def memory_size(text: str) -> int:
    """argparse type: a memory size such as 8GB (the engine's one parser)."""
    import argparse

    from ..engine.cost_model import parse_size

    try:
        return parse_size(text)
    except JScopeError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None


def cli_estimate(args, request: AttributionRequest):
    """The estimate of ``request`` for the model the options name, before loading it when its
    folder says enough; otherwise the model is loaded (and calibrated once) to estimate. None
    when the model's sizes are unknown."""
    from ..engine.calibration import device_key, estimate_loaded, estimate_source, source_key, stored
    from ..engine.devices import device_name
    from ..engine.gguf_cache import embedded_gguf_path

    est = estimate_source(args.model, args.device, args.dtype, request, args.memory_limit)
    source = embedded_gguf_path() if args.model is None else Path(args.model).expanduser()
    device = device_name(args.device)
    dtype = est.dtype if est is not None else args.dtype  # (--dtype auto resolved)
    calibrated = bool(stored(source_key(source), device_key(device, dtype)).get("graph"))
    if est is not None and (calibrated or not est.fits):
        return est
    from ..engine.forward import warm_up
    from ..engine.tokens import encode_prompt

    lm = load_model(args.model, args.device, args.dtype)
    ids = request.token_ids or encode_prompt(lm.tokenizer, request.prompt or "", request.chat).token_ids
    warm_up(lm, list(ids))  # measures the throughput once per model and device
    return estimate_loaded(lm, request, len(ids), args.memory_limit)


def write_estimate(args, request: AttributionRequest) -> int:
    """``--estimate``: the estimate contract to ``--json FILE`` (``-``: stdout), else one line."""
    from ..engine.cost_model import format_size
    from ..engine.io import write_json

    est = cli_estimate(args, request)
    if est is None:  # the model's sizes are unknown (said on stderr when it loaded)
        if args.json:
            raise JScopeError("There is no estimate to write: this model's config does not give "
                              "its sizes; a run goes ahead without one.")
        return 0
    if args.json == "-":
        import json

        sys.stdout.write(json.dumps(est.to_dict()) + "\n")
    elif args.json:
        write_json(args.json, est.to_dict())
    else:
        room = "limit" if est.limited else "available"
        print(f"{est.text()} ({'fits' if est.fits else 'does not fit'}: "
              f"{format_size(est.available_bytes)} {room})")
    return 0


def refuse_unfit(args, request: AttributionRequest) -> None:
    """Exit 1 with one sentence, before the model loads, when the run will not fit."""
    from ..engine.calibration import estimate_source
    from ..engine.cost_model import check_fits

    est = estimate_source(args.model, args.device, args.dtype, request, args.memory_limit)
    if est is not None:
        check_fits(est, request, est.dtype)
