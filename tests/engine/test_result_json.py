"""The result contract of DESIGN.md: `save` then `load` gives an equal object, and the file has
exactly the contract's keys with the contract's types."""

from __future__ import annotations

import json
import math

import pytest

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.results.result import (
    AttributionResult,
    FisherInfo,
    SeriesInfo,
    SeriesResult,
    Timing,
    TopToken,
)
from jscope_desktop.engine.scopes import scope_names

# The contract, written out independently of the dataclass: key -> accepted JSON types.
INT, FLOAT, STR, NULL = (int,), (float, int), (str,), (type(None),)
TOP = {"version": INT, "model": (dict,), "device": STR, "dtype": STR, "token_ids": (list,),
       "tokens": (list,), "position": INT, "scope": STR, "target_id": INT + NULL,
       "target": STR + NULL, "foil_id": INT + NULL, "foil": STR + NULL, "scores": (list,),
       "topk": (list,), "timing": (dict,), "fisher": (dict,) + NULL}
OPTIONAL = {"positions": (list,), "series": (dict,), "special": (list,), "roles": (list,),
            "entropy": FLOAT, "beta": FLOAT, "extra": (dict,), "ig_baseline": STR}  # Integrated only
MODEL = {"name": STR, "source": STR, "n_params": INT, "d_model": INT, "vocab_size": INT}
TOPK = {"id": INT, "token": STR, "prob": FLOAT}
TIMING = {"forward_s": FLOAT, "scope_s": FLOAT, "backward_passes": INT}
FISHER = {"method": STR, "rank": INT, "probes": INT, "rel_error_estimate": FLOAT + NULL}
FISHER_OPTIONAL = {"rank_intervals": (list,) + NULL}  # fast: [lowest, highest] rank per token
SERIES = {"system": STR + NULL, "values": (list,), "encoded": (list,), "digits": INT,
          "offset": FLOAT, "step": FLOAT, "value_spans": (list,), "value_scores": (list,),
          "next_value": (dict,)}


def check_keys(d: dict, spec: dict, optional: dict | None = None) -> None:
    """``d`` has every key of ``spec``, no key outside spec/optional, and the right types."""
    optional = optional or {}
    assert set(spec) <= set(d), set(spec) - set(d)
    assert set(d) <= set(spec) | set(optional), set(d) - set(spec) - set(optional)
    for key, value in d.items():
        types = spec.get(key) or optional[key]
        assert isinstance(value, types) and not isinstance(value, bool), (key, value)


def check_contract(d: dict) -> None:
    """Every key and type of the result contract, nested objects and lists included."""
    check_keys(d, TOP, OPTIONAL)
    assert d["version"] == 1
    check_keys(d["model"], MODEL)
    check_keys(d["timing"], TIMING)
    assert d["scope"] in ("semantic", "contrast", "temperature", "fisher", "integrated",
                          "grad_input")
    n = len(d["token_ids"])
    assert len(d["tokens"]) == n and 0 <= d["position"] < n
    assert all(isinstance(i, int) for i in d["token_ids"])
    assert all(isinstance(t, str) for t in d["tokens"])
    rows = d["scores"] if "positions" in d else [d["scores"]]
    for row in rows:
        assert len(row) == n and all(isinstance(s, (float, type(None))) for s in row)
    for t in d["topk"]:
        check_keys(t, TOPK)
        assert 0 <= t["prob"] <= 1
    if d["fisher"] is not None:
        check_keys(d["fisher"], FISHER, FISHER_OPTIONAL)
        assert d["fisher"]["method"] in ("fast", "exact", "lowrank")
    if "series" in d:
        check_keys(d["series"], SERIES)
    for key in ("special", "roles"):
        assert key not in d or len(d[key]) == n


@pytest.mark.parametrize("scope", scope_names())
def test_round_trip_of_real_results(tmp_path, tiny_gemma, scope):
    r = attribute(tiny_gemma, AttributionRequest(prompt="12,34,56,", scope=scope, position=6))
    path = tmp_path / "r.json"
    r.save(path)
    d = json.loads(path.read_text(encoding="utf-8"))
    check_contract(d)
    assert d["scores"][7:] == [None] * 3 and all(s > 0 for s in d["scores"][:7])
    assert (d["fisher"] is not None) == (scope == "fisher")
    back = AttributionResult.load(path)
    assert back == r
    assert back.to_json() == r.to_json()


def full_result() -> SeriesResult:
    """A synthetic result using every optional part: a matrix, a series and its typed fields,
    chat marks, unicode."""
    return SeriesResult(
        model={"name": "m", "source": "/x/m.gguf", "n_params": 10, "d_model": 4, "vocab_size": 9},
        device="cuda:0", dtype="bfloat16", token_ids=[1, 5, 6, 7],
        tokens=["<s>", " Ünï", "\n", "中文"], position=2, scope="fisher", target_id=None,
        target=None, foil_id=None, foil=None,
        scores=[[0.5, None, None, None], [0.25, 1.5, 2.0, None]],
        topk=[TopToken(7, "中文", 0.75), TopToken(3, " a", 0.125)],
        timing=Timing(forward_s=0.01, scope_s=0.05, backward_passes=2),
        fisher=FisherInfo("fast", 8, 8, 0.03), positions=[0, 2],
        series=SeriesInfo("lorenz", [1.5, 2.5], [10, 99], 2, 1.0, 0.5, [[1, 2], [3, 4]],
                          [0.5, 0.25], {"encoded": [10, 11], "probs": [0.5, 0.25], "mass": 0.75}),
        special=[True, False, False, False], roles=[None, "user", "user", None],
        entropy=1.25, beta=3.5, extra={"note": "x"}, cutoff=2, tokenization="digit",
        cost={"distribution_s": 0.5, "forward_s": 0.25, "ratio": 2.0, "rows": 11},
        truth={"law": "point", "loc": 1.5, "probs": [1.0], "mass": 1.0},
    )


def test_round_trip_with_every_optional_part(tmp_path):
    r = full_result()
    r.save(tmp_path / "r.json")
    d = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    check_contract(d)
    assert "中文" in (tmp_path / "r.json").read_text(encoding="utf-8")  # not escaped
    assert d["extra"] == {"note": "x", "cutoff": 2, "tokenization": "digit", "cost": r.cost,
                          "truth": r.truth}  # the typed fields, where the contract keeps them
    back = AttributionResult.load(tmp_path / "r.json")
    assert back == r and type(back) is SeriesResult
    assert back.score_row() == [0.25, 1.5, 2.0, None] and back.score_row(0)[0] == 0.5


def test_optional_keys_are_left_out_when_unset(tiny_llama):
    r = attribute(tiny_llama, AttributionRequest(prompt="12", scope="temperature"))
    r.special = r.roles = r.entropy = r.beta = None
    d = json.loads(r.to_json())
    assert set(d) == set(TOP)
    check_contract(d)
    assert AttributionResult.from_dict(d) == r


def test_non_finite_numbers_are_written_as_null(tmp_path):
    r = full_result()
    r.scores = [[math.nan, math.inf, 1.0, None], [1.0, 2.0, 3.0, None]]
    r.fisher = FisherInfo("fast", 8, 1, math.nan)
    r.save(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    d = json.loads(text)
    assert d["scores"][0] == [None, None, 1.0, None] and d["fisher"]["rel_error_estimate"] is None
    check_contract(d)


def test_unknown_keys_are_ignored_on_load():
    d = json.loads(full_result().to_json())
    d["from_a_newer_version"] = {"x": 1}
    assert AttributionResult.from_dict(d) == full_result()
