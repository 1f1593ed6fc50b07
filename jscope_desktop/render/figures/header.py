"""A figure's header (its title line and caption lines), painted with QPainter: the one piece
of the captions that needs Qt's font metrics (the words come from :mod:`..core.caption`)."""

from __future__ import annotations


def paint_header(painter, lines: list[str], title_font, font, color, x: float, y: float) -> float:
    """Paint header ``lines`` at (x, y): the first in ``title_font``, the rest in ``font``, in
    ``color``; returns the y below the last line (logical px)."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QFontMetricsF

    fm, fs = QFontMetricsF(title_font), QFontMetricsF(font)
    painter.setPen(color)
    painter.setFont(title_font)
    painter.drawText(QPointF(x, y + fm.ascent()), lines[0])
    y += fm.height()
    painter.setFont(font)
    for line in lines[1:]:
        painter.drawText(QPointF(x, y + fs.ascent()), line)
        y += fs.height()
    return y
