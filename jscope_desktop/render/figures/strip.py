"""The token strip: units as wrapped boxes coloured by score, laid out and painted with QPainter.

``layout_strip`` places the boxes for a width and font (the widget and the export call it
with the same arguments, so what is saved is what is on screen); ``paint_strip`` draws them on
any paint device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen

from ..core.colormaps import ColorMap, Normalizer
from ..core.units import Unit, visible_text
from .colours import qcolor

PAD_X, PAD_Y, GAP_X, GAP_Y = 4.0, 3.0, 3.0, 6.0  # inside a box, and between boxes (px)


@dataclass(frozen=True)
class StripStyle:
    """Colours of everything in the strip that is not a score colour."""

    background: QColor
    text: QColor
    dim_text: QColor
    outline: QColor
    marker: QColor  # the explained position and the target
    excluded: QColor  # fill of tokens left out of the colour scale (hatched over it)

    @property
    def is_dark(self) -> bool:
        """True for a dark background."""
        return self.background.lightness() < 128


LIGHT = StripStyle(QColor("#ffffff"), QColor("#1a1a1a"), QColor("#6e6e6e"), QColor("#c8c8c8"),
                   QColor("#d62728"), QColor("#d9d9d9"))
DARK = StripStyle(QColor("#1e1f22"), QColor("#e8e8e8"), QColor("#9a9a9a"), QColor("#4a4a4f"),
                  QColor("#ff6b5e"), QColor("#55555c"))


def paint_excluded(painter: QPainter, rect: QRectF, style: StripStyle, radius: float = 3.0) -> None:
    """Fill ``rect`` as a token left out of the colour scale: flat grey, diagonal hatching, a
    dashed outline (unmistakably not a score colour)."""
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(style.excluded)
    painter.drawRoundedRect(rect, radius, radius)
    hatch = QColor(style.text)
    hatch.setAlphaF(0.35)
    painter.setBrush(QBrush(hatch, Qt.BrushStyle.BDiagPattern))
    painter.drawRoundedRect(rect, radius, radius)
    painter.setPen(QPen(style.dim_text, 1.0, Qt.PenStyle.DashLine))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect, radius, radius)
    painter.restore()


def strip_font(pixel_size: float = 15.0) -> QFont:
    """The strip's font at ``pixel_size`` logical px (pixel sizes keep PNG, SVG and PDF alike)."""
    font = QFont("DejaVu Sans")
    font.setStyleHint(QFont.StyleHint.SansSerif)
    font.setPixelSize(max(6, round(pixel_size)))
    return font


@dataclass
class Box:
    """A placed box: ``unit`` index into the units (-1 for the target marker), rect and label."""

    unit: int
    rect: QRectF
    label: str


@dataclass
class StripLayout:
    """Boxes in reading order and the total size (px) they need."""

    boxes: list[Box] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0

    def box_at(self, point: QPointF) -> Box | None:
        """The box under ``point`` or None."""
        return next((b for b in self.boxes if b.rect.contains(point)), None)


def layout_strip(
    units: list[Unit], font: QFont, width: float, target: str | None = None,
    target_after: int | None = None,
) -> StripLayout:
    """Place ``units`` as wrapped boxes within ``width`` px.

    A unit containing a newline ends its line. ``target`` (the explained token's text), when
    given, is placed as an extra box (unit -1) right after unit ``target_after``.

    Returns:
        A :class:`StripLayout` whose rects are in px from the top-left corner (0, 0).
    """
    fm = QFontMetricsF(font)
    h = fm.height() + 2 * PAD_Y
    x = y = 0.0
    used_w = 0.0
    out = StripLayout()
    items = [(k, visible_text(u.text), "\n" in u.text) for k, u in enumerate(units)]
    if target is not None:
        at = len(items) if target_after is None else min(len(items), target_after + 1)
        items.insert(at, (-1, "→ " + visible_text(target), False))
    for k, label, breaks in items:
        w = fm.horizontalAdvance(label) + 2 * PAD_X
        if x > 0 and x + w > width:
            x, y = 0.0, y + h + GAP_Y
        out.boxes.append(Box(k, QRectF(x, y, w, h), label))
        used_w = max(used_w, x + w)
        x += w + GAP_X
        if breaks:
            x, y = 0.0, y + h + GAP_Y
    out.width = used_w
    out.height = (max((b.rect.bottom() for b in out.boxes), default=0.0))
    return out


def text_color_on(fill: QColor) -> QColor:
    """Black or white, whichever reads better on ``fill`` (by relative luminance)."""
    r, g, b = (c / 255 for c in (fill.red(), fill.green(), fill.blue()))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return QColor("#000000") if lum > 0.45 else QColor("#ffffff")


def paint_strip(
    painter: QPainter, layout: StripLayout, units: list[Unit], norm: Normalizer, cmap: ColorMap,
    style: StripStyle, font: QFont, explained: int | None = None, origin: QPointF | None = None,
    hover: int | None = None, target_unit: int | None = None,
) -> None:
    """Draw ``layout`` with ``painter``, offset by ``origin``.

    Attributed units are filled with their score colour; unattributed ones get an outline only;
    units excluded from the colour scale are grey and hatched (:func:`paint_excluded`); special
    tokens have dimmed text; unit ``explained`` gets a thick marker outline and the
    target box (or unit ``target_unit``, when the explained token is in the strip) a dashed
    marker outline. ``hover`` (a unit index) gets a thin highlight.
    """
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.setFont(font)
    if origin is not None:
        painter.translate(origin)
    for box in layout.boxes:
        _paint_box(painter, box, units, norm, cmap, style, explained, hover)
        if box.unit == target_unit and target_unit is not None:
            painter.setPen(QPen(style.marker, 1.5, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box.rect.adjusted(-1.5, -1.5, 1.5, 1.5), 4, 4)
    painter.restore()


def _paint_box(painter, box, units, norm, cmap, style, explained, hover) -> None:
    rect = box.rect
    if box.unit < 0:  # the target marker
        pen = QPen(style.marker, 1.5, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(0.75, 0.75, -0.75, -0.75), 3, 3)
        painter.setPen(style.marker)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, box.label)
        return
    unit = units[box.unit]
    t = None if unit.excluded else norm(unit.score)
    if unit.excluded:
        paint_excluded(painter, rect.adjusted(0.5, 0.5, -0.5, -0.5), style)
        text = style.text
    elif t is None:
        painter.setPen(QPen(style.outline, 1.0, Qt.PenStyle.DotLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        text = style.dim_text
    else:
        fill = qcolor(cmap, t)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        text = text_color_on(fill)
    if not unit.excluded:
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
    if unit.special and not unit.excluded:  # an excluded box is grey: keep its text readable
        text = QColor(text)
        text.setAlphaF(0.72)  # dimmed, still readable on every fill
    painter.setPen(text)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, box.label)
    if box.unit == explained or box.unit == hover:
        width = 2.5 if box.unit == explained else 1.0
        painter.setPen(QPen(style.marker if box.unit == explained else style.text, width))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(-1.5, -1.5, 1.5, 1.5), 4, 4)
