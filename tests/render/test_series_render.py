"""Series picture and series view data: the bars carry the scores' colours, the CSV and the summary
numbers agree with the result."""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
import pytest

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.series.explain import SeriesRequest, explain_series
from jscope_desktop.render.core.colormaps import COLORMAPS
from jscope_desktop.render.core.series_data import (
    attention_summary,
    series_csv,
    series_view,
    summary_clauses,
    summary_line,
    summary_sentences,
)
from jscope_desktop.render.figures import formats
from jscope_desktop.render.figures.pictures import render_picture
from jscope_desktop.render.figures.series_plot import SeriesFigure
from jscope_desktop.render.outputs import save_picture

# A QApplication (pytest-qt's) before any picture: rendering alone would create a plain
# QGuiApplication, after which no later test in the session could create a widget.
pytestmark = pytest.mark.usefixtures("qapp")


@pytest.fixture(scope="module")
def result(tiny_llama):
    return explain_series(tiny_llama, SeriesRequest(system="brownian", n_values=24, seed=1,
                                                    cutoff=20))


def test_bars_are_coloured_by_score(result):
    image = render_picture(result, scale=1.0)
    fig = SeriesFigure(result)
    assert (image.width(), image.height()) == (fig.size().width(), fig.size().height())
    scores = result.series.value_scores
    top = int(np.nanargmax([np.nan if s is None else s for s in scores]))
    low = int(np.nanargmin([np.nan if s is None else s for s in scores]))
    y = round(fig.bars.bottom() - 2)
    bright = image.pixelColor(round(fig.x_of(top)), y)
    assert (bright.red(), bright.green(), bright.blue()) == pytest.approx(
        COLORMAPS["viridis"].rgb(1.0), abs=3)
    dim = image.pixelColor(round(fig.x_of(low)), y)
    assert dim.lightness() < bright.lightness()
    after = image.pixelColor(round(fig.x_of(22)), y)  # after the cutoff: no bar, background
    assert after.lightness() > 240


def test_save_png_and_refuse_other_suffix(result, tmp_path):
    path = save_picture(result, tmp_path / "s.png")
    assert path.stat().st_size > 5000
    with pytest.raises(JScopeError, match="use a .png file name"):
        save_picture(result, tmp_path / "s.jpg")


def test_svg_and_pdf_hold_the_same_figure(result, tmp_path):
    svg = save_picture(result, tmp_path / "s.svg").read_text(encoding="utf-8")
    assert svg.count("<circle") == 24 + 2  # the values, the model's guess, the true next value
    assert SeriesFigure(result).footer[0].replace("'", "&apos;") in svg
    assert save_picture(result, tmp_path / "s.pdf", dark=True).read_bytes().startswith(b"%PDF")


def test_every_picture_goes_through_the_format_table(result, tmp_path, monkeypatch):
    written = []
    for suffix, fmt in formats.IMAGE_FORMATS.items():
        def record(fig, path):  # writes into a temporary file beside the target (atomic write)
            path.write_bytes(type(fig).__name__.encode())
            written.append((type(fig).__name__, path.parent, path.suffix))
        monkeypatch.setitem(formats.IMAGE_FORMATS, suffix, dataclasses.replace(fmt, write=record))
    save_picture(result, tmp_path / "s.svg")
    save_picture(result, tmp_path / "s.PNG")
    assert written == [("SeriesFigure", tmp_path, ".svg"), ("SeriesFigure", tmp_path, ".PNG")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.PNG", "s.svg"]  # no temporary left
    assert (tmp_path / "s.svg").read_bytes() == b"SeriesFigure"


def test_figure_fits_a_height_for_the_screen(result):
    fig = SeriesFigure(result, 700.0, height=420.0, captions=False)
    assert fig.size().height() == 420 and fig.size().width() == 700 and fig.footer == []
    assert fig.plot.top() < fig.plot.bottom() < fig.bars.top() < fig.bars.bottom() < fig.colorbar.top()
    assert fig.dist.right() <= 700 and fig.colorbar.bottom() <= 420
    assert fig.plot.height() > SeriesFigure(result, 700.0, height=300.0, captions=False).plot.height()
    assert fig.describe_at(fig.plot.center()).startswith("value ")
    assert fig.describe_at(fig.dist.center()).startswith("next value ")


def test_the_summary_is_built_once(result):
    sentences = summary_sentences(result)
    clauses = [c for sentence in summary_clauses(result) for c in sentence]
    assert summary_line(result) == "; ".join(clauses) and "top values by score" in summary_line(result)
    assert sentences[1].startswith("Top values by score: #") and all(s.endswith(".") for s in sentences)
    assert SeriesFigure(result).footer == sentences[1:]  # the exported figure's footer
    bold = summary_sentences(result, strong=lambda t: f"<b>{t}</b>")
    assert bold[0].startswith(f"<b>{series_view(result).title}</b>: explaining value 21 after 20")


def test_view_summary_and_csv(result):
    view = series_view(result)
    s = result.series
    assert view.cutoff == 20 and view.realised == s.encoded[20] and view.truth_law == "gaussian"
    seen = np.array(s.value_scores[:20])
    summ = attention_summary(view)
    assert summ.share_last3 == pytest.approx(seen[-3:].sum() / seen.sum())
    order = np.argsort(-seen)[:3]
    assert [i for i, _, _ in summ.top3] == list(order + 1)
    assert summ.top3[0][2] == pytest.approx(seen.max() / seen.sum())
    rows = list(csv.reader(io.StringIO(series_csv(result))))
    assert rows[0] == ["index", "value", "encoded", "value_score"]
    assert float(rows[1][1]) == s.values[0] and int(rows[1][2]) == s.encoded[0]
    assert float(rows[1][3]) == s.value_scores[0] and rows[21][3] == ""
    dist = rows[rows.index(["next_value", "model_prob", "true_prob"]) + 1 :]
    assert len(dist) == 100 and dist[42][0] == "42"
    assert float(dist[42][1]) == s.next_value["probs"][42]
    assert float(dist[42][2]) == result.truth["probs"][42]
