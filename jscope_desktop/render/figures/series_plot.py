"""The series figure (paper Figs. 4–5): the series with each value's score as a coloured bar under
it, and the model's next-value distribution beside it against the true transition.

One painter for every place the figure appears: the app's series widget paints it at the
widget's size (``captions=False``: the tab shows the summary above it), PNG/SVG/PDF export and the
clipboard paint it with its header and footer. Painted with QPainter in logical px.
Layout: header · [panel titles] · [series plot | distribution on the same value axis] ·
score bars · colour bar · footer.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter, QPen, QPolygonF

from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_unit
from ..core.caption import scope_label
from ..core.colormaps import COLORMAPS, Normalizer, format_score
from ..core.series_data import series_view, summary_sentences
from ..core.view_options import ScaleExclusion, as_exclusion, scale_mask
from .colorbar import colorbar_height, paint_colorbar
from .colours import qcolor, series_qcolor
from .strip import LIGHT, StripStyle, paint_excluded, strip_font

MARGIN, SCREEN_MARGIN, AXIS_W, GAP = 18.0, 8.0, 34.0, 14.0
PLOT_H, BARS_H, DIST_W = 250.0, 80.0, 200.0  # at the default (export) height
MIN_PLOT_H, MIN_BARS_H, MAX_BARS_H = 80.0, 40.0, 130.0  # when fitted to a given height
LAWS = {"point": "true next value", "gaussian": "true transition (Gaussian)",
        "lognormal": "true transition (log-normal)"}


class SeriesFigure:
    """A laid-out series figure of ``width`` logical px; ``paint`` draws it at ``size()``.

    Args:
        result: a series result.
        width: the figure's width in logical px.
        cmap: name of the colour map of the value scores.
        style: background, text and marker colours.
        height: fit the panels to this height in logical px (None: the export's fixed height).
        captions: paint the header (scope, model, series) and the summary footer.
        exclude: the attention-sink control (:class:`ScaleExclusion` or its text): a value with
            an excluded token is left out of the colour scale and drawn grey and hatched.
    """

    doc_title = "Jacobian Scopes time series"  # the SVG/PDF document title

    def __init__(self, result: AttributionResult, width: float = 1000.0, cmap: str = "viridis",
                 style: StripStyle = LIGHT, height: float | None = None, captions: bool = True,
                 exclude: ScaleExclusion | str | None = None):
        self.result, self.view, self.style = result, series_view(result), style
        self.cmap = COLORMAPS[cmap]
        self.exclude = as_exclusion(exclude)
        self.excluded = value_mask(result, self.exclude)
        self.norm = Normalizer.from_scores(
            [None if x else v for v, x in zip(self.view.scores, self.excluded)])
        self.small = strip_font(11.5)
        self.bold = QFont(strip_font(14))
        self.bold.setBold(True)
        self.captions, self.width = captions, width
        self.margin = MARGIN if captions else SCREEN_MARGIN
        self.footer = summary_sentences(result)[1:] if captions else []
        if captions and any(self.excluded):
            gone = [str(i + 1) for i, x in enumerate(self.excluded) if x]
            self.footer.append(f"Colour scale excludes: {self.exclude.describe()} (value "
                               f"{', '.join(gone[:8])}{'…' if len(gone) > 8 else ''}; hatched, "
                               "scores kept).")
        fs = QFontMetricsF(self.small)
        self.header_h = QFontMetricsF(self.bold).height() + fs.height() + 10 if captions else 0.0
        title_h = fs.height() + 2
        below = fs.height() + 14 + colorbar_height(self.small) + self.margin  # ticks, colour bar
        below += 8 + fs.height() * len(self.footer) if self.footer else 0.0
        top = self.margin + self.header_h + title_h
        if height is None:
            plot_h, bars_h = PLOT_H, BARS_H
        else:
            room = height - top - 6 - below
            bars_h = min(MAX_BARS_H, max(MIN_BARS_H, room / 4))
            plot_h = max(MIN_PLOT_H, room - bars_h)
        self.height = top + plot_h + 6 + bars_h + below
        dist_w = min(DIST_W, max(110.0, 0.22 * (width - 2 * self.margin)))
        left = self.margin + AXIS_W
        right = max(left + 60.0, width - self.margin - dist_w - GAP)
        self.plot = QRectF(left, top, right - left, plot_h)
        self.bars = QRectF(left, top + plot_h + 6, right - left, bars_h)
        self.dist = QRectF(right + GAP, top, dist_w, plot_h)
        self.colorbar = QRectF(left, self.bars.bottom() + fs.height() + 14,
                               min(360.0, self.plot.width()), colorbar_height(self.small))

    # -- geometry ------------------------------------------------------------------------------
    def size(self) -> QSize:
        """The figure's size in logical px (rounded up)."""
        return QSize(math.ceil(self.width), math.ceil(self.height))

    def x_of(self, i: float) -> float:
        """Horizontal centre (logical px) of value ``i`` (0-based; ``cutoff`` holds the model's
        prediction)."""
        return self.plot.left() + (i + 0.5) * self.plot.width() / (self.view.n + 1)

    def y_of(self, encoded: float) -> float:
        """Vertical position (logical px) of an encoded value on the shared value axis
        (0 … 10^digits − 1)."""
        top = 10**self.view.digits
        return self.plot.bottom() - (encoded + 0.5) / top * self.plot.height()

    def cutoff_x(self) -> float:
        """Horizontal position (logical px) of the dashed cutoff line, between the last value
        seen and the predicted one."""
        return (self.x_of(self.view.cutoff - 1) + self.x_of(self.view.cutoff)) / 2

    def pmax(self) -> float:
        """The probability at the distribution panel's right edge."""
        v = self.view
        truth = max(v.truth) if v.truth and v.truth_law != "point" else 0.0
        return max(max(v.probs), truth, 1e-12)

    def describe_at(self, point: QPointF) -> str | None:
        """Tooltip text for ``point`` (logical px): the value under it (index, value, encoded,
        score) or the next-value string in the distribution panel; None elsewhere."""
        v, s = self.view, self.result.series
        x, y = point.x(), point.y()
        if self.plot.left() <= x < self.plot.right() and self.plot.top() <= y <= self.bars.bottom():
            i = int((x - self.plot.left()) / self.plot.width() * (v.n + 1))
            if i >= v.n:
                return None
            seen = f"score {format_score(v.scores[i])}" if i < v.cutoff else "after the cutoff"
            if self.excluded[i] and i < v.cutoff:
                seen += " (excluded from the colour scale)"
            return f"value {i + 1}: {s.values[i]!r} (encoded {v.encoded[i]})\n{seen}"
        if self.dist.contains(point):
            e = round((self.plot.bottom() - y) / self.plot.height() * 10**v.digits - 0.5)
            e = min(len(v.probs) - 1, max(0, e))
            text = f"next value {str(e).zfill(v.digits)}\nmodel p = {v.probs[e]:.3g}"
            return text + (f"\ntrue p = {v.truth[e]:.3g}" if v.truth is not None else "")
        return None

    # -- painting ------------------------------------------------------------------------------
    def paint(self, painter: QPainter) -> None:
        """Draw the whole figure with its top-left corner at (0, 0)."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(QRectF(0, 0, self.width, self.height), self.style.background)
        if self.captions:
            self._paint_header(painter)
        self._paint_titles(painter)
        self._paint_axes(painter)
        self._paint_series(painter)
        self._paint_bars(painter)
        self._paint_distribution(painter)
        paint_colorbar(painter, self.colorbar, self.cmap, self.norm, self.style, self.small,
                       f"value score {scope_unit(self.result.scope)}: L2 of its tokens' "
                       f"{scope_label(self.result.scope)} scores",
                       title_width=self.width - self.colorbar.left() - self.margin)
        if self.footer:
            self._paint_lines(painter, self.footer, self.colorbar.bottom() + 8)

    def _paint_header(self, painter: QPainter) -> None:
        v, r = self.view, self.result
        fm, m = QFontMetricsF(self.bold), self.margin
        painter.setPen(self.style.text)
        painter.setFont(self.bold)
        title = f"{scope_label(r.scope)} Scope · {r.model.get('name', 'model')} · {v.title}"
        painter.drawText(QPointF(m, m + fm.ascent()), title)
        painter.setFont(self.small)
        seed = (r.truth or {}).get("seed")
        line = (f"Explaining the next value after value {v.cutoff} of {v.n}"
                + (f" (seed {seed})" if seed is not None else "")
                + f"; {v.digits} digits a value; {len(r.token_ids)} tokens; {r.device}.")
        painter.drawText(QPointF(m, m + fm.height() + QFontMetricsF(self.small).ascent()), line)

    def _paint_titles(self, painter: QPainter) -> None:
        fs = QFontMetricsF(self.small)
        painter.setFont(self.small)
        painter.setPen(self.style.dim_text)
        y = self.plot.top() - 2 - fs.descent()
        title = ("Value (encoded) by index; colour and bar: the value's score; dashed: explained "
                 f"after value {self.view.cutoff}")
        painter.drawText(QPointF(self.plot.left(), y),
                         fs.elidedText(title, Qt.TextElideMode.ElideRight, self.plot.width()))
        painter.drawText(QPointF(self.dist.left(), y),
                         fs.elidedText("Next-value probability", Qt.TextElideMode.ElideRight,
                                       self.dist.width()))

    def _paint_axes(self, painter: QPainter) -> None:
        painter.setFont(self.small)
        fs = QFontMetricsF(self.small)
        top = 10**self.view.digits
        for rect in (self.plot, self.dist):
            painter.setPen(QPen(self.style.outline, 1.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
        for tick in range(0, top + 1, top // 5):
            y = self.y_of(tick - 0.5)
            painter.setPen(QPen(self.style.outline, 0.6, Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(self.plot.left(), y), QPointF(self.plot.right(), y))
            painter.drawLine(QPointF(self.dist.left(), y), QPointF(self.dist.right(), y))
            painter.setPen(self.style.dim_text)
            painter.drawText(QRectF(self.margin, y - fs.height() / 2, AXIS_W - 4, fs.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(tick))
        slot = self.plot.width() / (self.view.n + 1)
        step = max(1, math.ceil(self.view.n / 10), math.ceil(fs.horizontalAdvance("0000") / slot))
        for i in range(0, self.view.n, step):
            painter.drawText(QRectF(self.x_of(i) - 20, self.bars.bottom() + 2, 40, fs.height()),
                             Qt.AlignmentFlag.AlignHCenter, str(i + 1))

    def _paint_series(self, painter: QPainter) -> None:
        v, line = self.view, series_qcolor("line")
        seen = QPolygonF([QPointF(self.x_of(i), self.y_of(e)) for i, e in enumerate(v.encoded[: v.cutoff])])
        painter.setPen(QPen(line, 1.4))
        painter.drawPolyline(seen)
        if v.cutoff < v.n:
            rest = QPolygonF([QPointF(self.x_of(i), self.y_of(e))
                              for i, e in enumerate(v.encoded) if i >= v.cutoff - 1])
            painter.setPen(QPen(line, 1.0, Qt.PenStyle.DashLine))
            painter.drawPolyline(rest)
        painter.setPen(QPen(self.style.marker, 1.2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(self.cutoff_x(), self.plot.top()),
                         QPointF(self.cutoff_x(), self.bars.bottom()))
        radius = max(2.0, min(5.0, self.plot.width() / (v.n + 1) / 3))
        for i, e in enumerate(v.encoded):
            t = self.norm(v.scores[i]) if i < v.cutoff and not self.excluded[i] else None
            painter.setPen(QPen(self.style.outline if t is None else self.style.text, 0.6))
            painter.setBrush(self.style.excluded if self.excluded[i] and i < v.cutoff
                             else self.style.background if t is None else qcolor(self.cmap, t))
            painter.drawEllipse(QPointF(self.x_of(i), self.y_of(e)), radius, radius)
        x_next = self.x_of(v.cutoff)
        painter.setBrush(series_qcolor("model"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(QPointF(x_next, self.y_of(v.most_likely)), radius + 1, radius + 1)
        if v.realised is not None:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(series_qcolor("truth"), 2.0))
            painter.drawEllipse(QPointF(x_next, self.y_of(v.realised)), radius + 3, radius + 3)

    def _paint_bars(self, painter: QPainter) -> None:
        v, r = self.view, self.bars
        width = 0.8 * r.width() / (v.n + 1)
        painter.setPen(Qt.PenStyle.NoPen)
        for i, s in enumerate(v.scores):
            t = self.norm(s)
            if t is None:
                continue
            if self.excluded[i]:  # a full-height hatched bar: off the scale, not a score
                paint_excluded(painter, QRectF(self.x_of(i) - width / 2, r.top() + 1, width,
                                               r.height() - 1), self.style, 0.0)
                painter.setPen(Qt.PenStyle.NoPen)
                continue
            h = max(1.0, t * (r.height() - 2))
            painter.setBrush(qcolor(self.cmap, t))
            painter.drawRect(QRectF(self.x_of(i) - width / 2, r.bottom() - h, width, h))
        painter.setPen(QPen(self.style.outline, 1.0))
        painter.drawLine(r.bottomLeft(), r.bottomRight())

    def _paint_distribution(self, painter: QPainter) -> None:
        v, d, pmax = self.view, self.dist, self.pmax()
        h = d.height() / 10**v.digits
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(series_qcolor("model"))
        for e, p in enumerate(v.probs):
            painter.drawRect(QRectF(d.left(), self.y_of(e) - h / 2, p / pmax * (d.width() - 4), h))
        if v.truth is not None:
            painter.setPen(QPen(series_qcolor("truth"), 1.8))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            if v.truth_law == "point":
                if v.realised is not None:
                    y = self.y_of(v.realised)
                    painter.drawLine(QPointF(d.left(), y), QPointF(d.right(), y))
            else:
                pts = [QPointF(d.left() + q / pmax * (d.width() - 4), self.y_of(e))
                       for e, q in enumerate(v.truth)]
                painter.drawPolyline(QPolygonF(pts))
        painter.setFont(self.small)
        painter.setPen(self.style.dim_text)
        fs = QFontMetricsF(self.small)
        painter.drawText(QRectF(d.left(), d.bottom() + 2, d.width(), fs.height()),
                         Qt.AlignmentFlag.AlignRight, f"p max {pmax:.3g}")
        self._paint_legend(painter)

    def _paint_legend(self, painter: QPainter) -> None:
        v, d = self.view, self.dist
        fs = QFontMetricsF(self.small)
        lines = [("model", f"model (digit mass {v.mass:.2f})")]
        if v.truth is not None:
            lines.append(("truth", LAWS[v.truth_law]))
        y = d.bottom() + fs.height() + 6
        for role, text in lines:
            painter.fillRect(QRectF(d.left(), y + 3, 12, fs.height() - 6), series_qcolor(role))
            painter.setPen(self.style.text)
            painter.drawText(QPointF(d.left() + 18, y + fs.ascent()),
                             fs.elidedText(text, Qt.TextElideMode.ElideRight,
                                           self.width - self.margin - d.left() - 18))
            y += fs.height()

    def _paint_lines(self, painter: QPainter, lines: list[str], y: float) -> None:
        painter.setFont(self.small)
        painter.setPen(self.style.dim_text)
        fs = QFontMetricsF(self.small)
        for line in lines:
            painter.drawText(QPointF(self.margin, y + fs.ascent()), line)
            y += fs.height()


def value_mask(result: AttributionResult, exclude: ScaleExclusion | str | None) -> list[bool]:
    """Which values of a series result ``exclude`` leaves out of the colour scale: those whose
    token span holds an excluded token (``render.core.view_options.scale_mask``).

    Returns:
        One bool per value (True: excluded).
    """
    mask = scale_mask(result, exclude)
    return [any(mask[a:b]) for a, b in result.series.value_spans]
