"""The Time-series tab driven with pytest-qt on the tiny random model (offscreen)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage

from jscope_desktop.app.background.jobs import ModelHolder
from jscope_desktop.app.background.worker import Worker
from jscope_desktop.app.series.tab import VALUES, SeriesTab
from jscope_desktop.render.core.colormaps import COLORMAPS, SERIES_COLOURS
from jscope_desktop.render.core.series_data import summary_sentences
from jscope_desktop.render.figures.formats import paint_to_image
from jscope_desktop.render.figures.strip import LIGHT


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


def grab(widget):
    """The widget as painted on screen (offscreen), and its device pixel ratio."""
    image = widget.grab().toImage()
    return image, image.devicePixelRatio()


def rgb_at(shot, x, y):
    image, dpr = shot
    c = image.pixelColor(int(x * dpr), int(y * dpr))
    return c.red(), c.green(), c.blue()


def count_where(shot, rect, keep):
    """Pixels of ``rect`` (logical px) whose (r, g, b) passes ``keep``."""
    image, dpr = shot
    n = 0
    for y in range(int(rect.top() * dpr), int(rect.bottom() * dpr)):
        for x in range(int(rect.left() * dpr), int(rect.right() * dpr)):
            c = image.pixelColor(x, y)
            n += bool(keep(c.red(), c.green(), c.blue()))
    return n


def count_near(shot, rect, rgb, tol=40):
    """Pixels of ``rect`` (logical px) within ``tol`` (sum of |channel differences|) of ``rgb``."""
    return count_where(shot, rect, lambda *c: sum(abs(a - b) for a, b in zip(c, rgb)) <= tol)


def hex_rgb(colour):
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_generator_run_draws_series_scores_and_distribution(qtbot, tab):
    choose(tab.source, "logistic")
    tab.n_values.setValue(20)
    tab.seed.setValue(3)
    result = run_and_wait(qtbot, tab, tab.run_button.click)
    s = result.series
    assert s.system == "logistic" and len(s.values) == 20 and result.cutoff == 20
    fig = tab.plots.figure()
    assert fig.view.encoded == s.encoded and fig.view.scores == s.value_scores
    assert fig.view.probs == s.next_value["probs"] and fig.view.truth is not None
    shot = grab(tab.plots)
    viridis = COLORMAPS["viridis"]
    for i, (e, score) in enumerate(zip(s.encoded, s.value_scores)):  # each dot at its value,
        assert rgb_at(shot, fig.x_of(i), fig.y_of(e)) == pytest.approx(  # in its score's colour
            viridis.rgb(fig.norm(score)), abs=3)
    top = int(np.argmax(s.value_scores))
    for i in (top, int(np.argmin(s.value_scores))):  # bars: height in proportion to the score
        bar_top = fig.bars.bottom() - fig.norm(s.value_scores[i]) * (fig.bars.height() - 2)
        assert rgb_at(shot, fig.x_of(i), bar_top + 2) == pytest.approx(
            viridis.rgb(fig.norm(s.value_scores[i])), abs=3)
        assert rgb_at(shot, fig.x_of(i), bar_top - 3) == hex_rgb(LIGHT.background.name())
    assert rgb_at(shot, fig.x_of(top), fig.bars.bottom() - 2) == pytest.approx(viridis.rgb(1.0), abs=3)
    model = hex_rgb(SERIES_COLOURS.model)  # the model's guess, and the truth against it
    assert rgb_at(shot, fig.x_of(20), fig.y_of(fig.view.most_likely)) == pytest.approx(model, abs=3)
    assert count_near(shot, fig.dist, hex_rgb(SERIES_COLOURS.truth)) > 50
    assert "Top values by score" in tab.summary.text()
    assert tab.summary.text() == " ".join(summary_sentences(result, strong=lambda t: f"<b>{t}</b>"))
    assert "Top values by score" not in str(fig.footer)  # the tab shows the summary, not the figure
    rgb32 = QImage.Format.Format_RGB32  # the widget paints the render layer's figure, pixel for pixel
    assert paint_to_image(fig, shot[1]).convertToFormat(rgb32) == shot[0].convertToFormat(rgb32)
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
    assert result.cutoff == 9 and result.series.value_scores[9:] == [None] * 6
    fig, shot = tab.plots.figure(), grab(tab.plots)
    assert fig.view.cutoff == 9 and fig.cutoff_x() == pytest.approx((fig.x_of(8) + fig.x_of(9)) / 2)
    column = fig.plot.adjusted(fig.cutoff_x() - fig.plot.left() - 1, 0, 0, 0)
    column.setWidth(3)
    red = count_where(shot, column, lambda r, g, b: r > g + 80 and r > b + 80)  # the marker, dashed
    assert red > fig.plot.height() / 3 and LIGHT.marker.name() == "#d62728"
    assert tab.plots.view.realised == result.series.encoded[9]
    for i in range(10, 15):  # the values after the cutoff were not seen: hollow dots
        assert rgb_at(shot, fig.x_of(i), fig.y_of(result.series.encoded[i])) == (255, 255, 255)
    ring = fig.plot.adjusted(fig.x_of(9) - 12 - fig.plot.left(), 0, 0, 0)
    ring.setWidth(24)
    assert count_near(shot, ring, hex_rgb(SERIES_COLOURS.truth)) > 20  # the true next value
    assert tab.plots.tooltip_at(QPointF(fig.x_of(9), fig.y_of(0))).startswith("value 10: ")


def test_pasted_values_and_loaded_file(qtbot, tab, tmp_path):
    choose(tab.source, VALUES)
    tab.values.setPlainText("1, 2, 3.5\n5 8 4 2")
    result = run_and_wait(qtbot, tab, tab.run_button.click)
    assert result.series.values == [1, 2, 3.5, 5, 8, 4, 2] and result.series.system is None
    fig = tab.plots.figure()
    assert fig.view.truth is None and fig.view.realised is None
    assert count_near(grab(tab.plots), fig.dist, hex_rgb(SERIES_COLOURS.truth)) == 0
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
    svg = tab.export(tmp_path / "s.svg").read_text(encoding="utf-8")
    rings = tab.plots.view.realised is not None  # the dots, the model's guess, the true value
    assert svg.count("<circle") == 12 + 1 + rings and "Top values by score" in svg
    assert tab.export(tmp_path / "s.PDF").read_bytes().startswith(b"%PDF")
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
    assert result.cutoff == 9


def test_tab_in_the_main_window_uses_its_worker(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    tab = window.tabs.widget(titles.index("Time series"))
    assert isinstance(tab, SeriesTab)
    choose(tab.source, "lorenz_drift")
    tab.n_values.setValue(12)
    result = run_and_wait(qtbot, tab, tab.run_button.click)
    assert tab.worker is window.worker and result.series.system == "lorenz_drift"
