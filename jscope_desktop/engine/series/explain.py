"""Time series (paper Sec. 3.4): encode a series as ``v1,v2,...,vn,``, explain the prediction of
the next value with a scope, aggregate the scores per value, and add the next value's exact
distribution beside the true transition (DESIGN.md, Time series).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, fields

import numpy as np

from ..compute.forward import CancelCheck, ProgressFn
from ..errors import JScopeError
from ..explain.attribute import AttributionRequest, attribute
from ..model.load import LoadedModel
from ..results.result import SeriesInfo, SeriesResult
from ..scopes import get_scope, scope_names
from .distribution import next_value_distribution, total_variation, true_probs
from .generators import generate, get_system
from .values import MAX_VALUES, check_values, parse_values, read_values

__all__ = ["series_scopes", "DIGITS", "DEFAULT_N_VALUES", "Encoding", "encode_series",
           "check_values", "parse_values", "read_values", "value_spans", "SeriesRequest",
           "PreparedSeries", "prepare_series", "explain_series"]
from ..model.tokens import Span, aggregate, special_ids, token_texts


def series_scopes() -> list[str]:
    """Names of the scopes a series can be explained with (from the registry)."""
    return scope_names("series")
DIGITS = (2, 3)
DEFAULT_N_VALUES = 60
MARGIN = 0.1  # headroom (fraction of the code range) left on each side for the next value


@dataclass
class Encoding:
    """A series rescaled to ``digits``-digit integers: ``value ≈ offset + step · encoded``."""

    encoded: list[int]
    digits: int
    offset: float
    step: float

    @property
    def text(self) -> str:
        """The serialised series ``v1,v2,...,vn,`` (trailing comma)."""
        return "".join(f"{e}," for e in self.encoded)


def encode_series(values: list[float], digits: int = 2, margin: float = MARGIN) -> Encoding:
    """Rescale ``values`` linearly so min and max land ``margin`` inside [10^(d−1), 10^d − 1]."""
    check_values(values)
    if digits not in DIGITS:
        raise JScopeError(f"Digits must be 2 or 3, not {digits}.")
    lo, hi = 10 ** (digits - 1), 10**digits - 1
    vmin, vmax = min(values), max(values)
    if not math.isfinite(vmax - vmin):
        raise JScopeError("The values span more than a floating-point number can hold; rescale "
                          "them (e.g. divide them all by the same power of ten).")
    step = (vmax - vmin) / ((hi - lo) * (1 - 2 * margin))
    offset = vmin - step * (lo + margin * (hi - lo))
    if not (step >= sys.float_info.min and math.isfinite(offset)):  # a subnormal step: 0 or lossy
        raise JScopeError(f"The values differ by too little (a range of {vmax - vmin:g}) to be "
                          "rescaled to whole numbers; multiply them all by the same power of ten.")
    encoded = [min(hi, max(lo, round((v - offset) / step))) for v in values]
    return Encoding(encoded, digits, offset, step)


def value_spans(tokenizer, text: str, token_ids: list[int], digits: int) -> list[list[int]]:
    """[first, end) token indices of every value of the serialised ``text`` in ``token_ids``.

    Token character ranges come from the tokenizer's offsets when it has them, else from
    decoding growing prefixes; special tokens (a BOS) cover no characters.
    """
    ranges = _token_char_ranges(tokenizer, text, token_ids)
    spans = []
    for start in range(0, len(text), digits + 1):
        a, b = start, start + digits
        members = [t for t, (s, e) in enumerate(ranges) if s < b and e > a]
        if not members:
            raise JScopeError("A value of the series maps to no token; the tokenizer is not supported.")
        spans.append([members[0], members[-1] + 1])
    return spans


def _token_char_ranges(tokenizer, text: str, token_ids: list[int]) -> list[tuple[int, int]]:
    special = special_ids(tokenizer)
    try:
        enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        if list(enc["input_ids"]) == list(token_ids):
            return [(int(s), int(e)) if i not in special else (0, 0)
                    for i, (s, e) in zip(token_ids, enc["offset_mapping"])]
    except (TypeError, KeyError, NotImplementedError, ValueError):
        pass  # a slow or custom tokenizer: decode prefixes instead
    ranges, kept, end = [], [], 0
    for i in token_ids:
        if i in special:
            ranges.append((end, end))
            continue
        kept.append(i)
        new_end = len(tokenizer.decode(kept, clean_up_tokenization_spaces=False))
        ranges.append((end, new_end))
        end = new_end
    if tokenizer.decode(kept, clean_up_tokenization_spaces=False) != text:
        raise JScopeError("The tokenizer does not decode the series back to its text; it is not supported.")
    return ranges


@dataclass
class SeriesRequest:
    """A series to explain: a built-in ``system`` (seeded) or given ``values``; ``cutoff`` k
    explains the prediction after the first k values (None: after all of them)."""

    system: str | None = None
    values: list[float] | None = None
    n_values: int | None = None  # None: DEFAULT_N_VALUES for a system, every given value
    seed: int = 0
    digits: int = 2
    cutoff: int | None = None
    scope: str = "temperature"


@dataclass
class PreparedSeries:
    """A checked series ready for a model: its values, their encoding, the cutoff ``k`` and,
    for a built-in system, the value that truly follows the last one (else None)."""

    values: list[float]
    after: float | None
    encoding: Encoding
    cutoff: int


def prepare_series(req: SeriesRequest) -> PreparedSeries:
    """Generate or take the values, check them and the request, and encode them.

    Everything a user can get wrong except the model's context length is caught here, before
    any model is needed.
    """
    if req.scope not in series_scopes():
        raise JScopeError(f"Series support the scopes {', '.join(series_scopes())}, not '{req.scope}'.")
    if req.digits not in DIGITS:
        raise JScopeError(f"Digits must be 2 or 3, not {req.digits}.")
    if req.n_values is not None and req.n_values < 3:
        raise JScopeError(f"A series needs at least 3 values, not {req.n_values}.")
    if req.n_values is not None and req.n_values > MAX_VALUES:
        raise JScopeError(f"A series may have at most {MAX_VALUES:,} values (each takes 3–4 "
                          f"tokens of the model's context), not {req.n_values:,}.")
    if isinstance(req.seed, bool) or not isinstance(req.seed, int) or not 0 <= req.seed < 2**63:
        raise JScopeError(f"The seed must be a whole number from 0 to {2**63 - 1:,}, not {req.seed!r:.40}.")
    if req.system is not None:
        full = generate(req.system, req.n_values or DEFAULT_N_VALUES, req.seed)
        values, after = [float(v) for v in full[:-1]], float(full[-1])
    elif req.values is not None:
        values, after = list(req.values)[: req.n_values], None
    else:
        raise JScopeError("Choose a system or give values.")
    enc = encode_series(values, req.digits)
    k = len(values) if req.cutoff is None else req.cutoff
    if not 1 <= k <= len(values):
        raise JScopeError(f"The cutoff must be between 1 and {len(values)} values, not {k}.")
    return PreparedSeries(values, after, enc, k)



def explain_series(
    lm: LoadedModel,
    req: SeriesRequest,
    progress: ProgressFn | None = None,
    cancel: CancelCheck | None = None,
) -> SeriesResult:
    """Explain the first digit of the value after the first ``cutoff`` values.

    Returns:
        A :class:`SeriesResult` over the whole series' tokens (scores None after the explained
        comma) with ``series`` set: ``value_scores[i]`` is the L2 norm of value i's token scores
        (None after the cutoff) and ``next_value`` the model's exact distribution. Semantic
        Scope explains the first token of the most likely next value. Its typed fields:
        ``cutoff``, ``tokenization`` (digit/number/mixed), ``cost`` (seconds of the
        distribution and of one plain forward, and their ratio) and, for a built-in system,
        ``truth`` (law, ``probs`` per encoded string, ``mass``, ``tv_distance``).
    """
    prep = prepare_series(req)
    values, enc, k = prep.values, prep.encoding, prep.cutoff
    tok = lm.tokenizer
    ids = list(tok(enc.text, add_special_tokens=True)["input_ids"])
    if len(ids) + req.digits > lm.info.context_length:
        raise JScopeError(
            f"The series is {len(ids)} tokens, longer than the model's context of "
            f"{lm.info.context_length}; use fewer values."
        )
    spans = value_spans(tok, enc.text, ids, req.digits)
    position = spans[k - 1][1]  # the comma right after value k
    next_start = spans[k][0] if k < len(values) else len(ids)
    if next_start != position + 1 or token_texts(tok, [ids[position]])[0] != ",":
        raise JScopeError("The tokenizer joins a comma to a digit, so the series cannot be explained.")
    if progress:
        progress(0.0, "Next-value distribution")
    nxt = next_value_distribution(lm, ids[: position + 1], req.digits, cancel)
    # a scope that explains one token explains the first digit of the most likely next value
    target = nxt.most_likely_first_token() if get_scope(req.scope).needs_target else None
    sub = (lambda f, m: progress(0.15 + 0.85 * f, m)) if progress else None
    result = attribute(
        lm, AttributionRequest(token_ids=ids, scope=req.scope, position=position, target_id=target),
        sub, cancel,
    )
    scores = aggregate(result.scores, [Span(a, b, "") for a, b in spans])
    info = SeriesInfo(
        system=req.system, values=values, encoded=enc.encoded, digits=req.digits,
        offset=enc.offset, step=enc.step, value_spans=spans,
        value_scores=[s if i < k else None for i, s in enumerate(scores)],
        next_value={"encoded": nxt.encoded, "probs": nxt.probs, "mass": nxt.mass},
    )
    single = {f.name: getattr(result, f.name) for f in fields(result)}
    result = SeriesResult(**{**single, "series": info,
                             **_series_fields(req, prep, nxt, result.timing.forward_s)})
    if progress:
        progress(1.0, "Done")
    return result


def _series_fields(req: SeriesRequest, prep: PreparedSeries, nxt, forward_s: float) -> dict:
    """The :class:`SeriesResult` fields beyond the series itself: cutoff, tokenization, cost
    and, for a built-in system, the true next-value law."""
    enc, k = prep.encoding, prep.cutoff
    extra = {
        "cutoff": k,
        "tokenization": nxt.mode,
        "cost": {"distribution_s": nxt.seconds, "forward_s": forward_s,
                 "ratio": nxt.seconds / forward_s if forward_s > 0 else None, "rows": nxt.rows},
    }
    if req.system is not None:
        history = np.asarray([*prep.values, prep.after])
        law = get_system(req.system).transition(history, k)
        truth = true_probs(law, enc.offset, enc.step, req.digits)
        extra["truth"] = {
            "law": law.kind, "loc": law.loc, "scale": law.scale, "seed": req.seed,
            "next_value": float(history[k]), "probs": truth, "mass": sum(truth),
            "tv_distance": total_variation(nxt.probs, truth),
        }
    return extra
