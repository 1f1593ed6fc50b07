"""The scope form's IG baseline control: shown for Integrated only, carried into the request and
the saved state, the engine's list of baselines (IG_BASELINES) in the engine's order."""

from __future__ import annotations

from jscope_desktop.app.widgets.prompt_panel import PromptPanel
from jscope_desktop.engine.results.request import IG_BASELINES
from jscope_desktop.engine.scopes import all_scopes


def test_ig_baseline_row_shows_for_integrated_only_and_reaches_the_request(qtbot):
    panel = PromptPanel()
    qtbot.addWidget(panel)
    panel.set_scopes(all_scopes(), "temperature")
    form = panel._scope_form
    assert [panel.ig_baseline.itemData(i) for i in range(panel.ig_baseline.count())] == list(IG_BASELINES)
    assert not form.isRowVisible(panel.ig_baseline)
    panel.set_scope("integrated")
    assert form.isRowVisible(panel.ig_baseline)
    panel.ig_baseline.setCurrentIndex(panel.ig_baseline.findData("pad"))
    assert panel.request().ig_baseline == "pad"
    state = panel.state()
    assert state["ig_baseline"] == "pad"
    panel.set_scope("temperature")
    assert not form.isRowVisible(panel.ig_baseline) and panel.request().ig_baseline == "zero"
    panel.ig_baseline.setCurrentIndex(0)
    panel.restore(state)
    assert panel.ig_baseline.currentData() == "pad" and panel.scope_name() == "integrated"
