"""Live attribution: the picture follows the prompt as the user types, while the run is cheap.

After each debounced change of the request the window's estimate is computed anyway
(:class:`~.estimates.RunEstimates`); when it predicts a run under :data:`LIVE_LIMIT_S` seconds
that fits in memory, the run starts by itself. A keystroke cancels a live run that has become
stale at once (the worker is free for the next one), and a result is shown only if its prompt is
still the prompt on screen. Typing never waits for the worker: every step is a queued job.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

LIVE_LIMIT_S = 0.5  # a run predicted longer than this waits for Run (Ctrl+Enter)


class LiveAttribution(QObject):
    """View ▸ Live attribution for ``window`` (a MainWindow): on by default, remembered."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.enabled = bool(window.settings.get("live"))
        self.job = None  # the live run under way
        self.ratio: dict[str, float] = {}  # scope -> measured / predicted seconds, last run
        self.last: dict[str, tuple[int, float]] = {}  # scope -> (tokens, seconds), last run
        window.prompt_panel.prompt.textChanged.connect(self._typed)
        window.result_shown.connect(self._ran)

    def set_enabled(self, on: bool) -> None:
        """Turn live attribution on or off (and remember it); on, the current prompt runs at
        once if it is cheap."""
        self.enabled = on
        self.window.settings.set("live", on)
        if on:
            self.window.estimates.refresh()

    def _ran(self, result) -> None:
        self.last[result.scope] = (len(result.tokens), result.timing.scope_s)
        last = self.window.estimates.last  # (request, estimate) of the prompt on screen
        if last is not None and last[0].scope == result.scope and \
                last[1].n_tokens == len(result.tokens) and last[1].seconds > 0:
            self.ratio[result.scope] = result.timing.scope_s / last[1].seconds

    def predicted_seconds(self, req, est) -> float:
        """The time a live run of ``req`` is expected to take, the shortest of: the estimate;
        the estimate corrected by how far off it was on this scope's last run; that run's
        measured time, grown in proportion where this prompt is longer. (Before calibration the
        estimate was seen to be 14–65× too long on this machine; while a person types, the last
        run was on nearly this prompt.)"""
        seconds = est.seconds * min(1.0, self.ratio.get(req.scope, 1.0))
        if req.scope in self.last and est.n_tokens:
            n, s = self.last[req.scope]
            seconds = min(seconds, s * max(1.0, est.n_tokens / max(n, 1)))
        return seconds

    def _typed(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()  # its prompt is no longer the one on screen

    def consider(self, req, est) -> None:
        """Called with each fresh estimate ``est`` (a ``cost_model.Estimate``) of ``req``: run it
        live when it is the panel's current request and cheap enough; say why not otherwise."""
        w = self.window
        if not self.enabled or est is None or isinstance(est, str) or w.holder.lm is None:
            return
        if req != w.prompt_panel.request() or not (req.prompt or "").strip():
            return  # the prompt moved on: a newer estimate follows
        if w._run_job is not None and w._run_job is not self.job:
            return  # the user's own run is under way: it wins
        seconds = self.predicted_seconds(req, est)
        if seconds > LIVE_LIMIT_S or not est.fits:
            w.statusBar().showMessage(
                f"Live attribution waits: this run is predicted to take {seconds:.1f} s "
                f"(live runs are those under {LIVE_LIMIT_S} s); press Run.", 8000)
            return
        self.job = w.run(req, live=True)
