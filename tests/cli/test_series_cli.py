"""`jscope series`: bad input gets one clear line and exit 1 (before any model is loaded);
the documented command works on the embedded model."""

from __future__ import annotations

import json

import pytest

from jscope_desktop.cli import main


def _fails(capsys, argv, message, status=1):
    code = main(argv) if status == 1 else _exit_code(argv)
    assert code == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jscope: ") and "Traceback" not in err
    assert message in err
    return err


def _exit_code(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


@pytest.fixture
def out(tmp_path):
    return str(tmp_path / "s.json")


def _values_file(tmp_path, text, name="v.txt"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_non_numeric_values(capsys, tmp_path, out):
    f = _values_file(tmp_path, "1\n2\nabc\n4\n")
    _fails(capsys, ["series", "--values", f, "--json", out], "Row 3 of v.txt holds 'abc'")


def test_csv_column_and_header(capsys, tmp_path, out):
    f = _values_file(tmp_path, "t,price\n1,5\n2,x\n", "v.csv")
    _fails(capsys, ["series", "--values", f, "--json", out], "Row 3 of v.csv holds 'x'")
    _fails(capsys, ["series", "--values", f, "--column", "volume", "--json", out],
           "v.csv has no column 'volume'; its columns are t, price")


@pytest.mark.parametrize("text, message", [
    ("1\n2\n", "at least 3 values; this one has 2"),
    ("5\n5\n5\n5\n", "The series is constant"),
    ("", "holds no values"),
])
def test_short_constant_or_empty_series(capsys, tmp_path, out, text, message):
    f = _values_file(tmp_path, text)
    _fails(capsys, ["series", "--values", f, "--json", out], message)


def test_missing_file(capsys, tmp_path, out):
    _fails(capsys, ["series", "--values", str(tmp_path / "nope.csv"), "--json", out],
           "nope.csv does not exist")


def test_unknown_system_digits_cutoff(capsys, out):
    _fails(capsys, ["series", "--system", "henon", "--json", out], "Unknown system 'henon'")
    _fails(capsys, ["series", "--system", "logistic", "--digits", "4", "--json", out],
           "Digits must be 2 or 3, not 4")
    _fails(capsys, ["series", "--system", "logistic", "--n-values", "10", "--cutoff", "12",
                    "--json", out], "cutoff must be between 1 and 10")
    _fails(capsys, ["series", "--system", "logistic", "--json", "/no/such/dir/s.json"],
           "the folder /no/such/dir does not exist")


def test_usage_errors_exit_2(capsys, out):
    _fails(capsys, ["series", "--json", out], "one of the arguments --system --values is required",
           status=2)
    _fails(capsys, ["series", "--system", "logistic", "--scope", "contrast", "--json", out],
           "invalid choice: 'contrast'", status=2)


@pytest.mark.embedded
def test_too_long_for_the_embedded_model(capsys, out):
    _fails(capsys, ["series", "--system", "brownian", "--n-values", "3000", "--json", out],
           "longer than the model's context of 8192")


@pytest.mark.embedded
def test_documented_command_on_the_embedded_model(qapp, capsys, tmp_path, monkeypatch):
    # qapp: --png in this process must find pytest-qt's QApplication, not create a QGuiApplication
    monkeypatch.chdir(tmp_path)
    argv = ["series", "--system", "logistic", "--n-values", "30", "--seed", "3",
            "--scope", "temperature", "--json", "s.json", "--png", "s.png"]
    assert main(argv) == 0
    assert "top values by score" in capsys.readouterr().out
    d = json.loads((tmp_path / "s.json").read_text())
    s = d["series"]
    assert s["system"] == "logistic" and s["digits"] == 2 and len(s["values"]) == 30
    assert [b - a for a, b in s["value_spans"]] == [2] * 30  # one token per digit
    assert all(v > 0 for v in s["value_scores"])
    assert len(s["next_value"]["probs"]) == 100 and 0.5 < s["next_value"]["mass"] <= 1.0
    assert d["tokens"][d["position"]] == "," and d["position"] == len(d["token_ids"]) - 1
    assert d["extra"]["tokenization"] == "digit" and d["extra"]["truth"]["law"] == "point"
    assert (tmp_path / "s.png").stat().st_size > 10_000
