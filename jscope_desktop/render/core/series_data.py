"""What the series views show, read from a series result: no Qt, shared by the app tab, the image
and the command line (summary numbers, CSV export)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass

from ...engine.results.result import SeriesResult
from ...engine.series.generators import SYSTEMS


@dataclass
class SeriesView:
    """A series result prepared for drawing.

    ``encoded`` (n,) the values as fed; ``scores`` (n,) value scores (None after the cutoff);
    ``probs``/``truth`` (10^digits,) the model's and the true next-value probabilities per
    encoded string (``truth`` None for user data); ``realised`` the encoded value that truly
    came next (None when unknown); ``cutoff`` k, the number of values the model saw.
    """

    title: str
    encoded: list[int]
    scores: list[float | None]
    cutoff: int
    digits: int
    probs: list[float]
    mass: float
    truth: list[float] | None
    truth_law: str | None
    realised: int | None
    tv: float | None

    @property
    def n(self) -> int:
        """Number of values in the series."""
        return len(self.encoded)

    @property
    def most_likely(self) -> int:
        """The encoded string the model finds most probable next."""
        return max(range(len(self.probs)), key=self.probs.__getitem__)


def series_view(result: SeriesResult) -> SeriesView:
    """The drawable parts of a series result (raises ValueError for a non-series result)."""
    s = result.series
    if s is None:
        raise ValueError("This result holds no time series.")
    k = result.cutoff if result.cutoff is not None else len(s.values)
    truth = result.truth
    realised = None
    if k < len(s.encoded):
        realised = s.encoded[k]
    elif truth is not None:
        realised = round((truth["next_value"] - s.offset) / s.step)
    return SeriesView(
        title=SYSTEMS[s.system].label if s.system in SYSTEMS else "Your series",
        encoded=list(s.encoded), scores=list(s.value_scores), cutoff=k, digits=s.digits,
        probs=list(s.next_value["probs"]), mass=float(s.next_value["mass"]),
        truth=list(truth["probs"]) if truth else None, truth_law=truth["law"] if truth else None,
        realised=realised, tv=truth["tv_distance"] if truth else None,
    )


@dataclass
class AttentionSummary:
    """What the model attends to, in numbers: the share of the total value score on the last
    three values seen, the top three values by score (1-based index, encoded value, share)."""

    share_last3: float
    top3: list[tuple[int, int, float]]
    share_first_half: float


def attention_summary(view: SeriesView) -> AttentionSummary:
    """Shares of the summed value scores (of the ``cutoff`` values seen), each in [0, 1]."""
    seen = [v or 0.0 for v in view.scores[: view.cutoff]]
    total = sum(seen) or 1.0
    order = sorted(range(len(seen)), key=lambda i: -seen[i])[:3]
    return AttentionSummary(
        share_last3=sum(seen[-3:]) / total,
        top3=[(i + 1, view.encoded[i], seen[i] / total) for i in order],
        share_first_half=sum(seen[: len(seen) // 2]) / total,
    )


def summary_clauses(result: SeriesResult,
                    strong: Callable[[str], str] = str) -> list[list[str]]:
    """What the model attended to and predicted, as sentences of clauses: the one source of the
    series summary (the app's HTML line, the figure's footer and the terminal line join these).

    Sentences: what is explained; where the score lies (top values, the last three values);
    the prediction (most likely next value, the true one, the TV distance); the cost of the
    exact distribution when it was timed. Clauses start in lower case unless they start with a
    name; only ``strong`` parts can hold markup characters.

    Args:
        result: a series result.
        strong: applied to the parts to emphasise (the title, the predicted and true values),
            e.g. a function wrapping text in ``<b>`` for HTML; the identity by default.

    Returns:
        A list of sentences, each a list of clause strings (no final full stop).
    """
    view = series_view(result)
    summ = attention_summary(view)
    top = ", ".join(f"#{i} ({e}, {sh:.0%})" for i, e, sh in summ.top3)
    likely = view.most_likely
    sentences = [
        [f"{strong(view.title)}: explaining value {view.cutoff + 1} after {view.cutoff} of "
         f"{view.n}"],
        [f"top values by score: {top}", f"the last 3 values hold {summ.share_last3:.0%} of the score"],
        [f"most likely next: {strong(str(likely).zfill(view.digits))} "
         f"(p = {view.probs[likely]:.3g}; digit mass {view.mass:.2f})"],
    ]
    if view.realised is not None:
        sentences[2].append(f"truly next: {strong(str(view.realised).zfill(view.digits))}")
    if view.tv is not None:
        sentences[2].append(f"TV distance to the true transition {view.tv:.3f}")
    cost = result.cost or {}
    if cost.get("ratio") and cost.get("distribution_s") is not None:
        sentences.append([f"the next-value distribution is exact over {len(view.probs)} strings, "
                          f"in {cost['distribution_s'] * 1000:.0f} ms "
                          f"({cost['ratio']:.1f}× one forward)"])
    return sentences


def summary_sentences(result: SeriesResult, strong: Callable[[str], str] = str) -> list[str]:
    """The summary as sentences, each capitalised and ending in a full stop.

    Returns:
        One string per sentence of :func:`summary_clauses` (``strong`` as there).
    """
    return [_capitalised("; ".join(clauses)) + "." for clauses in summary_clauses(result, strong)]


def summary_line(result: SeriesResult) -> str:
    """The summary on one line for the terminal: every clause, joined by semicolons."""
    return "; ".join(c for clauses in summary_clauses(result) for c in clauses)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].isalpha() else text


def series_csv(result: SeriesResult) -> str:
    """CSV text: one row per value (index, value, encoded, value score) then one per next-value
    string (string, model probability, true probability)."""
    s, view = result.series, series_view(result)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["index", "value", "encoded", "value_score"])
    for i, (v, e, sc) in enumerate(zip(s.values, s.encoded, view.scores), 1):
        w.writerow([i, repr(v), e, "" if sc is None or not math.isfinite(sc) else repr(sc)])
    w.writerow([])
    w.writerow(["next_value", "model_prob", "true_prob"])
    for e, p in zip(s.next_value["encoded"], view.probs):
        t = "" if view.truth is None else repr(view.truth[e])
        w.writerow([str(e).zfill(view.digits), repr(p), t])
    return out.getvalue()
