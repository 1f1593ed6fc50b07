"""`jscope attribute`: explain one prediction (JSON, an image, or a terminal view)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..engine.errors import EMPTY_PROMPT, JScopeError
from ..engine.results.request import AttributionRequest
from .options import (
    add_exclude_option,
    add_html_option,
    add_image_options,
    add_model_options,
    check_outputs,
    chosen_image,
    load_model,
    progress_status,
    read_prompt,
    write_outputs,
)
from .requests import SETTING_FLAGS, add_request_options, build_request, request_from_args, wants_several

__all__ = ["add_request_options", "build_request", "request_from_args", "run", "load_model",
           "read_prompt"]


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


def run(args) -> int:
    """Load the model, run the scope, then write the JSON/image or print the terminal view."""
    prompt = read_prompt(args.prompt)
    from .multi_scope import run_several

    if wants_several(args.scope):
        if args.estimate:
            args.usage_error("--estimate takes one scope; estimate each of them on its own")
        return run_several(args, prompt, SETTING_FLAGS, load_model)
    request = request_from_args(args, prompt)
    if not prompt.strip():  # the engine says the same; saying it before loading saves seconds
        raise JScopeError(EMPTY_PROMPT)
    image = chosen_image(args)
    check_outputs(args.json, image and image[1], html=args.html)
    if args.estimate:
        return write_estimate(args, request)
    if not args.force:  # before the weights are read: a run that cannot fit costs no load
        refuse_unfit(args, request)
    from ..engine.explain.attribute import attribute

    with progress_status() as progress:
        lm = load_model(args.model, args.device, args.dtype, progress=progress)
        result = attribute(lm, request, progress=progress, memory_limit=args.memory_limit,
                           force=args.force)
    write_outputs(result, args.json, image, args.html, args.exclude_from_scale)
    if not args.json:
        from ..render.core.terminal import print_result

        print_result(result, exclude=args.exclude_from_scale)
    return 0




def add_cost_options(p) -> None:
    """--estimate, --memory-limit SIZE and --force (the cost model, DESIGN "Estimate")."""
    p.add_argument("--estimate", action="store_true", help="only estimate the run's peak memory "
                   "and time (JSON with --json FILE); nothing is computed but the estimate")
    p.add_argument("--memory-limit", type=memory_size, metavar="SIZE", help="refuse a run "
                   "predicted to need more memory than SIZE (e.g. 8GB, 512MB)")
    p.add_argument("--force", action="store_true", help="run even when the estimate says the "
                   "run will not fit")


def memory_size(text: str) -> int:
    """An argparse type: a memory size such as 8GB (the engine's one parser)."""
    import argparse

    from ..engine.planning.cost_model import parse_size

    try:
        return parse_size(text)
    except JScopeError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None


def cli_estimate(args, request: AttributionRequest):
    """The estimate of ``request`` for the model the options name, before loading it when its
    folder says enough; otherwise the model is loaded (and calibrated once) to estimate. None
    when the model's sizes are unknown."""
    from ..engine.model.devices import device_name
    from ..engine.model.gguf_cache import embedded_gguf_path
    from ..engine.planning.calibration import device_key, estimate_loaded, estimate_source, source_key, stored

    est = estimate_source(args.model, args.device, args.dtype, request, args.memory_limit)
    source = embedded_gguf_path() if args.model is None else Path(args.model).expanduser()
    device = device_name(args.device)
    dtype = est.dtype if est is not None else args.dtype  # (--dtype auto resolved)
    calibrated = bool(stored(source_key(source), device_key(device, dtype)).get("graph"))
    if est is not None and (calibrated or not est.fits):
        return est
    from ..engine.model.tokens import encode_prompt
    from ..engine.planning.calibration import warm_up

    lm = load_model(args.model, args.device, args.dtype)
    ids = request.token_ids or encode_prompt(lm.tokenizer, request.prompt or "", request.chat).token_ids
    warm_up(lm, list(ids))  # measures the throughput once per model and device
    return estimate_loaded(lm, request, len(ids), args.memory_limit)


def write_estimate(args, request: AttributionRequest) -> int:
    """``--estimate``: the estimate contract to ``--json FILE`` (``-``: stdout), else one line."""
    from ..engine.io import write_json
    from ..engine.planning.cost_model import format_size

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
    from ..engine.planning.calibration import estimate_source
    from ..engine.planning.cost_model import check_fits

    est = estimate_source(args.model, args.device, args.dtype, request, args.memory_limit)
    if est is not None:
        check_fits(est, request, est.dtype)
