"""The attention-sink control (render/core/view_options.py) and publication-quality exports.

A result whose first token dominates: leaving it out of the colour scale must move the scale's
top to the largest *other* score and rank 1 to the next token, in every view (strip figure,
matrix, series, terminal, CLI, app), while the stored scores and the JSON stay as computed.
Expected values are computed here from the scores directly, never by the code under test.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import unicodedata
import xml.etree.ElementTree as ET

import pytest
from cli_helpers import run_cli

from jscope_desktop.engine.results.result import AttributionResult, Timing, TopToken
from jscope_desktop.render.core.view_options import ScaleExclusion, masked, scale_mask, template_tokens

SINK = 30.0  # the first token's score: ten times any other


def sink_result() -> AttributionResult:
    """Ten tokens, a BOS first; the BOS scores SINK, token 4 scores 3.0 (the largest other)."""
    tokens = ["<s>", "The", " cat", " sat", ".", "\n", "It", " was", " very", " happy"]
    scores = [SINK] + [0.1 * (i + 1) for i in range(1, 10)]
    scores[4] = 3.0
    return AttributionResult(
        model={"name": "Fake"}, device="cpu", dtype="float32", token_ids=list(range(10)),
        tokens=tokens, position=9, scope="temperature", target_id=None, target=None,
        foil_id=None, foil=None, scores=scores, topk=[TopToken(7, " and", 0.5)],
        timing=Timing(0.01, 0.03, 1), special=[i == 0 for i in range(10)],
    )


def chat_result() -> AttributionResult:
    """The SmolLM2 chat layout of "The capital of France is" (tokens, special, roles as the
    engine marks them), with made-up scores."""
    sys_text = ["You", " are", " a", " helpful", " AI", " assistant", " named", " Sm", "ol", "LM",
                ",", " trained", " by", " H", "ugging", " Face"]
    tokens = (["<|im_start|>", "system", "\n"] + sys_text + ["<|im_end|>", "\n", "<|im_start|>",
              "user", "\n", "The", " capital", " of", " France", " is", "<|im_end|>", "\n",
              "<|im_start|>", "ass", "istant", "\n"])
    n = len(tokens)
    special = [t in ("<|im_start|>", "<|im_end|>") for t in tokens]
    roles = ([None, None] + ["system"] * 17 + [None, "system", None, None] + ["user"] * 6
             + [None, "user", None, None, None, "assistant"])
    assert len(roles) == n
    return AttributionResult(
        model={"name": "Fake"}, device="cpu", dtype="float32", token_ids=list(range(n)),
        tokens=tokens, position=n - 1, scope="temperature", target_id=None, target=None,
        foil_id=None, foil=None, scores=[1.0 + i for i in range(n)], topk=[],
        timing=Timing(0.01, 0.03, 1), special=special, roles=roles,
    )


# -- the option itself -----------------------------------------------------------------------
def test_masks_of_each_set():
    r = sink_result()
    assert scale_mask(r, None) == [False] * 10
    assert scale_mask(r, "first") == [True] + [False] * 9
    assert scale_mask(r, "special") == [True] + [False] * 9
    assert scale_mask(r, "2,-1,99") == [i in (2, 9) for i in range(10)]  # 99: out of range
    c = chat_result()
    user = {i for i, t in enumerate(c.tokens) if t in ("The", " capital", " of", " France", " is")}
    assert template_tokens(c) == [i not in user for i in range(len(c.tokens))]
    assert scale_mask(c, "special") == c.special
    assert sum(scale_mask(c, "template")) == len(c.tokens) - 5


def test_parse_round_trip_and_errors():
    for text in ("", "first", "special,template", "first,3,-1"):
        assert ScaleExclusion.parse(ScaleExclusion.parse(text).to_text()) == ScaleExclusion.parse(text)
    assert ScaleExclusion.parse("template, first").to_text() == "first,template"
    assert ScaleExclusion.parse("none") == ScaleExclusion()
    # captions count tokens from 1, as every sentence does: indices 2, 5 are tokens 3, 6
    assert ScaleExclusion.parse("first,2,5").describe() == "first token and tokens 3, 6"
    assert ScaleExclusion.parse("0,-1,-2").describe() == (
        "token 1, the last token and the 2nd-last token")


@pytest.mark.parametrize("typed, stored", [("1,4", "0,3"), ("first, -1", "first,-1"),
                                           ("", ""), ("special,2,-12", "special,1,-12")])
def test_the_app_box_counts_tokens_from_1(typed, stored):
    from jscope_desktop.render.core.view_options import indices_to_numbers, numbers_to_indices

    assert numbers_to_indices(typed) == stored
    assert numbers_to_indices(indices_to_numbers(stored)) == stored


@pytest.mark.parametrize("typed", ["0", "1,0", "one", "1.5", "--1"])
def test_the_app_box_refuses_what_is_not_a_token_number(typed):
    from jscope_desktop.render.core.view_options import numbers_to_indices

    with pytest.raises(ValueError):
        numbers_to_indices(typed)
    with pytest.raises(ValueError, match="Cannot exclude 'bos' from the colour scale"):
        ScaleExclusion.parse("bos")
    assert masked([[1.0, 2.0], [3.0, None]], [True, False]) == [[None, 2.0], [None, None]]


# -- pictures --------------------------------------------------------------------------------
def _brightest_box(fig, image, scale=2.0):
    """Index of the unit whose box centre-left pixel is the colour map's top colour."""
    from jscope_desktop.render.figures.export import MARGIN

    top = fig.cmap.rgb(1.0)
    hits = []
    for box in fig.layout.boxes:
        if box.unit < 0:
            continue
        x = (MARGIN + box.rect.left() + 2) * scale
        y = (MARGIN + fig.header_h + box.rect.center().y()) * scale
        c = image.pixelColor(round(x), round(y))
        if max(abs(c.red() - top[0]), abs(c.green() - top[1]), abs(c.blue() - top[2])) <= 3:
            hits.append(box.unit)
    return hits


def test_the_scale_and_ranking_leave_the_sink_out_and_the_scores_stay(qapp):
    from jscope_desktop.render.core.figure_options import FigureOptions
    from jscope_desktop.render.figures.export import Figure
    from jscope_desktop.render.figures.pictures import render_picture

    r = sink_result()
    stored, as_json = copy.deepcopy(r.scores), r.to_json()
    plain = Figure(r, FigureOptions())
    sinkless = Figure(r, FigureOptions(exclude="first"))
    assert plain.norm.vmax == SINK
    assert sinkless.norm.vmax == max(r.scores[1:]) == 3.0
    assert [u.start for u in plain.units if u.rank == 1] == [0]
    assert [u.start for u in sinkless.units if u.rank == 1] == [4]
    assert sinkless.units[0].excluded and sinkless.units[0].rank is None
    assert sinkless.units[0].score == SINK  # the raw score is kept for the tooltip
    assert _brightest_box(plain, render_picture(r, FigureOptions())) == [0]
    assert _brightest_box(sinkless, render_picture(r, FigureOptions(exclude="first"))) == [4]
    assert any("colour scale excludes: first token" in line for line in sinkless.footer)
    assert not any("excludes" in line for line in plain.footer)
    assert r.scores == stored and r.to_json() == as_json


def test_excluded_tokens_are_drawn_grey_and_hatched(qapp):
    from jscope_desktop.render.core.figure_options import FigureOptions
    from jscope_desktop.render.figures.export import MARGIN, Figure
    from jscope_desktop.render.figures.pictures import render_picture
    from jscope_desktop.render.figures.strip import LIGHT

    r = sink_result()
    fig = Figure(r, FigureOptions(exclude="first"))
    image = render_picture(r, FigureOptions(exclude="first"))
    box = next(b for b in fig.layout.boxes if b.unit == 0).rect
    colours = set()
    y = round((MARGIN + fig.header_h + box.top() + 3) * 2)
    for x in range(round((MARGIN + box.left() + 2) * 2), round((MARGIN + box.right() - 2) * 2)):
        for dy in range(4):
            c = image.pixelColor(x, y + dy)
            colours.add((c.red(), c.green(), c.blue()))
    grey = LIGHT.excluded.getRgb()[:3]
    assert grey in colours and any(sum(c) < sum(grey) - 60 for c in colours)  # hatch lines
    assert not colours & {fig.cmap.rgb(i / 20) for i in range(21)}  # no score colour
    assert "excluded" in fig.key


def test_word_units_drop_only_the_excluded_members():
    from jscope_desktop.render.core.units import make_units

    r = sink_result()
    r.tokens[:2], r.special = ["Th", "e"], [False] * 10  # "The", one word: partly excluded
    units = make_units(r, "word", exclude="first")
    first = units[0]
    assert (first.start, first.end, first.excluded, first.dropped) == (0, 2, False, 1)
    assert first.score == pytest.approx(r.scores[1])  # L2 of the member kept


def test_svg_and_pdf_carry_real_text(qapp, tmp_path):
    from jscope_desktop.render.outputs import save_picture

    r = sink_result()
    svg = save_picture(r, tmp_path / "a.svg", exclude="first")
    root = ET.parse(svg).getroot()
    texts = ["".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")]
    for token in ("·cat", "·happy", "Temperature Scope · Fake", "excluded from the colour scale"):
        assert any(token in t for t in texts), token
    families = set(re.findall(r'font-family="([^"]+)"', svg.read_text(encoding="utf-8")))
    assert families and all(f.endswith("sans-serif") for f in families), families
    pdf = save_picture(r, tmp_path / "a.pdf", exclude="first")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed (Debian: poppler-utils)")
    text = unicodedata.normalize("NFKC", subprocess.run(  # NFKC: "ﬁ" ligatures as "fi"
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout)
    for token in ("·cat", "·happy", "colour scale excludes: first token", "‖Jᵀu‖"):
        assert unicodedata.normalize("NFKC", token) in text, token
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # embedded


def test_matrix_and_series_pictures_leave_the_sink_out(qapp, tiny_llama, tmp_path):
    from jscope_desktop.engine.explain.generation import generate_attribution
    from jscope_desktop.engine.series.explain import SeriesRequest, explain_series
    from jscope_desktop.render.figures.matrix import MatrixFigure
    from jscope_desktop.render.figures.series_plot import SeriesFigure
    from jscope_desktop.render.outputs import save_picture

    m = generate_attribution(tiny_llama, "12,34,", 3)
    rest = [v for row in m.scores for v in row[1:] if v is not None]
    assert MatrixFigure(m, exclude="first").norm.vmax == pytest.approx(max(rest))
    everything = [v for row in m.scores for v in row if v is not None]
    assert MatrixFigure(m).norm.vmax == pytest.approx(max(everything))
    save_picture(m, tmp_path / "m.png", exclude="first")
    s = explain_series(tiny_llama, SeriesRequest(system="logistic", n_values=8))
    first = s.series.value_spans[0][0]  # the first token of value 1 (after a BOS, if any)
    assert SeriesFigure(s, exclude="first").excluded == [first == 0] + [False] * 7
    fig = SeriesFigure(s, exclude=str(first))
    assert fig.excluded == [True] + [False] * 7
    kept = [v for v in s.series.value_scores[1:] if v is not None]
    assert fig.norm.vmax == pytest.approx(max(kept))
    assert any(f"Colour scale excludes: token {first + 1} (value 1;" in line for line in fig.footer)
    save_picture(s, tmp_path / "s.svg", exclude=str(first))
    assert "value score ‖Jᵀu‖" in (tmp_path / "s.svg").read_text(encoding="utf-8")


# -- terminal and command line ---------------------------------------------------------------
def test_terminal_top_list_and_legend(capsys):
    from rich.console import Console

    from jscope_desktop.render.core.terminal import print_result

    r = sink_result()
    for exclude, first_row, top in ((None, "0", "30"), ("first", "4", "3")):
        console = Console(record=True, width=140, color_system=None)
        print_result(r, console, exclude=exclude)
        text = console.export_text()
        table = text.split("Most influential tokens")[1].splitlines()
        assert table[2].split()[0] == first_row
        assert ("<s>" in text.split("Most influential tokens")[1]) == (exclude is None)
        assert f"  0 {' ' * 20} {top}  (raw" in text
        assert ("colour scale excludes: first token" in text) == bool(exclude)


def test_cli_option_changes_pictures_not_the_json(capsys, tmp_path, tiny_llama, monkeypatch):
    from jscope_desktop.commands import attribute as attribute_command

    monkeypatch.setattr(attribute_command, "load_model", lambda *a, **k: tiny_llama)
    outs = {}
    for name, extra in (("plain", []), ("sink", ["--exclude-from-scale", "first,2"])):
        status, _, err = run_cli(capsys, "attribute", "12,34,56,", "--json",
                                 str(tmp_path / f"{name}.json"), "--svg",
                                 str(tmp_path / f"{name}.svg"), "--html",
                                 str(tmp_path / f"{name}.html"), *extra)
        assert status == 0, err
        outs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    for d in outs.values():
        d.pop("timing")
    assert outs["plain"] == outs["sink"]
    svg = (tmp_path / "sink.svg").read_text(encoding="utf-8")
    assert "first token and token 3" in svg  # index 2 is the third token
    assert "colour scale excludes" not in (tmp_path / "plain.svg").read_text(encoding="utf-8")
    status, _, err = run_cli(capsys, "attribute", "x", "--exclude-from-scale", "bos")
    assert status == 2 and "Cannot exclude 'bos'" in err and "Traceback" not in err


# -- the app ---------------------------------------------------------------------------------
def test_the_app_toggles_the_sink_control(qtbot, tiny_llama, tmp_path):
    from jscope_desktop.app.actions.session import load_session
    from jscope_desktop.app.window.main_window import MainWindow

    window = MainWindow(model=tiny_llama, autoload=False)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=60000)
    window.prompt_panel.prompt.setPlainText("12,34,56,")
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        window.prompt_panel.run_button.click()
    r = window.result
    stored = copy.deepcopy(r.scores)
    scores = [s for s in r.scores if s is not None]
    kept = [s for s in r.scores[1:] if s is not None]
    assert window.strip.norm.vmax == pytest.approx(max(scores))
    combo = window.view_controls.exclude
    combo.setCurrentIndex(combo.findData("first"))
    assert window.strip.units[0].excluded and window.strip.units[0].rank is None
    assert window.strip.norm.vmax == pytest.approx(max(kept))
    best = max(range(1, len(r.scores)), key=lambda i: r.scores[i] or -1.0)
    assert [u.start for u in window.strip.units if u.rank == 1] == [best]
    assert "excludes first token" in window.strip.colorbar_title()
    assert "excluded from the colour scale" in window.strip.tooltip(0)
    assert window.settings.get("exclude") == "first"
    assert window.save_image(str(tmp_path / "a.svg"))
    assert "colour scale excludes: first token" in (tmp_path / "a.svg").read_text(encoding="utf-8")
    assert window.save_session(str(tmp_path / "s.jscope.json"))
    assert load_session(tmp_path / "s.jscope.json").view["exclude"] == "first"
    combo.setCurrentIndex(combo.findData("custom"))
    window.view_controls.indices.setText("1,-1")  # the first and the last, counted from 1
    window.view_controls.indices.editingFinished.emit()
    assert [u.excluded for u in window.strip.units] == scale_mask(r, "0,-1")
    assert window.view_controls.exclusion() == "0,-1"
    window.view_controls.indices.setText("0")  # there is no token 0: refused, the box says so
    window.view_controls.indices.editingFinished.emit()
    assert window.strip.exclude == "0,-1" and "counted from 1" in window.view_controls.indices.toolTip()
    window.view_controls.indices.setText("zero")  # not indices: the last choice stays
    window.view_controls.indices.editingFinished.emit()
    assert window.strip.exclude == "0,-1"
    window.view_controls.set_view(exclude="2,4")  # a stored option shows as numbers from 1
    assert window.view_controls.indices.text() == "3,5"
    combo.setCurrentIndex(0)
    assert window.strip.norm.vmax == pytest.approx(max(scores))
    assert r.scores == stored
    window.close()


def test_the_series_tab_saves_a_web_page(qtbot, tiny_llama, tmp_path, monkeypatch):
    from jscope_desktop.app.window.main_window import MainWindow
    from jscope_desktop.render.core.html import read_embedded

    window = MainWindow(model=tiny_llama, autoload=False)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=60000)
    tab = window.series_tab
    window.tabs.setCurrentWidget(tab)
    assert not tab.web_page_button.isEnabled()
    tab.n_values.setValue(8)
    with qtbot.waitSignal(tab.result_shown, timeout=60000):
        tab.run_button.click()
    assert tab.web_page_button.isEnabled()
    from PySide6.QtWidgets import QFileDialog

    offered = []

    def dialog(parent, title, suggested, filters):  # the user types "s": no suffix
        offered.append(suggested)
        return str(tmp_path / "s"), filters
    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    tab.web_page_button.click()
    assert offered[0].endswith(".html")  # a suggested name of the right kind
    page = (tmp_path / "s.html").read_text(encoding="utf-8")  # the suffix was added
    assert read_embedded(page) == json.loads(tab.result.to_json())
    window.close()


def test_the_matrix_view_greys_excluded_columns(qtbot, tiny_llama):
    from jscope_desktop.app.widgets.matrix_view import MatrixView
    from jscope_desktop.engine.explain.generation import generate_attribution
    from jscope_desktop.render.core.colormaps import COLORMAPS
    from jscope_desktop.render.figures.strip import LIGHT

    m = generate_attribution(tiny_llama, "12,34,", 3)
    view = MatrixView()
    qtbot.addWidget(view)
    view.set_result(m)
    view.set_view(exclude="first")
    grey = (*LIGHT.excluded.getRgb()[:3], 255)
    assert all(view.cell_color(r, 0) == grey for r in range(len(m.positions)))
    rest = [(v, r, c) for r, row in enumerate(m.scores) for c, v in enumerate(row)
            if c > 0 and v is not None]
    _, r, c = max(rest)
    assert view.cell_color(r, c)[:3] == COLORMAPS["viridis"].rgb(1.0)  # the top of the scale
    assert view.strip.units[0].excluded
    view.set_view(exclude="")
    assert view.cell_color(0, 0) != grey


def test_the_matrix_view_shows_the_exported_picture(qtbot, tiny_llama):
    """The matrix tab paints the same picture "Save image" writes: pixel for pixel at 1×."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    from jscope_desktop.app.widgets.matrix_view import MatrixView
    from jscope_desktop.engine.explain.generation import generate_attribution
    from jscope_desktop.render.core.figure_options import FigureOptions
    from jscope_desktop.render.figures.pictures import render_picture

    m = generate_attribution(tiny_llama, "12,34,", 3)
    view = MatrixView()
    qtbot.addWidget(view)
    view.set_result(m)
    view.set_view(cmap="magma", scale="log", exclude="first")
    shown = view.canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    shown.setDevicePixelRatio(1.0)
    exported = render_picture(m, FigureOptions(cmap="magma", scale="log", exclude="first"),
                              scale=1.0).convertToFormat(QImage.Format.Format_RGB32)
    assert shown.size() == exported.size()
    assert shown == exported
    row = max(range(len(m.positions)), key=lambda r: max(v or 0 for v in m.scores[r][1:]))
    centre = view.figure.cell_rect(row, 1).center().toPoint()
    with qtbot.waitSignal(view.row_chosen) as chosen:
        qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=centre)
    assert chosen.args == [m.positions[row]] and view.strip.position == m.positions[row]
