"""Annotated images of a result (PNG at 2× scale, SVG, PDF), shared by the app and ``jscope``.

The figure is a caption (model, scope, target, position), the token strip, a colour bar with
its scale, and a footer (timings, top predictions). It is painted in logical px on any paint
device, so the three formats show the same picture.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter

from ...engine.results.result import AttributionResult, MatrixResult
from ...engine.scopes import scope_unit
from ..core.caption import caption_lines, scope_label
from ..core.colormaps import COLORMAPS, Normalizer
from ..core.figure_options import FigureOptions
from ..core.units import Unit, make_units, scale_scores, unit_of_token
from ..core.view_options import as_exclusion
from .colorbar import colorbar_height, key_height, key_rows, paint_colorbar, paint_key
from .header import paint_header
from .strip import DARK, LIGHT, layout_strip, paint_strip, strip_font

MARGIN = 18.0
STRIP_WIDTH = 900.0  # logical px, when the options name no width


def set_up_figure(fig, options: FigureOptions | None) -> None:
    """Give a figure (this module's or another picture's) its options, style, colour map and
    fonts: ``opt``, ``style``, ``cmap``, ``font``, ``small`` (0.8×) and a bold ``title_font``."""
    fig.opt = options or FigureOptions()
    if fig.opt.width is None:
        fig.opt = replace(fig.opt, width=STRIP_WIDTH)
    fig.style = DARK if fig.opt.dark else LIGHT
    fig.cmap = COLORMAPS[fig.opt.cmap]
    fig.font = strip_font(fig.opt.font_px)
    fig.small = strip_font(fig.opt.font_px * 0.8)
    fig.title_font = QFont(fig.font)
    fig.title_font.setBold(True)


class Figure:
    """A laid-out annotated figure of one result; ``paint`` draws it at ``size()`` logical px."""

    doc_title = "Jacobian Scopes attribution"  # the SVG/PDF document title

    def __init__(self, result: AttributionResult, options: FigureOptions | None = None):
        self.result = result
        set_up_figure(self, options)
        position = self.opt.position if self.opt.position is not None else result.position
        self.exclude = as_exclusion(self.opt.exclude)
        self.units = make_units(result, self.opt.granularity, position, self.exclude)
        self.norm = Normalizer.from_scores(scale_scores(self.units), self.opt.scale)
        self.explained = unit_of_token(self.units, position)
        nxt = target_index(result, position)
        self.target_unit = None if nxt is None else unit_of_token(self.units, nxt)
        target = explained_token(result, position)
        inner = self.opt.width - 2 * MARGIN
        self.layout = layout_strip(self.units, self.font, inner, target, self.explained)
        self.header, self.footer = caption_lines(result, position, self.opt.scale, self.exclude)
        self.key = key_items(self.units, self.target_unit is not None or target is not None)
        fm, fs = QFontMetricsF(self.title_font), QFontMetricsF(self.small)
        self.header_h = fm.height() + fs.height() * (len(self.header) - 1) + 8
        self.footer_h = fs.height() * len(self.footer)
        text_w = max([fm.horizontalAdvance(self.header[0])]
                     + [fs.horizontalAdvance(line) for line in self.header[1:] + self.footer])
        content = max(self.layout.width, text_w, min(inner, 420.0))
        self.width = min(self.opt.width, content + 2 * MARGIN)  # shrink to fit short prompts
        self.key_h = key_height(self.small) * len(key_rows(self.key, self.small, self.width
                                                           - 2 * MARGIN))
        self.height = (MARGIN + self.header_h + self.layout.height + 14
                       + colorbar_height(self.small) + 8 + self.key_h + 8 + self.footer_h + MARGIN)

    def size(self) -> QSizeF:
        """The figure's size in logical px."""
        return QSizeF(self.width, self.height)

    def paint(self, painter: QPainter) -> None:
        """Draw the whole figure with its top-left corner at (0, 0)."""
        w, inner = self.width, self.width - 2 * MARGIN
        painter.fillRect(QRectF(0, 0, w, self.height), self.style.background)
        fs = QFontMetricsF(self.small)
        y = paint_header(painter, self.header, self.title_font, self.small, self.style.text,
                         MARGIN, MARGIN) + 8
        paint_strip(painter, self.layout, self.units, self.norm, self.cmap, self.style, self.font,
                    self.explained, QPointF(MARGIN, y), target_unit=self.target_unit)
        y += self.layout.height + 14
        bar_w = min(inner, 420.0)
        paint_colorbar(painter, QRectF(MARGIN, y, bar_w, colorbar_height(self.small)), self.cmap,
                       self.norm, self.style, self.small, self.header_scale_title())
        y = paint_key(painter, MARGIN, y + colorbar_height(self.small) + 8, inner, self.key,
                      self.style, self.small) + 8
        painter.setFont(self.small)
        painter.setPen(self.style.dim_text)
        for line in self.footer:
            painter.drawText(QRectF(MARGIN, y, inner, fs.height()), Qt.AlignmentFlag.AlignLeft,
                             line)
            y += fs.height()

    def header_scale_title(self) -> str:
        """Title of the colour bar: what the colours measure and on which scale."""
        unit = scope_unit(self.result.scope)
        agg = "" if self.opt.granularity == "token" else f", L2 per {self.opt.granularity}"
        return f"{scope_label(self.result.scope)} score {unit} ({self.opt.scale} scale{agg})"


def key_items(units: list[Unit], has_target: bool) -> list[str]:
    """The legend entries a strip of ``units`` needs (keys of ``colorbar.KEY_LABELS``)."""
    items = ["explained"] + (["target"] if has_target else [])
    if any(u.score is None and not u.excluded for u in units):
        items.append("unattributed")
    if any(u.excluded for u in units):
        items.append("excluded")
    return items


def explained_token(result: AttributionResult, position: int) -> str | None:
    """Text for the extra "→ target" box, or None when the explained token is in the strip.

    The token explained at ``position`` is the next fed token when there is one and no other
    target was asked for (a generation row, or an earlier position); then :func:`target_index`
    marks it in place instead. Otherwise it is the target, else the top-1 prediction.
    """
    if target_index(result, position) is not None:
        return None
    if result.target is not None:
        return result.target
    return result.topk[0].token if result.topk else None


def target_index(result: AttributionResult, position: int) -> int | None:
    """Index of the fed token being explained at ``position`` (None if it is not in the strip)."""
    nxt = position + 1
    if nxt >= len(result.token_ids):
        return None
    if isinstance(result, MatrixResult) or result.target_id in (None, result.token_ids[nxt]):
        return nxt
    return None


