"""Several scopes of one prediction as one picture: their strips stacked on one colour scale
choice (linear or log; each row relative to its own largest score, since the scopes measure
different units), a colour bar, and the Spearman agreement matrix as a small heatmap.

The strips are painted by :func:`~.strip.paint_strip`, the heatmap by :func:`paint_agreement`
(the app's Compare view paints the same heatmap), so the file and the screen agree.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from ...engine.model.tokens import token_number
from ...engine.results.multi_result import MultiScopeResult
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label
from ..core.colormaps import ColorMap, Normalizer
from ..core.multi_caption import row_caption
from ..core.units import Unit, make_units, row_scores, unit_of_token
from .colorbar import colorbar_height, paint_colorbar
from .colours import qcolor
from .export import MARGIN, FigureOptions, explained_token, set_up_figure
from .header import paint_header
from .strip import StripLayout, StripStyle, layout_strip, paint_strip, text_color_on

ROW_GAP = 10.0
CELL = 34.0  # heatmap cell (px)


def row_normalizer(result: AttributionResult, scale: str) -> Normalizer:
    """Each row on the common scale choice, relative to its own largest score."""
    return Normalizer.from_scores(row_scores(result), scale)


def agreement_color(rho: float | None, cmap: ColorMap) -> QColor | None:
    """The heatmap colour of ρ in [−1, 1] (None for an undefined ρ)."""
    if rho is None or not math.isfinite(rho):
        return None
    return qcolor(cmap, (rho + 1) / 2)


def agreement_size(n: int, font: QFont) -> QSizeF:
    """The size (px) :func:`paint_agreement` needs for ``n`` scopes."""
    fm = QFontMetricsF(font)
    return QSizeF(_label_w(fm) + n * CELL + 8 + 220,
                  fm.height() + 4 + n * CELL + fm.height() + 4)


def paint_agreement(painter: QPainter, origin: QPointF, multi: MultiScopeResult, cmap: ColorMap,
                    style: StripStyle, font: QFont) -> None:
    """The Spearman matrix at ``origin``: one cell per pair, ρ written in it, scope labels on
    the left (short names) and a legend of what the colours mean."""
    a = multi.agreement
    n = len(a.scopes)
    fm = QFontMetricsF(font)
    painter.save()
    painter.setFont(font)
    painter.setPen(style.text)
    painter.drawText(QPointF(origin.x(), origin.y() + fm.ascent()),
                     "Rank agreement (Spearman ρ over attributed tokens)")
    top = origin.y() + fm.height() + 4
    left = origin.x() + _label_w(fm)
    for i, name in enumerate(a.scopes):
        short = _short(name)
        painter.setPen(style.text)
        painter.drawText(QRectF(origin.x(), top + i * CELL, left - origin.x() - 4, CELL),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, short)
        painter.drawText(QRectF(left + i * CELL, top + n * CELL, CELL, fm.height()),
                         Qt.AlignmentFlag.AlignCenter, short)
        for j in range(n):
            rect = QRectF(left + j * CELL, top + i * CELL, CELL - 2, CELL - 2)
            rho = a.spearman[i][j]
            fill = agreement_color(rho, cmap)
            painter.setPen(QPen(style.outline, 1.0) if fill is None else Qt.PenStyle.NoPen)
            painter.setBrush(fill if fill is not None else Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
            painter.setPen(text_color_on(fill) if fill is not None else style.dim_text)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                             "–" if rho is None else f"{rho:.2f}")
    legend_x = left + n * CELL + 8
    painter.setPen(style.dim_text)
    for k, (name, label) in enumerate(_legend(a.scopes)):
        painter.drawText(QPointF(legend_x, top + fm.ascent() + k * fm.height()),
                         f"{name} = {label}")
    painter.restore()


def _label_w(fm: QFontMetricsF) -> float:
    return fm.horizontalAdvance("Mmm") + 10


def _short(name: str) -> str:
    return name[:3].capitalize()


def _legend(names: list[str]) -> list[tuple[str, str]]:
    return [(_short(n), scope_label(n)) for n in names] + [("colour", "−1 (dark) … +1 (bright)")]


class MultiFigure:
    """A laid-out picture of a :class:`MultiScopeResult`; ``paint`` draws it at ``size()``."""

    doc_title = "Jacobian Scopes: several scopes"

    def __init__(self, multi: MultiScopeResult, options: FigureOptions | None = None):
        self.multi = multi
        set_up_figure(self, options)
        first = multi.results[0]
        inner = self.opt.width - 2 * MARGIN
        self.rows: list[tuple[AttributionResult, list[Unit], Normalizer, StripLayout, int]] = []
        for r in multi.results:
            units = make_units(r, self.opt.granularity)
            explained = unit_of_token(units, r.position)
            layout = layout_strip(units, self.font, inner, explained_token(r, r.position),
                                  explained)
            self.rows.append((r, units, row_normalizer(r, self.opt.scale), layout, explained))
        t = multi.timing
        model = first.model.get("name", "model")
        self.header = [
            f"{len(multi.results)} scopes · {model}",
            f"Explaining the prediction after token {token_number(first.position)} "
            f"({first.tokens[first.position]!r}); {len(first.tokens)} tokens, {first.device}, "
            f"{first.dtype}.",
            f"Forward {t.forward_s * 1000:.0f} ms · all scopes {t.total_s * 1000:.0f} ms · "
            f"{t.backward_passes} batched backward pass{'es' if t.backward_passes != 1 else ''}",
        ]
        fm, fs = QFontMetricsF(self.title_font), QFontMetricsF(self.small)
        self.header_h = fm.height() + fs.height() * (len(self.header) - 1) + 8
        self.matrix = agreement_size(len(multi.results), self.small)
        strips_h = sum(fs.height() + 2 + lay.height + ROW_GAP for *_, lay, _ in self.rows)
        widest = max([lay.width for *_, lay, _ in self.rows]
                     + [fm.horizontalAdvance(self.header[0])]
                     + [fs.horizontalAdvance(x) for x in self.header[1:]]
                     + [fs.horizontalAdvance(row_caption(r[0])) for r in self.rows]
                     + [self.matrix.width(), min(inner, 420.0)])
        self.width = min(self.opt.width, widest + 2 * MARGIN)
        self.height = (MARGIN + self.header_h + strips_h + colorbar_height(self.small) + 14
                       + self.matrix.height() + MARGIN)

    def size(self) -> QSizeF:
        """The figure's size in logical px."""
        return QSizeF(self.width, self.height)

    def paint(self, painter: QPainter) -> None:
        """Draw the whole figure with its top-left corner at (0, 0)."""
        painter.fillRect(QRectF(0, 0, self.width, self.height), self.style.background)
        fs = QFontMetricsF(self.small)
        y = paint_header(painter, self.header, self.title_font, self.small, self.style.text,
                         MARGIN, MARGIN) + 8
        for r, units, norm, layout, explained in self.rows:
            painter.setFont(self.small)
            painter.setPen(self.style.text)
            painter.drawText(QPointF(MARGIN, y + fs.ascent()), row_caption(r))
            y += fs.height() + 2
            paint_strip(painter, layout, units, norm, self.cmap, self.style, self.font,
                        explained, QPointF(MARGIN, y))
            y += layout.height + ROW_GAP
        bar = Normalizer.from_scores([1.0, 1e-4], self.opt.scale)
        paint_colorbar(painter, QRectF(MARGIN, y, min(self.width - 2 * MARGIN, 420.0),
                                       colorbar_height(self.small)), self.cmap, bar, self.style,
                       self.small, f"score as a fraction of each row's largest "
                                   f"({self.opt.scale} scale)")
        y += colorbar_height(self.small) + 14
        paint_agreement(painter, QPointF(MARGIN, y), self.multi, self.cmap, self.style,
                        self.small)
