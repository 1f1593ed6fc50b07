"""How the main window holds its jobs (a mixin of :class:`~.main_window.MainWindow`): each job's
handle carries its own handlers (what to do when it finishes, fails or is cancelled), a run is
the job whose result the screen shows next, and the busy state follows the jobs held."""

from __future__ import annotations

from ..background.worker import Job


class JobHandling:
    """Submitting jobs and routing their ends, for a window with ``worker``, ``_jobs``,
    ``_run_job``, ``_load_job``, ``progress`` and the panels."""

    def _submit(self, kind: str, fn, done, replaces: Job | None = None, *, run: bool = False,
                failed=None, cancelled=None) -> Job:
        """Queue ``fn`` as one of this window's jobs and return its handle; the handle carries
        its own handlers: ``done(value)`` when it finishes, ``failed(message)`` (default: the
        message in the window) and ``cancelled(latency)``. ``kind`` is only a label.

        ``replaces`` (this window's previous job of that role) is cancelled first. A ``run``
        is what the screen shows next: it becomes :attr:`_run_job` before the busy state is
        shown (so Cancel is enabled at once), and its value is shown only while it is still the
        current run (a superseded run's result never reaches the screen).
        """
        if replaces is not None:
            replaces.cancel()
        job = self.worker.submit(fn, kind)
        self._jobs.add(job)
        if run:
            self._run_job = job
            self._run_progress = ""  # what the run last said it was doing
        job.progress.connect(lambda fraction, message: self._on_progress(job, fraction, message))
        job.finished.connect(lambda value: self._on_finished(job, value, done, run))
        job.failed.connect(lambda message: self._on_failed(job, message, failed))
        job.cancelled.connect(lambda latency: self._on_cancelled(
            job, latency, self._run_cancelled if run else cancelled))
        self._set_busy()
        return job

    def _set_busy(self) -> None:
        busy = bool(self._jobs)
        self.progress.setVisible(busy)
        self.prompt_panel.set_busy(self._run_job is not None)
        if not busy:
            self.progress.setValue(0)
            self.countdown.stop()

    def _on_progress(self, job: Job, fraction: float, message: str) -> None:
        if job.is_cancelled:
            return  # superseded, or stopping after Cancel
        self.progress.setValue(round(fraction * 1000))
        self.countdown.show(message)
        if job is self._run_job:
            self._run_progress = message
        if job is self._load_job:
            self.model_panel.show_status(f"{message}… {fraction:.0%}")

    def _finish(self, job: Job) -> bool:
        """Forget a job that ended; True when it was the current run."""
        self._jobs.discard(job)
        current = job is self._run_job
        if current:
            self._run_job = None
        self._set_busy()
        return current

    def _on_finished(self, job: Job, value, done, run: bool) -> None:
        current = self._finish(job)
        if current or not run:  # a superseded or cancelled run shows nothing
            done(value)

    def _on_failed(self, job: Job, message: str, failed) -> None:
        self._finish(job)
        if failed is not None:
            failed(message)
            return
        self.show_message(message, error=True)
        self.run_failed.emit(message)

    def _on_cancelled(self, job: Job, latency: float, cancelled) -> None:
        self._finish(job)
        if cancelled is not None:
            cancelled(latency)

    def _run_cancelled(self, latency: float) -> None:
        if self._run_job is None:
            self.statusBar().clearMessage()  # no "Cancelling…" once it has ended
            self.show_message(f"Cancelled; the run stopped {latency * 1000:.0f} ms after Cancel.")
        self.run_cancelled.emit(latency)

    def _load_failed(self, job: Job, message: str) -> None:
        if job is not self._load_job:
            return  # a superseded load: the newer one owns the model panel
        self._restore_model_status()
        self.show_message(message, error=True)
        self.run_failed.emit(message)

    def _load_cancelled(self, job: Job) -> None:
        if job is self._load_job:
            self._restore_model_status()  # cancelled at shutdown: the old model stays
