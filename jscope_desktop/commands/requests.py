"""The request options every command shares (scope, target, foil, Fisher and integrated
settings), and the one way the options become an :class:`AttributionRequest`."""

from __future__ import annotations

from ..engine.compute.fisher_config import DEFAULT_PROBES, DEFAULT_RANK, FISHER_METHODS, RANK_MAX_PROBES
from ..engine.results.request import IG_BASELINES, AttributionRequest, RequestError, check_request
from ..engine.scopes import get_scope, scope_names
from .options import positive_integer

# how the CLI names the request's settings in the engine's sentences
SETTING_FLAGS = {"target": "--target", "foil": "--foil", "scope": "--scope",
                 "fisher_rel_error": "--fisher-error", "fisher_probes": "--fisher-probes",
                 "fisher_rank": "--fisher-rank", "ig_steps": "--steps", "seed": "--seed",
                 "top_k": "--top-k", "fisher_method": "--fisher", "position": "--position",
                 "fisher_budget": "--fisher-budget", "ig_baseline": "--ig-baseline"}


SCOPE_HELP = ("the scope to run, or several separated by commas (e.g. semantic,fisher), or "
              "'all' for every registered scope; several scopes run on one forward graph with "
              "one batched backward pass and write the multi-scope contract "
              "(results, agreement, timing)")


class ScopeChoices(list):
    """The scope names as ``--scope``'s choices: a single name must be one of them (argparse
    refuses another in its usual way), while a comma list or ``all`` passes to
    :func:`~jscope_desktop.engine.explain.multi.parse_scopes`, which checks every name."""

    def __contains__(self, value) -> bool:
        return (isinstance(value, str) and wants_several(value)) or list.__contains__(self, value)


def wants_several(scope: str) -> bool:
    """True when ``--scope`` names several scopes (a comma) or ``all``."""
    return "," in scope or scope.strip() == "all"


def add_request_options(p, scopes: list[str] | None = None, several: bool = False) -> None:
    """The options that fill an :class:`AttributionRequest` (scope, target, foil, settings);
    with ``several``, ``--scope`` also takes ``a,b,c`` or ``all`` (checked by the command)."""
    targeted = ", ".join(n for n in scope_names() if get_scope(n).needs_target)
    if several:
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
    p.add_argument("--ig-baseline", default="zero", choices=IG_BASELINES,
                   help="integrated: where the path starts: zero embeddings, the pad/eos/bos "
                        "token's embedding at every position, or the mean embedding (default: zero)")
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
        fisher_rel_error=args.fisher_error, ig_steps=args.steps,
        ig_baseline=getattr(args, "ig_baseline", "zero"), seed=args.seed,
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
