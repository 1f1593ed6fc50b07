"""The faithfulness report's picture: the charts of ``render.core.faithfulness_charts`` (AOPC
with intervals, the forest plot of paired differences, the sanity curves when given) painted
with QPainter (AOPC above the sanity curves, the forest plot beside them): the same shapes
the web page draws as SVG."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF

from ..core.faithfulness_charts import Chart, Shape, aopc_chart, forest_chart, sanity_chart
from .strip import LIGHT, StripStyle


class FaithfulnessFigure:
    """A figure (``size()``, ``style.background``, ``paint(painter)``; see ``formats``) of a
    faithfulness report and, optionally, a sanity report."""

    doc_title = "Jacobian Scopes — faithfulness"

    def __init__(self, report: dict, sanity: dict | None = None, style: StripStyle = LIGHT):
        self.style = style
        left = [aopc_chart(report)] + ([sanity_chart(sanity)] if sanity else [])
        right = forest_chart(report, "all")
        self.charts: list[Chart] = [*left, right]
        self.places: list[tuple[float, float]] = []  # top-left of each chart
        y = 0.0
        for c in left:  # AOPC above the sanity curves, the forest plot beside them
            self.places.append((0.0, y))
            y += c.height
        width = max(c.width for c in left)
        self.places.append((width, 0.0))
        self.width, self.height = width + right.width, max(y, right.height)

    def size(self) -> QSizeF:
        """The picture's size in logical px."""
        return QSizeF(self.width, self.height)

    def paint(self, painter: QPainter) -> None:
        """Paint every chart at its place (top-left of the figure at (0, 0))."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(QRectF(0, 0, self.width, self.height), self.style.background)
        for (x, y), chart in zip(self.places, self.charts):
            painter.save()
            painter.translate(x, y)
            for shape in chart.shapes:
                paint_shape(painter, shape)
            painter.restore()


def paint_shape(painter: QPainter, s: Shape) -> None:
    """Paint one chart shape (see :class:`Shape`) with QPainter."""
    colour = QColor(s.colour)
    pen = QPen(colour, s.width)
    if s.dash:
        pen.setStyle(Qt.PenStyle.DashLine)
    points = [QPointF(x, y) for x, y in s.points]
    if s.kind == "text":
        font = QFont()
        font.setPixelSize(max(1, round(s.size)))
        font.setBold(s.bold)
        painter.setFont(font)
        painter.setPen(colour)
        w = QFontMetricsF(font).horizontalAdvance(s.text)
        dx = {"start": 0.0, "middle": -w / 2, "end": -w}[s.anchor]
        painter.drawText(QPointF(points[0].x() + dx, points[0].y()), s.text)
        return
    if s.kind == "polygon":
        fill = QColor(s.fill or s.colour)
        fill.setAlphaF(s.opacity)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(fill))
        painter.drawPolygon(QPolygonF(points))
        return
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if s.kind == "line":
        painter.drawLine(points[0], points[1])
    elif s.kind == "polyline":
        painter.drawPolyline(QPolygonF(points))
    elif s.kind == "circle":
        if s.fill:
            painter.setBrush(QBrush(QColor(s.fill)))
        painter.drawEllipse(points[0], s.r, s.r)
