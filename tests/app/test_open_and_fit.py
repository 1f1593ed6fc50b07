"""The app at a person's desk: it opens what it saved (every kind of result, sessions, web pages;
from File ▸ Open, Open Recent or the command line), refuses anything else in one sentence
without losing what is on screen, adds a missing suffix, and fits a 1,280 × 720 screen."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QPushButton, QWidget

from jscope_desktop.engine.explain.generation import generate_attribution
from jscope_desktop.engine.explain.multi import attribute_many
from jscope_desktop.engine.results.request import AttributionRequest
from jscope_desktop.engine.series.explain import SeriesRequest, explain_series
from jscope_desktop.render.outputs import save_page

PROMPT = "12,34,56,"


@pytest.fixture
def saved(tiny_llama, tmp_path):
    """One file of every kind the product writes, from real runs of the tiny model."""
    from jscope_desktop.engine.explain.attribute import attribute

    results = {
        "single": attribute(tiny_llama, AttributionRequest(prompt=PROMPT, scope="fisher")),
        "multi": attribute_many(tiny_llama, AttributionRequest(prompt=PROMPT),
                                ["temperature", "semantic"]),
        "matrix": generate_attribution(tiny_llama, PROMPT, 3),
        "series": explain_series(tiny_llama, SeriesRequest(values=[12.0, 40, 33, 70, 21, 55])),
    }
    files = {}
    for kind, r in results.items():
        r.save(tmp_path / f"{kind}.json")
        save_page(r, tmp_path / f"{kind}.html")
        files[kind] = (tmp_path / f"{kind}.json", tmp_path / f"{kind}.html")
    return results, files


def _shown(window, kind):
    return {"single": lambda: window.result, "multi": lambda: window.compare_view.multi,
            "matrix": lambda: window.matrix_view.result,
            "series": lambda: window.series_tab.result}[kind]()


def test_every_saved_kind_opens_as_it_was_saved(qtbot, make_window, tiny_llama, saved, tmp_path):
    results, files = saved
    window = make_window(tiny_llama)
    for kind, (json_path, page_path) in files.items():
        for path in (json_path, page_path):
            assert window.open_file(str(path)), window.message.text()
            assert _shown(window, kind).to_dict() == results[kind].to_dict(), (kind, path)
            assert window.statusBar().currentMessage() == f"Opened {path.name}."
    tab = {"single": 0, "multi": 1, "matrix": 2, "series": 3}
    assert window.tabs.currentIndex() == tab["series"]
    assert window.open_file(str(files["matrix"][0])) and window.tabs.currentIndex() == tab["matrix"]
    recent = [a.text() for a in window.recent_menu.actions()]
    assert recent[0] == "matrix.json" and "single.html" in recent and len(recent) <= 8
    window.save_session(str(tmp_path / "mine"))  # no suffix: the session's is added
    assert (tmp_path / "mine.jscope.json").is_file()
    other = make_window(tiny_llama)
    assert other.open_file(str(tmp_path / "mine.jscope.json"))
    assert other.result.to_dict() == window.result.to_dict()


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "result file"),
    (b"\xff\xfe\x00garbage", "result file"),
    (b"[1, 2, 3]", "not a table"),
    (b'{"kind": "jscope-session", "version": 99}', "session"),
    (b'{"version": 1, "tokens": ["a"]}', "not a Jacobian Scopes result"),
])
def test_a_file_that_is_no_result_is_one_sentence_and_changes_nothing(
        qtbot, make_window, tiny_llama, saved, tmp_path, content, needle):
    results, files = saved
    window = make_window(tiny_llama)
    assert window.open_file(str(files["single"][0]))
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert not window.open_file(str(bad))
    text = window.message.text()
    assert needle in text and "\n" not in text and "Traceback" not in text, text
    assert window.result.to_dict() == results["single"].to_dict()  # still on screen


def test_pages_and_odd_paths_are_refused_in_one_sentence(qtbot, make_window, tiny_llama, tmp_path):
    window = make_window(tiny_llama)
    page = tmp_path / "other.html"
    page.write_text("<html><body>not ours</body></html>", encoding="utf-8")
    cases = {page: "not a web page written by Jacobian Scopes",
             tmp_path / "missing.json": "does not exist", tmp_path: "result file"}
    for path, needle in cases.items():
        assert not window.open_file(str(path))
        assert needle in window.message.text(), (path, window.message.text())
    broken = tmp_path / "broken.html"  # an embedded result that is not one
    broken.write_text('<script type="application/json" id="jscope-result">{"x": 1}</script>',
                      encoding="utf-8")
    assert not window.open_file(str(broken))
    assert "The result inside broken.html" in window.message.text()


def _clipped(window: QWidget, widgets: list[QWidget]) -> list[str]:
    """The widgets not wholly visible inside ``window`` (their visible region is not all of
    them: cut by the window edge or by a scroll area)."""
    bad = []
    for w in widgets:
        if not w.isVisible():
            bad.append(f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r} hidden")
            continue
        if w.visibleRegion().boundingRect().size() != w.rect().size():
            bad.append(f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r} clipped")
    return bad


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1920, 1080)])
def test_the_window_fits_a_laptop_and_every_control_is_whole(qtbot, make_window, tiny_llama,
                                                             size):
    window = make_window(tiny_llama)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint
    window.resize(*size)
    window.reset_layout() if size == (1920, 1080) else None
    window.resize(*size)
    qtbot.wait(100)
    assert (window.width(), window.height()) == size
    panel = window.prompt_panel
    controls = [panel.run_button, panel.cancel_button, panel.scope, panel.prompt,
                panel.compare_button, panel.generate_button, window.view_controls.cmap,
                window.view_controls.exclude, window.cost_panel.measure, window.cost_panel.exact]
    assert _clipped(window, controls) == []
    table = window.cost_panel.table
    needed = sum(table.columnWidth(c) for c in range(table.columnCount()))
    assert table.viewport().width() >= needed  # every figure of the cost table in view
    assert _clipped(window, [table]) == []
    window.prompt_panel.prompt.setPlainText("12,34,56,78")
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        window.run()
    qtbot.wait(100)  # a run fills the cost table and the distribution: still nothing sideways
    assert (window.width(), window.height()) == size
    right = window.splitter.widget(2)
    assert not right.horizontalScrollBar().isVisible(), (right.width(), window.splitter.sizes())
    assert _clipped(window, controls) == []
    buttons = [b for b in window.findChildren(QPushButton) if b.isVisibleTo(window)
               and window.tabs.currentWidget().isAncestorOf(b) is False]
    assert all(b.width() >= b.minimumSizeHint().width() for b in buttons)  # no cut labels


def test_reset_layout_and_first_start(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    assert "Try it" in window.ranking.text()  # the empty state teaches
    assert not window.distribution.plot.isVisible()  # no meaningless axes before a run
    assert "No prediction yet" in window.distribution.stats.text()
    window.splitter.setSizes([100, 1000, 100])
    window.reset_layout()
    left, middle, right = window.splitter.sizes()
    assert middle > left > 200 and right > 200


def test_compare_with_nothing_ticked_and_a_matrix_that_changes_scope_say_so(
        qtbot, make_window, tiny_llama):
    from PySide6.QtCore import Qt

    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    box = window.compare_view.scope_list
    for i in range(box.count()):
        box.item(i).setCheckState(Qt.CheckState.Unchecked)
    assert window.compare() is None
    assert window.message.text() == "Tick at least one scope in the Compare tab to compare."
    window.prompt_panel.set_scope("fisher")
    with qtbot.waitSignal(window.matrix_shown, timeout=60000) as shown:
        window.generate(2)
        assert "uses the Temperature Scope" in window.statusBar().currentMessage()
    assert shown.args[0].scope == "temperature"
    assert "Temperature Scope" in window.matrix_view.summary.text()  # the matrix says which


def test_every_control_has_a_name_and_tab_leaves_the_cost_table(qtbot, make_window, tiny_llama):
    from PySide6.QtCore import Qt

    from jscope_desktop.app.window.accessibility import name_controls

    window = make_window(tiny_llama)
    assert name_controls(window) == []  # nothing a person operates is nameless
    assert window.prompt_panel.run_button.accessibleName() == "Run"
    assert window.prompt_panel.scope.accessibleName() == "Scope"
    table = window.cost_panel.table
    assert not table.tabKeyNavigation()
    window.activateWindow()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=5000)
    qtbot.keyClick(table, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: not table.hasFocus(), timeout=5000)  # Tab moved on, not cell to cell


def test_a_long_prompt_scrolls_to_the_explained_token_and_the_layout_does_not_jump(
        qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.resize(1280, 720)
    before = window.tabs.geometry()
    window.view_controls.set_zoom(3.0)  # big boxes: the strip is several screens tall
    window.prompt_panel.prompt.setPlainText("12,34,56," * 24)  # ~220 tokens
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        window.run()
        assert window.progress.isVisible()
    assert window.tabs.geometry() == before  # the progress bar kept its place, hidden or not
    bar = window.strip_scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5000)  # the strip is taller than the view
    qtbot.waitUntil(lambda: bar.value() > 0, timeout=5000)  # scrolled down to the last token
    explained = window.strip.unit_rect(window.strip.explained).center().toPoint()
    at = window.strip.mapTo(window.strip_scroll.viewport(), explained)
    assert window.strip_scroll.viewport().rect().contains(at)


def test_compare_and_matrix_say_when_they_show_an_earlier_prompt(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    with qtbot.waitSignal(window.multi_shown, timeout=60000):
        window.compare(["temperature", "semantic"])
    with qtbot.waitSignal(window.matrix_shown, timeout=60000):
        window.generate(2)
    assert window.compare_view.stale.isHidden()
    assert window.matrix_view.stale.isHidden()
    window.prompt_panel.prompt.setPlainText("98,76,")
    qtbot.waitUntil(lambda: not window.compare_view.stale.isHidden(), timeout=5000)
    assert "earlier prompt (“12,34,56,”)" in window.compare_view.stale.text()
    assert not window.matrix_view.stale.isHidden()
    with qtbot.waitSignal(window.multi_shown, timeout=60000):
        window.compare(["temperature", "semantic"])
    assert window.compare_view.stale.isHidden()  # this prompt's again
    assert not window.matrix_view.stale.isHidden()  # still the earlier one


def test_the_time_series_tab_is_whole_at_1280(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    window.resize(1280, 720)
    tab = window.series_tab
    window.tabs.setCurrentWidget(tab)
    tab.n_values.setValue(8)
    with qtbot.waitSignal(tab.result_shown, timeout=60000):
        tab.run_button.click()
    qtbot.wait(100)
    side = tab.source.parentWidget().parentWidget().parentWidget()  # the controls' scroll area
    assert type(side).__name__.endswith("ScrollArea")
    assert not side.horizontalScrollBar().isVisible()  # nothing of the controls cut sideways
    buttons = [tab.source, tab.n_values, tab.digits, tab.scope, tab.run_button,
               tab.export_image_button, tab.export_csv_button, tab.export_json_button,
               tab.copy_button, tab.web_page_button]
    assert _clipped(window, buttons) == []
    assert all(b.width() >= b.minimumSizeHint().width() for b in buttons)


_AT_2X = """
from PySide6.QtWidgets import QApplication
from jscope_desktop.app.window.main_window import MainWindow
from jscope_desktop.app.window.palette import apply_palette
app = QApplication([])
apply_palette(app, False)
w = MainWindow(autoload=False)
w.resize(1280, 720)
w.show()
app.processEvents()
hint = w.minimumSizeHint()
shot = w.grab()
print(hint.width(), hint.height(), shot.devicePixelRatio(), shot.width(), w.width())
w.worker.shutdown()
"""


def test_at_2x_scaling_the_window_fits_and_draws_at_full_resolution(tmp_path):
    """QT_SCALE_FACTOR=2 (a 2,560 × 1,440 screen at 200 %): the minimum is still ≤ 1,280 × 720
    logical px, and the window is drawn with 2 device pixels a logical one (crisp, not scaled
    up from 1×)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _AT_2X], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    width, height, ratio, pixels, logical = out.stdout.split()
    assert int(width) <= 1280 and int(height) <= 720
    assert float(ratio) == 2.0 and int(pixels) == 2 * int(logical)
