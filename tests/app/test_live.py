"""Live attribution: the picture follows the prompt as the user types (debounced, a stale run
cancelled, a stale result never shown), only while the predicted run is cheap."""

from __future__ import annotations

import time

import pytest
from PySide6.QtGui import QTextCursor
from qt_fixtures import wait_for_estimate

from jscope_desktop.app.background import jobs
from jscope_desktop.app.background.live import LIVE_LIMIT_S


def _slowed(seconds: float):
    """``jobs.attribute_job`` whose runs first wait ``seconds`` (a run that outlasts typing)."""
    real = jobs.attribute_job

    def slow_job(*args, **kwargs):
        run = real(*args, **kwargs)

        def slowly(progress, cancel):
            time.sleep(seconds)
            return run(progress, cancel)
        return slowly
    return slow_job


def _shown_with_text(window) -> list[tuple[str, str]]:
    """(the result's prompt as tokens, the prompt on screen) each time a result is shown."""
    seen: list[tuple[str, str]] = []
    window.result_shown.connect(lambda r: seen.append(
        ("".join(r.tokens[1:]), window.prompt_panel.prompt.toPlainText())))
    return seen


def test_typing_runs_the_prompt_and_never_shows_a_stale_result(qtbot, make_window, tiny_llama,
                                                               monkeypatch):
    monkeypatch.setattr(jobs, "attribute_job", _slowed(0.4))  # outlasts the next keystroke
    window = make_window(tiny_llama, live=True)
    assert window.act_live.isChecked()
    seen = _shown_with_text(window)
    prompt = window.prompt_panel.prompt
    prompt.clear()
    qtbot.keyClicks(prompt, "12,")
    qtbot.waitUntil(lambda: window._run_job is not None, timeout=20000)  # a live run started
    qtbot.keyClicks(prompt, "34")  # while it runs: it is stale now
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == "12,34", timeout=30000)
    qtbot.keyClicks(prompt, "5")
    qtbot.keyClicks(prompt, "6")
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == "12,3456", timeout=30000)
    qtbot.wait(800)  # nothing late arrives
    assert seen and all(shown == on_screen for shown, on_screen in seen), seen
    assert "12," not in [s for s, _ in seen]  # the stale run's result was never shown


def test_live_off_and_expensive_runs_wait_for_run(qtbot, make_window, tiny_llama, monkeypatch):
    window = make_window(tiny_llama, live=True)
    seen = _shown_with_text(window)
    window.act_live.setChecked(False)
    assert window.settings.get("live") is False
    window.prompt_panel.prompt.setPlainText("12,34,")
    qtbot.wait(1500)
    assert seen == [] and window._run_job is None
    window.act_live.setChecked(True)  # on again: the prompt on screen runs
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == "12,34,", timeout=20000)
    from jscope_desktop.app.background import live

    monkeypatch.setattr(live, "LIVE_LIMIT_S", 0.0)  # every run is now "too long" to go live
    window.prompt_panel.prompt.setPlainText("98,76,")
    qtbot.waitUntil(lambda: "Live attribution waits" in window.statusBar().currentMessage(),
                    timeout=20000)
    assert seen[-1][0] == "12,34," and window._run_job is None
    assert LIVE_LIMIT_S == 0.5


def test_a_measured_run_corrects_a_pessimistic_estimate(qtbot, make_window, tiny_llama):
    """Before calibration the estimate can be many times too long (seen: 11 s predicted for a
    0.17 s run); once a scope has run, the estimate is scaled by how far off it was."""
    from types import SimpleNamespace

    window = make_window(tiny_llama)  # live off: only the run below is shown
    window.prompt_panel.prompt.setPlainText("12,34,")
    req, est = wait_for_estimate(qtbot, window)
    long = SimpleNamespace(seconds=11.0, n_tokens=20, fits=True)
    assert window.live.predicted_seconds(req, long) == 11.0  # nothing measured yet
    with qtbot.waitSignal(window.result_shown, timeout=30000) as shown:
        window.run(req)
    ratio = shown.args[0].timing.scope_s / est.seconds
    assert window.live.ratio["temperature"] == pytest.approx(ratio)
    n, s = len(shown.args[0].tokens), shown.args[0].timing.scope_s
    assert window.live.predicted_seconds(req, long) == pytest.approx(
        min(11.0 * min(1.0, ratio), s * max(1.0, 20 / n)))
    assert window.live.predicted_seconds(req.but(scope="fisher"), long) == 11.0  # per scope


def test_a_live_run_never_takes_the_user_away_from_another_tab(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama, live=True)
    window.tabs.setCurrentWidget(window.series_tab)
    with qtbot.waitSignal(window.result_shown, timeout=30000):
        window.prompt_panel.prompt.setPlainText("12,34,")  # a live run follows
    assert window.tabs.currentWidget() is window.series_tab
    assert window.strip.result is not None  # the strip has it, for when the user looks



def test_after_a_run_the_estimate_follows_the_calibration_and_never_reruns(qtbot, make_window,
                                                                           tiny_llama):
    """Each run refines the time calibration: the estimate beside Run is made again once the
    result is shown (it was left as it was before the run, seen 6× too long), and that fresh
    estimate of the prompt just explained never starts another live run."""
    window = make_window(tiny_llama, live=True)
    seen = _shown_with_text(window)
    window.prompt_panel.prompt.setPlainText("12,34,")
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=30000)  # the live run
    before = wait_for_estimate(qtbot, window)[1]
    with qtbot.waitSignal(window.result_shown, timeout=30000):
        window.run()
    qtbot.waitUntil(lambda: window.estimates.last is not None
                    and window.estimates.last[1] is not before, timeout=30000)
    assert window.estimates.last[0] == window.prompt_panel.request()
    qtbot.wait(1000)  # no live run follows the refreshed estimate
    assert len(seen) == 2 and window._run_job is None


def test_an_edit_typed_during_a_users_run_goes_live_after_it(qtbot, make_window, tiny_llama,
                                                             monkeypatch):
    """The refresh after a result must not swallow the estimate of a prompt typed while the run
    was going (it waited behind the run on the one worker): that prompt still runs live."""
    window = make_window(tiny_llama, live=True)
    seen = _shown_with_text(window)
    window.prompt_panel.prompt.setPlainText("12,34,")
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=30000)  # its live run
    wait_for_estimate(qtbot, window)
    monkeypatch.setattr(jobs, "attribute_job", _slowed(0.5))  # outlasts the keystroke
    window.run()  # the user's own run of the same prompt
    prompt = window.prompt_panel.prompt
    prompt.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(prompt, "5")  # typed while it runs
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == "12,34,5", timeout=30000)
    assert seen[-1] == ("12,34,5", "12,34,5")
