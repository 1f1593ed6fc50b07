"""The app's estimate beside Run, the question before a run that will not fit, the memory-limit
setting, whole figures in the cost panel and the time left in progress messages (pytest-qt,
tiny random model)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QMessageBox
from qt_fixtures import estimate_settled, wait_for_estimate

from jscope_desktop.app.background import jobs
from jscope_desktop.app.background.analysis import CostRow
from jscope_desktop.app.settings import AppSettings
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute


def _label(window) -> str:
    return window.prompt_panel.cost_label.text()


def test_estimate_beside_run_follows_prompt_and_scope_off_the_gui_thread(
        qtbot, make_window, tiny_llama, monkeypatch):
    threads = []
    real = jobs.estimate_job

    def spy(holder, request, limit=None):
        fn = real(holder, request, limit)
        return lambda progress, cancel: threads.append(threading.current_thread()) or fn(progress, cancel)

    monkeypatch.setattr(jobs, "estimate_job", spy)
    window = make_window(tiny_llama)
    p = window.prompt_panel
    p.prompt.setPlainText("12,34,")
    # BOS + 6 characters (an estimate of the restored prompt may come first)
    qtbot.waitUntil(lambda: bool(window.estimates.last) and window.estimates.last[1].n_tokens == 7,
                    timeout=30000)
    assert _label(window).startswith("≈ ")
    short = window.estimates.last[1]
    p.prompt.setPlainText("12,34," * 30)
    qtbot.waitUntil(lambda: bool(window.estimates.last)
                    and window.estimates.last[1].n_tokens == 181,
                    timeout=30000)
    longer = window.estimates.last[1]
    assert longer.peak_bytes > short.peak_bytes and longer.seconds > short.seconds
    p.set_scope("fisher")
    qtbot.waitUntil(lambda: bool(window.estimates.last)
                    and window.estimates.last[0].scope == "fisher", timeout=30000)
    assert window.estimates.last[1].seconds > longer.seconds
    assert threads and all(t is not threading.main_thread() for t in threads)
    # the label is the estimate's own figures
    assert _label(window) == window.estimates.last[1].text()


def test_a_run_that_will_not_fit_asks_first(qtbot, make_window, tiny_llama, monkeypatch):
    window = make_window(tiny_llama)
    p = window.prompt_panel
    p.prompt.setPlainText("12,34,56,")
    p.memory_limit.setText("1MB")
    p.memory_limit.editingFinished.emit()
    qtbot.waitUntil(lambda: estimate_settled(window) and not window.estimates.last[1].fits,
                    timeout=30000)
    assert "bold" in p.cost_label.styleSheet()
    assert AppSettings().get("memory_limit") == "1MB"
    asked = []
    choice = {"anyway": False}

    def fake_exec(box):
        asked.append(box.text())
        if choice["anyway"]:
            box.clickedButton = lambda: next(b for b in box.buttons()
                                             if b.text() == "Run anyway")
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    assert window.run() is None  # declined: nothing runs
    assert "more than the memory limit of 1 MB" in asked[0] and "Run anyway" in asked[0]
    choice["anyway"] = True
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        window.run()
    assert len(asked) == 2


def test_a_run_predicted_longer_than_the_threshold_asks_first(qtbot, make_window, tiny_llama,
                                                              monkeypatch):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText("12,34,56,")
    wait_for_estimate(qtbot, window)
    asked, choice = [], {"start": False}

    def fake_exec(box):
        asked.append(box.text())
        if choice["start"]:
            box.clickedButton = lambda: next(b for b in box.buttons() if b.text() == "Start")
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    window.settings.set("ask_above_s", 1000)  # far above the prediction: no question
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        window.run()
    assert asked == []
    window.settings.set("ask_above_s", 1)
    wait_for_estimate(qtbot, window)  # the run's own refresh of the estimate has landed
    monkeypatch.setattr(window.estimates.last[1], "seconds", 5400.0)  # as for a long prompt
    assert window.run() is None  # declined: nothing runs
    assert "predicted to take 1.5 h" in asked[0] and "asked above 1.0 s" in asked[0], asked
    choice["start"] = True
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        window.run()
    assert len(asked) == 2


def test_the_engine_refuses_when_the_estimate_was_not_shown_yet(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.memory_limit.setText("1MB")
    with qtbot.waitSignal(window.run_failed, timeout=60000) as failed:
        window.run(AttributionRequest(prompt="12,34,"))
    assert "more than the memory limit of 1 MB" in failed.args[0]


def test_memory_limit_setting_is_validated(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    field = window.prompt_panel.memory_limit
    field.setText("eight gigs")
    field.editingFinished.emit()
    assert "8GB" in field.toolTip() and "c0392b" in field.styleSheet()
    assert AppSettings().get("memory_limit") == ""
    assert window.prompt_panel.memory_limit_bytes() is None
    with pytest.raises(ValueError):
        AppSettings().set("memory_limit", "lots")
    store = AppSettings()
    store.store.setValue("memory_limit", "12 parsecs")  # a hand-edited file falls back
    assert store.get("memory_limit") == ""
    field.setText("8GB")
    field.editingFinished.emit()
    assert AppSettings().get("memory_limit") == "8GB" and field.styleSheet() == ""
    assert window.prompt_panel.memory_limit_bytes() == 8 * 2**30


def test_cost_panel_figures_are_whole(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    panel = window.cost_panel
    panel.resize(120, 200)  # narrower than the figures: the table asks for the width it needs
    rows = [CostRow("Forward", 0.0421, True), CostRow("Temperature", 1.5, True),
            CostRow("Fisher fast", 155.3, True), CostRow("Fisher exact", 12345.0, False, "est.")]
    before = window.minimumSizeHint().width()
    panel._show(rows)
    window.resize(1440, 900)
    qtbot.wait(50)
    table = panel.table
    fm = table.fontMetrics()
    for i in range(table.rowCount()):
        for j in range(table.columnCount()):
            text = table.item(i, j).text()
            assert table.columnWidth(j) >= fm.horizontalAdvance(text), (text, table.columnWidth(j))
    assert table.item(3, 0).text() == "≈ 12345 s"
    # the figures widen the window's minimum by at most 30 px: it still fits a laptop
    assert before <= window.minimumSizeHint().width() <= min(before + 30, 1280)


def test_progress_messages_say_the_time_left(tiny_llama):
    seen = []
    req = AttributionRequest(prompt="12,34," * 10, scope="fisher")
    attribute(tiny_llama, req, jobs.timed_progress(lambda f, m: seen.append((f, m))))
    assert any(m.endswith(" left") for f, m in seen if f < 1)
    assert seen[-1] == (1.0, "Done")



def test_the_time_left_counts_down_between_progress_updates(qtbot, make_window, tiny_llama):
    from jscope_desktop.app.background.countdown import time_left_of, with_time_left

    assert time_left_of(with_time_left("Fisher Scope", 754)) == ("Fisher Scope", 13 * 60.0)
    assert time_left_of("Forward pass") is None
    window = make_window(tiny_llama)
    now = [100.0]
    window.countdown.clock = lambda: now[0]
    window.progress.setVisible(True)
    window.countdown.show(with_time_left("Fisher Scope", 90))
    assert window.progress.format() == "Fisher Scope · 90 s left – %p%"
    assert window.countdown.timer.isActive()
    now[0] += 30  # no progress update for half a minute: the timer recounts
    qtbot.waitUntil(lambda: window.progress.format() == "Fisher Scope · 60 s left – %p%",
                    timeout=3000)
    now[0] += 600
    qtbot.waitUntil(lambda: window.progress.format() == "Fisher Scope · finishing – %p%",
                    timeout=3000)
    window.countdown.show("Done")  # a message without a time left stops the count
    assert window.progress.format() == "Done – %p%" and not window.countdown.timer.isActive()


def test_a_model_whose_sizes_are_unknown_says_so_and_runs(qtbot, make_window, tiny_llama,
                                                          monkeypatch):
    from jscope_desktop.engine.model import shape
    from jscope_desktop.engine.model.load import LoadedModel
    from jscope_desktop.engine.planning import cost_model

    monkeypatch.setattr(shape, "config_sizes", lambda config: None)
    # a fresh handle: the shared model's cached shape stays as it is
    lm = LoadedModel(tiny_llama.model, tiny_llama.tokenizer, tiny_llama.info, tiny_llama.device,
                     tiny_llama.dtype)
    window = make_window(lm)
    p = window.prompt_panel
    p.prompt.setPlainText("12,34,56,")
    qtbot.waitUntil(lambda: _label(window) == "no estimate", timeout=30000)
    assert p.cost_label.toolTip() == cost_model.NO_ESTIMATE and window.estimates.last is None
    p.memory_limit.setText("1MB")  # nothing to refuse by: the run goes ahead
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        window.run()


def test_a_slow_first_estimate_says_it_is_estimating(qtbot, make_window, tiny_llama, monkeypatch):
    release = threading.Event()
    real = jobs.estimate_job

    def slow(*args, **kwargs):  # a first estimate that times the model's passes
        run = real(*args, **kwargs)

        def waiting(progress, cancel):
            release.wait(10)
            return run(progress, cancel)
        return waiting

    monkeypatch.setattr(jobs, "estimate_job", slow)
    window = make_window(tiny_llama)
    label = window.prompt_panel.cost_label
    window.prompt_panel.prompt.setPlainText("12,34,56")
    window.estimates.refresh()
    qtbot.waitUntil(lambda: "estimating" in label.text(), timeout=5000)
    assert "once per model" in label.toolTip()
    release.set()
    qtbot.waitUntil(lambda: label.text().startswith("≈ ") and "estimating" not in label.text(),
                    timeout=30000)
