"""Compare scopes on one prompt: pick any registered scopes, run them as one multi-scope job
(one forward graph, one batched backward pass), see their strips stacked on one colour scale
choice and their Spearman agreement as a small heatmap."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ...engine.results.multi_result import Agreement, MultiScopeResult, MultiTiming
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label
from ...render.core.colormaps import COLORMAPS
from ...render.core.multi_caption import row_caption
from ...render.figures.multi_strip import agreement_size, paint_agreement
from ...render.figures.strip import DARK, LIGHT, strip_font
from .stale import stale_label
from .strip_widget import StripWidget

DEFAULT_SCOPES = ("fisher", "temperature")


class AgreementWidget(QWidget):
    """The Spearman matrix of a multi-scope result, painted as the picture paints it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.multi: MultiScopeResult | None = None
        self.cmap = "viridis"
        self.setVisible(False)

    def set_multi(self, multi: MultiScopeResult | None) -> None:
        """Show the agreement of ``multi`` (None hides it)."""
        self.multi = multi
        self.setVisible(multi is not None)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        if self.multi is None:
            return QSize(0, 0)
        s = agreement_size(len(self.multi.results), strip_font(12))
        return QSize(int(s.width()) + 4, int(s.height()) + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return self.sizeHint()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self.multi is None:
            return
        style = DARK if self.palette().window().color().lightness() < 128 else LIGHT
        painter = QPainter(self)
        painter.fillRect(self.rect(), style.background)
        paint_agreement(painter, QPointF(2, 2), self.multi, COLORMAPS[self.cmap], style,
                        strip_font(12))
        painter.end()


class CompareView(QScrollArea):
    """A checkable list of scopes, a Run button, and the compared strips with their agreement;
    the view settings (colour map, scale, granularity, zoom) follow the main strip's.

    Signals:
        run_requested(): "Compare selected scopes" was clicked.
    """

    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # not a Tab stop: its controls are
        inner = QWidget()
        v = QVBoxLayout(inner)
        top = QHBoxLayout()
        self.scope_list = QListWidget()
        self.scope_list.setMaximumHeight(150)
        self.scope_list.setToolTip("The scopes to compare; they run together on one forward "
                                   "graph, in the order they were ticked")
        self.run_button = QPushButton("Compare selected scopes")
        self.run_button.clicked.connect(self.run_requested)
        top.addWidget(self.scope_list, 1)
        side = QVBoxLayout()
        side.addWidget(self.run_button)
        side.addStretch(1)
        top.addLayout(side)
        v.addLayout(top)
        self.summary = QLabel("Tick the scopes to compare and click “Compare selected scopes”.")
        self.summary.setWordWrap(True)
        v.addWidget(self.summary)
        self.stale = stale_label()
        v.addWidget(self.stale)
        self.rows_box = QVBoxLayout()
        v.addLayout(self.rows_box)
        self.agreement = AgreementWidget()
        v.addWidget(self.agreement, 0, Qt.AlignmentFlag.AlignLeft)
        v.addStretch(1)
        self.setWidget(inner)
        self.labels: list[QLabel] = []
        self.strips: list[StripWidget] = []
        self.results: list[AttributionResult] = []
        self.multi: MultiScopeResult | None = None
        self.rho = float("nan")
        self._view: dict = {}
        self._order: list[str] = []  # ticked scopes, in the order they were ticked
        self.scope_list.itemChanged.connect(self._ticked)

    # -- choosing scopes -------------------------------------------------------------------
    def set_scopes(self, scopes: list, checked: list[str] | None = None) -> None:
        """Offer ``scopes`` (registry ``Scope`` objects) as checkable items; tick ``checked``
        (default: Fisher and Temperature) in that order."""
        chosen = [n for n in (checked or DEFAULT_SCOPES) if any(s.name == n for s in scopes)]
        self.scope_list.blockSignals(True)
        self.scope_list.clear()
        for s in scopes:
            item = QListWidgetItem(s.label)
            item.setData(Qt.ItemDataRole.UserRole, s.name)
            item.setToolTip(s.explanation)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if s.name in chosen
                               else Qt.CheckState.Unchecked)
            self.scope_list.addItem(item)
        self.scope_list.blockSignals(False)
        self.scope_list.setMaximumHeight(min(150, 8 + self.scope_list.sizeHintForRow(0)
                                             * max(1, len(scopes))))
        self._order = chosen

    def set_checked(self, names: list[str]) -> None:
        """Tick exactly ``names`` (in that order)."""
        self.scope_list.blockSignals(True)
        for item in self._items():
            name = item.data(Qt.ItemDataRole.UserRole)
            item.setCheckState(Qt.CheckState.Checked if name in names else Qt.CheckState.Unchecked)
        self.scope_list.blockSignals(False)
        known = {i.data(Qt.ItemDataRole.UserRole) for i in self._items()}
        self._order = [n for n in names if n in known]

    def selected(self) -> list[str]:
        """The ticked scope names in the order they were ticked (Fisher and Temperature
        before the engine has listed the scopes)."""
        return list(self._order) if self.scope_list.count() else list(DEFAULT_SCOPES)

    def item(self, name: str) -> QListWidgetItem:
        """The list item of scope ``name``."""
        return next(i for i in self._items() if i.data(Qt.ItemDataRole.UserRole) == name)

    def _items(self) -> list[QListWidgetItem]:
        return [self.scope_list.item(k) for k in range(self.scope_list.count())]

    def _ticked(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked and name not in self._order:
            self._order.append(name)
        elif item.checkState() != Qt.CheckState.Checked and name in self._order:
            self._order.remove(name)

    # -- showing ---------------------------------------------------------------------------
    def set_multi(self, multi: MultiScopeResult) -> float:
        """Show a multi-scope result; returns Spearman's ρ of its first two scopes (NaN for
        one scope)."""
        self.multi = multi
        self._show(multi.results, multi)
        t = multi.timing
        n = sum(1 for s in multi.results[0].score_row() if s is not None)
        self.summary.setText(
            f"{len(multi.results)} scopes over {n} tokens, together in "
            f"{t.total_s * 1000:.0f} ms ({t.backward_passes} batched backward pass"
            f"{'es' if t.backward_passes != 1 else ''}, one forward graph). Each strip is "
            "coloured relative to its own largest score; the times are each scope's share.")
        return self.rho

    def set_results(self, *results: AttributionResult) -> float:
        """Show results of one prompt run separately (e.g. from a saved session); their
        agreement is computed here. Returns ρ of the first two."""
        self.multi = None
        self._show(list(results), None)
        self.summary.setText(f"{len(results)} scopes (run separately or restored from a session).")
        return self.rho

    def _show(self, results: list[AttributionResult], multi: MultiScopeResult | None) -> None:
        for w in self.labels + self.strips:
            self.rows_box.removeWidget(w)
            w.deleteLater()
        self.labels, self.strips, self.results = [], [], list(results)
        for r in results:
            label, strip = QLabel(f"<b>{row_caption(r)}</b>"), StripWidget(show_colorbar=False)
            strip.set_view(**self._view)
            strip.set_result(r)
            self.rows_box.addWidget(label)
            self.rows_box.addWidget(strip)
            self.labels.append(label)
            self.strips.append(strip)
        shown = multi or MultiScopeResult(results, Agreement.of(results), MultiTiming(
            results[0].timing.forward_s, sum(r.timing.scope_s for r in results),
            sum(r.timing.backward_passes for r in results))) if results else None
        self.agreement.set_multi(shown)
        rho = shown.agreement.spearman[0][1] if shown and len(results) > 1 else None
        self.rho = float("nan") if rho is None else rho

    def label_texts(self) -> list[str]:
        """The plain text above each strip, top to bottom."""
        return [label.text().removeprefix("<b>").removesuffix("</b>") for label in self.labels]

    def scope_labels(self) -> list[str]:
        """The labels of the scopes shown, top to bottom."""
        return [scope_label(r.scope) for r in self.results]

    def set_view(self, **view) -> None:
        """Apply colour map, scale, granularity and zoom to every strip and the heatmap."""
        self._view.update({k: v for k, v in view.items() if v is not None})
        for strip in self.strips:
            strip.set_view(**view)
        if view.get("cmap"):
            self.agreement.cmap = view["cmap"]
            self.agreement.update()
