"""The explained prediction: top-k next tokens as bars, with entropy and β = ‖h‖.

Clicking a bar makes that token the Semantic target.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from ...engine.model.tokens import token_number
from ...engine.results.result import AttributionResult, MatrixResult
from ...render.core.units import visible_text
from .plotting import pg

NO_PREDICTION = ("No prediction yet. After a run, the model's most likely next tokens are "
                 "listed here; click one to explain it.")


class _Chart(pg.PlotWidget):
    """The bar chart. It asks for no more height than its minimum: the right column then fits a
    short window with the cost table in view, and the chart takes whatever height is left."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(super().sizeHint().width(), self.minimumHeight())


class DistributionPanel(QGroupBox):
    """Bar chart of the top-k next-token probabilities.

    Signals:
        token_chosen(int id, str text): a bar was clicked.
    """

    token_chosen = Signal(int, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Next-token distribution", parent)
        v = QVBoxLayout(self)
        self.plot = _Chart()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "probability")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)  # never "probability (x0.001)"
        self.plot.invertY(True)  # top-1 at the top
        self.plot.setMinimumHeight(180)
        self.bars: pg.BarGraphItem | None = None
        self.topk: list = []
        self.stats = QLabel(NO_PREDICTION)
        self.stats.setWordWrap(True)
        v.addWidget(self.plot, 1)
        v.addWidget(self.stats)
        v.addStretch(0)
        self.plot.setVisible(False)  # no empty axes before the first prediction
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def set_result(self, result: AttributionResult | None) -> None:
        """Show the top-k of ``result`` (clears the chart for None)."""
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        self.topk = list(result.topk) if result else []
        self.plot.setVisible(bool(self.topk))
        if not self.topk:
            self.stats.setText(NO_PREDICTION)
            return
        ys = list(range(len(self.topk)))
        probs = [t.prob for t in self.topk]
        target = None if isinstance(result, MatrixResult) else result.target_id
        brushes = [pg.mkBrush("#d62728" if t.id == target else "#1f77b4") for t in self.topk]
        self.bars = pg.BarGraphItem(x0=0, y=ys, height=0.7, width=probs, brushes=brushes)
        self.plot.addItem(self.bars)
        axis = self.plot.getAxis("left")
        axis.setTicks([[(i, f"{visible_text(t.token)[:14]}  {t.prob:.1%}")
                        for i, t in enumerate(self.topk)]])
        self.plot.setYRange(-0.6, len(ys) - 0.4, padding=0)
        self.plot.setXRange(0, max(probs) * 1.05, padding=0)
        parts = [f"top-1 {self.topk[0].token!r} {self.topk[0].prob:.1%}"]
        if result.entropy is not None:
            parts.append(f"entropy {result.entropy:.2f} nats")
        if result.beta is not None:
            parts.append(f"β = ‖h‖ = {result.beta:.1f}")
        where = result.position
        self.stats.setText(f"After token {token_number(where)}: " + " · ".join(parts)
                           + "<br><i>Click a bar to explain that token (Semantic).</i>")

    def bar_index_at(self, scene_pos) -> int | None:
        """Index of the bar under a scene position, or None."""
        if not self.topk:
            return None
        p = self.plot.getViewBox().mapSceneToView(scene_pos)
        i = round(p.y())
        if 0 <= i < len(self.topk) and abs(p.y() - i) <= 0.35 and p.x() >= 0:
            return i
        return None

    def choose(self, index: int) -> None:
        """Emit ``token_chosen`` for bar ``index``."""
        t = self.topk[index]
        self.token_chosen.emit(t.id, t.token)

    def _clicked(self, event) -> None:
        i = self.bar_index_at(event.scenePos())
        if i is not None:
            self.choose(i)
