"""Model folders and files are data, never code; offline in every entry point; caches that cannot
be made are one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.model.load import load_model, refuse_custom_code

JSCOPE = Path(sys.executable).with_name("jscope")


def _custom_code_folder(tmp_path: Path, where: str) -> Path:
    folder = tmp_path / "evil"
    folder.mkdir()
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"]}
    tok = {"tokenizer_class": "EvilTokenizer"}
    target = config if where == "config.json" else tok
    target["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", None],
                          "AutoModelForCausalLM": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer_config.json").write_text(json.dumps(tok))
    (folder / "evil.py").write_text(f"open({str(tmp_path / 'RAN')!r}, 'w').write('x')\n")
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    return folder


@pytest.mark.parametrize("where", ["config.json", "tokenizer_config.json"])
def test_a_folder_asking_for_its_own_code_is_refused_at_once(tmp_path, where):
    folder = _custom_code_folder(tmp_path, where)
    with pytest.raises(JScopeError, match=rf"asks to run Python code of its own \({where} has"):
        load_model(str(folder), "cpu")
    assert not (tmp_path / "RAN").exists()


def test_the_cli_never_prompts_even_with_stdin_open(tmp_path):
    """transformers asks "Do you wish to run the custom code? [y/N]" and waits on stdin; we
    refuse before it can, so an open pipe on stdin does not hang the command."""
    folder = _custom_code_folder(tmp_path, "tokenizer_config.json")
    proc = subprocess.Popen([str(JSCOPE), "attribute", "hello", "--model", str(folder)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=120)  # stdin stays open until communicate closes it
    finally:
        proc.kill()
    assert proc.returncode == 1 and err.count("\n") == 1 and "never runs code" in err, err
    assert not (tmp_path / "RAN").exists()


def test_a_huge_config_is_refused_without_parsing_it(tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    with (folder / "config.json").open("wb") as f:
        f.truncate(17 * 2**20)
    with pytest.raises(JScopeError, match="too large for a configuration file"):
        refuse_custom_code(folder)


def test_offline_is_set_by_every_entry_point_before_hugging_face_loads():
    code = ("import jscope_desktop.app.background.jobs as j\n"
            "j.engine_info(lambda *a: None, lambda: False)\n"
            "import huggingface_hub.constants as c, transformers.utils.hub as h\n"
            "print(c.HF_HUB_OFFLINE, h.is_offline_mode())\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",
           "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.split() == ["True", "True"], out.stderr


def test_a_cache_folder_under_a_file_is_one_sentence(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("JSCOPE_CACHE_DIR", str(blocker / "models"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\3\0\0\0" + b"\0" * 64)
    with pytest.raises(JScopeError, match="cache folder .* cannot be made.*JSCOPE_CACHE_DIR"):
        load_model(str(gguf), "cpu")


def test_a_large_file_that_is_not_gguf_is_refused_from_its_first_bytes(tmp_path):
    big = tmp_path / "big.gguf"
    with big.open("wb") as f:
        f.write(b"PK\3\4")
        f.truncate(3 * 2**30)  # 3 GB sparse file: hashing it would take tens of seconds
    with pytest.raises(JScopeError, match="does not start with the GGUF magic"):
        load_model(str(big), "cpu")


def test_hostile_series_and_data_files_are_one_sentence(tmp_path):
    from jscope_desktop.engine.faithfulness.run import load_prompts
    from jscope_desktop.engine.results.result import AttributionResult
    from jscope_desktop.engine.series.explain import SeriesRequest, prepare_series

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for read in (load_prompts, AttributionResult.load):
        with pytest.raises(JScopeError, match="nested too deeply"):
            read(deep)
    with pytest.raises(JScopeError, match="not a Jacobian Scopes result"):
        (tmp_path / "r.json").write_text('{"topk": 3}')
        AttributionResult.load(tmp_path / "r.json")
    for req, needle in ((SeriesRequest(values=[1e308, -1e308, 0.0]), "span more than"),
                        (SeriesRequest(system="logistic", n_values=10**9), "at most 4,096 values"),
                        (SeriesRequest(system="brownian", seed=-1), "seed must be"),
                        (SeriesRequest(system="brownian", seed=2**200), "seed must be")):
        with pytest.raises(JScopeError, match=needle):
            prepare_series(req)


def test_an_absurd_config_is_refused_before_anything_is_allocated(tmp_path):
    import time

    folder = tmp_path / "absurd"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 10**6,
        "hidden_size": 10**6, "num_hidden_layers": 1000, "intermediate_size": 10**6}))
    (folder / "model.safetensors").write_bytes(b"\0" * 1000)
    t0 = time.perf_counter()
    with pytest.raises(JScopeError, match="describes a model of about .* only 0.0 MB"):
        load_model(str(folder), "cpu")
    assert time.perf_counter() - t0 < 5


def test_parameter_estimate_matches_real_models(tiny_llama, tiny_gemma):
    from jscope_desktop.engine.model.checks import estimated_parameters

    for lm in (tiny_llama, tiny_gemma):
        real = sum(p.numel() for p in lm.model.parameters())
        est = estimated_parameters(lm.model.config.to_dict())
        assert 0.7 * real <= est <= 1.3 * real, (est, real)


@pytest.mark.parametrize("writer", ["result", "csv", "png", "svg", "session", "report"])
def test_a_full_disk_during_any_write_keeps_the_previous_file(tmp_path, monkeypatch, tiny_llama,
                                                              writer, qapp):
    import errno

    from jscope_desktop.app.actions import save_actions
    from jscope_desktop.app.actions.session import Session, save_session
    from jscope_desktop.engine import io as jio
    from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
    from jscope_desktop.render.outputs import save_picture

    result = attribute(tiny_llama, AttributionRequest(prompt="ab c"))
    suffix = {"csv": ".csv", "png": ".png", "svg": ".svg", "session": ".jscope.json"}.get(writer, ".json")
    path = tmp_path / f"out{suffix}"
    path.write_bytes(b"the previous file")
    write = {
        "result": lambda: result.save(path),
        "csv": lambda: save_actions.write_csv(result, path),
        "png": lambda: save_picture(result, path),
        "svg": lambda: save_picture(result, path),
        "session": lambda: save_session(Session(request={"prompt": "x"}, view={}, result=result), path),
        "report": lambda: jio.write_json(path, {"results": {}}),
    }[writer]

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(jio.os, "fsync", full)
    with pytest.raises(JScopeError, match=r"Could not write .*No space left on device\."):
        write()
    assert path.read_bytes() == b"the previous file"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
