"""A horizontal colour bar with tick labels, painted with QPainter."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QLinearGradient, QPainter, QPen

from ..core.colormaps import ColorMap, Normalizer, format_score
from .colours import qcolor
from .strip import StripStyle, paint_excluded

BAR_HEIGHT = 12.0
TICK = 4.0


def colorbar_height(font: QFont) -> float:
    """Height (px) ``paint_colorbar`` needs: title line, bar, ticks, tick labels."""
    fm = QFontMetricsF(font)
    return fm.height() + 2 + BAR_HEIGHT + TICK + fm.height()


def paint_colorbar(
    painter: QPainter, rect: QRectF, cmap: ColorMap, norm: Normalizer, style: StripStyle,
    font: QFont, title: str, title_width: float | None = None,
) -> None:
    """Draw a colour bar filling ``rect``'s width: ``title`` above, the ramp, ticks below.

    The title may run past the bar up to ``title_width`` px (default: the bar's width); a title
    longer than that ends in "…" rather than being cut mid-letter.

    The ramp runs from the normaliser's vmin (left) to vmax (right) on its own scale, so a tick
    at value v sits where a token scored v gets its colour.
    """
    fm = QFontMetricsF(font)
    painter.save()
    painter.setFont(font)
    painter.setPen(style.text)
    room = max(rect.width(), title_width or 0.0)
    painter.drawText(QRectF(rect.left(), rect.top(), room, fm.height()),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                     fm.elidedText(title, Qt.TextElideMode.ElideRight, room))
    bar = QRectF(rect.left(), rect.top() + fm.height() + 2, rect.width(), BAR_HEIGHT)
    grad = QLinearGradient(bar.topLeft(), bar.topRight())
    for i in range(33):
        grad.setColorAt(i / 32, qcolor(cmap, i / 32))
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


# What the marks that are not score colours mean, for the legend under the colour bar.
KEY_LABELS = {
    "explained": "explained position",
    "target": "explained token (target)",
    "unattributed": "not attributed",
    "excluded": "excluded from the colour scale",
}
SWATCH = 14.0


def key_height(font: QFont) -> float:
    """Height (px) of one row of :func:`paint_key`."""
    return max(QFontMetricsF(font).height(), SWATCH) + 2


def key_rows(items: list[str], font: QFont, width: float) -> list[list[str]]:
    """``items`` (keys of :data:`KEY_LABELS`) wrapped into rows that fit ``width`` px."""
    fm = QFontMetricsF(font)
    rows: list[list[str]] = [[]]
    x = 0.0
    for item in items:
        w = SWATCH + 6 + fm.horizontalAdvance(KEY_LABELS[item]) + 16
        if rows[-1] and x + w > width:
            rows.append([])
            x = 0.0
        rows[-1].append(item)
        x += w
    return rows if rows[0] else []


def paint_key(painter: QPainter, x: float, y: float, width: float, items: list[str],
              style: StripStyle, font: QFont) -> float:
    """Draw the legend of the strip's non-colour marks (``items``: keys of :data:`KEY_LABELS`)
    from (x, y), wrapping within ``width`` px; returns the y below it."""
    fm = QFontMetricsF(font)
    painter.save()
    painter.setFont(font)
    for row in key_rows(items, font, width):
        cx = x
        for item in row:
            box = QRectF(cx, y + 1, SWATCH, SWATCH)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            if item == "excluded":
                paint_excluded(painter, box, style, 2.0)
            elif item == "unattributed":
                painter.setPen(QPen(style.outline, 1.0, Qt.PenStyle.DotLine))
                painter.drawRoundedRect(box, 2, 2)
            else:
                dash = Qt.PenStyle.DashLine if item == "target" else Qt.PenStyle.SolidLine
                painter.setPen(QPen(style.marker, 1.5 if item == "target" else 2.5, dash))
                painter.drawRoundedRect(box.adjusted(1, 1, -1, -1), 2, 2)
            painter.setPen(style.text)
            label = KEY_LABELS[item]
            painter.drawText(QPointF(cx + SWATCH + 6, y + 1 + SWATCH / 2 + fm.ascent() / 2 - 1),
                             label)
            cx += SWATCH + 6 + fm.horizontalAdvance(label) + 16
        y += key_height(font)
    painter.restore()
    return y
