"""One source of truth: every list of scopes is read from the registry, a direction scope needs
nothing but its definition, one request is validated in one place, every file is written one way."""

from __future__ import annotations

import json
import os

import pytest
import torch
from cli_helpers import assert_one_line_error, run_cli

from jscope_desktop import cli
from jscope_desktop.commands import attribute as attribute_command
from jscope_desktop.engine import io as jio
from jscope_desktop.engine.compute.forward import build_graph
from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.explain.attribute import attribute
from jscope_desktop.engine.explain.generation import generate_attribution, generate_tokens, matrix_scopes
from jscope_desktop.engine.results.request import AttributionRequest, RequestError, check_request
from jscope_desktop.engine.scopes import SCOPES, DirectionScope, Prediction, scope_names
from jscope_desktop.engine.series.explain import series_scopes

PROMPT = "12,34,56,"


def _choices(command: str, option: str = "--scope") -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return list(next(a for a in sub._actions if option in a.option_strings).choices)


def test_every_scope_list_is_read_from_the_registry():
    assert _choices("attribute") == scope_names() == list(SCOPES)
    assert _choices("generate") == matrix_scopes() == [
        n for n, s in SCOPES.items() if isinstance(s, DirectionScope)]
    assert _choices("series") == series_scopes() == [n for n, s in SCOPES.items() if s.series]
    for s in SCOPES.values():
        assert s.label and s.explanation and s.unit and s.cost, s.name
    assert {s.unit for s in SCOPES.values()} >= {"‖Jᵀu‖", "tr(JᵀFJ)"}


def test_a_direction_scope_is_its_definition(tiny_llama):
    """A new direction scope, declared here and registered nowhere, against a brute-force
    Jacobian: score_t = ‖J_tᵀ u‖ with u = h/‖h‖ − w_0."""
    scope = DirectionScope("probe", "Probe", "Test.", direction=lambda p: p.h / p.h.norm() - p.W[0])
    ids = tiny_llama.tokenizer(PROMPT)["input_ids"]
    graph = build_graph(tiny_llama, ids, len(ids) - 1)
    pred = Prediction(graph.h.detach(), tiny_llama.model.get_output_embeddings().weight.detach(),
                      graph.logits, graph.probs)
    from jscope_desktop.engine.scopes import ScopeCall

    scores = scope.compute(ScopeCall(tiny_llama, graph, pred, AttributionRequest())).scores
    x = graph.x.detach()

    def h_of(flat):
        from jscope_desktop.engine.compute.forward import hidden_states

        return hidden_states(tiny_llama, flat.view_as(x)[None])[0, -1]

    J = torch.autograd.functional.jacobian(h_of, x.reshape(-1))  # (d, T·d)
    u = pred.h / pred.h.norm() - pred.W[0]
    want = (u @ J).view_as(x).norm(dim=-1).double()
    assert scores == pytest.approx(want.tolist(), rel=1e-4, abs=1e-7)


def test_a_direction_of_the_wrong_shape_is_one_sentence(tiny_llama):
    ids = tiny_llama.tokenizer(PROMPT)["input_ids"]
    graph = build_graph(tiny_llama, ids, len(ids) - 1)
    pred = Prediction(graph.h.detach(), graph.h.detach()[None], graph.logits, graph.probs)
    bad = DirectionScope("bad", "Bad", "Test.", direction=lambda p: p.h[:3])
    with pytest.raises(JScopeError, match=r"Bad Scope gave a direction of shape \(3,\)"):
        bad.direction_for(pred)
    nan = DirectionScope("nan", "NaN", "Test.", direction=lambda p: p.h * float("nan"))
    with pytest.raises(JScopeError, match="NaN or infinite"):
        nan.direction_for(pred)


@pytest.mark.parametrize("scope", matrix_scopes())
def test_every_matrix_row_equals_a_single_run(tiny_llama, scope):
    """Row n of the generation matrix is the single-position attribution of the prediction at
    positions[n] whose target is the generated token (Contrast: against its runner-up)."""
    ids = tiny_llama.tokenizer(PROMPT)["input_ids"]
    new = generate_tokens(tiny_llama, ids, 3)
    m = generate_attribution(tiny_llama, PROMPT, 3, scope=scope, generated=new)
    for n, p in enumerate(m.positions):
        single = attribute(tiny_llama, AttributionRequest(
            token_ids=m.token_ids[: p + 1], scope=scope,
            target_id=m.token_ids[p + 1] if SCOPES[scope].needs_target else None))
        assert m.scores[n][: p + 1] == pytest.approx(single.scores, rel=1e-4, abs=1e-8)


def test_generation_refuses_what_it_cannot_do(tiny_llama):
    with pytest.raises(JScopeError, match="supports semantic, contrast, temperature, grad_input"):
        generate_attribution(tiny_llama, PROMPT, 2, scope="fisher")
    with pytest.raises(JScopeError, match="from 1 to 512"):
        generate_attribution(tiny_llama, PROMPT, 10_000)


@pytest.mark.parametrize("change, needle", [
    ({"fisher_probes": 0}, "The Fisher probes must be a whole number from 1"),
    ({"seed": -1}, "The seed must be a whole number from 0"),
    ({"ig_steps": 10**9}, "Integrated steps must be a whole number from 1 to 1,024"),
    ({"top_k": True}, "top-k must be a whole number"),
    ({"fisher_rel_error": float("nan")}, "The Fisher error must be between 0 and 1"),
    ({"scope": "nope"}, "Unknown scope 'nope'"),
])
def test_one_validation_for_every_front_end(change, needle):
    with pytest.raises(JScopeError, match=needle):
        check_request(AttributionRequest(prompt="x").but(**change))


def test_unused_settings_are_refused_only_for_what_a_user_typed():
    req = AttributionRequest(prompt="x", scope="temperature", target="7")
    check_request(req)  # a program may pass a target the scope ignores
    with pytest.raises(RequestError) as exc:
        check_request(req, refuse_unused=True)
    assert str(exc.value).startswith("A target is not used by the Temperature Scope")
    assert exc.value.sentence({"target": "--target"}).startswith("--target is not used")


@pytest.mark.parametrize("d, needle", [
    ({"prompt": 3}, "'prompt' has the value 3"),
    ({"position": "last"}, "'position'"),
    ({"chat": "yes"}, "'chat'"),
    ({"token_ids": [1, "2"]}, "'token_ids'"),
    ({"seed": True}, "'seed'"),
    ([], "not a table of settings"),
])
def test_a_saved_request_with_bad_fields_is_one_sentence(d, needle):
    with pytest.raises(JScopeError, match=needle):
        AttributionRequest.from_dict(d)
    assert AttributionRequest.from_dict({"prompt": "a", "scope": "fisher", "junk": 1}).scope == "fisher"


def test_cli_names_its_options_in_the_one_validation(capsys, monkeypatch, tiny_llama):
    monkeypatch.setattr(attribute_command, "load_model", lambda *a, **k: tiny_llama)
    for argv, needle in ((["--seed", "-1"], "--seed must be a whole number from 0"),
                         (["--steps", "5000", "--scope", "integrated"], "--steps must be")):
        assert_one_line_error(run_cli(capsys, "attribute", PROMPT, *argv), needle, code=2)


def test_an_output_never_lands_on_another_output_or_an_input(capsys, tmp_path, monkeypatch,
                                                            tiny_llama):
    monkeypatch.setattr(attribute_command, "load_model", lambda *a, **k: tiny_llama)
    same = tmp_path / "out.png"
    same.write_bytes(b"precious")
    err = assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--json", str(same),
                                        "--png", str(same)), "is written twice")
    assert str(same) in err and same.read_bytes() == b"precious"
    home = os.path.expanduser("~")
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--json", "~/out.png",
                                      "--png", str(same)), "is written twice")
    finally:
        monkeypatch.setenv("HOME", home)
    values = tmp_path / "v.txt"
    values.write_text("1\n2\n3\n4\n")
    assert_one_line_error(run_cli(capsys, "series", "--values", str(values), "--json",
                                  str(values)), "is also an input")
    assert values.read_text() == "1\n2\n3\n4\n"


def test_an_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "r.json"
    jio.write_json(path, {"a": float("nan"), "b": [1.0, float("inf")]})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None]}
    with pytest.raises(JScopeError, match=r"Could not write .*r\.json: disk full\."):
        with jio.atomic_path(path) as tmp:
            tmp.write_text("half")
            raise OSError(28, "disk full")
    assert json.loads(path.read_text())["a"] is None  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind
    with pytest.raises(JScopeError, match="it is a folder"):
        jio.write_text(tmp_path, "x")
    with pytest.raises(JScopeError, match="Could not write"):
        jio.write_text(tmp_path / "missing" / "x.json", "x")


def test_jscope_generate_writes_the_matrix_contract_and_its_picture(capsys, tmp_path, monkeypatch,
                                                                     tiny_llama):
    from jscope_desktop.commands import generate as generate_command
    from jscope_desktop.engine.results.result import AttributionResult

    monkeypatch.setattr(generate_command, "load_model", lambda *a, **k: tiny_llama)
    status, out, err = run_cli(capsys, "generate", PROMPT, "--n-tokens", "4", "--scope", "semantic",
                               "--json", str(tmp_path / "m.json"), "--png", str(tmp_path / "m"))
    assert status == 0, err
    r = AttributionResult.load(tmp_path / "m.json")
    assert r.scope == "semantic" and len(r.positions) == 4 and len(r.scores) == 4
    assert all(len(row) == len(r.token_ids) for row in r.scores)
    assert r.targets == [r.token_ids[p + 1] for p in r.positions]
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Generated 4 tokens" in out
    assert_one_line_error(run_cli(capsys, "generate", PROMPT, "--scope", "fisher", "--json", "-"),
                          "invalid choice: 'fisher'", code=2)
    assert_one_line_error(run_cli(capsys, "generate", PROMPT, "--n-tokens", "600", "--json", "-"),
                          "--n-tokens must be at most 512", code=2)


def test_the_matrix_picture_colours_each_cell_by_its_score(qapp, tiny_llama):
    from PySide6.QtGui import QColor

    from jscope_desktop.render.core.colormaps import COLORMAPS
    from jscope_desktop.render.figures.formats import paint_to_image
    from jscope_desktop.render.figures.matrix import MatrixFigure

    m = generate_attribution(tiny_llama, PROMPT, 4, scope="temperature")
    fig = MatrixFigure(m)
    img = paint_to_image(fig, 1.0)
    cells = [(r, c, v) for r, row in enumerate(m.scores) for c, v in enumerate(row[:-1])]
    r, c, _ = max((x for x in cells if x[2] is not None), key=lambda x: x[2])
    centre = fig.cell_rect(r, c).center().toPoint()
    assert img.pixelColor(centre).name() == QColor(*COLORMAPS["viridis"].rgb(1.0)).name()
    r, c, _ = next(x for x in cells if x[2] is None)  # after the row's position: not attributed
    assert img.pixelColor(fig.cell_rect(r, c).center().toPoint()).name() == "#ffffff"
    with pytest.raises(ValueError, match="multi-position"):
        MatrixFigure(attribute(tiny_llama, AttributionRequest(prompt=PROMPT)))


def test_a_plugin_scope_that_misbehaves_is_one_sentence(tiny_llama):
    from jscope_desktop.engine.scopes import Scope, ScopeOutput

    def short(call):
        return ScopeOutput(torch.ones(2, dtype=torch.float64), 1)

    def boom(call):
        raise ValueError("bad {0} braces")

    try:
        for name, fn, needle in (("short_scores", short, r"gave scores of shape \(2,\)"),
                                 ("boom", boom, r"failed: ValueError: bad \{0\} braces")):
            scope = Scope(name, name.title(), "Test.", fn, matrix=True)
            scope.plugin = "tests:scope"
            SCOPES[name] = scope
            assert name not in matrix_scopes()  # the matrix takes direction scopes only
            with pytest.raises(JScopeError, match=needle):
                attribute(tiny_llama, AttributionRequest(prompt=PROMPT, scope=name))
    finally:
        SCOPES.pop("short_scores", None)
        SCOPES.pop("boom", None)


def test_sentences_survive_braces_and_wrong_types():
    for change, needle in (({"fisher_method": "{0}"}, "Unknown Fisher method '{0}'"),
                           ({"seed": "{}"}, "The seed must be a whole number"),
                           ({"ig_steps": "16"}, "Integrated steps must be"),
                           ({"position": "last"}, "The position must be a whole number")):
        with pytest.raises(JScopeError, match=needle):
            check_request(AttributionRequest(prompt="x").but(**change))


def test_faithfulness_never_writes_over_its_prompts(capsys, tmp_path):
    prompts = tmp_path / "p.json"
    prompts.write_text('["a b c"]')
    assert_one_line_error(run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--json",
                                  str(prompts), "--scopes", "random"), "is also an input")
    assert prompts.read_text() == '["a b c"]'
    assert_one_line_error(run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--json",
                                  str(tmp_path), "--scopes", "random"), "it is a folder")
    assert_one_line_error(run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--json",
                                  str(tmp_path / "o.json"), "--scopes", "random", "--seed", "-1"),
                          "The seed must be")


def test_a_non_utf8_argument_is_a_usage_error(capsys):
    assert_one_line_error(run_cli(capsys, "attribute", "caf\udcff"), "argument 2 is not UTF-8",
                          code=2)


def test_a_closed_output_pipe_is_one_sentence(capsys, monkeypatch, tiny_llama):
    r, w = os.pipe()
    os.close(r)  # the reader went away (`jscope ... --json - | head -c 1`)
    stdout = os.fdopen(w, "w")
    monkeypatch.setattr(attribute_command, "load_model", lambda *a, **k: tiny_llama)
    monkeypatch.setattr("sys.stdout", stdout)
    code = cli.main(["attribute", PROMPT * 20, "--json", "-"])
    err = capsys.readouterr().err
    assert code == 1 and err == "jscope: the output pipe was closed before everything was written.\n"


def test_an_unreadable_stdin_is_one_sentence():
    from jscope_desktop.commands.options import read_prompt

    class Closed:
        def read(self):
            raise OSError(9, "Bad file descriptor")

    with pytest.raises(JScopeError, match="Could not read the prompt from stdin: Bad file"):
        read_prompt("-", stdin=Closed())
