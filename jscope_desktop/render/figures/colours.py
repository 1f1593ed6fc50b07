"""The core's colours (RGB bytes, "#rrggbb") as the QColors a QPainter figure paints with."""

from __future__ import annotations

from PySide6.QtGui import QColor

from ..core.colormaps import SERIES_COLOURS, ColorMap


def qcolor(cmap: ColorMap, t: float) -> QColor:
    """The colour of ``cmap`` at ``t`` (clipped to [0, 1]) as a QColor."""
    return QColor(*cmap.rgb(t))


def series_qcolor(role: str) -> QColor:
    """The series figure's colour of ``role`` ("model", "truth" or "line") as a QColor."""
    return QColor(getattr(SERIES_COLOURS, role))
