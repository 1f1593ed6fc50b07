"""Cost readouts for the current prompt: forward, Temperature, Fisher fast and Fisher exact
(measured, or estimated from the measured per-direction cost), with their ratios."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...engine.results.result import AttributionResult, MatrixResult
from ..background.analysis import CostRow, cost_rows, joint_note, same_input


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "–"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s" if s < 10 else f"{s:.0f} s"


class CostPanel(QGroupBox):
    """A small table of timings of the current prompt.

    Signals:
        measure_requested(): run Temperature and Fisher fast on the current prompt.
        exact_requested(): run Fisher exact on the current prompt.
    """

    measure_requested = Signal()
    exact_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Cost on this prompt", parent)
        self.results: list[AttributionResult] = []
        self.shared: dict[int, int] = {}  # id of a result from a joint run -> scopes in it
        self.joint = ""  # the line about the latest joint run
        self.d_model = 0
        v = QVBoxLayout(self)
        self.table = QTableWidget(4, 3)
        self.table.setAccessibleName("Cost on this prompt")
        self.table.setHorizontalHeaderLabels(["time", "× fwd", "× Temp."])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (arrows move in it)
        # every figure whole: columns as wide as their widest cell, the table as wide as them
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.setWordWrap(False)
        # as wide as its figures (_fit_width): never a sideways scroll bar of its own
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setMaximumHeight(130)
        self.note = QLabel("Run a scope to measure.")
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        self.measure = QPushButton("Measure")
        self.measure.setToolTip("Run Temperature and Fisher fast on this prompt")
        self.exact = QPushButton("Run Fisher exact")
        row.addWidget(self.measure)
        row.addWidget(self.exact)
        v.addWidget(self.table)
        v.addWidget(self.note)
        v.addLayout(row)
        self.measure.clicked.connect(self.measure_requested)
        self.exact.clicked.connect(self.exact_requested)
        self._show(cost_rows([], 0))

    def add_result(self, result: AttributionResult, d_model: int) -> None:
        """Record ``result``'s timing; a result of another input starts a fresh record."""
        if isinstance(result, MatrixResult):  # a generation matrix has no single timing row
            return
        self._record(result)
        self.d_model = d_model
        self._show(self.rows())

    def add_multi(self, multi, d_model: int) -> None:
        """Record a joint run (``engine.multi_result.MultiScopeResult``): its forward time, each
        scope's share (shown as estimates) and, below the table, the time of all together."""
        for r in multi.results:
            self._record(r)
            self.shared[id(r)] = len(multi.results)
        self.joint = joint_note(multi)
        self.d_model = d_model
        self._show(self.rows())

    def _record(self, result: AttributionResult) -> None:
        if self.results and not same_input(self.results[-1], result):
            self.results, self.shared, self.joint = [], {}, ""
        self.results.append(result)

    def clear(self) -> None:
        """Forget all timings (e.g. after another model was loaded)."""
        self.results, self.shared, self.joint = [], {}, ""
        self._show(cost_rows([], 0))

    def rows(self) -> list[CostRow]:
        """The rows shown."""
        return cost_rows(self.results, self.d_model, self.shared)

    def _fit_width(self) -> None:
        """Columns as wide as their widest cell and the table as wide as them, so no figure
        hides behind a scroll bar; the right-hand column of the window scrolls as a whole when
        it is narrower (it never widens the window)."""
        self.table.resizeColumnsToContents()
        t = self.table
        t.setMinimumWidth(t.verticalHeader().sizeHint().width() + 2 * t.frameWidth() + 4
                          + t.horizontalHeader().length())

    def _show(self, rows: list[CostRow]) -> None:
        fwd, temp = rows[0].seconds, rows[1].seconds
        self.table.setVerticalHeaderLabels([r.label for r in rows])
        for i, r in enumerate(rows):
            t = _fmt_s(r.seconds)
            cells = [("≈ " if r.seconds is not None and not r.measured else "") + t,
                     f"{r.seconds / fwd:.1f}×" if r.seconds and fwd else "–",
                     f"{r.seconds / temp:.1f}×" if r.seconds and temp else "–"]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if r.note:
                    item.setToolTip(r.note)
                self.table.setItem(i, j, item)
        self._fit_width()
        by_note: dict[str, list[str]] = {}  # rows with the same note are named together
        for r in rows:
            if r.note:
                by_note.setdefault(r.note, []).append(r.label)
        notes = [f"{', '.join(labels)}: {note}." for note, labels in by_note.items()]
        if self.joint:
            notes.append(self.joint)
        self.note.setText(" ".join(notes) if notes else "All four measured on this prompt.")
