"""The Time-series tab driven with pytest-qt on the tiny random model (offscreen)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from qt_fixtures import *  # noqa: F403 (autouse fixtures: settings isolation, thread leaks)

from jscope_desktop.app.jobs import ModelHolder
from jscope_desktop.app.series.tab import VALUES, SeriesTab
from jscope_desktop.app.worker import Worker
from jscope_desktop.render.colormaps import COLORMAPS


@pytest.fixture
def tab(qtbot, tiny_llama):
    worker = Worker()
    widget = SeriesTab(worker, ModelHolder(tiny_llama))
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    yield widget
    assert worker.shutdown()


def run_and_wait(qtbot, tab, trigger):
    with qtbot.waitSignal(tab.result_shown, timeout=60000) as blocker:
        trigger()
    return blocker.args[0]


def choose(combo, data):
    combo.setCurrentIndex(combo.findData(data))


def test_generator_run_draws_series_scores_and_distribution(qtbot, tab):
    choose(tab.source, "logistic")
    tab.n_values.setValue(20)
    tab.seed.setValue(3)
    result = run_and_wait(qtbot, tab, tab.run_button.click)
    s = result.series
    assert s.system == "logistic" and len(s.values) == 20 and result.extra["cutoff"] == 20
    items = tab.plots.items
    x, y = items["dots"].getData()
    np.testing.assert_array_equal(y, s.encoded)
    bars = items["bars"].opts
    np.testing.assert_allclose(bars["height"], s.value_scores)
    top = int(np.argmax(s.value_scores))
    colour = bars["brushes"][top].color()
    assert (colour.red(), colour.green(), colour.blue()) == COLORMAPS["viridis"].rgb(1.0)
    np.testing.assert_allclose(items["model"].opts["width"], s.next_value["probs"])
    assert "truth" in items and "Top values by score" in tab.summary.text()
    assert tab.cutoff.maximum() == 20 and tab.cutoff.value() == 20 and tab.cutoff.isEnabled()


def test_cutoff_slider_reruns_on_release(qtbot, tab):
    choose(tab.source, "brownian")
    tab.n_values.setValue(15)
    run_and_wait(qtbot, tab, tab.run_button.click)

    def drag_and_release():
        tab.cutoff.setSliderDown(True)
        tab.cutoff.setValue(9)  # while dragging: no run
        assert tab._job is None
        tab.cutoff.setSliderDown(False)  # emits sliderReleased

    result = run_and_wait(qtbot, tab, drag_and_release)
    assert result.extra["cutoff"] == 9 and result.series.value_scores[9:] == [None] * 6
    assert tab.plots.items["cutoff"].value() == 9.5
    assert tab.plots.view.realised == result.series.encoded[9]


def test_pasted_values_and_loaded_file(qtbot, tab, tmp_path):
    choose(tab.source, VALUES)
    tab.values.setPlainText("1, 2, 3.5\n5 8 4 2")
    result = run_and_wait(qtbot, tab, tab.run_button.click)
    assert result.series.values == [1, 2, 3.5, 5, 8, 4, 2] and result.series.system is None
    assert "truth" not in tab.plots.items
    f = tmp_path / "prices.csv"
    f.write_text("day,price\n1,10.5\n2,11\n3,9.75\n")
    tab.load_values(f)
    assert tab.source.currentData() == VALUES and tab.request()["values"] == [10.5, 11.0, 9.75]


@pytest.mark.parametrize("text, message", [
    ("1, 2, x", "The pasted text holds 'x', which is not a number"),
    ("", "Paste some numbers"),
])
def test_bad_pasted_input_shows_one_sentence(qtbot, tab, text, message):
    choose(tab.source, VALUES)
    tab.values.setPlainText(text)
    with qtbot.waitSignal(tab.run_failed, timeout=5000) as blocker:
        tab.run_button.click()
    assert message in blocker.args[0] and message in tab.message.text()
    assert tab.result is None and tab.run_button.isEnabled()


@pytest.mark.parametrize("text, message", [("4 4 4 4", "constant"), ("1 2", "at least 3 values")])
def test_bad_series_fails_on_the_worker_with_one_sentence(qtbot, tab, text, message):
    choose(tab.source, VALUES)
    tab.values.setPlainText(text)
    with qtbot.waitSignal(tab.run_failed, timeout=30000) as blocker:
        tab.run_button.click()
    assert message in blocker.args[0] and "Traceback" not in blocker.args[0]
    assert tab.run_button.isEnabled() and not tab.cancel_button.isEnabled()


def test_missing_file_and_no_model(qtbot, tab, tmp_path):
    with qtbot.waitSignal(tab.run_failed, timeout=5000):
        tab.load_values(tmp_path / "nope.csv")
    assert "does not exist" in tab.message.text()
    tab.holder.lm = None
    with qtbot.waitSignal(tab.run_failed, timeout=30000) as blocker:
        tab.run_button.click()
    assert "No model is loaded" in blocker.args[0]


def test_cancel_stops_the_run(qtbot, tab):
    choose(tab.source, "lorenz")
    with qtbot.waitSignal(tab.run_cancelled, timeout=30000):
        tab.run()
        tab.cancel_button.click()
    assert tab.result is None and tab.run_button.isEnabled() and "Cancelled" in tab.message.text()


def test_exports(qtbot, tab, tmp_path):
    choose(tab.source, "gbm")
    tab.n_values.setValue(12)
    result = run_and_wait(qtbot, tab, tab.run_button.click)
    assert tab.export(tmp_path / "s.png").stat().st_size > 5000
    csv_text = tab.export(tmp_path / "s.csv").read_text()
    assert csv_text.startswith("index,value,encoded,value_score\n") and csv_text.count("\n") == 12 + 103
    saved = json.loads(tab.export(tmp_path / "s.json").read_text())
    assert saved["series"]["encoded"] == result.series.encoded
    with qtbot.waitSignal(tab.run_failed, timeout=5000):
        assert tab.export(tmp_path / "s.bmp") is None
    assert "use .png, .csv or .json" in tab.message.text()
    tab.copy_button.click()
    assert QGuiApplication.clipboard().image().width() > 1000


def test_keyboard_on_slider_reruns(qtbot, tab):
    choose(tab.source, "logistic")
    tab.n_values.setValue(10)
    run_and_wait(qtbot, tab, tab.run_button.click)
    tab.cutoff.setFocus()
    result = run_and_wait(qtbot, tab, lambda: qtbot.keyClick(tab.cutoff, Qt.Key.Key_Left))
    assert result.extra["cutoff"] == 9


def test_tab_in_the_main_window_uses_its_worker(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    tab = window.tabs.widget(titles.index("Time series"))
    assert isinstance(tab, SeriesTab)
    choose(tab.source, "lorenz_drift")
    tab.n_values.setValue(12)
    result = run_and_wait(qtbot, tab, tab.run_button.click)
    assert tab.worker is window.worker and result.series.system == "lorenz_drift"
