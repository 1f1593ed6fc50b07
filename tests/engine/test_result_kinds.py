"""Result kinds as types: files written before the kinds existed (tests/data/results_0.1.0,
written by 0.1.0's code from tiny models) load as the kind they hold, with the typed fields read
from the contract's "extra" table, and write back exactly the JSON they were read from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jscope_desktop.engine.results.multi_result import MultiScopeResult, read_result
from jscope_desktop.engine.results.result import AttributionResult, MatrixResult, SeriesResult

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "results_0.1.0"
KINDS = {"single.json": AttributionResult, "matrix.json": MatrixResult,
         "series.json": SeriesResult, "series_values.json": SeriesResult,
         "multi.json": MultiScopeResult}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_file_written_before_the_kinds_loads_as_its_kind_and_writes_back_the_same(name):
    path = FIXTURES / name
    written = json.loads(path.read_text(encoding="utf-8"))
    result = read_result(path)
    assert type(result) is KINDS[name]
    assert json.loads(result.to_json()) == written
    if name != "multi.json":
        assert type(AttributionResult.load(path)) is KINDS[name]


def test_the_typed_fields_are_what_the_file_holds():
    matrix = AttributionResult.load(FIXTURES / "matrix.json")
    extra = json.loads((FIXTURES / "matrix.json").read_text(encoding="utf-8"))["extra"]
    assert matrix.targets == extra["targets"] and matrix.prompt_tokens == extra["prompt_tokens"]
    assert matrix.targets == [matrix.token_ids[p + 1] for p in matrix.positions]
    assert matrix.extra == {}  # nothing free-form left
    series = AttributionResult.load(FIXTURES / "series.json")
    assert series.cutoff == 9 and series.tokenization in ("digit", "number", "mixed")
    assert series.truth["law"] and set(series.cost) >= {"distribution_s", "forward_s"}
    given = AttributionResult.load(FIXTURES / "series_values.json")
    assert given.truth is None and given.cutoff == len(given.series.values)
    single = AttributionResult.load(FIXTURES / "single.json")
    assert type(single) is AttributionResult and single.EXTRA_FIELDS == ()


def test_the_engine_makes_each_kind(tiny_llama):
    from jscope_desktop.engine.explain.generation import generate_attribution
    from jscope_desktop.engine.series.explain import SeriesRequest, explain_series

    matrix = generate_attribution(tiny_llama, "12,34,", 2, scope="temperature")
    assert type(matrix) is MatrixResult and len(matrix.targets) == 2 and matrix.prompt_tokens == 7
    series = explain_series(tiny_llama, SeriesRequest(values=[1.0, 3.0, 2.0, 5.0]))
    assert type(series) is SeriesResult and series.cutoff == 4 and series.truth is None


@pytest.mark.parametrize("name,key,value", [("matrix.json", "prompt_tokens", 3.5),
                                            ("matrix.json", "targets", "abc"),
                                            ("series.json", "cutoff", "9"),
                                            ("series.json", "truth", [1, 2])])
def test_a_hand_edited_typed_field_is_one_sentence(name, key, value, tmp_path):
    from jscope_desktop.engine.errors import JScopeError

    d = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    d["extra"][key] = value
    path = tmp_path / name
    path.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(JScopeError, match="is not a Jacobian Scopes result"):
        AttributionResult.load(path)
