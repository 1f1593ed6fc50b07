"""The generation matrix as a picture: one row per generated token (explained by every token
before it), one column per token, cells coloured by score on one scale for the whole matrix; a
caption, row and column labels, a colour bar. Painted in logical px on any paint device, so PNG,
SVG and PDF show the same picture (``jscope generate --png``)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from ...engine.results.result import AttributionResult, MatrixResult
from ...engine.scopes import scope_label, scope_unit
from ..core.caption import caption_lines
from ..core.colormaps import COLORMAPS, Normalizer
from ..core.units import visible_text
from ..core.view_options import as_exclusion, masked, scale_mask
from .colorbar import colorbar_height, key_height, paint_colorbar, paint_key
from .colours import qcolor
from .header import paint_header
from .strip import DARK, LIGHT, paint_excluded, strip_font

MARGIN = 18.0
MAX_LABEL = 12  # characters of a token shown as a row or column label


class MatrixFigure:
    """A laid-out picture of a multi-position result; ``paint`` draws it at ``size()`` px."""

    doc_title = "Jacobian Scopes generation matrix"

    def __init__(self, result: AttributionResult, cmap: str = "viridis", scale: str = "linear",
                 dark: bool = False, cell: float = 22.0, font_px: float = 13.0,
                 exclude: str = ""):
        if not isinstance(result, MatrixResult):
            raise ValueError("A generation-matrix picture needs a multi-position result.")
        self.result, self.scale = result, scale
        self.cmap, self.style = COLORMAPS[cmap], DARK if dark else LIGHT
        self.font, self.small = strip_font(font_px), strip_font(font_px * 0.85)
        self.title_font = QFont(self.font)
        self.title_font.setBold(True)
        self.exclude = as_exclusion(exclude)
        self.mask = scale_mask(result, self.exclude)  # columns left out of the colour scale
        self.norm = Normalizer.from_scores(masked(result.scores, self.mask), scale)
        self.n_rows, self.n_cols = len(result.positions), len(result.tokens) - 1
        self.cell = cell
        fs = QFontMetricsF(self.small)
        self.row_labels = [visible_text(result.tokens[p + 1])[:MAX_LABEL] for p in result.positions]
        self.col_labels = [visible_text(t)[:MAX_LABEL] for t in result.tokens[:-1]]
        self.label_w = max(fs.horizontalAdvance(s) for s in self.row_labels) + 8
        self.col_label_h = max(fs.horizontalAdvance(s) for s in self.col_labels) + 8
        header, footer = caption_lines(result, result.position, scale, self.exclude)
        generated = "".join(result.tokens[len(result.tokens) - self.n_rows:])
        self.header = [f"{scope_label(result.scope)} Scope · generation matrix · "
                       f"{result.model.get('name', 'model')}",
                       f"{self.n_rows} generated tokens ({visible_text(generated)[:80]!r}); row n "
                       "explains generated token n by every token before it.", header[1]]
        self.footer = footer[:1] + footer[-1:]
        fm = QFontMetricsF(self.title_font)
        self.header_h = fm.height() + fs.height() * (len(self.header) - 1) + 10
        grid_w = self.label_w + self.n_cols * cell
        text_w = max([fm.horizontalAdvance(self.header[0])]
                     + [fs.horizontalAdvance(s) for s in self.header[1:] + self.footer])
        self.width = 2 * MARGIN + max(grid_w, text_w, 360.0)
        self.grid_top = MARGIN + self.header_h + self.col_label_h
        self.key = ["excluded"] if any(self.mask[: self.n_cols]) else []  # blank: not attributed
        self.height = (self.grid_top + self.n_rows * cell + 14 + colorbar_height(self.small) + 8
                       + (key_height(self.small) + 8 if self.key else 0)
                       + fs.height() * len(self.footer) + MARGIN)

    def size(self) -> QSizeF:
        """The figure's size in logical px."""
        return QSizeF(self.width, self.height)

    def cell_rect(self, row: int, col: int) -> QRectF:
        """Where cell (row, col) is painted."""
        x0 = MARGIN + self.label_w
        return QRectF(x0 + col * self.cell, self.grid_top + row * self.cell, self.cell, self.cell)

    def cell_fill(self, row: int, col: int) -> QColor | None:
        """The colour cell (row, col) is filled with: the score's colour, the flat grey of an
        excluded column (drawn hatched), or None where the row does not attribute the token."""
        if not (0 <= row < self.n_rows and 0 <= col < self.n_cols):
            return None
        t = self.norm(self.result.scores[row][col])
        if t is None:
            return None
        return QColor(self.style.excluded) if self.mask[col] else qcolor(self.cmap, t)

    def row_at(self, point: QPointF) -> int | None:
        """The row whose cells or label lie at ``point`` (logical px), or None."""
        top, bottom = self.grid_top, self.grid_top + self.n_rows * self.cell
        if not top <= point.y() < bottom or point.x() > self.cell_rect(0, self.n_cols - 1).right():
            return None
        return int((point.y() - top) // self.cell)

    def paint(self, painter: QPainter) -> None:
        """Draw the whole figure with its top-left corner at (0, 0)."""
        st, fs = self.style, QFontMetricsF(self.small)
        painter.fillRect(QRectF(0, 0, self.width, self.height), st.background)
        paint_header(painter, self.header, self.title_font, self.small, st.text, MARGIN, MARGIN)
        self._paint_labels(painter, fs)
        painter.setPen(Qt.PenStyle.NoPen)
        for r in range(self.n_rows):
            for c in range(self.n_cols):
                fill = self.cell_fill(r, c)
                if fill is None:
                    continue
                if self.mask[c]:
                    paint_excluded(painter, self.cell_rect(r, c), st, 0.0)
                else:
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(fill)
                    painter.drawRect(self.cell_rect(r, c))
        painter.setPen(QPen(st.outline, 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(self.cell_rect(0, 0).topLeft(),
                                self.cell_rect(self.n_rows - 1, self.n_cols - 1).bottomRight()))
        y = self.grid_top + self.n_rows * self.cell + 14
        unit = scope_unit(self.result.scope)
        paint_colorbar(painter, QRectF(MARGIN, y, min(self.width - 2 * MARGIN, 420.0),
                                       colorbar_height(self.small)), self.cmap, self.norm, st,
                       self.small, f"{scope_label(self.result.scope)} score {unit} "
                       f"({self.scale} scale, one scale for all rows)")
        y = paint_key(painter, MARGIN, y + colorbar_height(self.small) + 8,
                      self.width - 2 * MARGIN, self.key, st, self.small) + (8 if self.key else 0)
        painter.setFont(self.small)
        painter.setPen(st.dim_text)
        for line in self.footer:
            painter.drawText(QPointF(MARGIN, y + fs.ascent()), line)
            y += fs.height()

    def _paint_labels(self, painter: QPainter, fs: QFontMetricsF) -> None:
        painter.setFont(self.small)
        painter.setPen(self.style.text)
        for r, label in enumerate(self.row_labels):
            rect = self.cell_rect(r, 0)
            painter.drawText(QRectF(MARGIN, rect.top(), self.label_w - 6, rect.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        prompt_n = len(self.result.tokens) - self.n_rows
        for c, label in enumerate(self.col_labels):
            rect = self.cell_rect(0, c)
            painter.save()
            painter.translate(rect.center().x() + fs.ascent() / 2 - 2, self.grid_top - 4)
            painter.rotate(-90)
            painter.setPen(self.style.text if c < prompt_n else self.style.dim_text)
            painter.drawText(QPointF(0, 0), label)
            painter.restore()
