"""The one background worker: jobs run one at a time on its own QThread.

A job is a callable ``fn(progress, cancel) -> object``: ``progress(fraction, message)`` reports
how far it got and ``cancel()`` returns True once the job should stop (the engine checks it
between backward batches and raises ``Cancelled``). Widgets are never touched from the worker;
everything comes back through signals, which Qt delivers on the GUI thread.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..engine.errors import Cancelled, JScopeError, is_out_of_memory

JobFn = Callable[[Callable[[float, str], None], Callable[[], bool]], object]


class Worker(QObject):
    """Runs jobs in submission order on a private QThread.

    Signals:
        started(int job, str kind): a job began running.
        progress(int job, float fraction, str message): a job's progress, fraction in [0, 1].
        finished(int job, str kind, object value): a job returned ``value``.
        failed(int job, str kind, str message): a job raised; ``message`` is one sentence.
        cancelled(int job, str kind, float latency_s): a job stopped because it was cancelled;
            latency is the time from the cancel request to the stop (0 if it never started).
    """

    started = Signal(int, str)
    progress = Signal(int, float, str)
    finished = Signal(int, str, object)
    failed = Signal(int, str, str)
    cancelled = Signal(int, str, float)
    _submit = Signal(int, str, object)

    def __init__(self):
        super().__init__()
        self._thread = QThread()
        self._thread.setObjectName("jscope-worker")
        self.moveToThread(self._thread)
        self._submit.connect(self._run)
        self._lock = threading.Lock()
        self._last_id = 0
        self._running: int | None = None
        self._cancellable: set[int] = set()  # submitted, cancellable, not yet done
        self._cancelled: set[int] = set()
        self._cancel_time = 0.0
        self._thread.start()

    def submit(self, kind: str, fn: JobFn, cancellable: bool = True,
               supersede: bool = False) -> int:
        """Queue ``fn``; returns its job id.

        ``cancellable`` jobs stop on :meth:`cancel` (model loads are not); ``supersede``
        cancels every earlier cancellable job first, so a new run replaces the old one.
        """
        if supersede:
            self.cancel()
        with self._lock:
            self._last_id += 1
            job = self._last_id
            if cancellable:
                self._cancellable.add(job)
        self._submit.emit(job, kind, fn)
        return job

    def cancel(self) -> None:
        """Ask every cancellable job submitted so far to stop at its next check."""
        with self._lock:
            self._cancel_time = time.perf_counter()
            self._cancelled |= self._cancellable

    @property
    def busy(self) -> bool:
        """True while a job is running."""
        return self._running is not None

    def is_cancelled(self, job: int) -> bool:
        """True once job ``job`` has been asked to stop."""
        return job in self._cancelled

    def shutdown(self, timeout_ms: int = 60000) -> bool:
        """Cancel what can be cancelled, stop the thread and wait for it; True if it stopped."""
        self.cancel()
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    @Slot(int, str, object)
    def _run(self, job: int, kind: str, fn: JobFn) -> None:
        if self.is_cancelled(job):
            self._done(job)
            self.cancelled.emit(job, kind, 0.0)
            return
        self._running = job
        self.started.emit(job, kind)
        try:
            value = fn(lambda f, m: self.progress.emit(job, float(f), str(m)),
                       lambda: self.is_cancelled(job))
        except Cancelled:
            latency = time.perf_counter() - self._cancel_time
            self._done(job)
            self.cancelled.emit(job, kind, latency)
        except JScopeError as exc:
            self._done(job)
            self.failed.emit(job, kind, str(exc))
        except Exception as exc:
            self._done(job)
            if is_out_of_memory(exc):
                self.failed.emit(job, kind, "Out of memory; try a shorter prompt, the fast Fisher "
                                 "method, bfloat16, or the CPU.")
                return
            # a bug: keep the app alive, say what happened, log the trace
            traceback.print_exc(file=sys.stderr)
            self.failed.emit(job, kind, f"Unexpected error ({type(exc).__name__}): {exc}")
        else:
            self._done(job)
            self.finished.emit(job, kind, value)

    def _done(self, job: int) -> None:
        with self._lock:
            self._running = None
            self._cancellable.discard(job)
            self._cancelled.discard(job)
