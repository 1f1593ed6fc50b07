"""Columns that scroll rather than make the window larger than a laptop's screen."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


class FittingScrollArea(QScrollArea):
    """A vertical scroll area as wide as its widget needs (its minimum width follows the
    widget's, e.g. when a combo box gets longer items), so it scrolls only up and down; with
    ``growth`` set, it follows the widget only that many px past its first width and scrolls
    sideways beyond (a column whose contents must never widen the window much)."""

    growth: int | None = None
    _first: int | None = None

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        inner = self.widget().minimumSizeHint() if self.widget() else QSize(0, 0)
        bar = self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
        width = inner.width() + bar + 2 * self.frameWidth() + 2
        if self.growth is not None:
            self._first = self._first or width
            width = min(width, self._first + self.growth)
        return QSize(width, 60)


def scrolled(widget: QWidget, min_width: int | None = None,
             growth: int | None = None) -> QScrollArea:
    """``widget`` in a frameless scroll area, at least ``min_width`` px wide (None: as wide as
    the widget's own minimum plus a vertical scroll bar, so only a short screen scrolls it):
    a column that does not fit scrolls instead of making the window larger than the screen.
    ``growth``: see :class:`FittingScrollArea` (the area then also scrolls sideways)."""
    area = FittingScrollArea() if min_width is None else QScrollArea()
    if growth is not None:
        area.growth = growth
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    # a column is not a stop of its own for Tab: its controls are (and scroll into view)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if min_width is None and growth is None:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    elif min_width is None:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    else:
        area.setMinimumWidth(min_width)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    return area


def focus_framed(area: QScrollArea, name: str) -> QScrollArea:
    """Make ``area`` a named Tab stop (arrows and Page Up/Down scroll it) whose thin frame turns
    the highlight colour while it has the focus; returns it."""
    area.setAccessibleName(name)
    area.setObjectName(name.lower().replace(" ", "_"))
    area.setStyleSheet(f"QScrollArea#{area.objectName()} {{ border: 1px solid transparent; }}"
                       f"QScrollArea#{area.objectName()}:focus "
                       "{ border: 1px solid palette(highlight); }")
    return area
