"""The strip's view controls: colour map, linear/log scale, granularity, the attention-sink
control (what the colour scale excludes) and zoom."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from ...render.core.colormaps import COLORMAPS, SCALES
from ...render.core.units import GRANULARITIES
from ...render.core.view_options import MODE_LABELS, MODES, indices_to_numbers, numbers_to_indices

CUSTOM = "custom"  # the exclusion entry whose token indices are typed in the box beside it


class ViewControls(QWidget):
    """A row of combo boxes and zoom buttons.

    The "Scale" combo is the attention-sink control (``render.core.view_options.ScaleExclusion``):
    the first token, special tokens, chat-template tokens or typed token indices are left out
    of the colour scale and the ranking; the stored scores never change.

    Signals:
        changed(dict): the new view, keys cmap, scale, granularity, exclude (the exclusion as
            text, "" for none), zoom.
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
        self.exclude = QComboBox()
        self.exclude.addItem("scale: all tokens", "")
        for m in MODES:
            self.exclude.addItem(f"scale without {MODE_LABELS[m].split(' (')[0]}", m)
        self.exclude.addItem("scale without tokens…", CUSTOM)
        self.indices = QLineEdit()
        self.indices.setPlaceholderText("e.g. 1,4")
        self.indices.setMaximumWidth(110)
        self.indices.setVisible(False)
        self.zoom_out, self.zoom_in = QToolButton(text="−"), QToolButton(text="+")
        self.zoom_label = QLabel("100 %")
        self.zoom = 1.0
        for w, tip in ((self.cmap, "Colour map"), (self.scale, "Colour scale"),
                       (self.granularity, "Show scores per token, word (L2) or sentence (L2)"),
                       (self.exclude, "Attention sink: leave tokens out of the colour scale and "
                        "the ranking (drawn hatched; the stored scores are not changed)"),
                       (self.indices, "Tokens to leave out of the colour scale, counted from 1 as "
                        "the strip numbers them, e.g. 1,4 (-1 is the last); Enter applies"),
                       (self.zoom_out, "Zoom out (Ctrl+−)"), (self.zoom_in, "Zoom in (Ctrl++)")):
            w.setToolTip(tip)
            row.addWidget(w)
        for w, name in ((self.granularity, "Granularity"), (self.exclude, "Colour scale excludes"),
                        (self.indices, "Tokens to exclude"), (self.zoom_out, "Zoom out"),
                        (self.zoom_in, "Zoom in")):
            w.setAccessibleName(name)  # short; the tooltip stays the description
        row.insertWidget(6, self.zoom_label)
        # long item texts must not widen the window: the list still shows them whole
        for combo, chars in ((self.cmap, 9), (self.exclude, 10), (self.granularity, 6)):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(chars)
        row.addStretch(1)
        for combo in (self.cmap, self.scale, self.granularity, self.exclude):
            combo.currentIndexChanged.connect(self._emit)
        self.indices.editingFinished.connect(self._emit)
        self.zoom_in.clicked.connect(lambda: self.set_zoom(self.zoom * 1.25))
        self.zoom_out.clicked.connect(lambda: self.set_zoom(self.zoom / 1.25))
        self._last_exclude = ""

    def exclusion(self) -> str:
        """The attention-sink control as ``ScaleExclusion`` text ("" for none). Typed indices
        that do not read as indices keep the last valid choice (the box turns red)."""
        choice = self.exclude.currentData()
        self.indices.setVisible(choice == CUSTOM)
        if choice != CUSTOM:
            self._last_exclude = choice
            return choice
        try:
            text = numbers_to_indices(self.indices.text())
        except ValueError as exc:
            self.indices.setStyleSheet("border: 1px solid #b00020;")
            self.indices.setToolTip(str(exc))
            return self._last_exclude
        self.indices.setStyleSheet("")
        self._last_exclude = text
        return text

    def view(self) -> dict:
        """The current choices: cmap, scale, granularity, exclude (names) and zoom (factor)."""
        return {"cmap": self.cmap.currentData(), "scale": self.scale.currentData(),
                "granularity": self.granularity.currentData(), "exclude": self.exclusion(),
                "zoom": self.zoom}

    def set_view(self, cmap=None, scale=None, granularity=None, zoom=None, exclude=None) -> None:
        """Select the given values (None keeps the current one) and emit ``changed`` once.

        ``exclude`` is ``ScaleExclusion`` text: a named set selects its entry, anything else the
        "tokens…" entry with the text in the box.
        """
        self.blockSignals(True)
        for combo, value in ((self.cmap, cmap), (self.scale, scale),
                             (self.granularity, granularity)):
            if value is not None and combo.findData(value) >= 0:
                combo.setCurrentIndex(combo.findData(value))
        if exclude is not None:
            k = self.exclude.findData(exclude)
            if k < 0 or exclude == CUSTOM:
                if exclude != CUSTOM:
                    self.indices.setText(indices_to_numbers(exclude))
                k = self.exclude.findData(CUSTOM)
            self.exclude.setCurrentIndex(k)
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
