"""What the series views show, read from a series result: no Qt, shared by the app tab, the image
and the command line (summary numbers, CSV export)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from ..engine.result import AttributionResult
from ..engine.series.generators import SYSTEMS


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


def series_view(result: AttributionResult) -> SeriesView:
    """The drawable parts of a series result (raises ValueError for a non-series result)."""
    s = result.series
    if s is None:
        raise ValueError("This result holds no time series.")
    k = int(result.extra.get("cutoff", len(s.values)))
    truth = result.extra.get("truth")
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


def summary_line(result: AttributionResult) -> str:
    """One line for the terminal: cutoff, top values, the most likely next value, TV distance."""
    view = series_view(result)
    summ = attention_summary(view)
    line = (f"explained the value after {view.cutoff} of {view.n} values; top values by score: "
            + ", ".join(f"#{i} ({e})" for i, e, _ in summ.top3)
            + f"; last 3 values hold {summ.share_last3:.0%} of the score; most likely next: "
            f"{str(view.most_likely).zfill(view.digits)} (p={view.probs[view.most_likely]:.3f}, "
            f"digit mass {view.mass:.3f})")
    if view.tv is not None:
        line += f"; TV distance to the true transition {view.tv:.3f}"
    return line


def series_csv(result: AttributionResult) -> str:
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
