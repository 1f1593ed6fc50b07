"""The series figure on screen (paper Figs. 4–5): the render layer's series painter in a widget.

It paints with the same ``render.figures.series_plot.SeriesFigure`` as the exported image, laid out at the
widget's size (the tab shows the summary above it, so the figure's header and footer are left
out). Hovering a value or a next-value row shows its numbers.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ...engine.results.result import AttributionResult
from ...render.core.series_data import SeriesView, series_view
from ...render.figures.series_plot import SeriesFigure
from ...render.figures.strip import DARK, LIGHT, StripStyle


class SeriesPlots(QWidget):
    """The series (top left), its value scores (bottom left, same x) and the next-value
    distribution (top right, same y), painted by :class:`SeriesFigure`. ``set_result`` shows a
    series result; ``figure()`` is the laid-out figure on screen."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: AttributionResult | None = None
        self.view: SeriesView | None = None
        self.cmap = "viridis"
        self.exclude = ""  # the attention-sink control (ScaleExclusion text)
        self.dark: bool | None = None  # None: follow the widget's palette
        self.placeholder = "Explain a series to see its values, their scores and the prediction."
        self._figure: SeriesFigure | None = None
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(360, 240)  # fits beside the controls in a 1,280 × 720 window

    def clear(self) -> None:
        """Show nothing (the placeholder)."""
        self.result = self.view = self._figure = None
        self.update()

    def set_result(self, result: AttributionResult, cmap: str = "viridis") -> None:
        """Show a series result: its values, their scores and the next-value distributions.

        Raises ValueError (from :func:`series_view`) for a result without a series.
        """
        self.view = series_view(result)
        self.result, self.cmap, self._figure = result, cmap, None
        self.update()

    def set_view(self, cmap: str | None = None, exclude: str | None = None) -> None:
        """Change the colour map or what the colour scale excludes (None keeps the current)."""
        self.cmap = cmap or self.cmap
        self.exclude = self.exclude if exclude is None else exclude
        self._figure = None
        self.update()

    def paint_style(self) -> StripStyle:
        """The colours painted with: dark or light as set, else following the palette."""
        if self.dark is not None:
            return DARK if self.dark else LIGHT
        return DARK if self.palette().window().color().lightness() < 128 else LIGHT

    def export_options(self) -> dict:
        """The ``save_series_image`` options matching what is on screen (colour map, dark,
        exclude)."""
        return {"cmap": self.cmap, "dark": self.paint_style().is_dark, "exclude": self.exclude}

    def figure(self) -> SeriesFigure | None:
        """The figure as laid out at the widget's size (widget coordinates = figure logical px),
        or None without a result."""
        if self.result is None:
            return None
        if self._figure is None:
            self._figure = SeriesFigure(self.result, float(self.width()), self.cmap,
                                        self.paint_style(), height=float(self.height()),
                                        captions=False, exclude=self.exclude)
        return self._figure

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(900, 460)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._figure = None

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        self._figure = None  # a palette change may switch light/dark

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        fig = self.figure()
        if fig is None:
            style = self.paint_style()
            painter.fillRect(self.rect(), style.background)
            painter.setPen(style.dim_text)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        else:
            fig.paint(painter)
        painter.end()

    def tooltip_at(self, pos: QPointF) -> str | None:
        """The tooltip text at ``pos`` (widget coordinates), or None where there is none."""
        fig = self.figure()
        return None if fig is None else fig.describe_at(pos)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        text = self.tooltip_at(event.position())
        if text is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(), text, self)
