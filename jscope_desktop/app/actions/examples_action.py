"""Help ▸ Examples: the paper's case studies, one click each.

Each entry (from ``engine.examples.EXAMPLES``) puts its prompt and settings into the prompt panel
(or the time-series tab), runs it on the window's worker, and shows its note in a small
non-modal panel at the bottom of the window; when the run is done the panel adds the key
numbers (top tokens and scores; Spearman's ρ for a comparison, which runs its two scopes one
after the other and shows both in the Compare tab).
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFrame, QLabel, QMenu, QScrollArea

from ...engine.examples import EXAMPLES, Example, ExampleRun, get_example, summary_lines
from ...engine.results.multi_result import MultiScopeResult
from ...engine.results.result import MatrixResult
from ..background.worker import Job


class ExampleNote(QDockWidget):
    """The non-modal panel with the chosen example's title, figure, note and, after the run,
    its key numbers."""

    def __init__(self, parent=None):
        super().__init__("Example", parent)
        if parent is not None:
            parent.installEventFilter(self)  # a window made smaller keeps the panel's cap
        self.setObjectName("example_note")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setContentsMargins(8, 4, 8, 4)
        scroll = QScrollArea()  # a long note scrolls rather than push the window's views away
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.label)
        self.setWidget(scroll)
        self.example: Example | None = None

    def show_example(self, example: Example, status: str = "Running…") -> None:
        """Show ``example``'s note with ``status`` below it."""
        self.example = example
        self.setWindowTitle(f"Example: {example.title} [{example.figure}]")
        self.show()
        self._set(example, [status])
        QTimer.singleShot(0, self.fit)  # again once a new panel is laid out (its true width)

    def eventFilter(self, watched, event) -> bool:
        """After the window is resized, the panel fits again if it now takes more than its
        quarter of the window (a height the user chose below that is kept)."""
        if event.type() == QEvent.Type.Resize and watched is self.parentWidget() \
                and self.isVisible() and self.height() > watched.height() // 4:
            QTimer.singleShot(0, self.fit)
        return False

    def show_numbers(self, example: Example, lines: list[str]) -> None:
        """Add the key numbers of a finished run (ignored if another example was chosen since)."""
        if example is self.example:
            self._set(example, lines)

    def _set(self, example: Example, lines: list[str]) -> None:
        body = "<br>".join(html.escape(line).replace("  ", "&nbsp;&nbsp;") for line in lines)
        self.label.setText(f"<b>{html.escape(example.title)}</b> ({html.escape(example.figure)}): "
                           f"{html.escape(example.note)}<br><span style='font-family:monospace'>"
                           f"{body}</span>")
        self.fit()

    def fit(self) -> None:
        """Make the panel as tall as its text, at most a quarter of the window (the rest
        scrolls): on a laptop's 768 pixels the views above keep their room."""
        window = self.parentWidget()
        if window is None or self.isFloating() or not hasattr(window, "resizeDocks"):
            return
        # a panel not laid out yet is narrower than it will be: measure at the window's width
        width = self.width() if self.width() >= window.width() // 2 else window.width()
        text_h = self.label.heightForWidth(max(200, width - 24))
        title_h = self.style().pixelMetric(self.style().PixelMetric.PM_TitleBarHeight)
        wanted = text_h + title_h + 12
        window.resizeDocks([self], [min(wanted, max(80, window.height() // 4))],
                           Qt.Orientation.Vertical)


def add_examples_menu(window, menu: QMenu) -> QMenu:
    """Add the Examples submenu to ``menu`` (Help) of ``window`` (a MainWindow): one action per
    example, its id in the action's data."""
    sub = menu.addMenu("&Examples")
    for example in EXAMPLES:
        act = QAction(f"{example.title}  [{example.figure}]", window)
        act.setData(example.id)
        act.setStatusTip(example.note)
        act.triggered.connect(lambda *_, name=example.id: run_example(window, get_example(name)))
        sub.addAction(act)
    window.examples_menu = sub
    return sub


def note_panel(window) -> ExampleNote:
    """The window's example panel (created, docked at the bottom, on first use)."""
    panel = getattr(window, "example_note", None)
    if panel is None:
        panel = ExampleNote(window)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, panel)
        window.example_note = panel
    return panel


def run_example(window, example: Example) -> Job | None:
    """Load ``example`` into the window and run it; returns the job (None when the series tab
    refused its input, which it then says)."""
    panel = note_panel(window)
    panel.show_example(example)
    if example.series is not None:
        job = _run_series(window, example)
    else:
        _load_prompt(window, example)
        if example.kind == "compare":
            # one multi-scope job; the last request carries the settings the comparison needs
            job = window.compare(example.scopes(), base=example.requests[-1].but())
        else:
            job = window.run(example.requests[0].but())
    if job is not None:
        job.finished.connect(lambda value: _finished(window, example, value))
        job.failed.connect(lambda message: panel.show_numbers(example, [f"Failed: {message}"]))
        job.cancelled.connect(lambda _latency: panel.show_numbers(example, ["Cancelled."]))
    return job


def _load_prompt(window, example: Example) -> None:
    req = example.requests[0]
    window.prompt_panel.restore({
        "prompt": req.prompt, "chat": req.chat, "scope": req.scope, "target": req.target or "",
        "target_id": None, "foil": req.foil or "", "fisher_method": req.fisher_method,
        "position": req.position})


def _run_series(window, example: Example) -> Job | None:
    tab, s = window.series_tab, example.series
    tab.source.setCurrentIndex(max(0, tab.source.findData(s["system"])))
    tab.n_values.setValue(s.get("n_values") or tab.n_values.value())
    tab.seed.setValue(s.get("seed", 0))
    tab.digits.setCurrentIndex(max(0, tab.digits.findData(s.get("digits", 2))))
    tab.scope.setCurrentIndex(max(0, tab.scope.findData(s.get("scope", "temperature"))))
    window.tabs.setCurrentWidget(tab)
    return tab.run()


def _finished(window, example: Example, value) -> None:
    results = value.results if isinstance(value, MultiScopeResult) else [value]
    if example.kind == "single" and not isinstance(results[0], MatrixResult):
        r = results[0]  # show the explained position as an index (the example may count back)
        if window.prompt_panel.prompt.toPlainText() == example.prompt and \
                example.requests[0].position is not None:
            window.prompt_panel.set_position(r.position, r.tokens[r.position])
    note_panel(window).show_numbers(example, summary_lines(ExampleRun(example, results)))
