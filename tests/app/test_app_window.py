"""The main window driven with pytest-qt on the tiny random models (fast, offscreen)."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QPointF, Qt
from qt_fixtures import box_colors, lut_index

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.results.result import AttributionResult
from jscope_desktop.render.core.colormaps import COLORMAPS

PROMPT = "12,34,56,"


def run_and_wait(qtbot, window, trigger=None, timeout=60000):
    with qtbot.waitSignal(window.result_shown, timeout=timeout) as blocker:
        (trigger or window.run)()
    return blocker.args[0]


def test_typed_prompt_runs_and_the_top_token_is_brightest(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.clear()
    qtbot.keyClicks(window.prompt_panel.prompt, PROMPT)
    result = run_and_wait(qtbot, window, window.prompt_panel.run_button.click)
    assert result.tokens[1:] == list(PROMPT)  # BOS + one token per character
    strip = window.strip
    assert [u.text for u in strip.units] == result.tokens
    lut = COLORMAPS["viridis"].lut()
    idx = [lut_index(c, lut) for c in box_colors(strip)]
    top = max(range(len(result.scores)), key=lambda i: result.scores[i])
    assert idx[top] >= 250  # the top-scored token wears the end of the colour map
    assert all(idx[i] < idx[top] for i in range(len(idx)) if result.scores[i] < result.scores[top])
    expected = [round(s / result.scores[top] * 255) for s in result.scores]
    assert all(abs(a - b) <= 4 for a, b in zip(idx, expected))


def test_shortcut_runs_and_a_new_run_supersedes(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    window.prompt_panel.prompt.setFocus()
    result = run_and_wait(qtbot, window, lambda: qtbot.keyClick(
        window.prompt_panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier))
    assert result.scope == "temperature"
    assert window.prompt_panel.prompt.toPlainText() == PROMPT  # no newline typed
    shown = []
    window.result_shown.connect(shown.append)
    window.run(AttributionRequest(prompt=PROMPT, scope="semantic"))
    assert window.prompt_panel.cancel_button.isEnabled()  # Cancel works during every run
    window.run(AttributionRequest(prompt=PROMPT, scope="fisher", fisher_method="exact"))
    assert window.prompt_panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not window._jobs, timeout=60000)
    assert [r.scope for r in shown] == ["fisher"]
    assert not window.prompt_panel.cancel_button.isEnabled()


def test_bad_model_path_shows_a_sentence_and_keeps_the_result(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    result = run_and_wait(qtbot, window)
    with qtbot.waitSignal(window.run_failed, timeout=30000) as blocker:
        window.load_model("/no/such/model.gguf")
    message = blocker.args[0]
    assert "does not exist" in message and "\n" not in message
    assert window.message.isVisible() and window.message.text() == message
    assert window.strip.result is result and window.holder.lm is tiny_llama
    assert "LlamaConfig" in window.model_panel.info.text()  # the old model's line is back
    again = run_and_wait(qtbot, window)  # and the old model still runs
    assert again.scores == result.scores


def test_bad_request_shows_one_sentence(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    result = run_and_wait(qtbot, window)
    with qtbot.waitSignal(window.run_failed, timeout=30000) as blocker:
        window.run(AttributionRequest(prompt="   ", scope="temperature"))
    assert blocker.args[0] == "The prompt is empty; type some text to explain."
    assert window.strip.result is result


def test_click_token_sets_position_and_bar_sets_semantic_target(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    run_and_wait(qtbot, window)
    center = window.strip.unit_rect(4).center().toPoint()
    result = run_and_wait(qtbot, window, lambda: qtbot.mouseClick(
        window.strip, Qt.MouseButton.LeftButton, pos=center))
    assert result.position == 4 and result.scores[5:] == [None] * (len(result.tokens) - 5)
    assert "token 5" in window.prompt_panel.position_label.text()  # index 4, counted from 1
    second = result.topk[1]
    result = run_and_wait(qtbot, window, lambda: window.distribution.choose(1))
    assert result.scope == "semantic" and result.target_id == second.id
    vb = window.distribution.plot.getViewBox()
    assert window.distribution.bar_index_at(vb.mapViewToScene(QPointF(0.001, 2.1))) == 2
    assert window.distribution.bar_index_at(vb.mapViewToScene(QPointF(0.001, 2.5))) is None


def test_granularity_tooltip_and_zoom(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText("12 34. 56")
    result = run_and_wait(qtbot, window)
    window.view_controls.set_view(granularity="word")
    words = window.strip.units
    assert len(words) < len(result.tokens)
    w = next(u for u in words if u.text == "34")
    assert math.isclose(w.score, math.hypot(*result.scores[w.start : w.end]))
    tip = window.strip.tooltip(words.index(w))
    assert "rank" in tip and f"{w.score:.3g}" in tip
    height = window.strip.minimumHeight()
    window.view_controls.set_zoom(2.0)
    assert window.strip.zoom == 2.0 and window.strip.minimumHeight() > height


def test_exports_read_back(qtbot, make_window, tiny_llama, tmp_path):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    result = run_and_wait(qtbot, window)
    for suffix in ("png", "svg", "pdf"):
        assert window.save_image(str(tmp_path / f"a.{suffix}"))
        assert (tmp_path / f"a.{suffix}").stat().st_size > 1000
    assert window.export_json(str(tmp_path / "a.json"))
    assert AttributionResult.load(tmp_path / "a.json") == result
    assert window.export_csv(str(tmp_path / "a.csv"))
    import csv

    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8")))
    assert [float(r["score"]) for r in rows] == pytest.approx(result.scores)
    assert window.copy_image()
    assert not window.save_image(str(tmp_path / "a.bmp"))
    assert "png" in window.message.text()


def test_session_round_trip(qtbot, make_window, tiny_llama, tmp_path):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    window.prompt_panel.set_scope("contrast")
    window.view_controls.set_view(cmap="cividis", scale="log")
    result = run_and_wait(qtbot, window)
    assert window.save_session(str(tmp_path / "s.jscope.json"))
    other = make_window(tiny_llama)
    assert other.open_session(str(tmp_path / "s.jscope.json"))
    assert other.prompt_panel.prompt.toPlainText() == PROMPT
    assert other.prompt_panel.scope_name() == "contrast"
    assert other.view_controls.view()["cmap"] == "cividis" and other.strip.scale == "log"
    assert other.result == result and other.strip.result == result
    (tmp_path / "bad.json").write_text("{}")
    assert not other.open_session(str(tmp_path / "bad.json"))
    assert "not a Jacobian Scopes session" in other.message.text() and other.result == result


def test_compare_costs_and_matrix(qtbot, make_window, tiny_llama):
    from scipy.stats import spearmanr

    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    with qtbot.waitSignal(window.compare_shown, timeout=60000) as blocker:
        window.compare()
    fisher, temp = window.compare_view.results
    assert (fisher.scope, temp.scope) == ("fisher", "temperature")
    assert blocker.args[0] == pytest.approx(spearmanr(fisher.scores, temp.scores).statistic)
    rows = window.cost_panel.rows()
    assert [r.label for r in rows] == ["Forward", "Temperature", "Fisher fast", "Fisher exact"]
    assert rows[3].measured is False and rows[3].seconds > rows[2].seconds
    run_and_wait(qtbot, window, window.run_exact)
    assert window.cost_panel.rows()[3].measured
    with qtbot.waitSignal(window.matrix_shown, timeout=60000) as blocker:
        window.generate(4)
    m = blocker.args[0]
    assert len(m.positions) == 4
    view = window.matrix_view
    assert view.cell_color(0, len(m.tokens) - 1)[3] == 0  # not attributed: transparent
    assert view.cell_color(3, 0)[3] == 255
    p = m.positions[1]
    single = attribute(tiny_llama, AttributionRequest(token_ids=m.token_ids[: p + 1]))
    assert m.scores[1][: p + 1] == pytest.approx(single.scores, rel=1e-4)
    with qtbot.waitSignal(view.row_chosen) as chosen:
        view.select_row(1)
    assert chosen.args == [p] and view.strip.position == p
    assert window.shown_result() is m


def test_the_thread_leak_fixture_sees_the_worker_thread(make_window, tiny_llama,
                                                        no_leaked_qthreads, isolated_settings):
    window = make_window(tiny_llama)
    assert window.worker._thread in no_leaked_qthreads and window.worker._thread.isRunning()
    assert window.settings.store.fileName().startswith(str(isolated_settings))
    window.close()
    assert not window.worker._thread.isRunning()


def test_a_failed_build_leaves_no_worker_thread(qtbot, monkeypatch, no_leaked_qthreads):
    from jscope_desktop.app.window import main_window
    from jscope_desktop.app.window.main_window import MainWindow

    def broken(window):
        raise RuntimeError("no widgets today")

    monkeypatch.setattr(main_window, "build_window", broken)
    with pytest.raises(RuntimeError, match="no widgets today"):
        MainWindow(autoload=False)
    assert no_leaked_qthreads and not any(t.isRunning() for t in no_leaked_qthreads)


def test_a_fisher_fast_tooltip_says_how_sure_the_rank_is(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    result = run_and_wait(qtbot, window, lambda: window.run(
        AttributionRequest(prompt=PROMPT, scope="fisher", fisher_method="fast")))
    intervals = result.fisher.rank_intervals
    assert intervals is not None and len(intervals) == len(result.tokens)
    top = max(range(len(result.scores)), key=lambda i: result.scores[i])
    lo, hi = intervals[top]
    assert lo <= 1 <= hi  # the point estimate's rank lies in its interval
    text = window.strip.tooltip(top)
    assert "Fisher fast: " in text and (f"rank {lo} settled" in text or f"rank {lo}–{hi}" in text)
    exact = run_and_wait(qtbot, window, window.run_exact)
    assert exact.fisher.rank_intervals is None and "Fisher fast" not in window.strip.tooltip(top)
