"""`jscope batch`: a data set in, one JSON line per item out (a result or an error), resumable.

The command runs in-process on the tiny random Llama (``load_model`` patched); its tokenizer maps
each character to one token, so "12" is two tokens and a prompt of n characters is n + 1 tokens.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import pytest
import torch
from cli_helpers import assert_one_line_error, run_cli
from hypothesis import given
from hypothesis import strategies as st

from jscope_desktop.commands import attribute as attribute_command
from jscope_desktop.commands import batch as command
from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.runners.batch import read_items

ITEMS = [{"id": "a", "prompt": "12,34,"}, {"prompt": "5,6,7,"}, {"id": 9, "prompt": "8,9,"}]
IDS = ["a", 2, 9]


@pytest.fixture
def tiny(monkeypatch, tiny_llama, one_thread):
    """Both commands run on the tiny random Llama; returns the (model, device, dtype) asked."""
    calls = []

    def fake_load(source=None, device="auto", dtype="float32", progress=None):
        calls.append((source, device, dtype))
        return tiny_llama

    monkeypatch.setattr(command, "load_model", fake_load)
    monkeypatch.setattr(attribute_command, "load_model", fake_load)
    return calls


@pytest.fixture
def prompts_run(monkeypatch):
    """The prompts the batch attributes, in order (the engine still runs)."""
    seen = []
    real = command.attribute

    def spy(lm, req, **kw):
        seen.append(req.prompt)
        return real(lm, req, **kw)

    monkeypatch.setattr(command, "attribute", spy)
    return seen


def write_jsonl(path: Path, items) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def write_csv(path: Path, items) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["id", "prompt", "target", "foil", "position", "chat"])
        w.writeheader()
        w.writerows(items)
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def batch(capsys, inp: Path, out: Path, *argv: str):
    return run_cli(capsys, "batch", str(inp), "--out", str(out), *argv)


# Inputs and outputs


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_every_format_gives_one_line_per_item_in_order(capsys, tiny, tmp_path, fmt):
    inp = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        write_jsonl(inp, ITEMS)
    elif fmt == "json":
        inp.write_text(json.dumps(ITEMS), encoding="utf-8")
    else:
        write_csv(inp, ITEMS)
    status, out, err = batch(capsys, inp, tmp_path / "out.jsonl", "--device", "cpu")
    assert (status, err) == (0, "") and tiny == [(None, "cpu", "float32")]
    got = lines(tmp_path / "out.jsonl")
    ids = IDS if fmt != "csv" else ["a", 2, "9"]  # CSV ids are text
    assert [d["id"] for d in got] == ids
    assert all("error" not in d and d["scope"] == "temperature" for d in got)
    assert [d["tokens"][1:] for d in got] == [list(i["prompt"]) for i in ITEMS]
    assert out.count("\n") == 1 and out.startswith("3 items (3 run), 0 failed, ")
    assert "items per minute" in out


def test_each_result_equals_a_single_attribute_run(capsys, tiny, tmp_path):
    items = [{"id": 1, "prompt": "12,34,", "target": "5"},
             {"id": 2, "prompt": "7,7,7,", "target": "7", "foil": "8", "position": -2},
             {"id": 3, "prompt": "3,1,4,1,5,"}]
    options = ["--scope", "contrast", "--top-k", "3", "--foil", "9"]
    assert batch(capsys, write_jsonl(tmp_path / "in.jsonl", items), tmp_path / "o.jsonl",
                 *options)[0] == 0
    for item, got in zip(items, lines(tmp_path / "o.jsonl")):
        argv = [f"--{k}={v}" for k, v in item.items() if k not in ("id", "prompt")]
        status, out, _ = run_cli(capsys, "attribute", item["prompt"], *options, *argv,
                                 "--json", "-")
        want = json.loads(out)
        assert status == 0 and got["id"] == item["id"]
        for key in ("token_ids", "position", "target", "foil", "scope", "topk", "special"):
            assert got[key] == want[key], key
        assert [v is None for v in got["scores"]] == [v is None for v in want["scores"]]
        numbers = [(g, w) for g, w in zip(got["scores"], want["scores"]) if w is not None]
        assert [g for g, _ in numbers] == pytest.approx([w for _, w in numbers], rel=1e-6,
                                                        abs=1e-9)
        assert set(got) == set(want) | {"id"}
    assert [d["foil"] for d in lines(tmp_path / "o.jsonl")] == ["9", "8", "9"]


def test_csv_cells_are_parsed_and_empty_cells_are_absent(capsys, tiny, tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text("Prompt,position,chat,id,note\n"
                   "\"1,2,3\", -2 ,no,,x\n"
                   "\n"
                   "4,,,,\n"
                   "56,abc,,,\n"
                   "78,,maybe,,\n", encoding="utf-8")
    status, _, err = batch(capsys, inp, tmp_path / "o.jsonl")
    got = lines(tmp_path / "o.jsonl")
    assert [d["id"] for d in got] == [1, 3, 4, 5]  # the blank row keeps its number
    assert got[0]["position"] == 4 and got[1]["position"] == 1
    assert got[2]["error"] == "The position must be a whole number, not \"abc\"."
    assert got[3]["error"] == "chat must be true or false, not \"maybe\"."
    assert status == 1 and err == f"jscope: 2 of 4 items failed; see their error lines in " \
                                  f"{tmp_path / 'o.jsonl'}.\n"


def test_bad_items_give_error_lines_and_the_rest_runs(capsys, tiny, tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join([
        json.dumps({"id": "ok", "prompt": "12,"}),
        json.dumps({"id": "empty", "prompt": "  "}),
        json.dumps({"id": "two", "prompt": "12,", "target": "12"}),
        json.dumps({"id": "far", "prompt": "12,", "position": 40}),
        json.dumps({"id": "number", "prompt": 12}),
        '{"id": "broken", "prompt": ',
        json.dumps([1, 2]),
        json.dumps({"id": 1.5, "prompt": "1"}),
        json.dumps({"id": "unused", "prompt": "1", "foil": "2"}),
        json.dumps({"prompt": "3,4,"}),
    ]) + "\n", encoding="utf-8")
    status, out, err = batch(capsys, inp, tmp_path / "o.jsonl", "--scope", "semantic")
    got = {d["id"]: d for d in lines(tmp_path / "o.jsonl")}
    assert list(got) == ["ok", "empty", "two", "far", "number", 6, 7, 8, "unused", 10]
    errors = {k: d["error"] for k, d in got.items() if "error" in d}
    assert set(got) - set(errors) == {"ok", 10} and "scores" in got["ok"]
    assert errors["empty"] == "The prompt is empty; type some text to explain."
    assert "'12' is 2 tokens" in errors["two"]
    assert errors["far"].startswith("Position 40 is out of range")
    assert errors["number"] == "The prompt must be text, not 12."
    assert errors[6].startswith("Line 6 is not valid JSON")
    assert errors[7] == 'The item is a list, not one JSON object with a "prompt".'
    assert errors[8] == "The id must be text or a whole number, not 1.5."
    assert errors["unused"].startswith("A foil is used only by the scope contrast")
    assert all("\n" not in e for e in errors.values())
    assert_one_line_error((status, "", err), "8 of 10 items failed; see their error lines in")
    assert out.startswith("10 items (10 run), 8 failed, ")


def test_every_line_is_one_line_for_every_reader(capsys, tiny, tmp_path):
    items = [{"id": "a\u2028b", "prompt": "1\x852\u2029"}, {"id": "\ud800", "prompt": "3"}]
    assert batch(capsys, write_jsonl(tmp_path / "in.jsonl", items), tmp_path / "o.jsonl")[0] == 1
    text = (tmp_path / "o.jsonl").read_text(encoding="utf-8")
    assert len(text.splitlines()) == 2 and "\u2028" not in text  # escaped, as JSON allows
    first, second = lines(tmp_path / "o.jsonl")
    assert first["id"] == "a\u2028b" and len(first["tokens"]) == 5
    assert second == {"id": 2, "error": "The id holds characters that are not valid Unicode text."}


def test_out_of_memory_is_an_error_line(capsys, tiny, tmp_path, monkeypatch):
    real = command.attribute

    def fail_on_the_second(lm, req, **kw):
        if req.prompt == "5,6,7,":
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real(lm, req, **kw)

    monkeypatch.setattr(command, "attribute", fail_on_the_second)
    status, _, err = batch(capsys, write_jsonl(tmp_path / "in.jsonl", ITEMS), tmp_path / "o.jsonl",
                           "--dtype", "bfloat16")
    got = lines(tmp_path / "o.jsonl")
    assert status == 1 and "1 of 3 items failed" in err
    assert got[1]["error"].startswith("Out of memory; try a shorter prompt")
    assert "--device cpu" in got[1]["error"] and "--dtype" not in got[1]["error"]
    assert "error" not in got[0] and "error" not in got[2]


# Resume


def test_resume_after_a_killed_run_redoes_only_the_missing_items(capsys, tiny, tmp_path,
                                                                  prompts_run):
    items = [{"id": f"p{n}", "prompt": f"{n},{n + 1},"} for n in range(6)]
    inp, out = write_jsonl(tmp_path / "in.jsonl", items), tmp_path / "o.jsonl"
    assert batch(capsys, inp, out)[0] == 0
    full = out.read_bytes().splitlines(keepends=True)
    kept = b"".join(full[:3])
    out.write_bytes(kept + full[3][: len(full[3]) // 2])  # killed while writing the fourth
    prompts_run.clear()
    status, stdout, _ = batch(capsys, inp, out, "--resume")
    assert status == 0 and prompts_run == [i["prompt"] for i in items[3:]]
    assert out.read_bytes().startswith(kept)
    assert [d["id"] for d in lines(out)] == [i["id"] for i in items]
    assert stdout.startswith("6 items (3 run, 3 already done), 0 failed")
    assert not list(tmp_path.glob(".jscope-*"))  # the atomic rewrite left no temporary file


def test_resume_of_a_finished_run_redoes_nothing(capsys, tiny, tmp_path, prompts_run):
    inp, out = write_jsonl(tmp_path / "in.jsonl", ITEMS), tmp_path / "o.jsonl"
    assert batch(capsys, inp, out)[0] == 0
    before, tiny[:], prompts_run[:] = out.read_bytes(), [], []
    status, stdout, err = batch(capsys, inp, out, "--resume")
    assert (status, err, prompts_run, tiny) == (0, "", [], [])  # not even the model is loaded
    assert out.read_bytes() == before and stdout.startswith("3 items (0 run, 3 already done)")


def test_resume_retries_error_lines(capsys, tiny, tmp_path, prompts_run):
    inp, out = tmp_path / "in.jsonl", tmp_path / "o.jsonl"
    write_jsonl(inp, [ITEMS[0], {"prompt": "5,6", "target": "56"}, ITEMS[2]])
    assert batch(capsys, inp, out, "--scope", "semantic")[0] == 1
    first, third = out.read_bytes().splitlines(keepends=True)[0::2]
    write_jsonl(inp, [ITEMS[0], {"prompt": "5,6", "target": "5"}, ITEMS[2]])  # fixed
    prompts_run.clear()
    status, _, err = batch(capsys, inp, out, "--scope", "semantic", "--resume")
    assert (status, err, prompts_run) == (0, "", ["5,6"])
    assert out.read_bytes().startswith(first + third)
    got = lines(out)
    assert [d["id"] for d in got] == ["a", 9, 2] and got[2]["target"] == "5"


def test_resume_refuses_the_output_of_other_settings_or_data(capsys, tiny, tmp_path):
    inp, out = write_jsonl(tmp_path / "in.jsonl", ITEMS), tmp_path / "o.jsonl"
    assert batch(capsys, inp, out, "--scope", "semantic")[0] == 0
    before = out.read_bytes()
    assert_one_line_error(batch(capsys, inp, out, "--resume"),
                          "results of the semantic scope", "--scope semantic")
    write_jsonl(inp, ITEMS[:2])
    assert_one_line_error(batch(capsys, inp, out, "--scope", "semantic", "--resume"),
                          "holds the id 9, which is not in the input")
    out.write_bytes(b"[1, 2]\n" + before)
    assert_one_line_error(batch(capsys, inp, out, "--scope", "semantic", "--resume"),
                          "Line 1 of", "not a line that jscope batch writes")
    assert out.read_bytes() == b"[1, 2]\n" + before


# Refused before any work


def test_out_equal_to_input_is_refused(capsys, tiny, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", ITEMS)
    before = inp.read_bytes()
    for argv in ([], ["--resume"]):
        assert_one_line_error(batch(capsys, inp, inp, *argv), "is also an input")
    assert inp.read_bytes() == before and tiny == []


def test_an_existing_out_needs_resume(capsys, tiny, tmp_path):
    inp, out = write_jsonl(tmp_path / "in.jsonl", ITEMS), tmp_path / "o.jsonl"
    out.write_text("something\n")
    assert_one_line_error(batch(capsys, inp, out), "already holds lines", "--resume")
    assert out.read_text() == "something\n" and tiny == []
    out.write_text("")  # an empty file is fine
    assert batch(capsys, inp, out)[0] == 0 and len(lines(out)) == 3


@pytest.mark.parametrize("content, needle", [
    ('{"id": 7, "prompt": "1"}\n{"id": "7", "prompt": "2"}\n', "The id '7' appears twice in "
     "in.jsonl (items 1 and 2)"),
    ('{"prompt": "1"}\n{"id": 1, "prompt": "2"}\n', "The id 1 appears twice"),
])
def test_duplicate_ids_are_refused(capsys, tiny, tmp_path, content, needle):
    (tmp_path / "in.jsonl").write_text(content)
    assert_one_line_error(batch(capsys, tmp_path / "in.jsonl", tmp_path / "o.jsonl"), needle,
                          "give every item its own id")
    assert tiny == [] and not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("name, content, needle", [
    ("in.csv", "id,text\n1,hello\n", "no 'prompt' column"),
    ("in.csv", "prompt,prompt\n1,2\n", "the column 'prompt' twice"),
    ("in.json", '{"prompt": "1"}', "must be a JSON list of objects"),
    ("in.json", "[1, ", "is not valid JSON"),
    ("in.jsonl", "\n \n", "holds no items"),
    ("in.txt", "12", "must end in .jsonl"),
    ("in.jsonl", b"\xff\xfe{", "Could not read"),
])
def test_unreadable_inputs_are_one_sentence(capsys, tiny, tmp_path, name, content, needle):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_one_line_error(batch(capsys, path, tmp_path / "o.jsonl"), needle)
    assert tiny == []


def test_bad_options_are_usage_errors(capsys, tiny, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", ITEMS)
    assert_one_line_error(batch(capsys, inp, tmp_path / "o.jsonl", "--target", "1"), "--target",
                          code=2)
    assert_one_line_error(batch(capsys, inp, tmp_path / "no" / "o.jsonl"), "does not exist")
    assert_one_line_error(batch(capsys, inp, Path("-")), "--out needs a file name")
    assert tiny == []


# Any bytes in: items or one sentence, never a traceback, and the input unchanged

CONTENT = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.lists(st.dictionaries(st.sampled_from(["id", "prompt", "target", "foil", "position",
                                              "chat", "x"]),
                             st.none() | st.booleans() | st.integers(-5, 5) | st.floats()
                             | st.text(max_size=6), max_size=6), max_size=6).map(
        lambda items: "\n".join(json.dumps(i) for i in items).encode()),
)


@given(CONTENT, st.sampled_from(["jsonl", "json", "csv"]))
def test_any_bytes_in_give_lines_or_one_sentence(capsys, tiny, data, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / f"in.{fmt}", Path(tmp) / "out.jsonl"
        inp.write_bytes(data)
        try:
            items = read_items(inp)
        except JScopeError as exc:
            items = None
            assert "\n" not in str(exc)
        status, _, err = batch(capsys, inp, out, "--scope", "semantic")
        assert status in (0, 1, 2) and "Traceback" not in err
        assert inp.read_bytes() == data
        if items is not None:
            assert [d["id"] for d in lines(out)] == [i.id for i in items]
        else:
            assert status == 1 and err.count("\n") == 1
