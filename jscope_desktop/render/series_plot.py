"""A picture of a series result (paper Figs. 4–5): the series with each value's score as a coloured
bar under it, and the model's next-value distribution beside it against the true transition.

Painted with QPainter in logical px on any paint device; ``save_series_image`` writes a PNG at 2×.
Layout: header · [series plot | distribution on the same value axis] · score bars · colour bar ·
footer.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QPolygonF

from ..engine.result import AttributionResult
from .caption import scope_label
from .colorbar import colorbar_height, paint_colorbar
from .colormaps import COLORMAPS, Normalizer
from .export import ensure_gui_app, paint_to_image
from .series_data import attention_summary, series_view
from .strip import LIGHT, StripStyle, strip_font

MARGIN, AXIS_W, GAP = 18.0, 34.0, 14.0
PLOT_H, BARS_H, DIST_W = 250.0, 80.0, 200.0
MODEL_COLOUR, TRUTH_COLOUR, LINE_COLOUR = QColor("#3b6fb6"), QColor("#e6550d"), QColor("#9a9a9a")
PNG_SCALE = 2.0


class SeriesFigure:
    """A laid-out series figure of ``width`` logical px; ``paint`` draws it at ``size()``."""

    def __init__(self, result: AttributionResult, width: float = 1000.0, cmap: str = "viridis",
                 style: StripStyle = LIGHT):
        self.result, self.view, self.style = result, series_view(result), style
        self.cmap = COLORMAPS[cmap]
        self.norm = Normalizer.from_scores(self.view.scores)
        self.font, self.small = strip_font(14), strip_font(11.5)
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.width = width
        fs = QFontMetricsF(self.small)
        self.header_h = QFontMetricsF(self.bold).height() + fs.height() + 10
        self.footer_h = 2 * fs.height()
        self.height = (MARGIN + self.header_h + PLOT_H + 6 + BARS_H + fs.height() + 14
                       + colorbar_height(self.small) + 8 + self.footer_h + MARGIN)
        left = MARGIN + AXIS_W
        right = width - MARGIN - DIST_W - GAP
        top = MARGIN + self.header_h
        self.plot = QRectF(left, top, right - left, PLOT_H)
        self.bars = QRectF(left, top + PLOT_H + 6, right - left, BARS_H)
        self.dist = QRectF(right + GAP, top, DIST_W, PLOT_H)

    def size(self) -> QSize:
        """The figure's size in logical px (rounded up)."""
        return QSize(round(self.width + 0.5), round(self.height + 0.5))

    def x_of(self, i: float) -> float:
        """Horizontal centre of value ``i`` (0-based; ``n`` is the predicted next value)."""
        return self.plot.left() + (i + 0.5) * self.plot.width() / (self.view.n + 1)

    def y_of(self, encoded: float) -> float:
        """Vertical position of an encoded value on the shared value axis (0 … 10^digits)."""
        top = 10**self.view.digits
        return self.plot.bottom() - (encoded + 0.5) / top * self.plot.height()

    def paint(self, painter: QPainter) -> None:
        """Draw the whole figure with its top-left corner at (0, 0)."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(QRectF(0, 0, self.width, self.height), self.style.background)
        self._paint_header(painter)
        self._paint_axes(painter)
        self._paint_series(painter)
        self._paint_bars(painter)
        self._paint_distribution(painter)
        fs = QFontMetricsF(self.small)
        y = self.bars.bottom() + fs.height() + 14
        paint_colorbar(painter, QRectF(self.plot.left(), y, min(360.0, self.plot.width()),
                                       colorbar_height(self.small)),
                       self.cmap, self.norm, self.style, self.small,
                       f"value score: L2 of its tokens' {scope_label(self.result.scope)} scores")
        self._paint_footer(painter, y + colorbar_height(self.small) + 8)

    def _paint_header(self, painter: QPainter) -> None:
        v, r = self.view, self.result
        fm = QFontMetricsF(self.bold)
        painter.setPen(self.style.text)
        painter.setFont(self.bold)
        title = f"{scope_label(r.scope)} Scope · {r.model.get('name', 'model')} · {v.title}"
        painter.drawText(QPointF(MARGIN, MARGIN + fm.ascent()), title)
        painter.setFont(self.small)
        seed = r.extra.get("truth", {}).get("seed")
        line = (f"Explaining the next value after value {v.cutoff} of {v.n}"
                + (f" (seed {seed})" if seed is not None else "")
                + f"; {v.digits} digits a value; {len(r.token_ids)} tokens; {r.device}.")
        painter.drawText(QPointF(MARGIN, MARGIN + fm.height() + QFontMetricsF(self.small).ascent()),
                         line)

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
            painter.drawText(QRectF(MARGIN, y - fs.height() / 2, AXIS_W - 4, fs.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(tick))
        step = max(1, round(self.view.n / 10))
        for i in range(0, self.view.n, step):
            painter.drawText(QRectF(self.x_of(i) - 20, self.bars.bottom() + 2, 40, fs.height()),
                             Qt.AlignmentFlag.AlignHCenter, str(i + 1))

    def _paint_series(self, painter: QPainter) -> None:
        v = self.view
        seen = QPolygonF([QPointF(self.x_of(i), self.y_of(e)) for i, e in enumerate(v.encoded[: v.cutoff])])
        painter.setPen(QPen(LINE_COLOUR, 1.4))
        painter.drawPolyline(seen)
        if v.cutoff < v.n:
            rest = QPolygonF([QPointF(self.x_of(i), self.y_of(e))
                              for i, e in enumerate(v.encoded) if i >= v.cutoff - 1])
            painter.setPen(QPen(LINE_COLOUR, 1.0, Qt.PenStyle.DashLine))
            painter.drawPolyline(rest)
        x_cut = (self.x_of(v.cutoff - 1) + self.x_of(v.cutoff)) / 2
        painter.setPen(QPen(self.style.marker, 1.2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x_cut, self.plot.top()), QPointF(x_cut, self.bars.bottom()))
        radius = max(2.0, min(5.0, self.plot.width() / (v.n + 1) / 3))
        for i, e in enumerate(v.encoded):
            t = self.norm(v.scores[i]) if i < v.cutoff else None
            painter.setPen(QPen(self.style.outline if t is None else self.style.text, 0.6))
            painter.setBrush(self.style.background if t is None else self.cmap.qcolor(t))
            painter.drawEllipse(QPointF(self.x_of(i), self.y_of(e)), radius, radius)
        x_next = self.x_of(v.cutoff)
        painter.setBrush(MODEL_COLOUR)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(QPointF(x_next, self.y_of(v.most_likely)), radius + 1, radius + 1)
        if v.realised is not None:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(TRUTH_COLOUR, 2.0))
            painter.drawEllipse(QPointF(x_next, self.y_of(v.realised)), radius + 3, radius + 3)

    def _paint_bars(self, painter: QPainter) -> None:
        v, r = self.view, self.bars
        width = 0.8 * r.width() / (v.n + 1)
        painter.setPen(Qt.PenStyle.NoPen)
        for i, s in enumerate(v.scores):
            t = self.norm(s)
            if t is None:
                continue
            h = max(1.0, t * (r.height() - 2))
            painter.setBrush(self.cmap.qcolor(t))
            painter.drawRect(QRectF(self.x_of(i) - width / 2, r.bottom() - h, width, h))
        painter.setPen(QPen(self.style.outline, 1.0))
        painter.drawLine(r.bottomLeft(), r.bottomRight())

    def _paint_distribution(self, painter: QPainter) -> None:
        v, d = self.view, self.dist
        pmax = max(max(v.probs), max(v.truth) if v.truth and v.truth_law != "point" else 0.0, 1e-12)
        h = d.height() / 10**v.digits
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(MODEL_COLOUR)
        for e, p in enumerate(v.probs):
            painter.drawRect(QRectF(d.left(), self.y_of(e) - h / 2, p / pmax * (d.width() - 4), h))
        if v.truth is not None:
            painter.setPen(QPen(TRUTH_COLOUR, 1.8))
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
        lines = [(MODEL_COLOUR, f"model (digit mass {v.mass:.2f})")]
        if v.truth is not None:
            law = {"point": "true next value", "gaussian": "true transition (Gaussian)",
                   "lognormal": "true transition (log-normal)"}[v.truth_law]
            lines.append((TRUTH_COLOUR, law))
        y = d.bottom() + fs.height() + 6
        for colour, text in lines:
            painter.fillRect(QRectF(d.left(), y + 3, 12, fs.height() - 6), colour)
            painter.setPen(self.style.text)
            painter.drawText(QPointF(d.left() + 18, y + fs.ascent()), text)
            y += fs.height()

    def _paint_footer(self, painter: QPainter, y: float) -> None:
        v, extra = self.view, self.result.extra
        summ = attention_summary(v)
        cost = extra.get("cost", {})
        lines = [
            "Top values by score: " + ", ".join(f"#{i} ({e}, {s:.0%})" for i, e, s in summ.top3)
            + f" · last 3 values: {summ.share_last3:.0%} of the total score"
            + (f" · TV distance to the truth {v.tv:.3f}" if v.tv is not None else ""),
            f"Next value: most likely {str(v.most_likely).zfill(v.digits)} "
            f"(p = {v.probs[v.most_likely]:.3f})"
            + (f", exact over {len(v.probs)} strings in {cost['distribution_s'] * 1000:.0f} ms "
               f"({cost['ratio']:.1f}× one forward)" if cost.get("ratio") else ""),
        ]
        painter.setFont(self.small)
        painter.setPen(self.style.dim_text)
        fs = QFontMetricsF(self.small)
        for line in lines:
            painter.drawText(QPointF(MARGIN, y + fs.ascent()), line)
            y += fs.height()


def render_series_image(result: AttributionResult, width: float = 1000.0, scale: float = PNG_SCALE,
                        cmap: str = "viridis") -> QImage:
    """The series figure as a QImage of ``scale`` × its logical size (device pixel ratio set)."""
    ensure_gui_app()
    return paint_to_image(SeriesFigure(result, width, cmap), scale)


def save_series_image(result: AttributionResult, path: str | os.PathLike, **options) -> Path:
    """Write the series figure of ``result`` to a ``.png`` file (2× scale); returns the path.

    Raises ValueError for another suffix and OSError when the file cannot be written.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"Cannot save {path.name}: use a .png file name")
    if not render_series_image(result, **options).save(str(path), "PNG"):
        raise OSError(f"Could not write {path}")
    return path
