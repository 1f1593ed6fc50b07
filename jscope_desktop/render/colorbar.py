"""A horizontal colour bar with tick labels, painted with QPainter."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QLinearGradient, QPainter, QPen

from .colormaps import ColorMap, Normalizer, format_score
from .strip import StripStyle

BAR_HEIGHT = 12.0
TICK = 4.0


def colorbar_height(font: QFont) -> float:
    """Height (px) ``paint_colorbar`` needs: title line, bar, ticks, tick labels."""
    fm = QFontMetricsF(font)
    return fm.height() + 2 + BAR_HEIGHT + TICK + fm.height()


def paint_colorbar(
    painter: QPainter, rect: QRectF, cmap: ColorMap, norm: Normalizer, style: StripStyle,
    font: QFont, title: str,
) -> None:
    """Draw a colour bar filling ``rect``'s width: ``title`` above, the ramp, ticks below.

    The ramp runs from the normaliser's vmin (left) to vmax (right) on its own scale, so a tick
    at value v sits where a token scored v gets its colour.
    """
    fm = QFontMetricsF(font)
    painter.save()
    painter.setFont(font)
    painter.setPen(style.text)
    painter.drawText(QRectF(rect.left(), rect.top(), rect.width(), fm.height()),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
    bar = QRectF(rect.left(), rect.top() + fm.height() + 2, rect.width(), BAR_HEIGHT)
    grad = QLinearGradient(bar.topLeft(), bar.topRight())
    for i in range(33):
        grad.setColorAt(i / 32, cmap.qcolor(i / 32))
    painter.setPen(QPen(style.outline, 1.0))
    painter.setBrush(grad)
    painter.drawRect(bar)
    painter.setPen(QPen(style.text, 1.0))
    last_right = -1e9
    ticks = norm.ticks()
    for k, (value, t) in enumerate(ticks):
        if t is None:
            continue
        x = bar.left() + t * bar.width()
        painter.drawLine(QPointF(x, bar.bottom()), QPointF(x, bar.bottom() + TICK))
        label = format_score(value)
        w = fm.horizontalAdvance(label)
        left = min(max(x - w / 2, bar.left()), bar.right() - w)
        if left > last_right + 6 or k == len(ticks) - 1 and left > last_right:
            painter.drawText(QPointF(left, bar.bottom() + TICK + fm.ascent()), label)
            last_right = left + w
    painter.restore()
