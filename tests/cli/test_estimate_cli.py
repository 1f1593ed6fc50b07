"""`jscope attribute --estimate / --memory-limit / --force` on a real model folder, in-process."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, run_cli

from jscope_desktop.commands import attribute as attribute_command
from jscope_desktop.engine.planning.cost_model import parse_size


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JSCOPE_CACHE_DIR", str(tmp_path / "cache"))


def test_estimate_writes_the_contract_and_runs_nothing(capsys, model_folder, tmp_path, monkeypatch):
    out = tmp_path / "est.json"
    code, _, err = run_cli(capsys, "attribute", "the cat sat on the", "--model", str(model_folder),
                           "--device", "cpu", "--estimate", "--json", str(out))
    assert code == 0, err
    est = json.loads(out.read_text())
    assert set(est) == {"peak_bytes", "seconds", "available_bytes", "fits"}
    assert isinstance(est["peak_bytes"], int) and isinstance(est["available_bytes"], int)
    assert est["fits"] is True and 0 < est["seconds"] < 60 and est["peak_bytes"] > 0
    # calibrated now: the next estimate reads the folder only, and never loads the weights
    monkeypatch.setattr(attribute_command, "load_model", lambda *a, **k: pytest.fail("loaded"))
    code, text, _ = run_cli(capsys, "attribute", "the cat sat on the", "--model",
                            str(model_folder), "--device", "cpu", "--estimate", "--json", "-",
                            "--memory-limit", "1MB")
    small = json.loads(text)
    assert code == 0 and small["fits"] is False and small["available_bytes"] == parse_size("1MB")
    code, text, _ = run_cli(capsys, "attribute", "the cat sat on the", "--model",
                            str(model_folder), "--device", "cpu", "--estimate")
    assert code == 0 and text.startswith("≈ ") and "fits" in text


def test_a_run_over_the_limit_is_refused_before_the_load(capsys, model_folder, monkeypatch):
    monkeypatch.setattr(attribute_command, "load_model", lambda *a, **k: pytest.fail("loaded"))
    result = run_cli(capsys, "attribute", "the cat sat on the", "--model", str(model_folder),
                     "--device", "cpu", "--memory-limit", "1MB", "--scope", "fisher")
    assert_one_line_error(result, "more than the memory limit of 1 MB", "shorter prompt",
                          "bfloat16", "fewer Fisher directions", "--force")


def test_force_runs_anyway(capsys, model_folder, tmp_path):
    out = tmp_path / "r.json"
    code, _, err = run_cli(capsys, "attribute", "the cat sat on the", "--model", str(model_folder),
                           "--device", "cpu", "--memory-limit", "1MB", "--force", "--json", str(out))
    assert code == 0, err
    assert len(json.loads(out.read_text())["scores"]) == 5


@pytest.mark.parametrize("size", ["8XB", "lots", "0.5MB"])
def test_bad_sizes_are_one_line(capsys, size):
    result = run_cli(capsys, "attribute", "x", "--memory-limit", size)
    assert_one_line_error(result, "8GB", code=2)


def test_terminal_progress_bar_says_the_time_left(capsys, monkeypatch):
    import time

    from rich.console import Console

    from jscope_desktop.commands.options import progress_status

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    with progress_status() as progress:
        progress.expect(90.0)  # what the engine does with the cost model's estimate
        progress(0.05, "Fisher Scope")
        time.sleep(0.3)  # the bar redraws ten times a second
    err = capsys.readouterr().err
    assert "Fisher Scope" in err
    assert ("90 s left" in err) or ("89 s left" in err) or ("88 s left" in err), err[-300:]
