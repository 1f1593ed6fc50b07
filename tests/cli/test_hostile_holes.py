"""The last holes a hostile user found (issue 21), each one sentence now: a series whose values
differ by less than a float can step, a CSV field longer than the csv module's limit, an image
name with another format's suffix, more workers than the machine has CPUs, and a file far
larger than any real input."""

from __future__ import annotations

import json
import time

import pytest
from cli_helpers import assert_one_line_error, run_cli

from jscope_desktop.commands import series as series_command
from jscope_desktop.engine import io as engine_io
from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.runners.batch import read_items
from jscope_desktop.engine.series.explain import encode_series
from jscope_desktop.engine.series.values import read_values


@pytest.mark.parametrize("values", [[0, 5e-324, 0], [1e-320, 2e-320, 0.0], [0, 1e-310, 2e-310]])
def test_values_too_close_to_rescale_are_one_sentence(values, capsys, tmp_path):
    with pytest.raises(JScopeError, match="differ by too little"):
        encode_series(values)
    path = tmp_path / "v.txt"
    path.write_text("\n".join(repr(v) for v in values) + "\n")
    # refused before any model is loaded
    assert_one_line_error(run_cli(capsys, "series", "--values", str(path), "--json",
                                  str(tmp_path / "o.json")), "differ by too little")
    assert not (tmp_path / "o.json").exists()


def test_values_a_float_can_step_still_encode():
    enc = encode_series([1e-300, 2e-300, 3e-300])
    assert enc.step > 0 and enc.encoded[0] < enc.encoded[1] < enc.encoded[2]


def test_a_csv_field_longer_than_the_csv_modules_limit(tmp_path, capsys):
    long_prompt = "word " * 40_000  # 200,000 characters, over csv's 131,072
    items = tmp_path / "items.csv"
    items.write_text(f'id,prompt\n1,"{long_prompt}"\n2,short one\n', encoding="utf-8")
    read = read_items(items)
    assert [len(i.fields["prompt"]) for i in read] == [len(long_prompt), len("short one")]
    assert all(i.error is None for i in read)
    values = tmp_path / "v.csv"
    values.write_text("t,x\n1," + "7" * 200_000 + "\n2,3\n3,4\n", encoding="utf-8")
    with pytest.raises(JScopeError, match="not a finite number"):
        from jscope_desktop.engine.series.values import check_values

        check_values(read_values(values))
    assert_one_line_error(run_cli(capsys, "series", "--values", str(values), "--json",
                                  str(tmp_path / "o.json")), "not a finite number")
    broken = tmp_path / "broken.csv"
    broken.write_text('id,prompt\n1,"never closed\x00\n', encoding="utf-8")
    try:  # an unclosed quote and a NUL: items or one sentence, never the csv module's error
        assert all(i.error or i.fields.get("prompt") for i in read_items(broken))
    except JScopeError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("flag,name", [("--png", "out.txt"), ("--svg", "out.png"),
                                       ("--pdf", "report.PNG")])
def test_an_image_name_with_another_formats_suffix_is_refused(flag, name, capsys, tmp_path,
                                                              monkeypatch, tiny_llama):
    monkeypatch.setattr(series_command, "load_model", lambda *a, **k: pytest.fail("loaded"))
    err = assert_one_line_error(run_cli(capsys, "series", "--system", "lorenz", "--json",
                                        str(tmp_path / "o.json"), flag, str(tmp_path / name)),
                                f"not .{flag[2:]}", f"{name.rsplit('.', 1)[0]}.{flag[2:]}")
    assert name in err
    assert list(tmp_path.iterdir()) == []


def test_an_image_name_without_a_suffix_gets_the_formats(capsys, tmp_path, monkeypatch, tiny_llama):
    from jscope_desktop.commands import attribute as attribute_command

    monkeypatch.setattr(attribute_command, "load_model", lambda *a, **k: tiny_llama)
    status, _out, err = run_cli(capsys, "attribute", "12,34,56,", "--png", str(tmp_path / "pic"))
    assert status == 0, err
    assert (tmp_path / "pic.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("command", ["batch", "faithfulness"])
def test_more_workers_than_cpus_is_refused_before_ray_starts(command, capsys, tmp_path, model_folder):
    ray = pytest.importorskip("ray")
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"prompt": "the cat sat"}) + "\n", encoding="utf-8")
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(["the cat sat on the mat"]), encoding="utf-8")
    argv = (["batch", str(items), "--out", str(tmp_path / "o.jsonl")] if command == "batch" else
            ["faithfulness", "--prompts", str(prompts), "--json", str(tmp_path / "o.json")])
    started = time.perf_counter()
    err = assert_one_line_error(run_cli(capsys, *argv, "--model", str(model_folder),
                                        "--workers", "1000000"),
                                "--workers 1,000,000 is more than this machine can run",
                                "or fewer")
    assert time.perf_counter() - started < 30, "the refusal must not wait for Ray"
    assert not ray.is_initialized(), err


def test_a_file_larger_than_any_real_input_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_io, "MAX_TEXT_BYTES", 1000)
    big = tmp_path / "big.txt"
    big.write_text("1\n" * 600)
    with pytest.raises(JScopeError, match=r"big\.txt holds more than"):
        read_values(big)
    with pytest.raises(JScopeError, match="holds more than"):  # a device that never ends
        engine_io.read_user_text("/dev/zero", "prompts file")
    ok = tmp_path / "ok.txt"
    ok.write_bytes(b"1\r\n2\r3\n")  # newlines as text mode reads them
    assert engine_io.read_user_text(ok) == "1\n2\n3\n"


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_a_data_set_of_more_items_than_the_bound_is_refused_unparsed(suffix, tmp_path, monkeypatch):
    from jscope_desktop.engine.runners import batch

    monkeypatch.setattr(batch, "MAX_ITEMS", 3)
    items = [{"prompt": f"p{i}"} for i in range(5)]
    path = tmp_path / f"items{suffix}"
    path.write_text({".jsonl": "".join(json.dumps(i) + "\n" for i in items),
                     ".json": json.dumps(items),
                     ".csv": "prompt\n" + "".join(f"p{i}\n" for i in range(5))}[suffix])
    with pytest.raises(JScopeError, match=r"holds more than 3 items \(5\); split it"):
        read_items(path)
    path.write_text({".jsonl": "".join(json.dumps(i) + "\n" for i in items[:3]),
                     ".json": json.dumps(items[:3]),
                     ".csv": "prompt\np0\np1\np2\n"}[suffix])
    assert len(read_items(path)) == 3  # at the bound: read


def test_items_are_counted_as_items_not_lines(tmp_path, monkeypatch):
    from jscope_desktop.engine.runners import batch

    monkeypatch.setattr(batch, "MAX_ITEMS", 3)
    csv = tmp_path / "multi_line.csv"
    csv.write_text('prompt\n"one\nprompt over\nfour lines"\n"two"\n', encoding="utf-8")
    assert len(read_items(csv)) == 2  # 6 lines, 2 items
    jsonl = tmp_path / "no_final_newline.jsonl"
    jsonl.write_text("\n".join(json.dumps({"prompt": f"p{i}"}) for i in range(4)), encoding="utf-8")
    with pytest.raises(JScopeError, match=r"more than 3 items \(4\)"):
        read_items(jsonl)


def test_a_file_this_program_wrote_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_io, "MAX_TEXT_BYTES", 1000)
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": 1, "error": "x"}\n' * 100, encoding="utf-8")  # 2,400 bytes
    assert len(engine_io.read_user_text(out, "output file", whole=True).splitlines()) == 100
    with pytest.raises(JScopeError, match="holds more than"):
        engine_io.read_user_text(out, "output file")
