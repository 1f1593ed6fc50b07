"""`jscope generate`: generate N tokens greedily and explain each by everything before it (the
generation matrix of the app's "Generate and attribute", as the multi-position contract)."""

from __future__ import annotations

import argparse

from ..engine.errors import EMPTY_PROMPT, JScopeError
from ..engine.io import user_path
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
    write_outputs,
)


def add_parser(sub) -> None:
    """Register ``generate`` on the subparsers ``sub``."""
    from ..engine.explain.generation import MAX_NEW_TOKENS, matrix_scopes

    p = sub.add_parser(
        "generate", help="generate tokens and explain each one (the attribution matrix)",
        description="Generate N tokens greedily, then explain every generated token by all the "
        "tokens before it; writes the multi-position result contract.",
    )
    p.add_argument("prompt", help="the prompt text, or - to read it from stdin")
    p.add_argument("--n-tokens", type=positive_integer, default=8, metavar="N",
                   help=f"tokens to generate (1–{MAX_NEW_TOKENS}; default 8; stops early at "
                        "the end of text)")
    p.add_argument("--scope", default="temperature", choices=matrix_scopes(),
                   help="a direction scope; targets are the generated tokens (default: temperature)")
    p.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template")
    add_model_options(p)
    p.add_argument("--json", metavar="FILE", required=True,
                   help="write the result (multi-position JSON contract) to FILE (- for stdout)")
    add_image_options(p)
    add_html_option(p)
    add_exclude_option(p)
    p.set_defaults(run=run, usage_error=p.error)


def run(args: argparse.Namespace) -> int:
    """Check the options and outputs, load the model, generate and attribute, write the files."""
    from ..engine.explain.generation import MAX_NEW_TOKENS, generate_attribution

    if args.n_tokens > MAX_NEW_TOKENS:
        args.usage_error(f"--n-tokens must be at most {MAX_NEW_TOKENS}, not {args.n_tokens}")
    prompt = read_prompt(args.prompt)
    if not prompt.strip():
        raise JScopeError(EMPTY_PROMPT)
    image = chosen_image(args)
    check_outputs(args.json, image and image[1], html=args.html)
    with progress_status() as progress:
        lm = load_model(args.model, args.device, args.dtype, progress=progress)
        result = generate_attribution(lm, prompt, args.n_tokens, scope=args.scope,
                                      chat=args.chat, progress=progress)
    write_outputs(result, args.json, image, args.html, args.exclude_from_scale)
    if args.json != "-":
        n = len(result.positions or [])
        print(f"Generated {n} token{'s' if n != 1 else ''}: "
              f"{''.join(result.tokens[len(result.tokens) - n:])!r}; wrote {user_path(args.json)}.")
    return 0
