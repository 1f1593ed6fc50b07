"""Qt fixtures for the app's and the render layer's tests (their folders' conftest.py imports
them by name): isolated settings, a QThread-leak check, a window factory; and pixel helpers."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QPoint, QSettings, QThread

__all__ = ["isolated_settings", "no_leaked_qthreads", "make_window", "gc_on_the_gui_thread"]


@pytest.fixture(autouse=True)
def gc_on_the_gui_thread():
    """No automatic garbage collection while a test runs (it would run in whichever thread
    allocates, and collecting a Qt object from a worker's thread crashes Qt); everything the
    test left is collected here, on the GUI thread. The app does the same on a timer
    (app/start/main.py)."""
    gc.disable()
    yield
    gc.collect()
    gc.enable()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory):
    """Point QSettings' user INI files at a fresh temporary folder for every test."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    yield folder


@pytest.fixture(autouse=True)
def no_leaked_qthreads(monkeypatch):
    """Fail a test that leaves a QThread running (every QThread started in it is tracked)."""
    started: list[QThread] = []
    original = QThread.start

    def tracking_start(self, *args):
        started.append(self)
        return original(self, *args)

    monkeypatch.setattr(QThread, "start", tracking_start)
    yield started
    leaked = [t.objectName() or repr(t) for t in started if t.isRunning()]
    for t in started:  # stop them so one leak does not break the following tests
        if t.isRunning():
            t.quit()
            t.wait(30000)
    assert not leaked, f"QThreads left running: {leaked}"


@pytest.fixture
def make_window(qtbot):
    """Factory: ``make_window(model)`` shows a MainWindow with ``model`` injected, engine ready;
    live attribution off unless ``live=True`` (a test drives its own runs)."""
    from jscope_desktop.app.window.main_window import MainWindow

    windows = []

    def make(model=None, live: bool = False, **kwargs):
        window = MainWindow(model=model, autoload=kwargs.pop("autoload", False), **kwargs)
        window.act_live.setChecked(live)
        window.live.set_enabled(live)
        window.ask_before_closing = False  # teardown closes windows whose runs may still go on
        windows.append(window)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.engine is not None, timeout=120000)
        return window

    yield make
    from jscope_desktop.app.background.worker import wait_for_all

    for w in windows:
        w.close()
    # a step still running after the window's second to stop (a busy machine) ends here, as it
    # would at the app's exit (worker.wait_for_all), before the thread-leak check looks
    wait_for_all()


def estimate_settled(window) -> bool:
    """True when the estimate beside Run is the current request's and none is in flight (a
    busy machine can leave an older request's estimate in place for a while, and the app
    never asks about a stale one)."""
    est = window.estimates
    return est.job is None and est.last is not None \
        and est.last[0] == window.prompt_panel.request()


def wait_for_estimate(qtbot, window, timeout: int = 30000):
    """Wait until :func:`estimate_settled`; returns (request, Estimate)."""
    qtbot.waitUntil(lambda: estimate_settled(window), timeout=timeout)
    return window.estimates.last


def box_colors(strip):
    """The fill colour of every unit's box (sampled inside its left padding)."""
    image = strip.grab().toImage()
    dpr = image.devicePixelRatio()
    out = []
    for k in range(len(strip.units)):
        r = strip.unit_rect(k)
        c = image.pixelColor(QPoint(round((r.left() + 2.5) * dpr), round(r.center().y() * dpr)))
        out.append((c.red(), c.green(), c.blue()))
    return out


def lut_index(rgb, lut):
    return min(range(len(lut)), key=lambda i: sum((a - b) ** 2 for a, b in zip(rgb, lut[i])))
