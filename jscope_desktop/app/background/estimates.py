"""The run's estimate beside Run, kept up to date off the GUI thread, and the question asked
before a run the cost model says will not fit."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from . import jobs

SLOW_ESTIMATE_MS = 600  # an estimate still running after this says so beside Run


class RunEstimates(QObject):
    """Refreshes the prompt panel's "≈ 12 s · 3.4 GB" (a job on the window's worker after each
    debounced change of the request, the memory limit or the model) and decides, before a
    run, whether it goes ahead (:meth:`confirm`). The memory limit is kept in the settings."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.job = None
        self.last = None  # (request, Estimate) of the latest estimate shown
        self.last_run = None  # the request of the latest run started (the window sets it)
        p = window.prompt_panel
        p.memory_limit.setText(window.settings.get("memory_limit"))
        p.request_changed.connect(self.refresh)
        p.memory_limit_changed.connect(lambda text: window.settings.set("memory_limit", text))
        window.model_ready.connect(lambda _info: self.refresh())
        # every run refines the time calibration: the estimate beside Run follows at once
        window.result_shown.connect(lambda _result: self.refresh(after_run=True))

    def refresh(self, after_run: bool = False) -> None:
        """Estimate the panel's current request in the background (a newer one supersedes).
        ``after_run``: the refresh that follows a shown result; it starts no live run of the
        request just run (one typed during that run still goes live)."""
        p = self.window.prompt_panel
        req, limit = p.request(), p.memory_limit_bytes()
        may_go_live = not (after_run and req == self.last_run)
        if self.job is not None:
            self.job.cancel()
        job = self.window.worker.submit(jobs.estimate_job(self.window.holder, req, limit), "estimate")
        self.job = job
        # the first estimate of a model times a few of its passes (seconds, once per model,
        # device and dtype; longer on a busy machine): say so rather than show nothing
        QTimer.singleShot(SLOW_ESTIMATE_MS, lambda: self._still_estimating(job))
        job.finished.connect(lambda est: self._show(job, req, est, may_go_live))
        job.failed.connect(lambda _message: self._show(job, req, None))

    def _still_estimating(self, job) -> None:
        if job is self.job and not job.done:
            self.window.prompt_panel.show_estimate(
                "≈ estimating…", True, "Estimating this run: the first estimate of a model times "
                "a few of its passes on this machine (once per model, device and dtype).")

    def _show(self, job, req, est, may_go_live: bool = True) -> None:
        if job is not self.job:
            return
        self.job = None
        if isinstance(est, str):  # the model's sizes are unknown: runs go ahead without one
            self.last = None
            self.window.prompt_panel.show_estimate("no estimate", True, est)
            return
        self.last = (req, est) if est is not None else None
        live = getattr(self.window, "live", None)
        if live is not None and may_go_live:
            live.consider(req, est)
        if est is None:
            self.window.prompt_panel.show_estimate("")
            return
        from ...engine.planning.cost_model import format_size

        room = "memory limit" if est.limited else "available memory"
        tip = (f"Predicted: {est.text()[2:]} for {est.n_tokens:,} tokens; "
               f"{format_size(est.available_bytes)} {room}.")
        self.window.prompt_panel.show_estimate(est.text(), est.fits, tip)

    def patient(self, seconds: float) -> bool:
        """True to start a run predicted to take ``seconds``: at once under the threshold the
        user set (View ▸ Ask before long runs…, default a minute), else after asking."""
        limit = self.window.settings.get("ask_above_s")
        if seconds <= limit:
            return True
        from ...engine.planning.cost_model import format_seconds

        box = QMessageBox(QMessageBox.Icon.Question, "A long run",
                          f"This run is predicted to take {format_seconds(seconds)} (you are "
                          f"asked above {format_seconds(limit)}; View ▸ Ask before long runs). "
                          "Start it?", QMessageBox.StandardButton.Cancel, self.window)
        start = box.addButton("Start", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(start)
        box.exec()
        return box.clickedButton() is start

    def ask_threshold(self) -> None:
        """View ▸ Ask before long runs…: the seconds above which a run asks first."""
        from PySide6.QtWidgets import QInputDialog

        value, ok = QInputDialog.getInt(
            self.window, "Ask before long runs", "Ask before starting a run predicted to take "
            "longer than (seconds):", self.window.settings.get("ask_above_s"), 1, 10**6, 10)
        if ok:
            self.window.settings.set("ask_above_s", value)

    def confirm(self, req) -> bool | None:
        """Before running ``req``: False to run it as usual, True to run it although the
        estimate says it will not fit (the user chose "Run anyway"), None to not run it."""
        if self.last is None or self.last[0] != req:
            return False
        if self.last[1].fits:
            return False if self.patient(self.last[1].seconds) else None
        from ...engine.planning.cost_model import refusal

        est = self.last[1]
        sentence = refusal(est, req, self.window.holder.lm.dtype_name if self.window.holder.lm
                           else "float32", "choose Run anyway")
        box = QMessageBox(QMessageBox.Icon.Warning, "This run may not fit", sentence,
                          QMessageBox.StandardButton.Cancel, self.window)
        anyway = box.addButton("Run anyway", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return True if box.clickedButton() is anyway else None
