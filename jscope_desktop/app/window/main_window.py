"""The main window: panels around the token strip, one background worker, and the result flow.

The window never runs engine code itself: every load and run is a job on :class:`Worker`, and
results come back as signals. A :class:`~jscope_desktop.engine.model.load.LoadedModel` can be passed
in (tests use a tiny random model); otherwise the embedded model loads in the background.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QMainWindow,
)

from ...engine.model.tokens import token_number
from ...engine.results.request import AttributionRequest
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label
from ..actions.file_actions import FileActions
from ..actions.open_actions import OpenActions
from ..background import jobs
from ..background.estimates import RunEstimates
from ..background.live import LiveAttribution
from ..background.worker import Job, Worker
from ..settings import AppSettings
from ..widgets import stale
from ..widgets.model_panel import dropped_model_path
from ..widgets.strip_widget import ranking_text
from .accessibility import name_controls, order_tab_chain
from .job_handling import JobHandling
from .layout import build_window


class MainWindow(QMainWindow, JobHandling, FileActions, OpenActions):
    """Jacobian Scopes Desktop's window.

    Signals:
        engine_ready(object): the engine was imported; carries :class:`jobs.EngineInfo`.
        model_ready(object): a model finished loading; carries its ``ModelInfo``.
        result_shown(object): a new single-position result is on screen.
        compare_shown(float): a comparison is on screen; carries Spearman's ρ of its first two.
        multi_shown(object): a multi-scope comparison is on screen; carries the
            ``MultiScopeResult``.
        matrix_shown(object): a generation's attribution matrix is on screen.
        run_failed(str): a job failed; carries the one-sentence message shown.
        run_cancelled(float): a run stopped after Cancel; carries the latency in seconds.
    """

    engine_ready = Signal(object)
    model_ready = Signal(object)
    result_shown = Signal(object)
    compare_shown = Signal(float)
    multi_shown = Signal(object)
    matrix_shown = Signal(object)
    run_failed = Signal(str)
    run_cancelled = Signal(float)

    def __init__(self, model=None, settings: AppSettings | None = None, autoload: bool = True,
                 source: str | None = None, device: str | None = None):
        super().__init__()
        self.setWindowTitle("Jacobian Scopes Desktop")
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings()
        self.holder = jobs.ModelHolder(model)
        self.engine: jobs.EngineInfo | None = None
        self.result: AttributionResult | None = None
        self.model_info = model.info if model is not None else None
        self._jobs: set[Job] = set()  # this window's jobs, not yet done
        self._run_job: Job | None = None  # the run, compare, measure or generation on screen next
        self._load_job: Job | None = None  # the latest model load
        self._run_progress = ""  # the current run's last progress message
        self._live_job: Job | None = None  # the run typing started (closing never asks for it)
        self.ask_before_closing = True  # during a run of the user's, closing asks first
        self.worker = Worker()  # before the widgets: the time-series tab shares it
        try:
            build_window(self)
            self._connect()
        except BaseException:
            self.worker.shutdown()  # a failed build leaves no thread behind
            raise
        self.reset_layout()
        if self.settings.geometry():
            self.restoreGeometry(self.settings.geometry())
        if self.settings.geometry("splitter"):
            self.splitter.restoreState(self.settings.geometry("splitter"))
        self.restore_settings()
        name_controls(self)  # what a screen reader says for each control
        order_tab_chain(self.tab_columns)  # left column top to bottom, then middle, then right
        self.estimates = RunEstimates(self)
        self.live = LiveAttribution(self)
        self._submit("engine", jobs.engine_info, self._engine_ready)
        if model is not None:
            self.model_panel.show_model(model.info)
        elif autoload:
            self.load_model(source, device or self.settings.get("device"),
                            self.settings.get("dtype"))

    def _connect(self) -> None:
        self.strip.token_clicked.connect(self._token_clicked)
        p = self.prompt_panel
        p.run_requested.connect(self.run)
        p.cancel_requested.connect(self.cancel)
        p.compare_requested.connect(self.compare)
        p.compare_button.setText("Compare scopes")
        p.compare_button.setToolTip("Run the scopes ticked in the Compare tab in one pass")
        self.compare_view.run_requested.connect(self.compare)
        p.generate_requested.connect(self.generate)
        p.prompt.textChanged.connect(lambda: p.set_position(None))
        self.model_panel.load_requested.connect(self.load_model)
        self.distribution.token_chosen.connect(self._target_chosen)
        self.cost_panel.measure_requested.connect(self.measure)
        self.cost_panel.exact_requested.connect(self.run_exact)
        self.view_controls.changed.connect(self._view_changed)
        self.strip.zoom_changed.connect(self.view_controls.set_zoom)
        self.matrix_view.row_chosen.connect(self._matrix_row)
        self.strip_scroll.verticalScrollBar().rangeChanged.connect(self._scroll_to_explained)
        self.prompt_panel.request_changed.connect(self.note_stale_views)
        self.multi_shown.connect(lambda _m: self.note_stale_views())
        self.matrix_shown.connect(lambda _m: self.note_stale_views())
        self.series_tab.web_page_requested.connect(self.save_web_page)

    # -- jobs ------------------------------------------------------------------------------
    def load_model(self, source: str | None, device: str = "auto", dtype: str = "float32"):
        """Load ``source`` (None: the embedded model) in the background; returns its job.

        A load still under way is cancelled (it stops between its steps): the newest one wins.
        """
        self.model_panel.show_status(f"Loading {source or 'the embedded model'}…")
        job = self._submit("load", jobs.load_job(self.holder, source, device, dtype),
                           lambda value: self._model_loaded(job, value), self._load_job,
                           failed=lambda message: self._load_failed(job, message),
                           cancelled=lambda latency: self._load_cancelled(job))
        self._load_job = job
        self._pending_source = source
        return self._load_job

    def run(self, request: AttributionRequest | None = None, live: bool = False) -> Job:
        """Explain the current prompt (or ``request``); a new run supersedes a running one. A
        ``live`` run (started by typing, predicted cheap and fitting) asks nothing first and is
        shown only while its prompt is still the one on screen."""
        req = request or self.prompt_panel.request()
        force = False if live else self.estimates.confirm(req)  # too big: ask first
        if force is None:
            return self._run_job
        self.estimates.last_run = req  # its result's refresh of the estimate must not rerun it
        done = self.show_result if not live else lambda r: (  # stale: dropped; never moves tabs
            r if req.prompt != self.prompt_panel.prompt.toPlainText()
            else self.show_result(r, to_front=False))
        job = self._submit("run", jobs.attribute_job(
            self.holder, req, self.prompt_panel.memory_limit_bytes(), force), done,
            self._run_job, run=True)
        self._live_job = job if live else None
        self.statusBar().showMessage(f"{'Live: r' if live else 'R'}unning {scope_label(req.scope)}…")
        return self._run_job

    def run_exact(self) -> Job:
        """Run Fisher exact on the current prompt (the cost panel's button)."""
        return self.run(self._untargeted().but(scope="fisher", fisher_method="exact"))

    def _untargeted(self) -> AttributionRequest:
        """The panel's request without target or foil (for scopes that explain the whole
        prediction)."""
        return self.prompt_panel.request().but(target=None, target_id=None, foil=None,
                                               foil_id=None)

    def compare(self, scopes: list[str] | None = None,
                base: AttributionRequest | None = None) -> Job:
        """Run ``scopes`` (default: those ticked in the Compare tab; Fisher and Temperature at
        first) on ``base`` (default: the prompt panel's request; an example passes its own) in
        one multi-scope job and show their strips and agreement."""
        names = scopes or self.compare_view.selected()
        if not names:
            self.show_message("Tick at least one scope in the Compare tab to compare.",
                              error=True)
            return self._run_job
        base = base or self.prompt_panel.request()
        objs = [s for s in (self.engine.scopes if self.engine else []) if s.name in names]
        if not any(s.needs_target for s in objs):  # a target only where a chosen scope uses it
            base = base.but(target=None, target_id=None)
        if not any(s.needs_foil for s in objs):
            base = base.but(foil=None, foil_id=None)
        self._submit("compare", jobs.multi_job(self.holder, base, names), self.show_multi,
                     self._run_job, run=True)
        self.statusBar().showMessage(f"Comparing {', '.join(map(scope_label, names))}…")
        return self._run_job

    def measure(self) -> Job:
        """Time Temperature and Fisher fast on the current prompt for the cost panel."""
        base = self._untargeted()
        return self._submit("measure", jobs.pair_job(
            self.holder, base.but(scope="temperature"),
            base.but(scope="fisher", fisher_method="fast")), self._show_costs, self._run_job,
            run=True)

    def _show_costs(self, results) -> None:
        for r in results:
            self.cost_panel.add_result(r, self._d_model())
        self.statusBar().showMessage("Costs measured.")

    def generate(self, n_tokens: int | None = None) -> Job:
        """Generate N tokens and show the attribution matrix (with the selected scope when it
        supports the matrix, else Temperature)."""
        p = self.prompt_panel
        n = n_tokens or p.generate_n.value()
        matrix = self.engine.matrix_scopes if self.engine else ["temperature"]
        scope = p.scope_name() if p.scope_name() in matrix else "temperature"
        if p.scope_name() and scope != p.scope_name():  # said, never silent
            self.statusBar().showMessage(
                f"The generation matrix uses the Temperature Scope: the {scope_label(p.scope_name())} "
                "Scope has no per-row direction.", 8000)
        fn = jobs.generate_job(self.holder, p.prompt.toPlainText(), n, scope, p.chat.isChecked())
        return self._submit("generate", fn, self.show_matrix, self._run_job, run=True)

    def cancel(self) -> None:
        """Stop this window's running scope computation (Esc); other tabs' jobs go on."""
        if self._run_job is not None:
            self._run_job.cancel()
            self.statusBar().showMessage("Cancelling…")

    def _restore_model_status(self) -> None:
        if self.model_info is not None:
            self.model_panel.show_model(self.model_info)
        else:
            self.model_panel.show_status("No model loaded.")

    def _engine_ready(self, info: jobs.EngineInfo) -> None:
        self.engine = info
        s = self.settings
        self.prompt_panel.set_scopes(info.scopes, s.get("scope"))
        self.prompt_panel.set_fisher_methods(info.fisher_methods, s.get("fisher_method"))
        self.series_tab.set_scopes(info.scopes)
        self.compare_view.set_scopes(info.scopes)
        self.model_panel.set_engine_info(info.devices, info.all_devices, info.dtypes,
                                         s.get("device"), s.get("dtype"))
        if info.plugin_problems:  # a broken plugin is said once and never stops the app
            self.statusBar().showMessage(" ".join(info.plugin_problems))
        else:
            self.statusBar().showMessage("Engine ready.", 3000)
        self.engine_ready.emit(info)

    def _model_loaded(self, job: Job, lm) -> None:
        if job is not self._load_job:
            return
        self.model_info = lm.info
        self.model_panel.show_model(lm.info)
        source = self._pending_source
        if source is not None:
            self.model_panel.set_recent(self.settings.add_recent_model(source))
            self.model_panel.select_source(source)
        self.cost_panel.clear()
        self.statusBar().showMessage(f"{lm.info.name} loaded on {lm.device}.", 5000)
        self.model_ready.emit(lm.info)

    def _d_model(self) -> int:
        return self.model_info.d_model if self.model_info else 0

    # -- showing -----------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        """Show one sentence above the views (red for errors); an empty text hides it."""
        color = "#b00020" if error else self.palette().text().color().name()
        self.message.setStyleSheet(f"color: {color}; font-weight: {600 if error else 400};")
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def show_result(self, result: AttributionResult, to_front: bool = True) -> None:
        """Put a single-position result on the strip, distribution and cost panels, and (unless
        ``to_front`` is False, as for a live run while another tab is open) show its tab."""
        self.result = result
        self.strip.set_result(result)
        self._scroll_pending = True  # once the strip is laid out (its range changes)
        QTimer.singleShot(0, self._scroll_to_explained)
        self.ranking.setText(ranking_text(self.strip.units))
        self.distribution.set_result(result)
        self.cost_panel.add_result(result, self._d_model())
        self.show_message("")
        if to_front:
            self.tabs.setCurrentIndex(0)
        status = f"{result.scope}: {len(result.tokens)} tokens in {result.timing.scope_s:.2f} s."
        if result.fisher is not None:  # the Fisher estimate's own error beside its strip
            from ...engine.compute.fisher_config import describe_fisher

            f = result.fisher
            status += " " + describe_fisher(f.method, f.rank, f.probes, f.rel_error_estimate) + "."
        self.statusBar().showMessage(status)
        self.result_shown.emit(result)

    def note_stale_views(self) -> None:
        """The Compare tab and the generation matrix say when they show an earlier prompt's
        results (after typing, a new run or opening a session)."""
        prompt = self.prompt_panel.prompt.toPlainText()
        compared = self.compare_view.results[0] if self.compare_view.results else None
        stale.mark(self.compare_view.stale, compared, prompt, "comparisons")
        stale.mark(self.matrix_view.stale, self.matrix_view.result, prompt, "matrix rows")

    def _scroll_to_explained(self, *_) -> None:
        """A long prompt: scroll the strip so the explained token is in view (once per result,
        when the strip's new height has reached the scroll area)."""
        if not getattr(self, "_scroll_pending", False) or self.strip.explained is None:
            return
        page, view = self.strip_scroll.widget(), self.strip_scroll.viewport()
        if page.minimumSizeHint().height() > view.height() and \
                self.strip_scroll.verticalScrollBar().maximum() == 0:
            return  # not laid out yet: the range change calls again
        self._scroll_pending = False
        centre = self.strip.unit_rect(self.strip.explained).center().toPoint()
        at = self.strip.mapTo(self.strip_scroll.widget(), centre)
        self.strip_scroll.ensureVisible(at.x(), at.y(), 40, 80)

    def show_multi(self, multi) -> None:
        """Show a multi-scope result in the Compare tab and its timing in the cost panel."""
        rho = self.compare_view.set_multi(multi)
        self.cost_panel.add_multi(multi, self._d_model())
        self.tabs.setCurrentWidget(self.compare_view)
        self.show_message("")
        self.statusBar().showMessage(f"{len(multi.results)} scopes compared in "
                                     f"{multi.timing.total_s:.2f} s.")
        self.compare_shown.emit(rho)
        self.multi_shown.emit(multi)

    def show_matrix(self, result: AttributionResult) -> None:
        """Show a generation's attribution matrix."""
        self.matrix_view.set_result(result)
        self.tabs.setCurrentWidget(self.matrix_view)
        self.show_message("")
        self.matrix_shown.emit(result)

    def _view_changed(self, view: dict) -> None:
        for v in (self.strip, self.compare_view, self.matrix_view, self.series_tab):
            v.set_view(**view)
        if self.result is not None:  # before the first run the first-start hint stays
            self.ranking.setText(ranking_text(self.strip.units))
        for key, value in view.items():
            self.settings.set(key, value)

    def _token_clicked(self, index: int) -> None:
        if self.result is None:
            return
        self.prompt_panel.set_position(index, self.result.tokens[index])
        if self.prompt_panel.prompt.toPlainText() and self.holder.lm is not None:
            self.run()

    def _target_chosen(self, token_id: int, text: str) -> None:
        self.prompt_panel.set_target(token_id, text)
        self.run()

    def _matrix_row(self, position: int) -> None:
        self.statusBar().showMessage(f"Showing the row explaining token {token_number(position + 1)}.", 3000)

    # -- window events -----------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if dropped_model_path(event):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.model_panel.dropEvent(event)

    def reset_layout(self) -> None:
        """Put the columns back to their first widths and the window to its first size: 1440 ×
        900 px, or 92 % of the screen's free area where that is smaller (a laptop)."""
        from .layout import DEFAULT_SIZES

        screen = self.screen().availableGeometry() if self.screen() else None
        width, height = 1440, 900
        if screen is not None and screen.width() > 0:
            width = min(width, round(screen.width() * 0.92))
            height = min(height, round(screen.height() * 0.92))
        self.resize(max(width, self.minimumSizeHint().width()), height)
        share = sum(DEFAULT_SIZES)
        self.splitter.setSizes([round(width * s / share) for s in DEFAULT_SIZES])

    def may_close(self) -> bool:
        """True to close now: at once unless a run the user started is under way, else when
        the user chooses to stop it (the default button keeps it running)."""
        job = self._run_job
        if job is None or job.done or job is self._live_job or not self.ask_before_closing:
            return True
        from PySide6.QtWidgets import QMessageBox

        doing = self._run_progress.split(" · ")[0] or "A run"
        box = QMessageBox(QMessageBox.Icon.Question, "A run is in progress",
                          f"{doing} is still running. Stop it and close the window? Its result "
                          "will be lost.", QMessageBox.StandardButton.NoButton, self)
        stop = box.addButton("Stop and close", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.exec()
        return box.clickedButton() is stop

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if not self.may_close():
            event.ignore()
            return
        self.save_settings()
        # within a second: a step that cannot stop (a conversion) finishes after the window is
        # gone, and the process waits for it at exit (worker.wait_for_all)
        self.worker.shutdown(timeout_ms=800)  # with saving the settings: gone within 1 s
        super().closeEvent(event)
