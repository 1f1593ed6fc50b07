"""What a strip shows: the result's tokens grouped as tokens, words or sentences, with scores.

Pure data (no Qt): the app's strip widget and the exported image both build their units here,
so the screen and the file always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...engine.model.tokens import Span, aggregate, sentence_spans, word_spans
from ...engine.results.result import AttributionResult
from .view_options import ScaleExclusion, masked, scale_mask

GRANULARITIES = ("token", "word", "sentence")


@dataclass
class Unit:
    """One box of the strip: tokens ``[start, end)`` of the result, their text and score.

    ``score`` is the L2 norm of the member scores (the raw score for a single token), None when
    none is attributed. ``rank`` is 1 for the highest score (None when not attributed or
    excluded). ``excluded`` is True when the view's :class:`ScaleExclusion` leaves every member
    out of the colour scale (the unit is drawn grey and hatched and gets no rank; ``score`` stays
    the raw one); ``dropped`` counts members left out of a unit that is not wholly excluded, whose
    ``score`` is then the L2 norm of the members kept.
    """

    start: int
    end: int
    text: str
    special: bool
    score: float | None
    rank: int | None = None
    excluded: bool = False
    dropped: int = 0


def row_scores(result: AttributionResult, position: int | None = None) -> list[float | None]:
    """The score row explaining ``position`` (default the result's own), aligned with tokens."""
    return list(result.score_row(position))


def make_units(
    result: AttributionResult, granularity: str = "token", position: int | None = None,
    exclude: ScaleExclusion | str | None = None,
) -> list[Unit]:
    """Units of ``result`` at ``granularity`` (token, word or sentence), ranked by score.

    Tokens that ``exclude`` leaves out of the scale take no part in the ranking (see
    :class:`Unit`); the result's scores are not changed.

    Returns one :class:`Unit` per token, word or sentence, in text order.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}")
    tokens = result.tokens
    special = result.special or [False] * len(tokens)
    scores = row_scores(result, position)
    if granularity == "token":
        spans = [Span(i, i + 1, t) for i, t in enumerate(tokens)]
    elif granularity == "word":
        spans = word_spans(tokens, special)
    else:
        spans = sentence_spans(tokens, special)
    mask = scale_mask(result, exclude)
    values, kept = aggregate(scores, spans), aggregate(masked(scores, mask), spans)
    units = []
    for s, v, k in zip(spans, values, kept):
        n_out = sum(mask[s.start : s.end])
        whole = n_out == s.end - s.start
        units.append(Unit(s.start, s.end, s.text, all(special[s.start : s.end]),
                          v if whole else k, excluded=whole, dropped=0 if whole else n_out))
    order = sorted((u for u in units if u.score is not None and not u.excluded),
                   key=lambda u: -u.score)
    for r, u in enumerate(order, 1):
        u.rank = r
    return units


def scale_scores(units: list[Unit]) -> list[float | None]:
    """The unit scores the colour scale spans: None for excluded units (for
    ``Normalizer.from_scores``)."""
    return [None if u.excluded else u.score for u in units]


def unit_of_token(units: list[Unit], index: int) -> int:
    """Index of the unit containing token ``index`` (the last unit if out of range)."""
    for k, u in enumerate(units):
        if u.start <= index < u.end:
            return k
    return len(units) - 1


def visible_text(text: str) -> str:
    """Token text with whitespace made visible: space ·, tab →, newline ↵, carriage return ␍;
    empty text ∅."""
    return "".join(_VISIBLE.get(c, c) for c in text) if text else "∅"


_VISIBLE = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍"}
