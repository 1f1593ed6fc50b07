"""``jscope-desktop`` from the command line: scripted runs, exports, errors, the self-test."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from jscope_desktop.app.start.main import main, parse_args
from jscope_desktop.engine.results.result import AttributionResult

PROMPT = "The capital of France is"


def test_options_parse():
    args = parse_args(["--prompt", "x", "--scope", "fisher", "--run", "--screenshot", "s.png",
                       "--export", "r.json", "--quit", "--model", "m.gguf", "--device", "cpu"])
    assert (args.prompt, args.scope, args.run, args.quit) == ("x", "fisher", True, True)
    assert (args.screenshot, args.export, args.model, args.device) == (
        "s.png", "r.json", "m.gguf", "cpu")
    assert not parse_args([]).self_test


def test_a_missing_model_exits_1_with_one_line(qapp, tmp_path, capsys):
    status = main(["--model", str(tmp_path / "none.gguf"), "--prompt", "hi", "--run", "--quit"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert err[-1].startswith("jscope-desktop: No model at") and "does not exist" in err[-1]


@pytest.mark.embedded
def test_scripted_run_matches_jscope_attribute(qapp, tmp_path, embedded_model):
    from jscope_desktop.cli import main as jscope

    shot, exported, reference = tmp_path / "shot.png", tmp_path / "r.json", tmp_path / "cli.json"
    status = main(["--prompt", PROMPT, "--scope", "temperature", "--run",
                   "--screenshot", str(shot), "--export", str(exported), "--quit"])
    assert status == 0
    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 600
    assert jscope(["attribute", PROMPT, "--scope", "temperature", "--json", str(reference)]) == 0
    app_result, cli_result = AttributionResult.load(exported), AttributionResult.load(reference)
    assert app_result.token_ids == cli_result.token_ids and app_result.scope == "temperature"
    assert app_result.scores == pytest.approx(cli_result.scores, rel=1e-5)
    assert app_result.topk[0].id == cli_result.topk[0].id


@pytest.mark.embedded
def test_self_test_passes_on_the_embedded_model(embedded_model):
    from jscope_desktop.app.start.selftest import run_self_test
    from jscope_desktop.engine.scopes import scope_names

    lines: list[str] = []
    assert run_self_test(lines.append) == 0
    assert len(lines) == 1 + len(scope_names()) + 1 + 1
    assert all(line.startswith("ok") for line in lines[:-1]) and lines[-1] == "self-test passed"
