"""The attribution matrix of a generation: row n explains generated token n by every token
before it. The view paints the very picture "Save image" writes (``render.figures.matrix``):
the same cells, labels, colour bar and captions; clicking a row shows it as a strip below."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label
from ...render.figures.matrix import MatrixFigure
from .scrolling import focus_framed
from .stale import stale_label
from .strip_widget import StripWidget


class MatrixCanvas(QWidget):
    """Paints a :class:`MatrixFigure` at its own size (inside a scroll area); a click on a row
    emits ``row_clicked(row)``."""

    row_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.figure: MatrixFigure | None = None
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_figure(self, figure: MatrixFigure | None) -> None:
        """Show ``figure`` (None: nothing) and take its size."""
        self.figure = figure
        size = figure.size().toSize() if figure is not None else QSize(0, 0)
        self.setFixedSize(size)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        if self.figure is None:
            return
        painter = QPainter(self)  # as render.figures.formats.paint_to_image paints the file
        self.figure.paint(painter)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        row = self.figure.row_at(QPointF(event.position())) if self.figure else None
        if row is not None:
            self.row_clicked.emit(row)


class MatrixView(QWidget):
    """The matrix picture of a multi-position result plus the strip of the selected row.

    Signals:
        row_chosen(int position): a row was chosen; ``position`` is its explained position.
    """

    row_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: AttributionResult | None = None
        self.cmap, self.scale, self.exclude = "viridis", "linear", ""
        v = QVBoxLayout(self)
        self.summary = QLabel("Generate tokens to see the attribution matrix.")
        self.summary.setWordWrap(True)
        v.addWidget(self.summary)
        self.stale = stale_label()
        v.addWidget(self.stale)
        split = QSplitter(Qt.Orientation.Vertical)
        self.canvas = MatrixCanvas()
        self.canvas.row_clicked.connect(self.select_row)
        self.scroll = focus_framed(QScrollArea(), "Attribution matrix")
        self.scroll.setWidget(self.canvas)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.strip = StripWidget()
        split.addWidget(self.scroll)
        split.addWidget(self.strip)
        split.setSizes([500, 200])
        v.addWidget(split, 1)
        self.selected: int | None = None

    @property
    def figure(self) -> MatrixFigure | None:
        """The picture shown (the one "Save image" writes for this result and view)."""
        return self.canvas.figure

    def set_result(self, result: AttributionResult) -> None:
        """Show a multi-position result and select its last row."""
        self.result = result
        n, t = len(result.positions), len(result.tokens)
        self.summary.setText(f"{n} generated tokens, {t} in all · {scope_label(result.scope)} "
                             "Scope · click a row to show it as a strip.")
        self._draw()
        self.select_row(n - 1)

    def set_view(self, cmap=None, scale=None, granularity=None, zoom=None, exclude=None) -> None:
        """Apply a colour map, scale and attention-sink control (``ScaleExclusion`` text: the
        excluded columns are grey, hatched and out of the colour scale) to the matrix and the
        row strip."""
        self.cmap, self.scale = cmap or self.cmap, scale or self.scale
        self.exclude = exclude if exclude is not None else self.exclude
        self.strip.set_view(cmap, scale, granularity, zoom, exclude)
        if self.result is not None:
            self._draw()

    def _draw(self) -> None:
        dark = self.palette().window().color().lightness() < 128
        self.canvas.set_figure(MatrixFigure(self.result, self.cmap, self.scale, dark,
                                            exclude=self.exclude))

    def cell_color(self, row: int, col: int) -> tuple[int, int, int, int]:
        """The RGBA cell (row, col) is filled with (alpha 0 where the row does not attribute the
        token), as painted."""
        fill = self.figure.cell_fill(row, col) if self.figure else None
        return (0, 0, 0, 0) if fill is None else tuple(fill.getRgb())

    def select_row(self, row: int) -> None:
        """Show row ``row`` as a strip and emit ``row_chosen`` with its position."""
        if self.result is None or not 0 <= row < len(self.result.positions):
            return
        self.selected = row
        position = self.result.positions[row]
        self.strip.set_result(self.result, position)
        self.row_chosen.emit(position)
