"""Several scopes on one graph (engine.multi) against separate single-scope runs: the same
scores (direction scopes to float rounding, Fisher the same estimate at the same seed), the
backward passes really shared, Spearman against scipy, and the contract read back exactly."""

from __future__ import annotations

import json

import pytest
import torch
from scipy.stats import spearmanr

from jscope_desktop.engine.compute import forward
from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.explain.attribute import attribute
from jscope_desktop.engine.explain.multi import attribute_many, check_scopes, parse_scopes
from jscope_desktop.engine.results.multi_result import (
    MultiScopeResult,
    read_result,
)
from jscope_desktop.engine.results.request import AttributionRequest, RequestError
from jscope_desktop.engine.results.result import AttributionResult
from jscope_desktop.engine.scopes import SCOPES, DirectionScope, scope_names

PROMPT = "12,34,56,78,"
DIRECTIONS = ["semantic", "contrast", "temperature", "grad_input"]


def _same_as_single(lm, req, multi: MultiScopeResult, rel=1e-5):
    for r in multi.results:
        single = attribute(lm, req.but(scope=r.scope))
        n = r.position + 1
        assert r.scores[n:] == single.scores[n:] == [None] * (len(r.scores) - n)
        assert r.scores[:n] == pytest.approx(single.scores[:n], rel=rel, abs=1e-12), r.scope
        assert (r.target_id, r.foil_id, r.token_ids, r.position) == (
            single.target_id, single.foil_id, single.token_ids, single.position), r.scope
        assert r.fisher == single.fisher, r.scope  # the same estimate: rank, probes, error
        assert r.timing.backward_passes == single.timing.backward_passes, r.scope
        assert [t.id for t in r.topk] == [t.id for t in single.topk]


@pytest.fixture
def count_passes(monkeypatch):
    """Counts the batched backward passes really run (every VJP batch goes through here)."""
    calls = []
    original = forward._plain_batched_vjp

    def counting(graph, v):
        calls.append(v.shape[0])
        return original(graph, v)

    monkeypatch.setattr(forward, "_plain_batched_vjp", counting)
    return calls


@pytest.mark.parametrize("model", ["tiny_llama", "tiny_gemma"])
def test_every_scope_equals_its_single_run(request, one_thread, model):
    lm = request.getfixturevalue(model)
    req = AttributionRequest(prompt=PROMPT, ig_steps=8, seed=3)
    multi = attribute_many(lm, req, scope_names())
    assert multi.scopes == scope_names()
    _same_as_single(lm, req, multi)


def test_an_earlier_position_a_target_and_a_foil(tiny_llama, one_thread):
    req = AttributionRequest(prompt=PROMPT, position=6, target="9", foil="5", seed=1)
    names = ["fisher", "contrast", "semantic", "temperature"]
    multi = attribute_many(tiny_llama, req, names)
    assert multi.scopes == names  # the order asked, Fisher first or not
    _same_as_single(tiny_llama, req, multi)
    assert multi.result("contrast").foil == "5" and multi.result("semantic").target == "9"
    assert multi.result("temperature").target is None


def test_direction_scopes_ride_in_fishers_one_batched_pass(tiny_llama, one_thread, count_passes):
    req = AttributionRequest(prompt=PROMPT)
    alone = attribute(tiny_llama, req.but(scope="fisher"))
    # Fisher fast: F's top k, the Krylov block + probes, then more probes while the ranks of
    # this random model are in doubt
    alone_batches = list(count_passes)
    assert len(alone_batches) == alone.timing.backward_passes >= 2
    count_passes.clear()
    multi = attribute_many(tiny_llama, req, [*DIRECTIONS, "fisher"])
    # Semantic and Grad × input share their direction w_target: three rows ride, not four, in
    # one of Fisher's batches; no pass is added
    assert len(count_passes) == len(alone_batches)
    assert sum(count_passes) == sum(alone_batches) + len(DIRECTIONS) - 1
    assert multi.timing.backward_passes == alone.timing.backward_passes
    count_passes.clear()
    multi = attribute_many(tiny_llama, req, DIRECTIONS)  # no Fisher: one batch of their own
    assert count_passes == [len(DIRECTIONS) - 1] and multi.timing.backward_passes == 1


def test_fisher_exact_and_with_an_error_target(tiny_llama, one_thread, count_passes):
    for settings in ({"fisher_method": "exact"}, {"fisher_rel_error": 0.001, "seed": 5},
                     {"fisher_method": "lowrank", "fisher_rank": 3}):
        req = AttributionRequest(prompt=PROMPT, **settings)
        count_passes.clear()
        alone = attribute(tiny_llama, req.but(scope="fisher"))
        n_alone = len(count_passes)
        assert n_alone == alone.timing.backward_passes
        count_passes.clear()
        multi = attribute_many(tiny_llama, req, ["temperature", "fisher", "semantic"])
        assert len(count_passes) == n_alone == multi.timing.backward_passes, settings
        _same_as_single(tiny_llama, req, multi)


def test_integrated_keeps_its_own_pass(tiny_llama, one_thread, count_passes):
    req = AttributionRequest(prompt=PROMPT, ig_steps=5)
    multi = attribute_many(tiny_llama, req, ["integrated", "temperature"])
    ig = multi.result("integrated")
    assert multi.timing.backward_passes == ig.timing.backward_passes + 1
    _same_as_single(tiny_llama, req, multi)


def test_a_plugin_direction_scope_rides_too(tiny_llama, one_thread, monkeypatch):
    scope = DirectionScope("mean_out", "Mean output", "Test.",
                           direction=lambda p: p.W.mean(0), times_input=True)
    monkeypatch.setitem(SCOPES, "mean_out", scope)
    req = AttributionRequest(prompt=PROMPT)
    multi = attribute_many(tiny_llama, req, ["mean_out", "fisher"])
    _same_as_single(tiny_llama, req, multi)
    ids = tiny_llama.tokenizer(PROMPT)["input_ids"]
    graph = forward.build_graph(tiny_llama, ids, len(ids) - 1)
    w = tiny_llama.model.get_output_embeddings().weight.mean(0)
    (g,) = torch.autograd.grad(graph.h @ w, graph.x)  # brute force on a fresh graph
    expect = (g * graph.x.detach()).norm(dim=-1).double()
    assert multi.result("mean_out").scores == pytest.approx(expect.tolist(), rel=1e-4)


def test_a_broken_plugin_direction_is_one_sentence(tiny_llama, monkeypatch):
    monkeypatch.setitem(SCOPES, "bad", DirectionScope("bad", "Bad", "Test.",
                                                      direction=lambda p: p.h[:3]))
    with pytest.raises(JScopeError, match=r"Bad Scope gave a direction of shape \(3,\)"):
        attribute_many(tiny_llama, AttributionRequest(prompt=PROMPT), ["temperature", "bad"])


def test_agreement_is_spearman_over_attributed_tokens(tiny_llama, one_thread):
    multi = attribute_many(tiny_llama, AttributionRequest(prompt=PROMPT, position=7),
                           ["semantic", "temperature", "fisher"])
    rows = [r.scores[:8] for r in multi.results]
    for i in range(3):
        for j in range(3):
            assert multi.agreement.spearman[i][j] == pytest.approx(
                spearmanr(rows[i], rows[j]).statistic)
    assert multi.agreement.scopes == ["semantic", "temperature", "fisher"]


def test_timing_adds_up(tiny_llama, one_thread):
    multi = attribute_many(tiny_llama, AttributionRequest(prompt=PROMPT), scope_names())
    t = multi.timing
    assert t.forward_s > 0 and t.total_s > 0
    shares = sum(r.timing.scope_s for r in multi.results)
    assert 0.5 * t.total_s <= shares <= t.total_s * (1 + 1e-9)  # disjoint parts of the total
    assert all(r.timing.forward_s == t.forward_s for r in multi.results)


def test_cancel_stops_the_joint_run(tiny_llama):
    from jscope_desktop.engine.errors import Cancelled

    with pytest.raises(Cancelled):
        attribute_many(tiny_llama, AttributionRequest(prompt=PROMPT), ["temperature", "fisher"],
                       cancel=lambda: True)


def test_contract_round_trip(tiny_llama, one_thread, tmp_path):
    multi = attribute_many(tiny_llama, AttributionRequest(prompt=PROMPT), scope_names())
    path = tmp_path / "m.json"
    multi.save(path)
    d = json.loads(path.read_text())
    assert set(d) == {"version", "results", "agreement", "timing"} and d["version"] == 1
    assert set(d["timing"]) == {"forward_s", "total_s", "backward_passes"}
    assert set(d["agreement"]) == {"scopes", "spearman"}
    back = MultiScopeResult.load(path)
    assert back.to_dict() == multi.to_dict() == d
    assert read_result(path).to_dict() == d
    for r, rd in zip(back.results, d["results"]):  # each entry is the single-scope contract
        assert AttributionResult.from_dict(rd).to_dict() == rd == r.to_dict()
    single = tmp_path / "s.json"
    multi.results[0].save(single)
    assert isinstance(read_result(single), AttributionResult)
    bad = dict(d, agreement={"scopes": d["agreement"]["scopes"], "spearman": [[1.0]]})
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(JScopeError, match="is not a Jacobian Scopes result") as err:
        read_result(tmp_path / "bad.json")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, needle", [
    ("semantic,nope", "Unknown scope 'nope'"),
    ("semantic,semantic", "names 'semantic' twice"),
    (",", "an empty name"),
    ("fisher,", "an empty name"),
])
def test_bad_scope_lists(text, needle):
    with pytest.raises(RequestError, match=needle) as err:
        parse_scopes(text)
    assert "\n" not in err.value.sentence({"scope": "--scope"})


def test_all_and_unused_targets():
    assert parse_scopes("all") == scope_names()
    assert parse_scopes(" temperature , fisher") == ["temperature", "fisher"]
    req = AttributionRequest(prompt=PROMPT, target="7")
    check_scopes(req, ["temperature", "semantic"], refuse_unused=True)  # semantic uses it
    with pytest.raises(RequestError, match="not used by the Temperature"):
        check_scopes(req, ["temperature", "fisher"], refuse_unused=True)
    with pytest.raises(RequestError, match="foil"):
        check_scopes(AttributionRequest(prompt=PROMPT, foil="7"), ["semantic", "fisher"],
                     refuse_unused=True)


@pytest.mark.embedded
def test_embedded_model_every_scope_equals_its_single_run(embedded_model):
    req = AttributionRequest(prompt="The capital of France is", ig_steps=4, seed=2)
    multi = attribute_many(embedded_model, req, scope_names())
    _same_as_single(embedded_model, req, multi, rel=2e-4)
    assert multi.timing.backward_passes == (multi.result("fisher").timing.backward_passes
                                            + multi.result("integrated").timing.backward_passes)
