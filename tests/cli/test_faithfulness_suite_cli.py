"""`jscope faithfulness --filler/--ig-baseline/--html/--png/--sanity` and `jscope sanity`: the
files they write and one clear sentence for every hostile input (tiny random model)."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, run_cli
from hypothesis import given
from hypothesis import strategies as st

PROMPTS = ["12, 34, 56, 78, 90", "the cat sat on the mat", "abc abd abe ab ac"]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def on_tiny(tiny_llama, monkeypatch):
    import jscope_desktop.commands.faithfulness as faith
    import jscope_desktop.commands.sanity as sanity

    monkeypatch.setattr(faith, "load_model", lambda *a, **k: tiny_llama)
    monkeypatch.setattr(sanity, "load_model", lambda *a, **k: tiny_llama)
    return tiny_llama


@pytest.fixture
def prompts(tmp_path):
    p = tmp_path / "p.json"
    p.write_text(json.dumps(PROMPTS))
    return p


def test_two_fillers_write_a_report_each_with_page_and_picture(on_tiny, prompts, tmp_path, capsys):
    sanity = tmp_path / "s.json"
    code, _, err = run_cli(capsys, "sanity", "--prompts", str(prompts), "--n", "2", "--scopes",
                           "temperature,grad_input", "--json", str(sanity))
    assert code == 0, err
    s = json.loads(sanity.read_text())
    assert s["version"] == 1 and s["order"] == "output_to_input" and len(s["steps"]) == 3
    assert s["steps"][0]["spearman"]["temperature"]["mean"] == pytest.approx(1.0)
    out = tmp_path / "f.json"
    code, stdout, err = run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--scopes",
                                "temperature,random", "--explain", "last", "--filler", "zero,pad",
                                "--ig-baseline", "mean", "--json", str(out), "--html",
                                str(tmp_path / "f.html"), "--png", str(tmp_path / "f.png"),
                                "--sanity", str(sanity))
    assert code == 0, err
    assert err.count("no pad token") == 1  # the fallback said once, for the filler that has it
    zero, pad = (json.loads((tmp_path / f"f_{n}.json").read_text()) for n in ("zero", "pad"))
    assert zero["filler"] == {"name": "zero", "token_id": None, "token": None, "fallback": None}
    assert pad["filler"]["token_id"] == 1 and pad["ig_baseline"] == "mean"
    for name in ("zero", "pad"):
        page = (tmp_path / f"f_{name}.html").read_text()
        assert "<svg" in page and "Sanity check" in page and "http" not in page.split("<body>")[1]
        assert (tmp_path / f"f_{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "AOPC" in stdout and not out.exists()


BAD = [
    (["--filler", "xyzzy"], "is 5 tokens"),
    (["--filler", "zero,zero"], "twice"),
    (["--filler", ","], "No filler"),
    (["--n", "0"], "at least 1"),
    (["--n", "-3"], "at least 1"),
    (["--filler", "zero,zero_"], "same file"),
    (["--png", "x.gif"], "gif"),
]


@pytest.mark.parametrize("extra,message", BAD)
def test_hostile_faithfulness_flags_are_one_sentence(on_tiny, prompts, tmp_path, capsys, extra, message):
    extra = [str(tmp_path / e) if e.endswith(".gif") else e for e in extra]
    result = run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--scopes", "random",
                     "--json", str(tmp_path / "o.json"), *extra)
    assert_one_line_error(result, message)
    assert not list(tmp_path.glob("o*.json"))


def test_an_unknown_ig_baseline_is_a_usage_error(on_tiny, prompts, tmp_path, capsys):
    result = run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--ig-baseline", "unk",
                     "--json", str(tmp_path / "o.json"))
    assert_one_line_error(result, "--ig-baseline", code=2)


@pytest.mark.parametrize("content,extra,message", [
    ("[]", [], "non-empty JSON list"),
    (None, [], "does not exist"),
    ('["a b"]', ["--n", "0"], "at least 1"),
    ('["a b"]', ["--n", "-1"], "at least 1"),
    ('["a b"]', ["--scopes", "random"], "Unknown scope 'random'"),
    ('["a b"]', ["--scopes", ","], "No scopes"),
    ('["single"]', [], "single word"),
])
def test_hostile_sanity_inputs_are_one_sentence(on_tiny, tmp_path, capsys, content, extra, message):
    p = tmp_path / "p.json"
    if content is not None:
        p.write_text(content)
    result = run_cli(capsys, "sanity", "--prompts", str(p), "--json", str(tmp_path / "s.json"), *extra)
    assert_one_line_error(result, message)


def test_a_sanity_file_that_is_not_one_is_refused(on_tiny, prompts, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": 3}')
    result = run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--sanity", str(bad),
                     "--json", str(tmp_path / "o.json"))
    assert_one_line_error(result, "not a report written by `jscope sanity`")


@given(st.text(max_size=20))
def test_any_filler_text_is_a_report_or_one_sentence(on_tiny, prompts, tmp_path_factory, capsys, text):
    if text.startswith("-"):
        return  # argparse would read it as an option
    out = tmp_path_factory.mktemp("f") / "o.json"
    code, _, err = run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--n", "1",
                           "--scopes", "random", "--fractions", "0.2,0.4", "--no-loo",
                           "--filler", text, "--json", str(out))
    assert "Traceback" not in err
    assert code == 0 or (code in (1, 2) and err.count("\n") == 1), err


def test_sanity_continues_a_stopped_run_and_removes_its_sidecar(on_tiny, prompts, tmp_path, capsys):
    from jscope_desktop.engine.faithfulness.sanity import SanityConfig, run_sanity

    out = tmp_path / "s.json"
    partial = tmp_path / "s.json.partial.jsonl"
    cfg = SanityConfig(scopes=["temperature"], explain="last")
    # a run stopped after its first passage (the CLI's defaults: seed 0, Fisher fast, zero)
    run_sanity(on_tiny, PROMPTS[:1], cfg, partial=partial)
    first = json.loads(partial.read_text().splitlines()[1])
    code, _, err = run_cli(capsys, "sanity", "--prompts", str(prompts), "--scopes", "temperature",
                           "--json", str(out))
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["n_prompts"] == 3 and not partial.exists()
    assert report["per_prompt"][0]["seconds"] == first["seconds"]  # read back, not measured again
    # a sidecar of other settings: one sentence, the sidecar kept
    run_sanity(on_tiny, PROMPTS[:1], SanityConfig(scopes=["grad_input"], explain="last"),
               partial=partial)
    result = run_cli(capsys, "sanity", "--prompts", str(prompts), "--scopes", "temperature",
                     "--json", str(out))
    assert_one_line_error(result, "other settings")
    assert partial.exists()
