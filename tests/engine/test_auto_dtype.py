"""``--dtype auto``: float32 when the weights fit in it, else the checkpoint's half dtype; the
estimate before loading resolves it the same way, and the result says which dtype ran."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model import dtype as auto_dtype
from jscope_desktop.engine.model import memory
from jscope_desktop.engine.model.load import load_model
from jscope_desktop.engine.model.memory import safetensors_parameters
from jscope_desktop.engine.planning.calibration import estimate_source


@pytest.fixture
def half_folder(model_folder, tmp_path):
    folder = tmp_path / "half"
    shutil.copytree(model_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("dtype", None)
    config["torch_dtype"] = "float16"
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _memory(monkeypatch, free: int):
    monkeypatch.setattr(memory, "memory_now", lambda device: (10**8, 10**8 + free))


def test_float32_where_the_weights_fit(half_folder, monkeypatch):
    _memory(monkeypatch, 2**34)
    lm = load_model(str(half_folder), "cpu", "auto")
    assert lm.dtype == torch.float32
    r = attribute(lm, AttributionRequest(prompt="the cat sat"))
    assert r.dtype == "float32"


def test_the_checkpoints_half_dtype_where_float32_would_not_fit(half_folder, monkeypatch):
    n = auto_dtype.weight_count(half_folder)
    assert n == sum(p.numel() for p in load_model(str(half_folder), "cpu").model.parameters())
    _memory(monkeypatch, int(n * 4 * 1.1))  # float32 weights fit, but not with room for a run
    # float16 on the CPU (few, slow kernels) becomes bfloat16
    assert auto_dtype.choose_dtype("auto", half_folder, "cpu") == "bfloat16"
    assert auto_dtype.choose_dtype("auto", half_folder, "cuda") == "float16"
    lm = load_model(str(half_folder), "cpu", "auto")
    assert lm.dtype == torch.bfloat16
    assert attribute(lm, AttributionRequest(prompt="the cat sat")).dtype == "bfloat16"
    est = estimate_source(str(half_folder), "cpu", "auto", AttributionRequest(prompt="the cat sat"))
    assert est is not None and est.dtype == "bfloat16"


def test_an_explicit_dtype_is_kept_and_a_folder_without_one_gets_bfloat16(model_folder, tmp_path,
                                                                          monkeypatch):
    _memory(monkeypatch, 1)
    assert auto_dtype.choose_dtype("float32", model_folder, "cpu") == "float32"
    bare = tmp_path / "bare"
    shutil.copytree(model_folder, bare)
    config = json.loads((bare / "config.json").read_text())
    config.pop("dtype", None)
    config.pop("torch_dtype", None)
    (bare / "config.json").write_text(json.dumps(config))
    assert auto_dtype.checkpoint_dtype(bare) is None
    assert auto_dtype.choose_dtype("auto", bare, "cpu") == "bfloat16"
    (bare / "config.json").write_text("{broken")
    assert auto_dtype.checkpoint_dtype(bare) is None  # unreadable: no claim, no traceback


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, "x" * (17 * 2**20), "[1, 2]"],
                         ids=["deeply-nested", "over-16-MB", "not-an-object"])
def test_a_hostile_config_is_never_trusted_before_the_loader(model_folder, tmp_path, content,
                                                             capsys):
    """Deep nesting (a RecursionError in json), a huge file (never read) or a list: auto picks
    no checkpoint dtype, the estimate gives up, and the command line says one sentence."""
    from cli_helpers import run_cli

    bad = tmp_path / "bad"
    shutil.copytree(model_folder, bad)
    (bad / "config.json").write_text(content)
    assert auto_dtype.checkpoint_dtype(bad) is None
    assert auto_dtype.weight_count(bad) == safetensors_parameters(bad)  # the headers still count
    assert estimate_source(str(bad), "cpu", "auto", AttributionRequest(prompt="the cat")) is None
    status, out, err = run_cli(capsys, "attribute", "the cat", "--model", str(bad),
                               "--dtype", "auto", "--memory-limit", "1MB")
    assert status == 1 and err.startswith("jscope: ") and err.count("\n") == 1, err
