"""Closing the window during a run: the user is asked (keep running is the default), a live run
never asks, and a step that cannot stop does not keep the process alive."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QMessageBox

from jscope_desktop.app.background import jobs


def _endless_runs(monkeypatch) -> None:
    """Every run waits until it is cancelled (it checks every 10 ms)."""
    from jscope_desktop.engine.errors import Cancelled

    def endless(*args, **kwargs):
        def run(progress, cancel):
            progress(0.1, "Fisher Scope · 2 min left")
            while not cancel():
                time.sleep(0.01)
            raise Cancelled()
        return run

    monkeypatch.setattr(jobs, "attribute_job", endless)


def _answer(monkeypatch, button_text: str | None) -> list[str]:
    """Answer the next message boxes by clicking the button named ``button_text`` (None: close
    the box with Esc); returns the boxes' texts."""
    asked: list[str] = []

    def exec_(box):
        asked.append(box.text())
        wanted = next((b for b in box.buttons() if b.text() == button_text), None)
        box._clicked = wanted or box.escapeButton()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QMessageBox, "clickedButton", lambda box: box._clicked)
    return asked


def test_closing_during_a_run_asks_and_keeps_it_unless_told(qtbot, make_window, tiny_llama,
                                                           monkeypatch):
    _endless_runs(monkeypatch)
    window = make_window(tiny_llama)
    window.ask_before_closing = True
    job = window.run()
    qtbot.waitUntil(lambda: window._run_progress != "", timeout=10000)
    asked = _answer(monkeypatch, None)  # Esc: the default, keep running
    assert not window.close()
    assert window.isVisible() and not job.is_cancelled
    assert asked and "still running" in asked[0] and asked[0].startswith("Fisher Scope is")
    asked = _answer(monkeypatch, "Stop and close")
    assert window.close()
    assert not window.isVisible() and job.is_cancelled
    qtbot.waitUntil(lambda: job.done, timeout=5000)


def test_a_live_run_or_no_run_closes_without_asking(qtbot, make_window, tiny_llama, monkeypatch):
    _endless_runs(monkeypatch)
    window = make_window(tiny_llama)
    window.ask_before_closing = True
    asked = _answer(monkeypatch, None)
    job = window.run(live=True)
    qtbot.waitUntil(lambda: window.worker.busy, timeout=10000)
    assert window.close() and not asked and job.is_cancelled
    other = make_window(tiny_llama)
    other.ask_before_closing = True
    assert other.close() and not asked


_CLOSE_DURING_CONVERSION = """
import sys
from jscope_desktop.app.start import main as start
from jscope_desktop.app.window import main_window

load = main_window.MainWindow.load_model

def load_then_close(self, *args, **kwargs):
    job = load(self, *args, **kwargs)
    def on_progress(fraction, message):
        if "Converting" in message and self.isVisible():
            print("closing during the conversion", flush=True)
            self.close()
    job.progress.connect(on_progress)
    return job

main_window.MainWindow.load_model = load_then_close
sys.exit(start.main([]))
"""


def test_closing_during_a_first_conversion_ends_the_process_before_it(tmp_path):
    """The embedded model's first conversion cannot be interrupted; the process ends without
    waiting for it (its temporary folder is removed by the next conversion)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, JSCOPE_CACHE_DIR=str(tmp_path / "models"), QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", _CLOSE_DURING_CONVERSION], env=env,
                         capture_output=True, text=True, timeout=300)
    assert "closing during the conversion" in out.stdout, out.stderr[-2000:]
    assert out.returncode == 0, out.stderr[-2000:]
    converted = [p for p in (tmp_path / "models").iterdir() if not p.name.startswith(".")]
    assert converted == [], "the process waited for the conversion to finish"
