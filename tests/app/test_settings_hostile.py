"""A corrupted or hand-edited settings file never stops the app; a damaged session file is one
sentence and leaves the window as it was."""

from __future__ import annotations

import json

import pytest

from jscope_desktop.app.settings import APPLICATION, ORGANIZATION

GARBAGE_INI = """[General]
zoom=nan
generate_n=-99999999999999999999
chat=maybe
geometry=@ByteArray(\\xff\\xfe not a geometry)
cmap=no_such_map
scale=\\x00\\x01
scope=fisher\\x00
device=quantum
dtype=float1024
recent_models=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x10garbage)
prompt=ok
"""


def test_the_app_starts_with_a_garbage_settings_file(isolated_settings, make_window, tiny_llama):
    ini = isolated_settings / ORGANIZATION / f"{APPLICATION}.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(GARBAGE_INI, encoding="latin-1")
    window = make_window(tiny_llama)
    assert window.settings.get("zoom") == 1.0 and window.settings.get("generate_n") == 8
    assert (window.settings.get("device"), window.settings.get("dtype")) == ("auto", "float32")
    assert window.prompt_panel.scope_name() in window.prompt_panel.scopes
    assert window.prompt_panel.prompt.toPlainText() == "ok"
    assert window.settings.recent_models() == [] or all(
        isinstance(p, str) for p in window.settings.recent_models())


@pytest.mark.parametrize("request_fields", [
    {"prompt": ["not", "text"]}, {"position": "last"}, {"generate_n": "eight"},
    {"target_id": 1.5}, {"chat": "yes"},
])
def test_a_session_with_bad_fields_is_refused_whole(make_window, tiny_llama, tmp_path,
                                                    request_fields):
    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText("kept as it was")
    path = tmp_path / "bad.jscope.json"
    path.write_text(json.dumps({"kind": "jscope-session", "version": 1, "model": None,
                                "request": {"prompt": "new", "scope": "fisher", **request_fields},
                                "view": {}}))
    assert window.open_session(str(path)) is False
    assert window.prompt_panel.prompt.toPlainText() == "kept as it was"
    assert "not valid" in window.message.text()


def test_a_pathologically_nested_session_is_one_sentence(make_window, tiny_llama, tmp_path):
    window = make_window(tiny_llama)
    path = tmp_path / "deep.jscope.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert window.open_session(str(path)) is False
    assert window.message.text().count(".") >= 1 and "Traceback" not in window.message.text()


@pytest.mark.parametrize("result", [
    {"scores": ["x", "y", "z"]}, {"tokens": [1, 2, 3]}, {"scores": [[1.0], [2.0]]},
    {"position": 99}, {"token_ids": []},
])
def test_a_session_with_a_malformed_result_is_refused_whole(make_window, tiny_llama, tmp_path,
                                                            result):
    from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute

    window = make_window(tiny_llama)
    window.prompt_panel.prompt.setPlainText("kept as it was")
    good = attribute(tiny_llama, AttributionRequest(prompt="ab c")).to_dict()
    path = tmp_path / "bad.jscope.json"
    path.write_text(json.dumps({"kind": "jscope-session", "version": 1, "model": None,
                                "request": {"prompt": "new"}, "view": {},
                                "result": {**good, **result}}))
    assert window.open_session(str(path)) is False
    assert window.prompt_panel.prompt.toPlainText() == "kept as it was"
    assert "damaged session file" in window.message.text()


def test_closing_the_window_mid_run_returns_within_a_second(make_window, tiny_llama, qtbot,
                                                             no_leaked_qthreads):
    import time

    from jscope_desktop.engine.results.request import AttributionRequest

    window = make_window(tiny_llama)
    job = window.run(AttributionRequest(prompt="12,34,56," * 8, scope="fisher",
                                        fisher_method="exact"))
    with qtbot.waitSignal(job.started, timeout=60000):
        pass
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 1.0
    assert not window.worker._thread.isRunning() and job.is_cancelled
    qtbot.waitUntil(lambda: job.done, timeout=5000)  # its last signal, delivered on the GUI thread


def test_closing_the_window_mid_load_returns_within_a_second(qtbot, monkeypatch, tmp_path):
    """A load step that cannot stop (transformers reading weights, a conversion) does not hold
    the window: it closes within a second, the step ends in the background, and nothing is
    left running once the app waits for it at exit."""
    import threading
    import time

    from jscope_desktop.app.background import worker as worker_module
    from jscope_desktop.app.window.main_window import MainWindow
    from jscope_desktop.engine.model import load as models

    gate, entered = threading.Event(), threading.Event()

    def slow_load(*args, **kwargs):
        entered.set()
        gate.wait(30)
        raise models.JScopeError("stopped")

    monkeypatch.setattr(models, "load_model", slow_load)
    window = MainWindow(autoload=True)
    qtbot.addWidget(window)
    qtbot.waitUntil(entered.is_set, timeout=60000)
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 1.0
    assert window.worker in worker_module._STILL_RUNNING
    gate.set()
    worker_module.wait_for_all()
    assert not window.worker._thread.isRunning()
