"""The window on the embedded SmolLM2 model: an end-to-end run, cancel latency, GUI stalls."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt, QTimer
from qt_fixtures import box_colors, lut_index

from jscope_desktop.render.core.colormaps import COLORMAPS

pytestmark = pytest.mark.embedded
PROMPT = "The capital of France is"


def test_end_to_end_run_on_the_embedded_model(qtbot, make_window, embedded_model):
    window = make_window(embedded_model)
    window.prompt_panel.prompt.clear()
    qtbot.keyClicks(window.prompt_panel.prompt, PROMPT)
    with qtbot.waitSignal(window.result_shown, timeout=120000) as blocker:
        qtbot.keyClick(window.prompt_panel.prompt, Qt.Key.Key_Return,
                       Qt.KeyboardModifier.ControlModifier)
    result = blocker.args[0]
    assert "".join(result.tokens) == PROMPT
    assert [u.text for u in window.strip.units] == result.tokens
    lut = COLORMAPS["viridis"].lut()
    idx = [lut_index(c, lut) for c in box_colors(window.strip)]
    top = max(range(len(result.scores)), key=lambda i: result.scores[i])
    assert idx[top] == max(idx) and idx[top] >= 250
    assert window.distribution.topk[0].token == " Paris"


def test_cancel_exact_fisher_within_a_second(qtbot, make_window, embedded_model):
    window = make_window(embedded_model)
    window.prompt_panel.prompt.setPlainText(PROMPT + " a city that many people visit every year")
    window.run_exact()
    qtbot.waitUntil(lambda: window.progress.value() > 55, timeout=120000)  # in the backward
    qtbot.wait(700)  # press Esc in the middle of a batch, not right at a check
    t0 = time.perf_counter()
    with qtbot.waitSignal(window.run_cancelled, timeout=10000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    seen = time.perf_counter() - t0
    print(f"\ncancel latency: {blocker.args[0] * 1000:.0f} ms in the worker, "
          f"{seen * 1000:.0f} ms until the window knew")
    assert seen < 1.0
    assert "Cancelled" in window.message.text() and window.strip.result is None


def test_gui_never_stalls_during_exact_fisher(qtbot, make_window, embedded_model):
    """A 20 ms timer on the GUI thread while exact Fisher runs (at most 20 s of it, then Esc:
    on a loaded machine the whole run can take minutes)."""
    window = make_window(embedded_model)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    done: list = []
    window.result_shown.connect(done.append)
    window.run_exact()
    timer.start()
    t0 = time.perf_counter()
    try:
        qtbot.waitUntil(lambda: bool(done) or time.perf_counter() - t0 > 20, timeout=60000)
    finally:
        # A timer left running after a failure fires into a frame the garbage collector may free
        # in its own slot (a crash in a later test), so it always stops here.
        timer.stop()
    backward = window.progress.value() > 55 or bool(done)
    if not done:
        with qtbot.waitSignal(window.run_cancelled, timeout=10000):
            window.cancel()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    worst = max(gaps)
    print(f"\nexact Fisher {'finished' if done else 'ran 20 s (then cancelled)'}; "
          f"{len(ticks)} timer ticks, largest gap {worst * 1000:.0f} ms")
    assert backward and len(ticks) > 50
    assert worst <= 0.150
