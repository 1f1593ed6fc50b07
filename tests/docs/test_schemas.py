"""The JSON schemas of the result contracts (docs/content/reference/schemas/) describe the files
the product really writes: every kind is written here by the real command line on a real model
folder and validated, with the committed case-study results and the faithfulness report; a file
missing a required key is refused, so the schemas are not vacuous."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "content" / "reference" / "schemas"
RUNS = ROOT / "docs" / "content" / "tutorials" / "case-studies" / "runs"


@pytest.fixture(scope="module")
def validator():
    """``validator(name)``: a Draft 2020-12 validator of ``NAME.schema.json`` that resolves the
    other schemas' ``urn:jscope:…`` ids."""
    schemas = {p.name.removesuffix(".schema.json"): json.loads(p.read_text(encoding="utf-8"))
               for p in SCHEMAS.glob("*.schema.json")}
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    registry = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s)) for s in schemas.values())
    return lambda name: jsonschema.Draft202012Validator(schemas[name], registry=registry)


def errors(validator, name: str, document) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator(name).iter_errors(document)]


def test_every_schema_is_listed_on_the_contracts_page():
    page = (ROOT / "docs" / "content" / "reference" / "contracts.md").read_text(encoding="utf-8")
    for path in SCHEMAS.glob("*.schema.json"):
        assert f"schemas/{path.name}" in page, path.name


def test_the_files_the_command_line_writes_match_their_schemas(validator, model_folder, tmp_path,
                                                               capsys):
    model = ["--model", str(model_folder), "--device", "cpu"]
    written = {
        "single.json": ("result", ["attribute", "the cat sat on the", "--scope", "fisher"]),
        "multi.json": ("multi", ["attribute", "the cat sat on the", "--scope", "semantic,temperature"]),
        "matrix.json": ("result", ["generate", "the cat sat", "--n-tokens", "2"]),
        "estimate.json": ("estimate", ["attribute", "the cat sat on the", "--estimate"]),
    }
    for file, (schema, argv) in written.items():
        status, _, err = run_cli(capsys, *argv, *model, "--json", str(tmp_path / file))
        assert status == 0, err
        document = json.loads((tmp_path / file).read_text(encoding="utf-8"))
        assert errors(validator, schema, document) == [], file
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "ok", "prompt": "the cat sat"}\n'
                     '{"id": "bad", "prompt": "the cat", "target": "cat sat"}\n', encoding="utf-8")
    status, _, err = run_cli(capsys, "batch", str(items), "--out", str(tmp_path / "out.jsonl"), *model)
    assert status == 1, err  # the second item fails: a target of two tokens
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {line["id"] for line in lines} == {"ok", "bad"} and any("error" in x for x in lines)
    for line in lines:
        assert errors(validator, "batch-line", line) == [], line.get("id")


def test_the_committed_results_match_their_schemas(validator):
    runs = sorted(RUNS.glob("*.json"))
    assert runs, "the case studies' committed runs are missing"
    for path in runs:
        assert errors(validator, "result", json.loads(path.read_text(encoding="utf-8"))) == [], path.name
    report = json.loads((ROOT / "benchmarks" / "results" / "faithfulness.json").read_text(encoding="utf-8"))
    assert errors(validator, "faithfulness", report) == []


def test_a_result_missing_a_key_or_with_a_bad_score_is_refused(validator):
    result = json.loads(sorted(RUNS.glob("*.json"))[0].read_text(encoding="utf-8"))
    assert errors(validator, "result", {k: v for k, v in result.items() if k != "scores"})
    assert errors(validator, "result", {**result, "scores": ["high", None]})
    assert errors(validator, "multi", {"version": 1, "results": [result]})  # no agreement, timing
    assert errors(validator, "batch-line", {"id": "x", "error": 3})


def test_the_faithfulness_suite_and_sanity_reports_match_their_schemas(validator, model_folder,
                                                                     tmp_path, capsys):
    model = ["--model", str(model_folder), "--device", "cpu"]
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps(["the cat sat on the mat", "a dog sat on the cat ."]))
    status, _, err = run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--scopes",
                             "temperature,random", "--explain", "last", "--filler", "zero,pad",
                             "--json", str(tmp_path / "f.json"), *model)
    assert status == 0, err
    for name in ("zero", "pad"):
        report = json.loads((tmp_path / f"f_{name}.json").read_text(encoding="utf-8"))
        assert errors(validator, "faithfulness", report) == [], name
    status, _, err = run_cli(capsys, "sanity", "--prompts", str(prompts), "--scopes", "temperature",
                             "--json", str(tmp_path / "s.json"), *model)
    assert status == 0, err
    assert errors(validator, "sanity", json.loads((tmp_path / "s.json").read_text())) == []
