"""The strip's view controls: colour map, linear/log scale, granularity and zoom."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QWidget

from ...render.colormaps import COLORMAPS, SCALES
from ...render.units import GRANULARITIES


class ViewControls(QWidget):
    """A row of combo boxes and zoom buttons.

    Signals:
        changed(dict): the new view, keys cmap, scale, granularity, zoom.
    """

    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.cmap = QComboBox()
        for name, cmap in COLORMAPS.items():
            self.cmap.addItem(cmap.label, name)
        self.scale = QComboBox()
        for s in SCALES:
            self.scale.addItem(f"{s} scale", s)
        self.granularity = QComboBox()
        for g in GRANULARITIES:
            self.granularity.addItem(f"per {g}", g)
        self.zoom_out, self.zoom_in = QToolButton(text="−"), QToolButton(text="+")
        self.zoom_label = QLabel("100 %")
        self.zoom = 1.0
        for w, tip in ((self.cmap, "Colour map"), (self.scale, "Colour scale"),
                       (self.granularity, "Show scores per token, word (L2) or sentence (L2)"),
                       (self.zoom_out, "Zoom out (Ctrl+−)"), (self.zoom_in, "Zoom in (Ctrl++)")):
            w.setToolTip(tip)
            row.addWidget(w)
        row.insertWidget(4, self.zoom_label)
        row.addStretch(1)
        for combo in (self.cmap, self.scale, self.granularity):
            combo.currentIndexChanged.connect(self._emit)
        self.zoom_in.clicked.connect(lambda: self.set_zoom(self.zoom * 1.25))
        self.zoom_out.clicked.connect(lambda: self.set_zoom(self.zoom / 1.25))

    def view(self) -> dict:
        """The current choices: cmap, scale, granularity (names) and zoom (factor)."""
        return {"cmap": self.cmap.currentData(), "scale": self.scale.currentData(),
                "granularity": self.granularity.currentData(), "zoom": self.zoom}

    def set_view(self, cmap=None, scale=None, granularity=None, zoom=None) -> None:
        """Select the given values (None keeps the current one) and emit ``changed`` once."""
        self.blockSignals(True)
        for combo, value in ((self.cmap, cmap), (self.scale, scale),
                             (self.granularity, granularity)):
            if value is not None and combo.findData(value) >= 0:
                combo.setCurrentIndex(combo.findData(value))
        self.blockSignals(False)
        if zoom is not None:
            self.set_zoom(zoom)
        else:
            self._emit()

    def set_zoom(self, zoom: float) -> None:
        """Set the zoom factor (clamped to 50–300 %) and emit ``changed``."""
        self.zoom = min(3.0, max(0.5, zoom))
        self.zoom_label.setText(f"{self.zoom:.0%}".replace("%", " %"))
        self._emit()

    def _emit(self, *_) -> None:
        self.changed.emit(self.view())
