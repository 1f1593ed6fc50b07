"""`jscope attribute PROMPT --scope a,b,c | all`: the multi-scope contract read back exactly,
the terminal view, the picture and the web page, and one sentence for a bad scope list."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, run_cli

from jscope_desktop.commands import attribute as command
from jscope_desktop.engine.explain.attribute import attribute
from jscope_desktop.engine.results.multi_result import MultiScopeResult, read_result
from jscope_desktop.engine.results.request import AttributionRequest
from jscope_desktop.engine.results.result import AttributionResult
from jscope_desktop.engine.scopes import scope_label, scope_names
from jscope_desktop.render.core.html import read_embedded

PROMPT = "12,34,56,"


@pytest.fixture
def tiny(monkeypatch, tiny_llama, one_thread):
    calls = []

    def fake_load(source=None, device="auto", dtype="float32", progress=None):
        calls.append(source)
        return tiny_llama

    monkeypatch.setattr(command, "load_model", fake_load)
    return calls


def test_json_round_trip_and_single_runs(capsys, tiny, tiny_llama, tmp_path):
    path = tmp_path / "m.json"
    status, out, err = run_cli(capsys, "attribute", PROMPT, "--scope",
                               "temperature,fisher,semantic", "--seed", "4", "--json", str(path))
    assert (status, out, err) == (0, "", "")
    d = json.loads(path.read_text(encoding="utf-8"))
    assert [r["scope"] for r in d["results"]] == ["temperature", "fisher", "semantic"]
    assert d["agreement"]["scopes"] == ["temperature", "fisher", "semantic"]
    assert MultiScopeResult.load(path).to_dict() == d
    for r in d["results"]:
        single = attribute(tiny_llama, AttributionRequest(prompt=PROMPT, scope=r["scope"], seed=4))
        assert r["scores"] == pytest.approx(single.scores, rel=1e-5)
    status, out, _ = run_cli(capsys, "attribute", PROMPT, "--scope", "all", "--json", "-")
    assert status == 0 and [r["scope"] for r in json.loads(out)["results"]] == scope_names()


def test_a_single_scope_keeps_the_single_contract(capsys, tiny, tmp_path):
    path = tmp_path / "s.json"
    assert run_cli(capsys, "attribute", PROMPT, "--scope", "fisher", "--json", str(path))[0] == 0
    assert "results" not in json.loads(path.read_text())
    assert isinstance(read_result(path), AttributionResult)


def test_terminal_view(capsys, tiny):
    status, out, err = run_cli(capsys, "attribute", PROMPT, "--scope", "semantic,temperature")
    assert status == 0 and err == ""
    for part in ("2 scopes", "Semantic (‖Jᵀu‖)", "Temperature (‖Jᵀu‖)", "Rank agreement",
                 "1.000", "batched backward pass", "Next-token prediction"):
        assert part in out, part


def test_picture_and_page(capsys, tiny, tmp_path):
    from PySide6.QtGui import QImage

    png, page, data = tmp_path / "m.png", tmp_path / "m.html", tmp_path / "m.json"
    status, _, err = run_cli(capsys, "attribute", PROMPT, "--scope", "semantic,fisher,temperature",
                             "--png", str(png), "--html", str(page), "--json", str(data))
    assert status == 0, err
    image = QImage(str(png))
    assert image.width() > 300 and image.height() > 300
    text = page.read_text(encoding="utf-8")
    assert read_embedded(text) == json.loads(data.read_text(encoding="utf-8"))
    assert "http://" not in text and "https://" not in text and "src=" not in text
    assert text.count('id="agreement"') == 1 and scope_label("fisher") in text


@pytest.mark.parametrize("scope, needle", [
    ("semantic,nope", "Unknown scope 'nope' in --scope"),
    ("semantic,semantic", "--scope names 'semantic' twice"),
    (",", "an empty name"),
    ("nope", "invalid choice: 'nope'"),
])
def test_bad_scope_lists_are_one_sentence(capsys, tiny, scope, needle):
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--scope", scope), needle, code=2)
    assert tiny == []  # refused before the model loads


def test_unused_target_is_refused_for_the_whole_list(capsys, tiny):
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--scope", "temperature,fisher",
                                  "--target", "7"), "--target is not used", code=2)
    status, out, _ = run_cli(capsys, "attribute", PROMPT, "--scope", "temperature,semantic",
                             "--target", "7", "--json", "-")
    results = json.loads(out)["results"]
    assert status == 0 and results[1]["target"] == "7" and results[0]["target"] is None
