"""The one background worker: jobs run one at a time on its own QThread, each behind a handle.

A job is a callable ``fn(progress, cancel) -> object``: ``progress(fraction, message)`` reports
how far it got and ``cancel()`` returns True once the job should stop (the engine checks it
between steps and backward batches and raises ``Cancelled``). :meth:`Worker.submit` returns a
:class:`Job`, the job's own handle: its signals say what happened to that job only, and its
:meth:`Job.cancel` stops that job only, so one part of the window never stops another's work.

Widgets are never touched from the worker thread. The thread posts every event to the
:class:`Worker`, which lives on the GUI thread, through a queued connection; the worker then
emits the handle's signal there, so every slot (a lambda too) runs on the GUI thread.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable

from PySide6.QtCore import QMetaMethod, QObject, Qt, QThread, Signal, Slot

from ...engine.errors import Cancelled, JScopeError, is_out_of_memory, out_of_memory_sentence

JobFn = Callable[[Callable[[float, str], None], Callable[[], bool]], object]

OUT_OF_MEMORY = out_of_memory_sentence()  # the engine's one sentence, in the app's words

_QUEUED, _RUNNING, _ENDED = "queued", "running", "ended"  # a job's state on the worker side
_TERMINAL = ("finished", "failed", "cancelled")


class Job(QObject):
    """The handle of one submitted job; made by :meth:`Worker.submit` on the GUI thread.

    Its signals are emitted on the GUI thread, in this order: ``started`` (unless it was
    cancelled before it began), any number of ``progress``, then exactly one of ``finished``,
    ``failed`` or ``cancelled``. After that last signal the handle emits nothing more and drops
    its connections.

    Signals:
        started(): the job began running on the worker thread.
        progress(float fraction, str message): how far it got, ``fraction`` in [0, 1].
        finished(object value): the job returned ``value``.
        failed(str message): the job raised; ``message`` is one sentence.
        cancelled(float latency_s): the job stopped because it was cancelled; the latency is the
            time from :meth:`cancel` to the stop (0 if it was cancelled before it began).
    """

    started = Signal()
    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal(float)

    def __init__(self, kind: str, post: Callable[[Job, str, tuple], None]):
        super().__init__()
        self._kind = kind
        self._post = post  # hands an event to the GUI thread (queued)
        self._lock = threading.Lock()
        self._state = _QUEUED
        self._cancel_requested = False
        self._cancel_time = 0.0
        self._done = False

    def __repr__(self) -> str:
        return f"<Job {self._kind!r} {'done' if self._done else self._state}>"

    @property
    def kind(self) -> str:
        """The label given at submission (``"run"``, ``"load"``, ...); for the caller's use."""
        return self._kind

    @property
    def done(self) -> bool:
        """True once the job's last signal (finished, failed or cancelled) has been emitted."""
        return self._done

    @property
    def is_cancelled(self) -> bool:
        """True once :meth:`cancel` was called, whether or not the job had ended by then."""
        return self._cancel_requested

    def cancel(self) -> None:
        """Ask this job, and no other, to stop.

        A queued job is dropped: it emits ``cancelled(0.0)`` without running. A running job
        stops at its next cancel check and then emits ``cancelled``. A job that has already
        ended is left as it is. Safe to call any number of times.
        """
        with self._lock:
            if self._cancel_requested or self._state == _ENDED:
                self._cancel_requested = True
                return
            self._cancel_requested = True
            self._cancel_time = time.perf_counter()
            dropped = self._state == _QUEUED
            if dropped:
                self._state = _ENDED
        if dropped:
            self._post(self, "cancelled", (0.0,))

    # -- used by the worker thread ----------------------------------------------------------
    def _begin(self) -> bool:
        """Queued → running; False when it was cancelled (and so already ended) first."""
        with self._lock:
            if self._state != _QUEUED:
                return False
            self._state = _RUNNING
            return True

    def _end(self) -> float:
        """Running → ended; returns the seconds since the cancel request (0 if none)."""
        with self._lock:
            self._state = _ENDED
            return time.perf_counter() - self._cancel_time if self._cancel_requested else 0.0

    # -- used by the worker on the GUI thread -----------------------------------------------
    def _deliver(self, name: str, args: tuple) -> None:
        terminal = name in _TERMINAL
        if self._done:
            return
        if terminal:
            self._done = True
        getattr(self, name).emit(*args)
        if terminal:  # break the handle ↔ slot reference cycles (slots often capture the job)
            for signal in (self.started, self.progress, self.finished, self.failed,
                           self.cancelled):
                if self.isSignalConnected(QMetaMethod.fromSignal(signal)):
                    signal.disconnect()


class _Runner(QObject):
    """Lives on the worker thread and runs the jobs it is handed, in order."""

    event = Signal(object, str, object)  # (job, signal name, arguments): to the GUI thread

    def __init__(self):
        super().__init__()
        self.running: Job | None = None

    @Slot(object, object)
    def run(self, job: Job, fn: JobFn) -> None:
        if not job._begin():
            return  # cancelled while queued: its handle has already been told
        self.running = job
        post = self.event.emit
        post(job, "started", ())
        try:
            value = fn(lambda f, m: post(job, "progress", (float(f), str(m))),
                       lambda: job.is_cancelled)
        except Cancelled:
            post(job, "cancelled", (job._end(),))
        except JScopeError as exc:
            job._end()
            post(job, "failed", (str(exc),))
        except Exception as exc:
            job._end()
            if is_out_of_memory(exc):
                post(job, "failed", (OUT_OF_MEMORY,))
            else:  # a bug: keep the app alive, say what happened, log the trace
                traceback.print_exc(file=sys.stderr)
                post(job, "failed", (f"Unexpected error ({type(exc).__name__}): {exc}",))
        else:
            if job.is_cancelled:  # cancelled after its last check: its value is not wanted
                post(job, "cancelled", (job._end(),))
            else:
                job._end()
                post(job, "finished", (value,))
        finally:
            self.running = None


_STILL_RUNNING: list = []  # workers whose thread outlived shutdown()


def still_running() -> bool:
    """True while a worker that was shut down still has a step running (one that cannot be
    interrupted, such as a model's first conversion)."""
    return any(w._thread.isRunning() for w in _STILL_RUNNING)


def wait_for_all() -> None:
    """Wait for the threads of workers that were shut down while a step could not stop (called
    once the event loop has ended, so the window is already gone)."""
    while _STILL_RUNNING:
        _STILL_RUNNING.pop()._thread.wait()


class Worker(QObject):
    """Runs jobs in submission order on a private QThread; make it on the GUI thread.

    :meth:`submit` returns a :class:`Job` handle per job; connect to the handle's signals and
    cancel through the handle. There is no global cancel: "a new run replaces the old one" is
    the caller's choice, made by cancelling its own previous handle.
    """

    _queue = Signal(object, object)  # (job, fn): to the runner on the worker thread

    def __init__(self):
        super().__init__()
        self._active: set[Job] = set()  # submitted, not yet done (keeps the handles alive)
        self._closed = False
        self._thread = QThread()
        self._thread.setObjectName("jscope-worker")
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self._queue.connect(self._runner.run, Qt.ConnectionType.QueuedConnection)
        # queued even when posted from the GUI thread (a job cancelled while queued), so no
        # handle's slot ever runs inside the caller's cancel()
        self._runner.event.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._thread.start()

    def submit(self, fn: JobFn, kind: str = "job") -> Job:
        """Queue ``fn`` behind the jobs already submitted; returns its handle.

        Args:
            fn: the job, ``fn(progress, cancel) -> value``; it runs on the worker thread.
            kind: a label the caller can read back as :attr:`Job.kind`.

        Returns:
            The job's :class:`Job` handle, made on the calling (GUI) thread. After
            :meth:`shutdown` the job never runs and its handle emits ``cancelled(0.0)``.
        """
        job = Job(kind, self._post)
        if job.thread() is not self.thread():
            job.moveToThread(self.thread())  # its signals are emitted on the worker's thread
        self._active.add(job)
        if self._closed:
            job.cancel()
        else:
            self._queue.emit(job, fn)
        return job

    @property
    def jobs(self) -> list[Job]:
        """The handles submitted and not yet done, in no particular order."""
        return list(self._active)

    @property
    def busy(self) -> bool:
        """True while a job is running on the worker thread."""
        return self._runner.running is not None

    def shutdown(self, timeout_ms: int = 60000) -> bool:
        """Cancel every job not yet done, stop the thread and wait for it; True if it stopped.

        A running job stops at its next cancel check (one that never checks is waited for).
        Later submissions are cancelled at once. Calling it again is harmless.
        """
        self._closed = True
        for job in list(self._active):
            job.cancel()
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if not stopped:  # a step that cannot be interrupted (a model conversion) is still going:
            _STILL_RUNNING.append(self)  # never destroy a running QThread; see wait_for_all
        return stopped

    def _post(self, job: Job, name: str, args: tuple) -> None:
        self._runner.event.emit(job, name, args)

    @Slot(object, str, object)
    def _deliver(self, job: Job, name: str, args: tuple) -> None:
        if name in _TERMINAL:
            self._active.discard(job)
        job._deliver(name, args)
