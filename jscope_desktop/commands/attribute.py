"""`jscope attribute`: explain one prediction (JSON, an image, or a terminal view)."""

from __future__ import annotations

import sys

from ..engine.attribute import AttributionRequest, attribute
from ..engine.errors import JScopeError
from ..engine.fisher import FISHER_METHODS
from ..engine.models import DEVICES, DTYPES, load_model
from ..engine.scopes import scope_names


def add_parser(sub) -> None:
    """Register ``attribute`` on the subparsers ``sub``."""
    p = sub.add_parser("attribute", help="explain which input tokens caused a prediction")
    p.add_argument("prompt", help="the prompt text, or - to read it from stdin")
    p.add_argument("--scope", default="temperature", choices=scope_names())
    p.add_argument("--target", help="text of one token to explain (Semantic/Contrast/...)")
    p.add_argument("--foil", help="text of one token to contrast with (Contrast)")
    p.add_argument("--position", type=int, help="token index whose next-token prediction is explained")
    p.add_argument("--model", help="model folder or .gguf file (default: the embedded model)")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--dtype", default="float32", choices=list(DTYPES))
    p.add_argument("--fisher", default="fast", choices=FISHER_METHODS)
    p.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="FILE", help="write the result (JSON contract) here")
    p.set_defaults(run=run)


def run(args) -> int:
    """Load the model, run the scope, write/print the result."""
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    request = AttributionRequest(
        prompt=prompt, scope=args.scope, target=args.target, foil=args.foil,
        position=args.position, chat=args.chat, fisher_method=args.fisher, seed=args.seed,
    )
    lm = load_model(args.model, args.device, args.dtype)
    result = attribute(lm, request)
    if args.json:
        try:
            result.save(args.json)
        except OSError as exc:
            raise JScopeError(f"Could not write {args.json}: {exc.strerror}.") from exc
    else:
        for t in result.topk[:5]:
            print(f"{t.prob:7.4f}  {t.token!r}")
        for tok, s in zip(result.tokens, result.scores):
            print(f"{tok!r:>20}  {'' if s is None else f'{s:.4g}'}")
    return 0
