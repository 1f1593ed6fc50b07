"""Missing, corrupt and weightless models: the real loader refuses each with one clear line
(through `jscope attribute`, as a user meets it), never a traceback or a random model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from cli_helpers import assert_one_line_error, run_cli

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.model.load import load_model, resolve_device, resolve_dtype


def damaged(model_folder: Path, tmp_path: Path, name: str, change) -> Path:
    """A copy of the tiny folder with ``change(folder)`` applied."""
    folder = tmp_path / name
    shutil.copytree(model_folder, folder)
    change(folder)
    return folder


def test_a_real_model_folder_works(capsys, model_folder, tmp_path):
    status, out, err = run_cli(capsys, "attribute", "the cat sat on", "--model",
                               str(model_folder), "--scope", "semantic", "--target", "mat",
                               "--json", "-")
    d = json.loads(out)
    assert status == 0 and d["tokens"] == ["the", "cat", "sat", "on"] and d["target"] == "mat"
    assert d["model"]["name"] == "tiny" and d["model"]["vocab_size"] == 11
    assert_one_line_error(run_cli(capsys, "attribute", "the cat", "--model", str(model_folder),
                                  "--target", "mat dog", "--scope", "semantic"),
                          "2 tokens ('mat' | 'dog')")


def _write(name: str, data: bytes):
    return lambda folder: (folder / name).write_bytes(data)


def _truncate(name: str, size: int):
    return lambda folder: (folder / name).write_bytes((folder / name).read_bytes()[:size])


def _set_config(**changes):
    def change(folder):
        config = json.loads((folder / "config.json").read_text())
        config.update(changes)
        (folder / "config.json").write_text(json.dumps(config))
    return change


def _remove(*patterns: str):
    def change(folder):
        for pattern in patterns:
            for f in folder.glob(pattern):
                f.unlink()
    return change


@pytest.mark.parametrize("name, change, needles", [
    ("garbage_config", _write("config.json", b"{not json"), ["not a valid JSON"]),
    ("no_config", _remove("config.json"), ["has no config.json"]),
    ("unknown_arch", _set_config(model_type="nosuchmodel"), ["not supported", "nosuchmodel"]),
    ("garbage_weights", _write("model.safetensors", b"\x00" * 64 + b"garbage" * 100),
     ["Could not load the model in garbage_weights"]),
    ("truncated_weights", _truncate("model.safetensors", 2000),
     ["Could not load the model in truncated_weights"]),
    ("weightless", _remove("*.safetensors"), ["holds no weights"]),
    ("wrong_weights", _set_config(model_type="gpt2"), ["do not match its config.json"]),
    ("no_tokenizer", _remove("tokenizer*"), ["holds no tokenizer files"]),
    ("garbage_tokenizer", _write("tokenizer.json", b"{x"), ["Could not load the tokenizer"]),
])
def test_broken_model_folder(capsys, model_folder, tmp_path, name, change, needles):
    folder = damaged(model_folder, tmp_path, name, change)
    assert_one_line_error(run_cli(capsys, "attribute", "the cat", "--model", str(folder)),
                          *needles)


def _gguf_bytes() -> bytes:
    from jscope_desktop.engine.model.load import embedded_gguf_path

    with embedded_gguf_path().open("rb") as f:
        return f.read(300_000)  # the header and part of the tensor index


@pytest.mark.parametrize("name, data, needle", [
    ("truncated.gguf", None, "Could not read the model file truncated.gguf"),
    ("random.gguf", b"\x13\x37" * 5000, "not start with the GGUF magic"),
    ("empty.gguf", b"", "Could not read the model file empty.gguf"),
    ("notes.txt", b"hello", "is not a .gguf file or a model folder"),
])
def test_broken_model_file(capsys, tmp_path, monkeypatch, name, data, needle):
    monkeypatch.setenv("JSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / name
    path.write_bytes(_gguf_bytes() if data is None else data)
    assert_one_line_error(run_cli(capsys, "attribute", "the cat", "--model", str(path)), needle)
    assert not any((tmp_path / "cache").glob("*/*")) if (tmp_path / "cache").exists() else True


def test_missing_model(capsys, tmp_path):
    assert_one_line_error(run_cli(capsys, "attribute", "x", "--model", str(tmp_path / "none")),
                          "does not exist")


def test_unknown_device_and_dtype_in_the_engine():
    with pytest.raises(JScopeError, match="Unknown device 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(JScopeError, match="Unknown dtype 'int8'"):
        resolve_dtype("int8")
    if not torch.cuda.is_available():
        with pytest.raises(JScopeError, match="no CUDA device"):
            load_model(None, device="cuda")
