"""Help ▸ Examples in the window: an entry loads its prompt and settings, runs, shows the result
and a non-modal note with the key numbers (pytest-qt, real widgets)."""

from __future__ import annotations

import html
import re

import pytest

from jscope_desktop.engine.examples import EXAMPLES, get_example


def _action(window, name: str):
    (act,) = [a for a in window.examples_menu.actions() if a.data() == name]
    return act


def _plain(window) -> str:
    """The example panel's text as a reader sees it (tags dropped, entities decoded)."""
    text = re.sub(r"<(?!br)[^>]+>", "", window.example_note.label.text())
    return html.unescape(text.replace("<br>", "\n"))


def _help_menu(window):
    (menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"]
    return menu


def test_the_help_menu_lists_every_example(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    assert window.examples_menu.menuAction() in _help_menu(window).actions()
    assert [a.data() for a in window.examples_menu.actions()] == [e.id for e in EXAMPLES]
    for a, e in zip(window.examples_menu.actions(), EXAMPLES):
        assert e.title in a.text() and e.figure in a.text()


def test_a_single_example_loads_its_prompt_runs_and_shows_its_note(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    e = get_example("fig3-french")
    with qtbot.waitSignal(window.result_shown, timeout=120000) as blocker:
        _action(window, e.id).trigger()
    result = blocker.args[0]
    panel = window.prompt_panel
    assert panel.prompt.toPlainText() == e.prompt and panel.scope_name() == "fisher"
    assert result.scope == "fisher" and result.position == len(result.token_ids) - 2
    assert window.strip.result is result and window.tabs.currentIndex() == 0
    note = window.example_note
    assert note.isVisible()
    row = result.scores
    top = max((i for i, v in enumerate(row) if v is not None), key=lambda i: row[i])
    qtbot.waitUntil(lambda: "top tokens" in _plain(window), timeout=5000)
    assert e.note in _plain(window)
    assert f"top tokens: {result.tokens[top]!r} {row[top]:.3g}" in _plain(window).replace("\xa0", " ")
    assert panel.position == result.position  # the counted-back position, shown as an index


def test_a_comparison_example_shows_both_scopes(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    e = get_example("a4-fisher-vs-temperature")
    with qtbot.waitSignal(window.compare_shown, timeout=120000) as blocker:
        _action(window, e.id).trigger()
    first, second = window.compare_view.results
    assert (first.scope, second.scope) == ("fisher", "temperature")
    assert window.prompt_panel.prompt.toPlainText() == e.prompt
    assert window.tabs.currentWidget() is window.compare_view
    qtbot.waitUntil(lambda: "Spearman" in _plain(window), timeout=5000)
    assert _plain(window).endswith(f"tokens): {blocker.args[0]:.3f}")


def test_a_series_example_runs_in_the_series_tab(qtbot, make_window, tiny_llama):
    window = make_window(tiny_llama)
    e = get_example("fig5-brownian")
    tab = window.series_tab
    with qtbot.waitSignal(tab.result_shown, timeout=120000) as blocker:
        _action(window, e.id).trigger()
    result = blocker.args[0]
    assert window.tabs.currentWidget() is tab
    assert tab.source.currentData() == "brownian" and tab.n_values.value() == e.series["n_values"]
    assert result.series.system == "brownian" and len(result.series.values) == e.series["n_values"]
    qtbot.waitUntil(lambda: "late/early" in _plain(window), timeout=5000)


@pytest.mark.embedded
def test_the_bias_example_on_the_embedded_model(qtbot, make_window, embedded_model):
    window = make_window(embedded_model)
    e = get_example("fig2-bias")
    with qtbot.waitSignal(window.result_shown, timeout=300000) as blocker:
        _action(window, e.id).trigger()
    result = blocker.args[0]
    assert window.prompt_panel.prompt.toPlainText() == e.prompt
    assert result.target == " liberal" and "".join(result.tokens) == e.prompt
    ranked = sorted(range(len(result.scores)), key=lambda i: -result.scores[i])
    assert " Columbia" in [result.tokens[i] for i in ranked[:3]]  # as in the paper's Fig. 2


@pytest.mark.parametrize("size", [(1366, 768), (1280, 720)])
def test_the_example_note_is_as_tall_as_its_text(qtbot, make_window, tiny_llama, size):
    """The note under the views is as tall as its text (it was centred in a 190-pixel panel,
    half of it empty, squeezing the time-series charts at 768 pixels), from its first showing,
    at most a quarter of the window (also after the window is made smaller); a longer note
    scrolls."""
    window = make_window(tiny_llama)
    window.resize(*size)
    window.show()

    def fits_its_text(note) -> bool:
        scroll = note.widget()
        inside = scroll.viewport().height()
        return scroll.verticalScrollBar().maximum() == 0 and \
            inside <= note.label.heightForWidth(scroll.viewport().width()) + 16

    with qtbot.waitSignal(window.series_tab.result_shown, timeout=120000):
        _action(window, "fig5-brownian").trigger()
        note = window.example_note
        qtbot.waitUntil(lambda: fits_its_text(note), timeout=5000)  # while it runs
    qtbot.waitUntil(lambda: "late/early" in note.label.text() and fits_its_text(note), timeout=5000)
    assert note.height() <= window.height() // 4
    scroll = note.widget()
    note.label.setText(note.label.text() + "<br>more" * 40)  # a long note: it scrolls
    note.fit()
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().maximum() > 0, timeout=5000)
    assert note.height() <= window.height() // 4
    window.resize(size[0], 600)  # a smaller window: the panel keeps to its quarter
    qtbot.waitUntil(lambda: note.height() <= window.height() // 4, timeout=5000)
