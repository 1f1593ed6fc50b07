"""The Time-series tab (paper Sec. 3.4): pick a generator or give values, explain the prediction of
the next value on the background worker, and see the series, each value's score and the model's
next-value distribution against the truth. A cutoff slider re-runs on release."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...engine.errors import JScopeError
from ...engine.results.result import AttributionResult
from ...engine.scopes import SCOPES
from ...engine.series.generators import SYSTEMS
from ...engine.series.values import parse_values, read_values
from ...render.core.figure_options import FigureOptions
from ...render.core.series_data import series_view, summary_sentences
from ...render.figures.formats import file_filter
from ..actions import save_actions
from ..background.jobs import ModelHolder
from ..background.worker import Job, Worker
from ..widgets.scrolling import scrolled
from .plots import SeriesPlots

VALUES = "values"  # the source entry for the user's own values


def series_job(holder: ModelHolder, request: dict):
    """A job explaining a series; ``request`` holds SeriesRequest fields."""

    def run(progress, cancel):
        from ...engine.series.explain import SeriesRequest, explain_series

        return explain_series(holder.require(), SeriesRequest(**request), progress, cancel)

    return run


class SeriesTab(QWidget):
    """Controls, plots, a cutoff slider and exports for time series.

    ``worker`` is the app's :class:`Worker` (shared with the main window: each side cancels only
    its own jobs); ``holder`` holds the loaded model.

    Signals:
        result_shown(object): a series result is on screen.
        run_failed(str): a run or an input failed; carries the one sentence shown.
        run_cancelled(float): a run stopped after Cancel; carries the latency in seconds.
        web_page_requested(): "Web page…" was pressed (the window saves the shown
            result with its ``save_web_page``).
    """

    result_shown = Signal(object)
    run_failed = Signal(str)
    run_cancelled = Signal(float)
    web_page_requested = Signal()

    def __init__(self, worker: Worker, holder: ModelHolder, parent: QWidget | None = None):
        super().__init__(parent)
        self._worker = worker
        self.holder = holder
        self.result: AttributionResult | None = None
        self._job: Job | None = None  # this tab's job under way
        self._build()
        self._source_changed()

    # -- building --------------------------------------------------------------------------
    def _build(self) -> None:
        self.source = QComboBox()
        for name, system in SYSTEMS.items():
            self.source.addItem(system.label, name)
        self.source.addItem("My values (paste or load a file)", VALUES)
        self.n_values = _spin(3, 2000, 60)
        self.seed = _spin(0, 1_000_000, 0)
        self.digits = QComboBox()
        self.digits.addItem("2 (10–99)", 2)
        self.digits.addItem("3 (100–999)", 3)
        self.scope = QComboBox()
        # the built-in scopes now (no plugin import on the GUI thread); all once the engine is up
        self.set_scopes(list(SCOPES.values()))
        self.values = QPlainTextEdit()
        self.values.setPlaceholderText("Paste numbers: commas, spaces or one a line")
        self.load_file = QPushButton("Load values…")
        self.run_button = QPushButton("Explain next value")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.summary = QLabel("Choose a series and press “Explain next value”.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plots = SeriesPlots()
        self.cutoff = QSlider(Qt.Orientation.Horizontal)
        self.cutoff.setAccessibleName("Explain after this many values")
        self.cutoff.setRange(1, 60)
        self.cutoff_label = QLabel("cutoff: all values")
        self.export_image_button = QPushButton("Image…")
        self.export_csv_button = QPushButton("CSV…")
        self.export_json_button = QPushButton("JSON…")
        self.copy_button = QPushButton("Copy image")
        self.web_page_button = QPushButton("Web page…")
        self.web_page_button.setToolTip("One self-contained HTML file: hover a token for its "
                                        "score; the result JSON is inside")
        self._layout()
        self._connect()
        self._set_running(False)

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Series", self.source)
        form.addRow("Values", self.n_values)
        form.addRow("Seed", self.seed)
        form.addRow("Digits", self.digits)
        form.addRow("Scope", self.scope)
        controls = QVBoxLayout()
        controls.addLayout(form)
        controls.addWidget(self.values, 1)
        controls.addWidget(self.load_file)
        controls.addWidget(self.run_button)
        controls.addWidget(self.cancel_button)
        controls.addWidget(self.progress)
        controls.addWidget(self.message)
        side = QWidget()
        side.setLayout(controls)
        side.setMaximumWidth(300)
        # the controls scroll up and down on a short screen, never sideways: long item texts
        # (the series' names) do not widen them; the list shows them whole
        for combo in (self.source, self.digits, self.scope):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
            combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
        side_scroll = scrolled(side)
        cut = QHBoxLayout()
        cut.addWidget(QLabel("Explain after"))
        cut.addWidget(self.cutoff, 1)
        cut.addWidget(self.cutoff_label)
        exports = QGridLayout()  # two rows: the buttons never widen the window
        exports.addWidget(QLabel("Export:"), 0, 0)
        for i, b in enumerate(self._export_buttons()):
            exports.addWidget(b, i // 3, 1 + i % 3)
        exports.setColumnStretch(4, 1)
        right = QVBoxLayout()
        right.addWidget(self.summary)
        right.addWidget(self.plots, 1)
        right.addLayout(cut)
        right.addLayout(exports)
        top = QHBoxLayout(self)
        side_scroll.setMaximumWidth(320)
        top.addWidget(side_scroll)
        top.addLayout(right, 1)

    def _connect(self) -> None:
        self.source.currentIndexChanged.connect(self._source_changed)
        self.load_file.clicked.connect(self._choose_file)
        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button.clicked.connect(self.cancel)
        self.cutoff.sliderReleased.connect(self._cutoff_released)
        self.cutoff.valueChanged.connect(self._cutoff_moved)
        self.export_image_button.clicked.connect(lambda: self._export("Image", file_filter()))
        self.export_csv_button.clicked.connect(lambda: self._export("CSV", save_actions.CSV_FILTER))
        self.export_json_button.clicked.connect(lambda: self._export("JSON", save_actions.JSON_FILTER))
        self.copy_button.clicked.connect(self.copy_image)
        self.web_page_button.clicked.connect(self.web_page_requested.emit)

    def _export_buttons(self) -> tuple[QPushButton, ...]:
        return (self.export_image_button, self.export_csv_button, self.export_json_button,
                self.copy_button, self.web_page_button)

    def _source_changed(self) -> None:
        own = self.source.currentData() == VALUES
        self.values.setEnabled(own)
        self.seed.setEnabled(not own)
        self.n_values.setEnabled(not own)

    # -- running ---------------------------------------------------------------------------
    @property
    def worker(self) -> Worker:
        """The app's worker, which runs this tab's jobs."""
        return self._worker

    def set_scopes(self, scopes: list) -> None:
        """Offer the registry's scopes that support series (``engine.scopes.Scope`` objects),
        keeping the current choice when it is still offered."""
        current = self.scope.currentData() or "temperature"
        self.scope.blockSignals(True)
        self.scope.clear()
        for s in scopes:
            if s.supports("series"):
                self.scope.addItem(s.label, s.name)
                self.scope.setItemData(self.scope.count() - 1, s.explanation, 3)  # tooltip
        self.scope.setCurrentIndex(max(0, self.scope.findData(current)))
        self.scope.blockSignals(False)

    def request(self, cutoff: int | None = None) -> dict:
        """The SeriesRequest fields the controls describe (pasted values parsed here)."""
        req = {"digits": self.digits.currentData(), "scope": self.scope.currentData(),
               "cutoff": cutoff}
        if self.source.currentData() == VALUES:
            req["values"] = parse_values(self.values.toPlainText(), "The pasted text")
            if not req["values"]:
                raise JScopeError("Paste some numbers or load a file first.")
        else:
            req.update(system=self.source.currentData(), n_values=self.n_values.value(),
                       seed=self.seed.value())
        return req

    def run(self, cutoff: int | None = None) -> Job | None:
        """Explain the series after ``cutoff`` values (None: all); returns the job, or None
        when the input is wrong (the sentence is shown). This tab's previous job is cancelled;
        the main window's jobs are not touched."""
        try:
            req = self.request(cutoff)
        except JScopeError as exc:
            self._fail(str(exc))
            return None
        self.message.setText("")
        if self._job is not None:
            self._job.cancel()  # superseded: its signals are ignored from here on
        self._job = job = self.worker.submit(series_job(self.holder, req), "series")
        job.progress.connect(lambda fraction, message: self._on_progress(job, fraction, message))
        job.finished.connect(lambda value: self._on_finished(job, value))
        job.failed.connect(lambda message: self._on_failed(job, message))
        job.cancelled.connect(lambda latency: self._on_cancelled(job, latency))
        self._set_running(True)
        return self._job

    def cancel(self) -> None:
        """Stop this tab's running series job at its next check (no other job is touched)."""
        if self._job is not None:
            self._job.cancel()

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        self.progress.setValue(0)
        has = self.result is not None
        for b in self._export_buttons():
            b.setEnabled(has)
        self.cutoff.setEnabled(has and not running)

    def _on_progress(self, job: Job, fraction: float, message: str) -> None:
        if job is self._job:
            self.progress.setValue(round(fraction * 1000))
            self.progress.setFormat(f"{message} – %p%")

    def _on_finished(self, job: Job, value) -> None:
        if job is self._job:
            self._job = None
            self.show_result(value)

    def _on_failed(self, job: Job, message: str) -> None:
        if job is self._job:
            self._job = None
            self._set_running(False)
            self._fail(message)

    def _on_cancelled(self, job: Job, latency: float) -> None:
        if job is self._job:
            self._job = None
            self._set_running(False)
            self.message.setText(f"Cancelled; the run stopped {latency * 1000:.0f} ms after Cancel.")
            self.run_cancelled.emit(latency)

    def _fail(self, message: str) -> None:
        self.message.setText(f"<span style='color:#b00020'>{message}</span>")
        self.run_failed.emit(message)

    # -- showing ---------------------------------------------------------------------------
    def set_view(self, cmap: str | None = None, exclude: str | None = None, **_) -> None:
        """Follow the window's view controls: the colour map and the attention-sink control
        (``ScaleExclusion`` text; a value holding an excluded token leaves the colour scale)."""
        self.plots.set_view(cmap, exclude)

    def show_result(self, result: AttributionResult) -> None:
        """Draw a series result, set the slider to its cutoff and summarise it in numbers."""
        self.result = result
        self.plots.set_result(result, self.plots.cmap)
        view = series_view(result)
        self.cutoff.blockSignals(True)
        self.cutoff.setRange(1, view.n)
        self.cutoff.setValue(view.cutoff)
        self.cutoff.blockSignals(False)
        self._cutoff_moved(view.cutoff)
        self.summary.setText(summary_html(result))
        self._set_running(False)
        self.result_shown.emit(result)

    def _cutoff_moved(self, value: int) -> None:
        self.cutoff_label.setText(f"{value} of {self.cutoff.maximum()} values")
        if not self.cutoff.isSliderDown() and self.sender() is self.cutoff:
            self._cutoff_released()  # keyboard and clicks on the groove: no release follows

    def _cutoff_released(self) -> None:
        if self.result is not None and self._job is None:
            self.run(self.cutoff.value())

    # -- files -----------------------------------------------------------------------------
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load values", "",
                                              "Values (*.csv *.txt *.tsv);;All files (*)")
        if path:
            self.load_values(path)

    def load_values(self, path: str | Path) -> None:
        """Put the values of a file (one a line, or a CSV's last column) in the text box."""
        try:
            values = read_values(path)
        except JScopeError as exc:
            self._fail(str(exc))
            return
        self.source.setCurrentIndex(self.source.findData(VALUES))
        self.values.setPlainText("\n".join(repr(v) for v in values))
        self.message.setText(f"Loaded {len(values)} values from {Path(path).name}.")

    def _export(self, what: str, filters: str) -> None:
        if self.result is None:
            return
        path, chosen = QFileDialog.getSaveFileName(self, f"Export {what}",
                                                   f"series{_filter_suffix(filters)}", filters)
        if path:
            self.export(path if Path(path).suffix else path + _filter_suffix(chosen or filters))

    def export(self, path: str | Path) -> Path | None:
        """Write the shown result by suffix: the picture (.png 2×, .svg, .pdf, as on screen plus
        its header and footer), .csv or .json.

        Returns:
            The path written, or None when it could not be written (the sentence is shown).
        """
        path = Path(path)
        try:
            save_actions.write_series(self.result, path, **self.plots.export_options())
        except JScopeError as exc:
            self._fail(str(exc))
            return None
        self.message.setText(f"Saved {path.name}.")
        return path

    def copy_image(self) -> None:
        """Put the series picture (2×, header and footer included) on the clipboard."""
        if self.result is not None:
            save_actions.copy_image(self.result, FigureOptions(**self.plots.export_options()))


def summary_html(result: AttributionResult) -> str:
    """The tab's summary line: ``render.core.series_data.summary_sentences`` as rich text, the title
    and the predicted and true values in bold."""
    return " ".join(summary_sentences(result, strong=lambda text: f"<b>{html.escape(text)}</b>"))


def _filter_suffix(filters: str) -> str:
    """The suffix of a dialog filter's first pattern: ".png" for "PNG image (*.png);;…"."""
    return filters.split("(*", 1)[1].split(")", 1)[0].split()[0] if "(*" in filters else ""


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    return box
