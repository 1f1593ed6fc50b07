"""The render layer: colour maps, normalisation, units, layout, and the three export formats."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.results.result import AttributionResult, Timing, TopToken
from jscope_desktop.render.core.colormaps import COLORMAPS, Normalizer
from jscope_desktop.render.core.figure_options import FigureOptions
from jscope_desktop.render.core.units import make_units, visible_text
from jscope_desktop.render.figures.pictures import render_picture
from jscope_desktop.render.figures.strip import layout_strip, strip_font
from jscope_desktop.render.outputs import save_picture


def fake_result(n: int = 10, top: int = 4) -> AttributionResult:
    tokens = ["<s>", "The", " cat", " sat", ".", "\n", "It", " was", " very", " happy"][:n]
    scores = [0.1 * (i + 1) for i in range(n)]
    scores[top] = 3.0
    return AttributionResult(
        model={"name": "Fake"}, device="cpu", dtype="float32", token_ids=list(range(n)),
        tokens=tokens, position=n - 1, scope="temperature", target_id=None, target=None,
        foil_id=None, foil=None, scores=scores, topk=[TopToken(7, " and", 0.5)],
        timing=Timing(0.01, 0.03, 1), special=[i == 0 for i in range(n)],
    )


def test_colormaps_run_dark_to_bright_and_hit_their_anchors():
    for cmap in COLORMAPS.values():
        assert cmap.rgb(0.0) == cmap.anchors[0] and cmap.rgb(1.0) == cmap.anchors[-1]
        lum = [sum(cmap.rgb(i / 10)) for i in range(11)]
        assert lum == sorted(lum), cmap.name  # perceptual maps brighten monotonically
    assert "cividis" in COLORMAPS  # the colour-blind-safe choice


def test_normalizer_linear_and_log():
    lin = Normalizer.from_scores([0.5, None, 2.0, float("nan")])
    assert lin(2.0) == 1.0 and lin(1.0) == 0.5 and lin(None) is None
    log = Normalizer.from_scores([0.01, 0.1, 1.0], "log")
    assert math.isclose(log(0.1), 0.5) and log(0.01) == 0.0
    assert [v for v, _ in log.ticks()] == pytest.approx([0.01, 0.1, 1.0])
    nested = Normalizer.from_scores([[1.0, None], [4.0, 2.0]])
    assert nested.vmax == 4.0


def test_units_aggregate_words_as_l2_and_rank():
    r = fake_result()
    words = make_units(r, "word")
    assert "".join(u.text for u in words) == "".join(r.tokens)
    cat = next(u for u in words if u.text == " cat")
    assert cat.score == pytest.approx(0.3)
    tokens = make_units(r, "token")
    assert tokens[4].rank == 1 and sorted(u.rank for u in tokens) == list(range(1, 11))
    sentences = make_units(r, "sentence")
    first = sentences[1]  # "The cat sat." after the special token
    expected = math.sqrt(sum(s * s for s in r.scores[first.start : first.end]))
    assert first.score == pytest.approx(expected)


def test_visible_whitespace():
    assert visible_text(" a\tb\n") == "·a→b↵" and visible_text("") == "∅"


def test_layout_wraps_and_breaks_after_newlines(qapp):
    units = make_units(fake_result(), "token")
    narrow = layout_strip(units, strip_font(), 120.0, target=" and", target_after=9)
    assert all(b.rect.right() <= 120.0 + 1e-6 or b.rect.left() == 0 for b in narrow.boxes)
    assert narrow.boxes[-1].unit == -1 and narrow.boxes[-1].label == "→ ·and"
    wide = layout_strip(units, strip_font(), 5000.0)
    after_newline = wide.boxes[6]  # "It" starts a new line after "\n"
    assert after_newline.rect.left() == 0 and after_newline.rect.top() > wide.boxes[5].rect.top()


def test_png_is_2x_and_the_top_token_has_the_brightest_colour(qapp, tmp_path):
    r = fake_result()
    path = save_picture(r, tmp_path / "a.png")
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    logical = render_picture(r, FigureOptions(), scale=1.0)
    assert abs(image.width() - 2 * logical.width()) <= 1
    assert abs(image.height() - 2 * logical.height()) <= 1
    top = COLORMAPS["viridis"].rgb(1.0)
    found = {(image.pixelColor(x, y).red(), image.pixelColor(x, y).green(),
              image.pixelColor(x, y).blue())
             for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}
    assert top in found


def test_svg_and_pdf_are_written(qapp, tmp_path):
    r = fake_result()
    svg = save_picture(r, tmp_path / "a.SVG", cmap="cividis", scale="log")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert " cat".replace(" ", "·") in svg.read_text(encoding="utf-8")
    pdf = save_picture(r, tmp_path / "a.pdf", granularity="word", dark=True)
    assert pdf.read_bytes().startswith(b"%PDF")
    with pytest.raises(JScopeError, match=r"Cannot save a\.bmp: use a \.png file name"):
        save_picture(r, tmp_path / "a.bmp")


def test_one_table_of_image_formats(qapp, tmp_path, monkeypatch):
    import dataclasses

    from jscope_desktop.render.figures import formats

    assert formats.image_formats() == ("png", "svg", "pdf")
    assert formats.file_filter() == "PNG image (*.png);;SVG image (*.svg);;PDF document (*.pdf)"
    with pytest.raises(ValueError, match=r"Cannot save a\.jpg: use a \.png file name, or \.svg or \.pdf"):
        formats.image_format("a.jpg")
    assert formats.image_format("A.PDF").vector and formats.with_suffix_of("a.jpg", "png").name == "a.jpg.png"
    written = []
    for suffix, fmt in formats.IMAGE_FORMATS.items():
        def record(fig, path):
            path.write_bytes(b"x")  # an empty file counts as a failed write
            written.append((type(fig).__name__, path.suffix))
        monkeypatch.setitem(formats.IMAGE_FORMATS, suffix, dataclasses.replace(fmt, write=record))
    for suffix in (".png", ".svg", ".pdf"):
        save_picture(fake_result(), tmp_path / f"a{suffix}")
    assert written == [("Figure", ".png"), ("Figure", ".svg"), ("Figure", ".pdf")]


def test_the_format_table_loads_without_qt():
    import subprocess
    import sys

    code = ("import sys, jscope_desktop.render.figures.formats as f; "
            "print(f.image_formats(), any(m.startswith('PySide6') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["('png',", "'svg',", "'pdf')", "False"]


def test_render_never_imports_the_app():
    import subprocess
    import sys

    code = ("import sys, jscope_desktop.render.figures.export; "
            "print(any(m.startswith('jscope_desktop.app') for m in sys.modules), "
            "'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
