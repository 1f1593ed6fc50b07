"""One request describes a run: what to explain (prompt or ids, position, target, foil, chat)
and how (the scope and its settings). The CLI builds it, the app's prompt panel returns it,
sessions store it; :func:`check_request` is the one validation all of them call."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from ..compute.fisher_config import FISHER_METHODS, MAX_BUDGET, MAX_PROBES, MIN_BUDGET
from ..errors import JScopeError

MAX_IG_STEPS = 1024  # Integrated: beyond this the Riemann sum gains nothing measurable
MAX_SEED = 2**63 - 1
MAX_TOP_K = 1000
MAX_FISHER_RANK = 65536  # larger than any model width; the engine caps at d anyway
# Integrated's path baseline: zero embeddings, a special token's embedding at every position
# (a BOS at position 0 keeps its own), or the mean input embedding of the vocabulary
IG_BASELINES = ("zero", "pad", "eos", "bos", "mean")


class RequestError(JScopeError):
    """A request that cannot be run. ``setting`` names the field at fault; the sentence is
    written with ``{placeholders}`` for setting names so that each front end can name them its
    own way (the CLI: ``--target``; elsewhere: "a target")."""

    def __init__(self, template: str, setting: str, **names: str):
        self.template, self.setting, self.names = template, setting, names
        super().__init__(self.sentence())

    def sentence(self, names: dict[str, str] | None = None) -> str:
        """The sentence with each ``{setting}`` replaced from ``names`` (default: plain words)."""
        words = {**SETTING_WORDS, **(names or {})}
        return self.template.format_map(_Words(words)).strip()


SETTING_WORDS = {  # how the engine names settings in its sentences
    "target": "A target", "foil": "A foil", "scope": "the scope", "fisher_rel_error":
    "The Fisher error", "fisher_probes": "The Fisher probes", "fisher_rank": "The Fisher rank",
    "ig_steps": "The number of Integrated steps", "seed": "The seed", "top_k": "top-k",
    "fisher_method": "The Fisher method", "position": "The position", "target_id":
    "The target id", "foil_id": "The foil id", "prompt": "The prompt", "token_ids": "The token ids",
    "fisher_budget": "The Fisher budget", "ig_baseline": "The Integrated baseline",
}


def _esc(value) -> str:
    """``value`` as text safe inside a sentence template (braces doubled)."""
    return str(value).replace("{", "{{").replace("}", "}}")


class _Words(dict):
    def __missing__(self, key):  # an unknown placeholder reads as its own name
        return key


@dataclass
class AttributionRequest:
    """What to explain and how. ``position`` None means the last token (the next prediction);
    a target/foil may be given as text (exactly one token) or as an id; a scope that needs a
    target and has none explains the model's top-1 prediction (Contrast: against its top-2)."""

    prompt: str | None = None
    token_ids: list[int] | None = None  # instead of prompt: ids exactly as fed
    scope: str = "temperature"
    target: str | None = None
    target_id: int | None = None
    foil: str | None = None
    foil_id: int | None = None
    position: int | None = None
    chat: bool = False
    fisher_method: str = "fast"
    fisher_rank: int | None = None
    # None: DEFAULT_PROBES, doubled where the ranks are in doubt (fisher_fast.rank_stability);
    # a number: exactly that many probes
    fisher_probes: int | None = None
    fisher_rel_error: float | None = None
    fisher_budget: int | None = None  # fast: exactly this many VJP-equivalent directions
    ig_steps: int = 16
    ig_baseline: str = "zero"  # Integrated's path start: one of IG_BASELINES
    seed: int = 0
    top_k: int = 10

    def to_dict(self) -> dict:
        """The request as a JSON-ready dict (sessions store it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AttributionRequest:
        """A request from a dict (a session file): unknown keys are ignored, a value of the
        wrong type is refused in one sentence, and the result is checked."""
        if not isinstance(d, dict):
            raise JScopeError("The saved request is not a table of settings.")
        kinds = {"prompt": (str,), "token_ids": (list,), "scope": (str,), "target": (str,),
                 "foil": (str,), "chat": (bool,), "fisher_method": (str,), "ig_baseline": (str,),
                 "fisher_rel_error": (float, int)}
        values = {}
        for f in fields(cls):
            if f.name not in d or d[f.name] is None:
                continue
            v = d[f.name]
            ok = isinstance(v, kinds.get(f.name, (int,)))
            if f.name not in ("chat",) and isinstance(v, bool):
                ok = False
            if not ok or (f.name == "token_ids" and not all(
                    isinstance(i, int) and not isinstance(i, bool) for i in v)):
                raise JScopeError(f"The saved setting '{f.name}' has the value {v!r:.60}, which "
                                  "is not valid.")
            values[f.name] = v
        req = cls(**values)
        check_request(req)
        return req

    def but(self, **changes) -> AttributionRequest:
        """A copy with ``changes`` (field=value)."""
        return replace(self, **changes)


def check_request(req: AttributionRequest, refuse_unused: bool = False) -> None:
    """Raise a one-sentence :class:`RequestError` for a request that cannot be run.

    Everything that can be checked without a model is checked here: the scope exists and the
    settings are in range. With ``refuse_unused`` (what a user typed: the CLI, the app), a
    target or foil the scope would silently ignore is refused too; programs may pass one and
    have it ignored.
    """
    from ..scopes import get_scope, scope_names

    scope = get_scope(req.scope)
    if refuse_unused and (req.target is not None or req.target_id is not None):
        if not scope.needs_target:
            users = ", ".join(n for n in scope_names() if get_scope(n).needs_target)
            raise RequestError(f"{{target}} is not used by the {_esc(scope.label)} Scope (it "
                               f"explains the whole prediction); it applies to {_esc(users)}",
                               "target")
    if refuse_unused and (req.foil is not None or req.foil_id is not None) and not scope.needs_foil:
        users = ", ".join(n for n in scope_names() if get_scope(n).needs_foil)
        raise RequestError(f"{{foil}} is used only by {{scope}} {_esc(users)}", "foil")
    if req.fisher_method not in FISHER_METHODS:
        raise RequestError(f"Unknown Fisher method '{_esc(req.fisher_method)!s:.40}'; choose one "
                           f"of {', '.join(FISHER_METHODS)}.", "fisher_method")
    if req.ig_baseline not in IG_BASELINES:
        raise RequestError(f"{{ig_baseline}} must be one of {', '.join(IG_BASELINES)}, not "
                           f"{_esc(repr(req.ig_baseline))[:40]}.", "ig_baseline")
    if req.prompt is not None and not isinstance(req.prompt, str):
        raise RequestError("The prompt must be text.", "prompt")
    if req.token_ids is not None and not (isinstance(req.token_ids, list) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in req.token_ids)):
        raise RequestError("The token ids must be a list of whole numbers.", "token_ids")
    for setting in ("position", "target_id", "foil_id"):
        value = getattr(req, setting)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise RequestError(f"{{{setting}}} must be a whole number, not {_esc(repr(value))[:40]}.",
                               setting)
    e = req.fisher_rel_error
    if e is not None and not (isinstance(e, (int, float)) and math.isfinite(e) and 0 < e < 1):
        raise RequestError("{fisher_rel_error} must be between 0 and 1 (e.g. 0.05 for 5 %)",
                           "fisher_rel_error")
    if req.fisher_probes is not None:
        _in_range(req.fisher_probes, 1, MAX_PROBES, "fisher_probes")
    if req.fisher_budget is not None:
        _in_range(req.fisher_budget, MIN_BUDGET, MAX_BUDGET, "fisher_budget")
        if e is not None:
            raise RequestError("{fisher_budget} and {fisher_rel_error} cannot be combined: one "
                               "fixes the cost, the other the accuracy.", "fisher_budget",)
    if req.fisher_rank is not None:  # 0: probes only
        _in_range(req.fisher_rank, 0, MAX_FISHER_RANK, "fisher_rank")
    _in_range(req.ig_steps, 1, MAX_IG_STEPS, "ig_steps")
    _in_range(req.seed, 0, MAX_SEED, "seed")
    _in_range(req.top_k, 1, MAX_TOP_K, "top_k")


def _in_range(value: int, lo: int, hi: int, setting: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(f"{{{setting}}} must be a whole number from {lo} to {hi:,}, not "
                           f"{_esc(repr(value))[:40]}.", setting)
