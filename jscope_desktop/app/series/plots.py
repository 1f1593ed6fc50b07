"""The series plots (paper Figs. 4–5): the series with each value's score as a coloured bar under it,
and the model's next-value distribution beside it on the same value axis, against the truth."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...engine.result import AttributionResult
from ...render.colormaps import COLORMAPS, Normalizer
from ...render.series_data import SeriesView, series_view
from ..widgets.plotting import pg

MODEL_COLOUR, TRUTH_COLOUR, LINE_COLOUR, CUTOFF_COLOUR = "#3b6fb6", "#e6550d", "#9a9a9a", "#d62728"


class SeriesPlots(QWidget):
    """Three linked pyqtgraph plots: series (top left), value scores (bottom left, same x) and
    the next-value distribution (top right, same y). ``set_result`` draws a series result."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view: SeriesView | None = None
        self.cmap = COLORMAPS["viridis"]
        self.graphics = pg.GraphicsLayoutWidget()
        self.series = self.graphics.addPlot(row=0, col=0)
        self.dist = self.graphics.addPlot(row=0, col=1)
        self.scores = self.graphics.addPlot(row=1, col=0)
        self.scores.setXLink(self.series)
        self.dist.setYLink(self.series)
        layout = self.graphics.ci.layout
        layout.setColumnStretchFactor(0, 4)
        layout.setColumnStretchFactor(1, 1)
        layout.setRowStretchFactor(0, 3)
        layout.setRowStretchFactor(1, 1)
        self.series.setLabel("left", "value (encoded)")
        self.scores.setLabel("left", "value score")
        self.scores.setLabel("bottom", "value index")
        self.dist.setLabel("bottom", "probability")
        self.dist.getAxis("bottom").enableAutoSIPrefix(False)  # "(x0.001)" reads as a unit
        self.dist.addLegend(offset=(-5, 5))
        for p in (self.series, self.dist, self.scores):
            p.setMenuEnabled(False)
            p.showGrid(x=False, y=True, alpha=0.2)
        self.items: dict[str, object] = {}
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.graphics)

    def clear(self) -> None:
        """Remove everything drawn."""
        for p in (self.series, self.dist, self.scores):
            p.clear()
        self.items = {}
        self.view = None

    def set_result(self, result: AttributionResult, cmap: str = "viridis") -> None:
        """Draw a series result: its values, their scores and the next-value distributions."""
        self.clear()
        self.cmap = COLORMAPS[cmap]
        v = self.view = series_view(result)
        norm = Normalizer.from_scores(v.scores)
        colours = [self.cmap.qcolor(norm(s)) if s is not None else None for s in v.scores]
        self._draw_series(v, colours)
        self._draw_scores(v, colours)
        self._draw_distribution(v)
        top = 10**v.digits
        self.series.setXRange(0.5, v.n + 2.0, padding=0)  # room for the next value's markers
        self.series.setYRange(-0.5, top - 0.5, padding=0)

    def _draw_series(self, v: SeriesView, colours) -> None:
        x = np.arange(1, v.n + 1)
        y = np.array(v.encoded, dtype=float)
        self.series.plot(x[: v.cutoff], y[: v.cutoff], pen=pg.mkPen(LINE_COLOUR, width=1.5))
        if v.cutoff < v.n:
            self.series.plot(x[v.cutoff - 1 :], y[v.cutoff - 1 :],
                             pen=pg.mkPen(LINE_COLOUR, width=1, style=Qt.PenStyle.DashLine))
        brushes = [pg.mkBrush(c) if c is not None else pg.mkBrush(0, 0, 0, 0) for c in colours]
        dots = pg.ScatterPlotItem(x=x, y=y, size=9, brush=brushes, pen=pg.mkPen("#555555", width=0.6))
        self.series.addItem(dots)
        cut = pg.InfiniteLine(pos=v.cutoff + 0.5, angle=90,
                              pen=pg.mkPen(CUTOFF_COLOUR, width=1.2, style=Qt.PenStyle.DashLine))
        self.series.addItem(cut)
        guess = pg.ScatterPlotItem(x=[v.cutoff + 1], y=[v.most_likely], size=11,
                                   brush=pg.mkBrush(MODEL_COLOUR), pen=None)
        self.series.addItem(guess)
        self.items.update(dots=dots, cutoff=cut, guess=guess)
        if v.realised is not None:
            real = pg.ScatterPlotItem(x=[v.cutoff + 1], y=[v.realised], size=17, brush=None,
                                      pen=pg.mkPen(TRUTH_COLOUR, width=2))
            self.series.addItem(real)
            self.items["realised"] = real

    def _draw_scores(self, v: SeriesView, colours) -> None:
        idx = [i for i, s in enumerate(v.scores) if s is not None]
        bars = pg.BarGraphItem(x=[i + 1 for i in idx], height=[v.scores[i] for i in idx], width=0.8,
                               brushes=[pg.mkBrush(colours[i]) for i in idx], pen=None)
        self.scores.addItem(bars)
        self.items["bars"] = bars

    def _draw_distribution(self, v: SeriesView) -> None:
        e = np.arange(len(v.probs), dtype=float)
        model = pg.BarGraphItem(x0=0, y=e, height=1.0, width=np.array(v.probs),
                                brush=pg.mkBrush(MODEL_COLOUR), pen=None,
                                name=f"model (mass {v.mass:.2f})")
        self.dist.addItem(model)
        self.items["model"] = model
        if v.truth is None:
            return
        pen = pg.mkPen(TRUTH_COLOUR, width=2)
        if v.truth_law == "point":
            truth = self.dist.plot([0, max(v.probs)], [v.realised, v.realised], pen=pen,
                                   name="true next value")
        else:
            truth = self.dist.plot(np.array(v.truth), e, pen=pen, name=f"true ({v.truth_law})")
        self.items["truth"] = truth
