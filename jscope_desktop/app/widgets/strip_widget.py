"""The token-strip heatmap widget: the render layer's strip and colour bar, on screen.

It draws with the same ``render.figures.strip`` layout and painter as the exported image, so what is
saved is what is shown. Hover shows a token's score and rank; a click picks the explained
position; Ctrl + wheel zooms.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ...engine.model.tokens import token_number
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_unit
from ...render.core.colormaps import COLORMAPS, Normalizer, format_score
from ...render.core.figure_options import FigureOptions
from ...render.core.units import Unit, make_units, scale_scores, unit_of_token
from ...render.core.view_options import as_exclusion
from ...render.figures.colorbar import colorbar_height, paint_colorbar
from ...render.figures.export import Figure, explained_token, target_index
from ...render.figures.strip import DARK, LIGHT, StripLayout, layout_strip, paint_strip, strip_font

MARGIN = 10.0
BASE_FONT_PX = 15.0
ZOOM_RANGE = (0.5, 3.0)


class StripWidget(QWidget):
    """Shows one row of a result as a wrapped, coloured token strip with a colour bar.

    Signals:
        token_clicked(int): the index (into ``result.tokens``) of the last token of the clicked
            unit, i.e. the position whose prediction it would explain.
        zoom_changed(float): the zoom factor after Ctrl + wheel.
    """

    token_clicked = Signal(int)
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None, show_colorbar: bool = True):
        super().__init__(parent)
        self.result: AttributionResult | None = None
        self.position: int | None = None
        self.cmap, self.scale, self.granularity, self.zoom = "viridis", "linear", "token", 1.0
        self.exclude = ""  # the attention-sink control, as ScaleExclusion text
        self.show_colorbar = show_colorbar
        self.dark: bool | None = None  # None: follow the widget's palette
        self.units: list[Unit] = []
        self.norm = Normalizer(0.0, 1.0)
        self.layout_: StripLayout = StripLayout()
        self.explained: int | None = None
        self.target_unit: int | None = None
        self.hover: int | None = None
        self.placeholder = "Run a scope to see which tokens drove the prediction."
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(60)

    # -- state ---------------------------------------------------------------------------
    def set_result(self, result: AttributionResult | None, position: int | None = None) -> None:
        """Show ``result`` (the row of ``position`` for a multi-position result)."""
        self.result, self.position, self.hover = result, position, None
        self._relayout()

    def set_view(self, cmap: str | None = None, scale: str | None = None,
                 granularity: str | None = None, zoom: float | None = None,
                 exclude: str | None = None) -> None:
        """Change colour map, scale, granularity, zoom or what the colour scale excludes
        (``ScaleExclusion`` text; None keeps the current one)."""
        self.exclude = as_exclusion(exclude).to_text() if exclude is not None else self.exclude
        self.cmap = cmap or self.cmap
        self.scale = scale or self.scale
        self.granularity = granularity or self.granularity
        if zoom is not None:
            self.zoom = min(ZOOM_RANGE[1], max(ZOOM_RANGE[0], zoom))
        self._relayout()

    def figure_options(self) -> FigureOptions:
        """The export options matching what is on screen."""
        return FigureOptions(cmap=self.cmap, scale=self.scale, granularity=self.granularity,
                             dark=self._style().is_dark, position=self._row_position(),
                             exclude=self.exclude)

    def figure(self) -> Figure | None:
        """The annotated figure of what is shown (for export), or None without a result."""
        return Figure(self.result, self.figure_options()) if self.result else None

    def unit_rect(self, unit: int) -> QRectF:
        """Where unit ``unit`` is drawn, in widget coordinates."""
        box = next(b for b in self.layout_.boxes if b.unit == unit)
        return box.rect.translated(MARGIN, MARGIN)

    # -- layout and painting ---------------------------------------------------------------
    def _row_position(self) -> int | None:
        if self.result is None:
            return None
        return self.position if self.position is not None else self.result.position

    def _style(self):
        if self.dark is not None:
            return DARK if self.dark else LIGHT
        return DARK if self.palette().window().color().lightness() < 128 else LIGHT

    def _font(self):
        return strip_font(BASE_FONT_PX * self.zoom)

    def _relayout(self) -> None:
        if self.result is None:
            self.units, self.layout_ = [], StripLayout()
            self.setMinimumHeight(60)
            self.update()
            return
        pos = self._row_position()
        self.units = make_units(self.result, self.granularity, pos, self.exclude)
        self.norm = Normalizer.from_scores(scale_scores(self.units), self.scale)
        self.explained = unit_of_token(self.units, pos)
        nxt = target_index(self.result, pos)
        self.target_unit = None if nxt is None else unit_of_token(self.units, nxt)
        width = max(100.0, self.width() - 2 * MARGIN)
        self.layout_ = layout_strip(self.units, self._font(), width,
                                    explained_token(self.result, pos), self.explained)
        self.setMinimumHeight(int(self._content_height()) + 1)
        self.update()

    def _content_height(self) -> float:
        bar = colorbar_height(strip_font(12)) + 14 if self.show_colorbar else 0
        return 2 * MARGIN + self.layout_.height + bar

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(600, int(self._content_height()) if self.result else 120)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self.result is not None and event.oldSize().width() != event.size().width():
            self._relayout()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        style = self._style()
        painter.fillRect(self.rect(), style.background)
        if self.result is None:
            painter.setPen(style.dim_text)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        cmap = COLORMAPS[self.cmap]
        paint_strip(painter, self.layout_, self.units, self.norm, cmap, style, self._font(),
                    self.explained, QPointF(MARGIN, MARGIN), self.hover, self.target_unit)
        if self.show_colorbar:
            y = MARGIN + self.layout_.height + 14
            w = min(420.0, self.width() - 2 * MARGIN)
            font = strip_font(12)
            title = self.colorbar_title()
            paint_colorbar(painter, QRectF(MARGIN, y, w, colorbar_height(font)), cmap,
                           self.norm, style, font, title)
        painter.end()

    def colorbar_title(self) -> str:
        """The colour bar's title: the score's unit, the scale, the aggregation and what the
        scale excludes."""
        agg = "" if self.granularity == "token" else f", L2 per {self.granularity}"
        option = as_exclusion(self.exclude)
        ex = f"; excludes {option.describe()} (hatched)" if option.active else ""
        return f"score {scope_unit(self.result.scope)} ({self.scale} scale{agg}{ex})"

    # -- interaction -------------------------------------------------------------------
    def _box_at(self, pos: QPointF):
        return self.layout_.box_at(pos - QPointF(MARGIN, MARGIN))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        box = self._box_at(event.position())
        hover = box.unit if box is not None and box.unit >= 0 else None
        if hover != self.hover:
            self.hover = hover
            self.update()
        if hover is None:
            QToolTip.hideText()
            return
        QToolTip.showText(event.globalPosition().toPoint(), self.tooltip(hover), self)

    def tooltip(self, unit: int) -> str:
        """The tooltip text of unit ``unit``: text, token range, score and rank."""
        u = self.units[unit]
        ranked = sum(1 for v in self.units if v.rank is not None)
        first, last = token_number(u.start), token_number(u.end - 1)
        where = f"token {first}" if first == last else f"tokens {first}–{last}"
        rank = (f"rank {u.rank} of {ranked}" if u.rank else "excluded from the colour scale"
                if u.excluded else "not attributed")
        if u.dropped:
            rank += f" (without {u.dropped} excluded token{'s' if u.dropped > 1 else ''})"
        special = " (special)" if u.special else ""
        text = f"{u.text!r}{special}\n{where}\nscore {format_score(u.score)}, {rank}"
        return text + fisher_rank_line(self.result, u.start, u.end)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.hover = None
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        box = self._box_at(event.position())
        if box is not None and box.unit >= 0 and event.button() == Qt.MouseButton.LeftButton:
            self.token_clicked.emit(self.units[box.unit].end - 1)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            step = 1.1 if event.angleDelta().y() > 0 else 1 / 1.1
            self.set_view(zoom=self.zoom * step)
            self.zoom_changed.emit(self.zoom)
            event.accept()
        else:
            super().wheelEvent(event)


def ranking_text(units: list[Unit], n: int = 10) -> str:
    """Rich text listing the ``n`` highest-scored units with their raw scores ('' if none)."""
    ranked = sorted((u for u in units if u.rank is not None), key=lambda u: u.rank)[:n]
    if not ranked:
        return ""
    items = " · ".join(f"{u.rank}. <b>{html.escape(repr(u.text))}</b> {format_score(u.score)}"
                       for u in ranked)
    return f"Most attributed: {items}"


def fisher_rank_line(result, start: int, end: int) -> str:
    """For one token of a Fisher-fast result, the line on how sure its rank is: the ranks it
    takes in 90 % of the estimate's bootstrap redraws ("" elsewhere: exact methods, words)."""
    fisher = getattr(result, "fisher", None)
    intervals = getattr(fisher, "rank_intervals", None) if fisher is not None else None
    if not intervals or end - start != 1 or start >= len(intervals) or intervals[start] is None:
        return ""
    lo, hi = intervals[start]
    if lo == hi:
        return f"\nFisher fast: rank {lo} settled (90 % of bootstrap redraws agree)"
    return f"\nFisher fast: likely rank {lo}–{hi} (90 % of bootstrap redraws)"
