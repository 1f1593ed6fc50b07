"""The background worker's job handles: one handle per job, cancelled alone, signals on the GUI
thread (pytest-qt, offscreen; the jobs are plain callables, no model)."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from PySide6.QtCore import QCoreApplication, QThread

from jscope_desktop.app.background.worker import OUT_OF_MEMORY, Job, Worker
from jscope_desktop.engine.errors import Cancelled, JScopeError
from jscope_desktop.engine.results.request import AttributionRequest

WAIT = 10000  # ms; the jobs here take microseconds once released


@pytest.fixture
def worker(qtbot):
    w = Worker()
    yield w
    assert w.shutdown(10000)


def returning(value):
    """A job returning ``value`` at once."""
    return lambda progress, cancel: value


def gated(gate: threading.Event, value="gated"):
    """A job that waits for ``gate``, then stops if it was cancelled or returns ``value``."""

    def run(progress, cancel):
        assert gate.wait(WAIT / 1000)
        if cancel():
            raise Cancelled
        return value

    return run


def until_cancelled(progress, cancel):
    """A job that runs until it is cancelled, checking as often as the engine does."""
    while not cancel():
        time.sleep(0.001)
    raise Cancelled


def test_cancelling_one_running_job_leaves_the_next_one_finishing(qtbot, worker):
    gate = threading.Event()
    first = worker.submit(gated(gate), "a")
    with qtbot.waitSignal(first.started, timeout=WAIT):
        pass
    second = worker.submit(returning(42), "b")
    values = []
    second.finished.connect(values.append)
    with qtbot.waitSignals([first.cancelled, second.finished], timeout=WAIT):
        first.cancel()
        gate.set()
    assert first.done and first.is_cancelled
    assert second.done and not second.is_cancelled and values == [42]
    assert (first.kind, second.kind) == ("a", "b") and worker.jobs == []


def test_a_cancelled_queued_job_emits_cancelled_without_running(qtbot, worker):
    gate = threading.Event()
    first = worker.submit(gated(gate, "first"), "a")
    ran = threading.Event()

    def second_fn(progress, cancel):
        ran.set()
        return "second"

    second = worker.submit(second_fn, "b")
    started = []
    second.started.connect(lambda: started.append(True))
    with qtbot.waitSignal(second.cancelled, timeout=WAIT) as blocker:
        second.cancel()  # still queued behind the first
    assert blocker.args == [0.0] and second.done and not first.done
    with qtbot.waitSignal(first.finished, timeout=WAIT) as blocker:
        gate.set()
    assert blocker.args == ["first"] and not first.is_cancelled
    third = worker.submit(returning("third"))  # runs after the second's turn has passed
    with qtbot.waitSignal(third.finished, timeout=WAIT):
        pass
    assert not ran.is_set() and started == []


def test_signals_reach_lambda_slots_on_the_gui_thread(qtbot, worker):
    gui = QCoreApplication.instance().thread()
    threads = {}

    def job(progress, cancel):
        threads["job"] = QThread.currentThread()
        progress(0.5, "halfway")
        return "done"

    handle = worker.submit(job)
    handle.started.connect(lambda: threads.setdefault("started", QThread.currentThread()))
    handle.progress.connect(lambda f, m: threads.setdefault("progress", (QThread.currentThread(),
                                                                         f, m)))
    handle.finished.connect(lambda v: threads.setdefault("finished", QThread.currentThread()))
    with qtbot.waitSignal(handle.finished, timeout=WAIT):
        pass
    assert threads["job"] is not gui  # the job itself ran on the worker thread
    assert threads["started"] is gui and threads["finished"] is gui
    assert threads["progress"] == (gui, 0.5, "halfway")


def test_a_failing_job_gives_its_message(qtbot, worker):
    def bad(progress, cancel):
        raise JScopeError("The prompt is empty; type some text to explain.")

    handle = worker.submit(bad)
    with qtbot.waitSignal(handle.failed, timeout=WAIT) as blocker:
        pass
    assert blocker.args == ["The prompt is empty; type some text to explain."] and handle.done


def test_a_bug_gives_one_line_naming_the_error(qtbot, worker, capsys):
    def buggy(progress, cancel):
        raise ValueError("bad index")

    handle = worker.submit(buggy)
    with qtbot.waitSignal(handle.failed, timeout=WAIT) as blocker:
        pass
    assert blocker.args == ["Unexpected error (ValueError): bad index"]
    assert "Traceback" in capsys.readouterr().err  # the trace goes to the log, not the window


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to "
                                                          "allocate 2.00 GiB\nmore detail"),
                                   MemoryError(),
                                   RuntimeError("[enforce fail] can't allocate memory: 9 GB")])
def test_out_of_memory_gives_one_sentence(qtbot, worker, error):
    def hungry(progress, cancel):
        raise error

    handle = worker.submit(hungry)
    with qtbot.waitSignal(handle.failed, timeout=WAIT) as blocker:
        pass
    message = blocker.args[0]
    assert message == OUT_OF_MEMORY
    assert message.startswith("Out of memory") and message.count(".") == 1
    assert message.endswith(".") and "\n" not in message


def test_a_cancelled_running_job_reports_its_latency(qtbot, worker):
    handle = worker.submit(until_cancelled)
    with qtbot.waitSignal(handle.started, timeout=WAIT):
        pass
    with qtbot.waitSignal(handle.cancelled, timeout=WAIT) as blocker:
        handle.cancel()
        handle.cancel()  # twice is harmless
    assert 0.0 < blocker.args[0] < WAIT / 1000


def test_a_finished_job_ignores_cancel_and_emits_nothing_more(qtbot, worker):
    handle = worker.submit(returning("x"))
    with qtbot.waitSignal(handle.finished, timeout=WAIT):
        pass
    late = []
    handle.cancelled.connect(late.append)
    handle.cancel()
    follow = worker.submit(returning("y"))  # the queue still runs after it
    with qtbot.waitSignal(follow.finished, timeout=WAIT):
        pass
    assert late == [] and handle.done and not follow.is_cancelled


def test_shutdown_cancels_every_job_and_stops_the_thread(qtbot):
    worker = Worker()
    running = worker.submit(until_cancelled)
    with qtbot.waitSignal(running.started, timeout=WAIT):
        pass
    queued = worker.submit(returning("never"))
    assert worker.shutdown(10000) and not worker._thread.isRunning()
    assert running.is_cancelled and queued.is_cancelled
    with qtbot.waitSignals([running.cancelled, queued.cancelled], timeout=WAIT):
        pass
    late = worker.submit(returning("after"))
    with qtbot.waitSignal(late.cancelled, timeout=WAIT) as blocker:
        pass
    assert blocker.args == [0.0]


def test_handles_are_made_on_the_gui_thread(worker):
    handle = worker.submit(returning(None))
    assert isinstance(handle, Job) and handle.thread() is QCoreApplication.instance().thread()


def test_the_window_and_the_series_tab_cancel_only_their_own_jobs(qtbot, make_window,
                                                                   tiny_llama):
    from jscope_desktop.app.series.tab import SeriesTab

    window = make_window(tiny_llama)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    tab = window.tabs.widget(titles.index("Time series"))
    assert isinstance(tab, SeriesTab) and tab.worker is window.worker
    tab.source.setCurrentIndex(tab.source.findData("logistic"))
    tab.n_values.setValue(12)
    window.prompt_panel.prompt.setPlainText("12,34,56,")
    gate = threading.Event()
    # both queued behind a held job; the window cancels its run: the series run goes on
    window.worker.submit(gated(gate))
    with qtbot.waitSignals([window.run_cancelled, tab.result_shown], timeout=60000):
        run = window.run(AttributionRequest(prompt="12,34,56,", scope="fisher", fisher_method="exact"))
        series = tab.run()
        window.cancel()
        gate.set()
    assert run.is_cancelled and not series.is_cancelled and tab.result is not None
    # and the reverse: the tab cancels its run, the window's run goes on
    gate.clear()
    window.worker.submit(gated(gate))
    with qtbot.waitSignals([tab.run_cancelled, window.result_shown], timeout=60000):
        series = tab.run()
        run = window.run(AttributionRequest(prompt="12,34,56,", scope="temperature"))
        tab.cancel()
        gate.set()
    assert series.is_cancelled and not run.is_cancelled and window.result.scope == "temperature"
    assert "Cancelled" in tab.message.text()


def test_a_job_cancelled_after_its_last_check_reports_cancelled_not_its_value(qtbot, worker):
    gate = threading.Event()

    def never_checks(progress, cancel):
        assert gate.wait(WAIT / 1000)
        return "late value"

    job = worker.submit(never_checks, "x")
    with qtbot.waitSignal(job.started, timeout=WAIT):
        pass
    got = []
    job.finished.connect(got.append)
    with qtbot.waitSignal(job.cancelled, timeout=WAIT):
        job.cancel()
        gate.set()
    assert got == [] and job.done


def test_shutdown_returns_at_once_while_a_step_cannot_stop(qtbot):
    from jscope_desktop.app.background import worker as worker_module

    w = Worker()
    gate = threading.Event()
    job = w.submit(lambda progress, cancel: gate.wait(WAIT / 1000), "conversion")
    with qtbot.waitSignal(job.started, timeout=WAIT):
        pass
    t0 = time.perf_counter()
    assert w.shutdown(timeout_ms=200) is False
    assert time.perf_counter() - t0 < 1.0
    assert w in worker_module._STILL_RUNNING  # kept alive: a running QThread is never destroyed
    gate.set()
    worker_module.wait_for_all()
    assert not w._thread.isRunning() and worker_module._STILL_RUNNING == []
