"""Fisher and Temperature on the same prompt, one strip above the other, with their Spearman."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from ...engine.fisher_config import describe_fisher
from ...engine.result import AttributionResult
from ...engine.scopes import scope_label
from ..analysis import spearman
from .strip_widget import StripWidget


def _describe(r: AttributionResult) -> str:
    label = f"<b>{scope_label(r.scope)}</b>"
    if r.fisher is not None:
        f = r.fisher
        label = f"<b>{describe_fisher(f.method, f.rank, f.probes, f.rel_error_estimate)}</b>"
    return f"{label} · {r.timing.scope_s * 1000:.0f} ms"


class CompareView(QScrollArea):
    """Two strips with their rank agreement; the view settings follow the main strip's."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        inner = QWidget()
        v = QVBoxLayout(inner)
        self.summary = QLabel("Click “Compare Fisher and Temperature” to run both on the prompt.")
        self.summary.setWordWrap(True)
        self.top_label, self.bottom_label = QLabel(), QLabel()
        self.top, self.bottom = StripWidget(), StripWidget()
        for w in (self.summary, self.top_label, self.top, self.bottom_label, self.bottom):
            v.addWidget(w)
        v.addStretch(1)
        self.setWidget(inner)
        self.results: tuple[AttributionResult, AttributionResult] | None = None
        self.rho = float("nan")

    def set_results(self, first: AttributionResult, second: AttributionResult) -> float:
        """Show two results of the same prompt; returns their Spearman rank correlation."""
        self.results = (first, second)
        self.rho = spearman(first.score_row(), second.score_row())
        self.top_label.setText(_describe(first))
        self.bottom_label.setText(_describe(second))
        self.top.set_result(first)
        self.bottom.set_result(second)
        n = sum(1 for s in first.score_row() if s is not None)
        self.summary.setText(
            f"Rank agreement over {n} tokens: Spearman ρ = {self.rho:.3f}. "
            f"{scope_label(first.scope)} measures how each token moves the whole distribution; "
            f"{scope_label(second.scope)} only its confidence β = ‖h‖.")
        return self.rho

    def set_view(self, **view) -> None:
        """Apply colour map, scale, granularity and zoom to both strips."""
        self.top.set_view(**view)
        self.bottom.set_view(**view)
