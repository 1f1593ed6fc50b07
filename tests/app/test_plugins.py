"""Scopes from another package: a real package (tests/data/jscope_plugin_example) installed with
pip into a temporary folder, then found through its entry points by the CLI, `jscope generate`,
the faithfulness test and the app, like a built-in scope. Its two broken entry points are
reported in one sentence each and stop nothing."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

from jscope_desktop.commands import attribute as attribute_command
from jscope_desktop.commands import generate as generate_command
from jscope_desktop.engine import scopes
from jscope_desktop.engine.faithfulness.measure import faithfulness_scopes

PLUGIN = Path(__file__).resolve().parents[1] / "data" / "jscope_plugin_example"
PROMPT = "12,34,56,"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """pip-install the example plugin into a temporary folder on sys.path; undo it after."""
    src = tmp_path_factory.mktemp("src") / "plugin"
    shutil.copytree(PLUGIN, src)
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(src)],
                   check=True, capture_output=True, text=True)
    assert list(target.glob("jscope_plugin_example-1.0.0.dist-info"))
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    scopes.load_plugins(force=True)
    yield target
    sys.path.remove(str(target))
    for name in [n for n, s in scopes.SCOPES.items() if s.plugin]:
        del scopes.SCOPES[name]
    importlib.invalidate_caches()
    scopes.load_plugins(force=True)
    assert "twice_temperature" not in scopes.scope_names()


@pytest.fixture
def tiny_commands(monkeypatch, tiny_llama):
    def fake_load(source=None, device="auto", dtype="float32", progress=None):
        return tiny_llama

    monkeypatch.setattr(attribute_command, "load_model", fake_load)
    monkeypatch.setattr(generate_command, "load_model", fake_load)


def test_plugin_scopes_register_and_broken_ones_are_one_sentence_each(installed_plugin):
    names = scopes.scope_names()
    assert names[:6] == ["semantic", "contrast", "temperature", "fisher", "grad_input", "integrated"]
    assert {"twice_temperature", "target_vs_mean"} <= set(names)
    twice = scopes.get_scope("twice_temperature")
    assert twice.plugin == "jscope_plugin_example:SCOPE" and twice.supports("matrix")
    assert "twice_temperature" in faithfulness_scopes()
    problems = scopes.plugin_problems()
    assert len(problems) == 2, problems
    broken, not_scope = sorted(problems)
    assert "'broken'" in broken and "ImportError" in broken and "not installed" in broken
    assert "'not_a_scope'" in not_scope and "not a Scope" in not_scope
    assert all("\n" not in p and p.endswith(".") for p in problems)


def test_cli_runs_a_plugin_scope(installed_plugin, tiny_commands, capsys, tmp_path):
    out = {}
    for scope in ("temperature", "twice_temperature"):
        path = tmp_path / f"{scope}.json"
        status, _, err = run_cli(capsys, "attribute", PROMPT, "--scope", scope, "--json", str(path))
        assert status == 0, err
        assert err.count("jscope: warning:") == 2  # the broken plugins, said, not fatal
        out[scope] = json.loads(path.read_text())["scores"]
    assert out["twice_temperature"] == pytest.approx([2 * s for s in out["temperature"]], rel=1e-5)
    status, _, err = run_cli(capsys, "attribute", PROMPT, "--scope", "target_vs_mean",
                             "--target", "7", "--json", str(tmp_path / "t.json"))
    assert status == 0, err
    assert json.loads((tmp_path / "t.json").read_text())["target"] == "7"


def test_generate_runs_a_plugin_scope(installed_plugin, tiny_commands, capsys, tmp_path):
    rows = {}
    for scope in ("temperature", "twice_temperature"):
        path = tmp_path / f"{scope}.json"
        status, _, err = run_cli(capsys, "generate", PROMPT, "--n-tokens", "3", "--scope", scope,
                                 "--json", str(path))
        assert status == 0, err
        d = json.loads(path.read_text())
        assert len(d["positions"]) == 3 and len(d["scores"]) == 3
        rows[scope] = [v for row in d["scores"] for v in row if v is not None]
    assert rows["twice_temperature"] == pytest.approx([2 * v for v in rows["temperature"]], rel=1e-5)


def test_the_app_offers_a_plugin_scope(installed_plugin, qtbot, tiny_llama):
    from jscope_desktop.app.window.main_window import MainWindow

    window = MainWindow(model=tiny_llama, autoload=False)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=60000):
        pass
    panel = window.prompt_panel
    assert panel.scope.findData("twice_temperature") >= 0
    assert window.series_tab.scope.findData("twice_temperature") >= 0
    assert "could not be loaded" in window.statusBar().currentMessage()
    panel.prompt.setPlainText(PROMPT)
    panel.set_scope("twice_temperature")
    assert panel.explanation.text() == "Twice the Temperature Scope."
    with qtbot.waitSignal(window.result_shown, timeout=60000) as shown:
        panel.run_button.click()
    assert shown.args[0].scope == "twice_temperature"
    assert "Twice Temperature" in window.statusBar().currentMessage() or shown.args[0].scores
