"""The Compare view drives a real multi-scope job: tick scopes, click, wait for the job's
signal, and check what is shown against separate single runs and scipy's Spearman."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from scipy.stats import spearmanr

from jscope_desktop.engine.explain.attribute import attribute
from jscope_desktop.engine.results.request import AttributionRequest

PROMPT = "12,34,56,"


def test_compare_any_scopes_in_one_job(qtbot, make_window, tiny_llama, tmp_path):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    view = window.compare_view
    window.tabs.setCurrentWidget(view)
    names = [view.scope_list.item(k).data(Qt.ItemDataRole.UserRole)
             for k in range(view.scope_list.count())]
    assert names == [s.name for s in window.engine.scopes]  # offered from the registry
    assert view.selected() == ["fisher", "temperature"]
    for name in ("semantic", "grad_input"):  # ticked as a user would (the item's check box)
        view.item(name).setCheckState(Qt.CheckState.Checked)
    view.item("temperature").setCheckState(Qt.CheckState.Unchecked)
    assert view.selected() == ["fisher", "semantic", "grad_input"]
    with qtbot.waitSignal(window.multi_shown, timeout=60000) as blocker:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    multi = blocker.args[0]
    assert [r.scope for r in view.results] == ["fisher", "semantic", "grad_input"]
    assert view.scope_labels() == ["Fisher", "Semantic", "Grad × input"]
    assert len(view.strips) == 3
    qtbot.waitUntil(lambda: all(s.isVisible() for s in view.strips) and view.agreement.isVisible())
    assert view.agreement.multi is multi
    rows = []
    for strip, r in zip(view.strips, multi.results):
        single = attribute(tiny_llama, AttributionRequest(prompt=PROMPT, scope=r.scope))
        assert strip.result.scores == pytest.approx(single.scores, rel=1e-5)
        rows.append(single.scores)
    for i in range(3):
        for j in range(3):
            assert multi.agreement.spearman[i][j] == pytest.approx(
                spearmanr(rows[i], rows[j]).statistic, abs=1e-9)
    assert view.rho == pytest.approx(spearmanr(rows[0], rows[1]).statistic)
    cost = window.cost_panel
    assert f"together {multi.timing.total_s * 1000:.0f} ms" in cost.note.text()
    fast = next(r for r in cost.rows() if r.label == "Fisher fast")
    assert fast.measured is False and "joint run of 3 scopes" in fast.note
    assert fast.seconds == multi.result("fisher").timing.scope_s
    assert cost.rows()[0].seconds == multi.timing.forward_s
    window.view_controls.changed.emit({"scale": "log"})  # one colour scale choice for all
    assert all(s.scale == "log" for s in view.strips)
    shot = tmp_path / "compare.png"
    assert view.grab().save(str(shot)) and shot.stat().st_size > 1000


def test_a_scope_list_with_an_unused_target_still_runs(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    window.prompt_panel.set_target(10, "7")
    with qtbot.waitSignal(window.multi_shown, timeout=60000) as blocker:
        window.compare(["temperature", "semantic"])
    multi = blocker.args[0]
    assert multi.result("semantic").target_id == 10 and multi.result("temperature").target is None


def test_a_session_keeps_every_compared_scope(qtbot, make_window, tiny_llama, tmp_path):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    with qtbot.waitSignal(window.multi_shown, timeout=60000) as blocker:
        window.compare(["temperature", "semantic", "grad_input"])
    shown = [r.scores for r in blocker.args[0].results]
    path = tmp_path / "three.jscope.json"
    assert window.save_session(str(path))
    other = make_window(tiny_llama)
    assert other.open_session(str(path))
    assert [r.scope for r in other.compare_view.results] == ["temperature", "semantic",
                                                             "grad_input"]
    assert [s.result.scores for s in other.compare_view.strips] == shown
