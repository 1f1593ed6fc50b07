"""`jscope attribute`: outputs, and one clear line on stderr for every error a user can cause.

Most tests run the command in-process on the tiny random models (``load_model`` patched); the
model-file errors go through the real loader on small folders built here; a few end-to-end runs
use the embedded model through the installed ``jscope`` script.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_helpers import assert_one_line_error, run_cli

from jscope_desktop import cli
from jscope_desktop.commands import attribute as command
from jscope_desktop.engine.compute import fisher, forward
from jscope_desktop.engine.results.result import AttributionResult

PROMPT = "12,34,56,"


@pytest.fixture
def tiny(monkeypatch, tiny_llama):
    """``jscope attribute`` runs on the tiny random Llama (what --model/--device asked is kept)."""
    calls = []

    def fake_load(source=None, device="auto", dtype="float32", progress=None):
        calls.append((source, device, dtype))
        return tiny_llama

    monkeypatch.setattr(command, "load_model", fake_load)
    return calls


# Outputs


def test_terminal_view(capsys, tiny):
    status, out, err = run_cli(capsys, "attribute", PROMPT, "--scope", "semantic")
    assert status == 0 and err == ""
    for part in ("Semantic Scope", "Next-token prediction", "← target", "Most influential tokens",
                 "backward pass", "forward", "β = ‖h‖", "entropy"):
        assert part in out, part
    assert "<s>1" in out.replace(" ", "")  # the token strip, BOS included


def test_json_file_and_stdout(capsys, tiny, tmp_path):
    path = tmp_path / "r.json"
    assert run_cli(capsys, "attribute", PROMPT, "--scope", "contrast", "--target", "7",
                   "--foil", "3", "--json", str(path))[:2] == (0, "")
    r = AttributionResult.load(path)
    assert (r.scope, r.target, r.foil, r.position) == ("contrast", "7", "3", len(r.token_ids) - 1)
    assert r.model["name"] == "LlamaConfig" and len(r.scores) == len(r.token_ids) == 10
    status, out, _ = run_cli(capsys, "attribute", PROMPT, "--scope", "fisher", "--fisher",
                             "exact", "--json", "-")
    d = json.loads(out)
    assert status == 0 and d["fisher"]["method"] == "exact" and d["fisher"]["probes"] == 0


def test_options_reach_the_engine(capsys, tiny):
    status, out, _ = run_cli(capsys, "attribute", PROMPT, "--scope", "fisher", "--fisher-rank",
                             "3", "--fisher-probes", "5", "--seed", "4", "--top-k", "3",
                             "--position", "-2", "--model", "m", "--device", "cpu",
                             "--dtype", "bfloat16", "--json", "-")
    d = json.loads(out)
    assert status == 0 and tiny == [("m", "cpu", "bfloat16")]
    # --fisher-rank k seeds the Krylov step: k of F's top directions and the k of K applied to
    # them are taken exactly (2 k), then the probes
    assert d["fisher"]["rank"] == 6 and d["fisher"]["probes"] == 5
    assert len(d["topk"]) == 3 and d["position"] == 8 and d["scores"][9] is None
    again = json.loads(run_cli(capsys, "attribute", PROMPT, "--scope", "fisher", "--fisher-rank",
                               "3", "--fisher-probes", "5", "--seed", "4", "--top-k", "3",
                               "--position", "-2", "--json", "-")[1])
    assert again["scores"] == d["scores"]  # the seed makes it reproducible


def test_stdin_prompt_drops_one_trailing_newline(capsys, tiny, monkeypatch, tiny_llama):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"12,34\n"), encoding="utf-8"))
    status, out, _ = run_cli(capsys, "attribute", "-", "--json", "-")
    assert status == 0
    assert json.loads(out)["token_ids"] == tiny_llama.tokenizer("12,34")["input_ids"]


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_image_export(capsys, tiny, tmp_path, fmt):
    path = tmp_path / f"r.{fmt}"
    status, out, err = run_cli(capsys, "attribute", PROMPT, f"--{fmt}", str(path))
    assert status == 0 and err == "" and "Temperature Scope" in out
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[fmt]
    assert path.read_bytes().startswith(magic)


def test_image_export_without_the_renderer(capsys, tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "jscope_desktop.render.figures.pictures", None)  # import fails
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--png", str(tmp_path / "a.png")),
                          "Image export is not available")


# Errors a user can cause


@pytest.mark.parametrize("prompt", ["", "   \n "])
def test_empty_prompt(capsys, tiny, prompt):
    assert_one_line_error(run_cli(capsys, "attribute", prompt), "prompt is empty")
    assert tiny == []  # refused before loading the model


def test_empty_or_binary_stdin(capsys, tiny, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n"), encoding="utf-8"))
    assert_one_line_error(run_cli(capsys, "attribute", "-"), "prompt is empty")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe1"), encoding="utf-8"))
    assert_one_line_error(run_cli(capsys, "attribute", "-"), "not UTF-8")


def test_prompt_longer_than_the_context(capsys, tiny):
    assert_one_line_error(run_cli(capsys, "attribute", "1" * 300), "301 tokens",
                          "context of 256", "shorten")


@pytest.mark.parametrize("argv, needles", [
    (["--scope", "semantic", "--target", "12"], ["target '12' is 2 tokens", "'1' | '2'"]),
    (["--scope", "contrast", "--foil", "abc"], ["foil 'abc' is 3 tokens", "'a' | 'b' | 'c'"]),
    (["--scope", "semantic", "--target", ""], ["target is empty"]),
    (["--scope", "contrast", "--target", "7", "--foil", "7"], ["foil is the same token"]),
    (["--position", "10"], ["Position 10 is out of range", "10 tokens"]),
    (["--position", "-11"], ["Position -11 is out of range"]),
    (["--chat"], ["no chat template"]),
])
def test_bad_request(capsys, tiny, argv, needles):
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, *argv), *needles)


@pytest.mark.parametrize("argv, needle", [
    (["--scope", "nope"], "invalid choice: 'nope'"),
    (["--device", "tpu"], "invalid choice: 'tpu'"),
    (["--dtype", "int8"], "invalid choice: 'int8'"),
    (["--fisher", "slow"], "invalid choice: 'slow'"),
    (["--scope", "temperature", "--target", "7"], "--target is not used by the Temperature"),
    (["--scope", "semantic", "--foil", "7"], "--foil is used only by --scope contrast"),
    (["--steps", "0"], "must be at least 1"),
    (["--fisher-error", "2"], "--fisher-error must be between 0 and 1"),
    (["--png", "a.png", "--svg", "a.svg"], "not allowed with argument"),
])
def test_usage_errors(capsys, tiny, argv, needle):
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, *argv), needle, code=2)
    assert tiny == []


def test_output_path_checked_before_loading(capsys, tiny, tmp_path):
    missing = tmp_path / "no" / "r.json"
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--json", str(missing)),
                          "does not exist")
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--png", str(missing.parent / "a")),
                          "does not exist")
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--json", str(tmp_path)),
                          "it is a folder")
    assert tiny == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_absent(capsys):
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--device", "cuda"),
                          "no CUDA device", "--device cpu")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_mps_absent(capsys):
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--device", "mps"), "no Apple GPU")


# Out of memory, simulated where it can happen: loading, the forward pass, a backward pass.


def _raise(exc):
    def fail(*args, **kwargs):
        raise exc
    return fail


def test_out_of_memory_in_the_forward_pass(capsys, tiny, monkeypatch):
    monkeypatch.setattr(forward, "decoder_of", lambda model: _raise(torch.OutOfMemoryError("x")))
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT), "Out of memory", "shorter prompt",
                          "--dtype bfloat16")


@pytest.mark.parametrize("argv, tips", [
    ([], ["shorter prompt", "--dtype bfloat16", "--device cpu"]),
    (["--scope", "fisher", "--fisher", "exact"], ["--fisher fast"]),
    (["--scope", "integrated"], ["fewer --steps"]),
    (["--dtype", "bfloat16", "--device", "cpu"], ["a shorter prompt."]),
])
def test_out_of_memory_in_a_backward_pass(capsys, tiny, monkeypatch, argv, tips):
    monkeypatch.setattr(forward, "vjp", _raise(torch.OutOfMemoryError("CUDA out of memory")))
    monkeypatch.setattr(fisher, "fisher_scores", _raise(torch.OutOfMemoryError("x")))
    monkeypatch.setattr(forward, "hidden_states", _raise(torch.OutOfMemoryError("x")))
    err = assert_one_line_error(run_cli(capsys, "attribute", PROMPT, *argv), "Out of memory")
    for tip in tips:
        assert tip in err


def test_out_of_memory_on_the_cpu_and_while_loading(capsys, monkeypatch):
    cpu_oom = RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 4000000 bytes.")
    monkeypatch.setattr(command, "load_model", _raise(cpu_oom))
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT), "Out of memory")
    monkeypatch.setattr(command, "load_model", _raise(torch.OutOfMemoryError("x")))
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT), "Out of memory")


def test_other_runtime_errors_are_not_disguised(capsys, monkeypatch):
    monkeypatch.setattr(command, "load_model", _raise(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["attribute", PROMPT])


# End to end on the embedded model, through the installed script


def jscope_exe() -> list[str]:
    exe = Path(sys.executable).with_name("jscope")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jscope_desktop.cli"]


@pytest.mark.embedded
def test_embedded_paris(tmp_path):
    path = tmp_path / "r.json"
    proc = subprocess.run([*jscope_exe(), "attribute", "The capital of France is", "--json",
                           str(path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["topk"][0]["token"] == " Paris" and d["topk"][0]["prob"] > 0.5
    assert d["tokens"] == ["The", " capital", " of", " France", " is"]
    assert d["scope"] == "temperature" and d["model"]["d_model"] == 576
    assert d["timing"]["backward_passes"] == 1 and d["timing"]["forward_s"] > 0
    assert all(isinstance(s, float) and s > 0 for s in d["scores"])


@pytest.mark.embedded
def test_embedded_stdin_chat(tmp_path):
    proc = subprocess.run([*jscope_exe(), "attribute", "-", "--chat", "--scope", "semantic",
                           "--json", "-"], input="What is the capital of France?\n",
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    tokens, special, roles = d["tokens"], d["special"], d["roles"]
    last = len(tokens) - 1 - tokens[::-1].index("<|im_start|>")  # the assistant's header
    assert "".join(tokens[last + 1 :]) == "assistant\n"  # SmolLM2 splits it: ass|istant|\n
    assert roles[last + 1 : -1] == [None] * (len(tokens) - last - 2) and roles[-1] == "assistant"
    assert all(special[i] for i, t in enumerate(tokens) if t in ("<|im_start|>", "<|im_end|>"))
    assert not any(special[i] for i, t in enumerate(tokens) if t == " France")
    france = tokens.index(" France")
    assert roles[france] == "user" and roles[-1] == "assistant"
    assert "France?" in "".join(tokens) and "France?\n<|im_end|>" not in "".join(tokens)
