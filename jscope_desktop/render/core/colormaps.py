"""Colour maps (perceptual and colour-blind safe) and the score → [0, 1] normalisation.

The anchor colours are 17 evenly spaced samples of matplotlib's viridis, magma and cividis;
linear interpolation between them stays within one or two RGB steps of the originals.

Colours are numbers here (RGB bytes, "#rrggbb"): the web page, the terminal view and a notebook
use them where Qt cannot be imported; the QPainter figures turn them into QColors
(:func:`..figures.colours.qcolor`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RGB = tuple[int, int, int]

_VIRIDIS = (
    (68, 1, 84), (72, 23, 105), (71, 44, 122), (66, 63, 133), (59, 81, 139), (51, 98, 141),
    (44, 113, 142), (38, 129, 142), (33, 144, 140), (31, 159, 136), (39, 173, 128),
    (61, 188, 115), (92, 200, 98), (129, 211, 76), (170, 220, 49), (213, 226, 25), (253, 231, 37),
)
_MAGMA = (
    (0, 0, 4), (9, 7, 33), (28, 16, 70), (53, 16, 106), (80, 18, 123), (105, 28, 129),
    (130, 37, 129), (155, 46, 127), (182, 54, 121), (207, 64, 111), (229, 80, 99),
    (244, 105, 92), (251, 135, 97), (254, 165, 113), (254, 194, 135), (253, 224, 161),
    (252, 253, 191),
)
_CIVIDIS = (
    (0, 32, 77), (0, 43, 104), (5, 54, 110), (44, 65, 108), (64, 77, 107), (81, 88, 108),
    (96, 100, 111), (110, 111, 115), (124, 123, 120), (139, 135, 121), (155, 148, 119),
    (172, 161, 116), (188, 175, 111), (206, 188, 103), (224, 203, 93), (242, 218, 79),
    (255, 234, 70),
)


@dataclass(frozen=True)
class ColorMap:
    """A colour map: ``rgb(t)`` for t in [0, 1], low scores dark, high scores bright."""

    name: str
    label: str
    anchors: tuple[RGB, ...]

    def rgb(self, t: float) -> RGB:
        """The (r, g, b) bytes at ``t`` (clipped to [0, 1]; NaN gives the lowest colour)."""
        t = 0.0 if not math.isfinite(t) else min(1.0, max(0.0, t))
        x = t * (len(self.anchors) - 1)
        i = min(int(x), len(self.anchors) - 2)
        f = x - i
        a, b = self.anchors[i], self.anchors[i + 1]
        return tuple(round(a[k] + (b[k] - a[k]) * f) for k in range(3))  # type: ignore[return-value]

    def lut(self, n: int = 256) -> list[RGB]:
        """``n`` evenly spaced colours from t = 0 to t = 1 (for images and colour bars)."""
        return [self.rgb(i / (n - 1)) for i in range(n)]


COLORMAPS: dict[str, ColorMap] = {
    # viridis is the default everywhere: perceptually uniform and readable with the common
    # colour-vision deficiencies; cividis is tuned further for them, magma is an alternative.
    "viridis": ColorMap("viridis", "Viridis (perceptual, colour-blind safe)", _VIRIDIS),
    "magma": ColorMap("magma", "Magma (perceptual)", _MAGMA),
    "cividis": ColorMap("cividis", "Cividis (colour-blind optimised)", _CIVIDIS),
}
SCALES = ("linear", "log")
LOG_DECADES = 4.0  # a log scale shows at most this many decades below the largest score


@dataclass(frozen=True)
class Normalizer:
    """Maps raw scores to [0, 1]: linear from 0 to ``vmax`` or log from ``vmin`` to ``vmax``."""

    vmin: float
    vmax: float
    scale: str = "linear"

    @classmethod
    def from_scores(cls, scores: list, scale: str = "linear") -> Normalizer:
        """A normaliser spanning the finite scores of ``scores`` (None and NaN ignored).

        Nested lists (a matrix of rows) are flattened. Linear starts at 0 (scores are norms);
        log starts at the smallest positive score, but no lower than LOG_DECADES below the top.
        """
        vals = [v for v in _flatten(scores) if v is not None and math.isfinite(v)]
        vmax = max(vals, default=1.0)
        vmax = vmax if vmax > 0 else 1.0
        if scale == "log":
            pos = [v for v in vals if v > 0]
            vmin = max(min(pos, default=vmax), vmax * 10 ** (-LOG_DECADES))
            vmin = vmin if vmin < vmax else vmax / 10
            return cls(vmin, vmax, "log")
        return cls(0.0, vmax, "linear")

    def __call__(self, v: float | None) -> float | None:
        """Position of ``v`` on the colour map in [0, 1], or None when ``v`` is None/NaN."""
        if v is None or not math.isfinite(v):
            return None
        if self.scale == "log":
            if v <= self.vmin:
                return 0.0
            t = math.log(v / self.vmin) / math.log(self.vmax / self.vmin)
        else:
            t = (v - self.vmin) / (self.vmax - self.vmin)
        return min(1.0, max(0.0, t))

    def ticks(self) -> list[tuple[float, float]]:
        """(value, t) pairs for labelled ticks: decades on a log scale, round numbers on linear."""
        if self.scale == "log":
            lo, hi = math.ceil(math.log10(self.vmin) - 1e-9), math.floor(math.log10(self.vmax) + 1e-9)
            values = [10.0**e for e in range(lo, hi + 1)]
            if len(values) < 2:  # under two decades shown: label both ends as well
                values = sorted({self.vmin, *values, self.vmax})
        else:
            step = _nice_step(self.vmax / 4)
            values = [i * step for i in range(int(self.vmax / step + 1e-9) + 1)]
        return [(v, self(v)) for v in values]


def _nice_step(raw: float) -> float:
    exp = math.floor(math.log10(raw)) if raw > 0 else 0
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exp >= raw:
            return m * 10**exp
    return 10 ** (exp + 1)


def _flatten(scores):
    for v in scores:
        if isinstance(v, list):
            yield from v
        else:
            yield v


def format_score(v: float | None) -> str:
    """A score as short text: 3 significant digits, '–' when not attributed."""
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:.3g}"


@dataclass(frozen=True)
class SeriesColours:
    """The series figure's colours that are not score colours, as "#rrggbb" (one table, used by
    the painter on screen and in every export)."""

    model: str = "#3b6fb6"  # the model's next-value distribution and its most likely value
    truth: str = "#e6550d"  # the true transition and the value that truly came next
    line: str = "#9a9a9a"  # the line through the series


SERIES_COLOURS = SeriesColours()
