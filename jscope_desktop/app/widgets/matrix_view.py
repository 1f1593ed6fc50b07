"""The attribution matrix of a generation: row n explains generated token n by every token
before it. A pyqtgraph image with token labels and a colour bar; clicking a row shows it as a
strip."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from ...engine.results.result import AttributionResult
from ...render.core.colormaps import COLORMAPS, Normalizer
from ...render.core.units import visible_text
from ...render.core.view_options import masked, scale_mask
from ...render.figures.strip import LIGHT
from .plotting import pg
from .strip_widget import StripWidget

MAX_LABEL = 8


class MatrixView(QWidget):
    """Heatmap of a multi-position result plus the strip of the selected row.

    Signals:
        row_chosen(int position): a row was clicked; ``position`` is its explained position.
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
        split = QSplitter()
        split.setOrientation(split.orientation().Vertical)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        # The image is RGBA (unattributed cells transparent), so the bar is a legend only.
        self.colorbar = pg.ColorBarItem(values=(0, 1), interactive=False, width=14)
        self.plot.getPlotItem().layout.addItem(self.colorbar, 2, 5)
        self.plot.setLabel("bottom", "input token")
        self.plot.setLabel("left", "explained (generated) token")
        self.strip = StripWidget()
        split.addWidget(self.plot)
        split.addWidget(self.strip)
        split.setSizes([500, 200])
        v.addWidget(split, 1)
        self.selected: int | None = None
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def matrix(self) -> np.ndarray:
        """The scores as an (N, T) float array, NaN where a row does not attribute a token."""
        rows = self.result.scores if self.result else []
        return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)

    def set_result(self, result: AttributionResult) -> None:
        """Show a multi-position result and select its last row."""
        self.result = result
        n, t = len(result.positions), len(result.tokens)
        prompt_n = result.prompt_tokens if result.prompt_tokens is not None else t - n
        generated = "".join(result.tokens[prompt_n:])
        self.summary.setText(f"{n} generated tokens, {t} in all · generated text: "
                             f"<b>{generated!r}</b> · click a row to show it as a strip.")
        self._draw()
        every = max(1, -(-t // 24))  # at most ~24 labels, so they never overlap
        xt = [(i, visible_text(tok)[:MAX_LABEL]) for i, tok in enumerate(result.tokens)
              if i % every == 0]
        yt = [(r, visible_text(result.tokens[p + 1])[:MAX_LABEL])
              for r, p in enumerate(result.positions)]
        self.plot.getAxis("bottom").setTicks([xt])
        self.plot.getAxis("left").setTicks([yt])
        self.plot.setXRange(-0.5, t - 0.5, padding=0)
        self.plot.setYRange(-0.5, n - 0.5, padding=0)
        self.select_row(n - 1)

    def set_view(self, cmap=None, scale=None, granularity=None, zoom=None, exclude=None) -> None:
        """Apply a colour map, scale and attention-sink control (``ScaleExclusion`` text: the
        excluded columns are grey and out of the colour scale) to the image and the row strip."""
        self.cmap, self.scale = cmap or self.cmap, scale or self.scale
        self.exclude = exclude if exclude is not None else self.exclude
        self.strip.set_view(cmap, scale, granularity, zoom, exclude)
        if self.result is not None:
            self._draw()

    def _draw(self) -> None:
        m = self.matrix()
        mask = scale_mask(self.result, self.exclude)
        norm = Normalizer.from_scores(masked(self.result.scores, mask), self.scale)
        grey = LIGHT.excluded.getRgb()[:3]
        lut = np.array(COLORMAPS[self.cmap].lut(), dtype=np.uint8)  # (256, 3)
        rgba = np.zeros((*m.shape, 4), dtype=np.uint8)
        for (i, j), v in np.ndenumerate(m):
            if not np.isnan(v):
                rgba[i, j, :3] = grey if mask[j] else lut[round(norm(float(v)) * (len(lut) - 1))]
                rgba[i, j, 3] = 255
        self.image.setImage(rgba)
        self.colorbar.setColorMap(pg.ColorMap(np.linspace(0, 1, len(lut)),
                                              [(*c, 255) for c in lut.tolist()]))
        if self.scale == "log":
            self.colorbar.setLevels((np.log10(norm.vmin), np.log10(norm.vmax)))
            self.colorbar.axis.setLabel("log₁₀ score" + self._excluded_note(mask))
        else:
            self.colorbar.setLevels((0.0, norm.vmax))
            self.colorbar.axis.setLabel("score" + self._excluded_note(mask))

    @staticmethod
    def _excluded_note(mask: list[bool]) -> str:
        return " (grey columns: excluded)" if any(mask) else ""

    def cell_color(self, row: int, col: int) -> tuple[int, int, int, int]:
        """The RGBA drawn for one cell (alpha 0 where the row does not attribute the token)."""
        return tuple(int(c) for c in self.image.image[row, col])

    def select_row(self, row: int) -> None:
        """Show row ``row`` as a strip and emit ``row_chosen`` with its position."""
        if self.result is None or not 0 <= row < len(self.result.positions):
            return
        self.selected = row
        position = self.result.positions[row]
        self.strip.set_result(self.result, position)
        self.row_chosen.emit(position)

    def _clicked(self, event) -> None:
        p = self.plot.getViewBox().mapSceneToView(event.scenePos())
        self.select_row(round(p.y()))
