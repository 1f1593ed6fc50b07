"""A scope declares its own cost (a CostPlan: directions, batches, passes, its own algebra's work
and memory, what to ask less of); the cost model asks the scope and never names one, so a
plugin scope gets an estimate too."""

from __future__ import annotations

import inspect

import pytest

from jscope_desktop.engine.model.shape import ModelShape
from jscope_desktop.engine.planning import cost_model
from jscope_desktop.engine.results.request import AttributionRequest
from jscope_desktop.engine.scopes import SCOPES, Scope, get_scope
from jscope_desktop.engine.scopes.base import CostPlan

SHAPE = ModelShape(n_params=135_000_000, d_model=576, n_layers=30, ffn=1536, n_heads=9,
                   n_kv_heads=3, head_dim=64, vocab=49152)
T = 64


def _never_called(call):
    raise AssertionError("the estimate must not run the scope")


def estimate(scope: str, available: int = 2**40):
    return cost_model.estimate_run(SHAPE, T, AttributionRequest(prompt="x", scope=scope),
                                   dtype="float32", base_bytes=0, available_bytes=available,
                                   throughput=1e10)


def test_the_cost_model_names_no_scope():
    source = inspect.getsource(cost_model)
    assert "req.scope ==" not in source and '"fisher"' not in source
    assert '"integrated"' not in source.replace('p.kind == "integrated"', "")


def test_a_scope_with_its_own_plan_is_estimated_by_it(monkeypatch):
    seen = []

    def plan(ctx, request):
        seen.append(ctx)
        return CostPlan("batched", 40, 8, extra_work=3e9, extra_bytes=5e8, fewer="fewer widgets")

    monkeypatch.setitem(SCOPES, "widgets", Scope("widgets", "Widgets", "A test scope.",
                                                 _never_called, plan=plan))
    monkeypatch.setitem(SCOPES, "plain", Scope("plain", "Plain", "A test scope.", _never_called))
    own, plain = estimate("widgets"), estimate("plain")
    ctx = seen[-1]
    assert (ctx.d_model, ctx.vocab, ctx.n_tokens) == (576, 49152, T) and ctx.cap >= 8
    F = cost_model.forward_work(SHAPE, T)
    # 40 batched directions at a batched direction's cost of a backward, against the plain
    # scope's one backward pass, plus the scope's own algebra
    extra_work = (40 * cost_model.DIRECTION_COST - 1) * cost_model.BACKWARD_PER_FORWARD * F + 3e9
    assert own.seconds - plain.seconds == pytest.approx(extra_work / 1e10, rel=1e-9)
    # its algebra's bytes and 8 directions' temporaries beyond the plain graph's one
    transients = 7 * T * (3 * SHAPE.ffn + 6 * SHAPE.d_model) * 4
    assert own.peak_bytes - plain.peak_bytes == pytest.approx(
        cost_model.PROCESS_OVERHEAD * (5e8 + transients), rel=1e-6)
    tight = estimate("widgets", available=plain.peak_bytes)
    assert not tight.fits and "fewer widgets" in cost_model.refusal(
        tight, AttributionRequest(prompt="x", scope="widgets"), "float32")


def test_a_plugin_scope_that_declares_nothing_costs_one_backward_pass(monkeypatch):
    scope = Scope("plugged", "Plugged", "A test scope.", _never_called)
    scope.plugin = "someone_elses_package:SCOPE"
    monkeypatch.setitem(SCOPES, "plugged", scope)
    est, temperature = estimate("plugged"), estimate("temperature")
    assert est.seconds == temperature.seconds and est.peak_bytes == temperature.peak_bytes


def test_the_built_in_scopes_declare_their_plans():
    plans = {name: cost_model.plan(SHAPE, T, AttributionRequest(prompt="x", scope=name))
             for name in ("temperature", "fisher", "integrated")}
    assert plans["temperature"] == CostPlan("graph", 1, 1)
    assert plans["fisher"].kind == "batched" and plans["fisher"].jvps == 5
    assert plans["fisher"].extra_work > 0 and plans["fisher"].fewer == "fewer Fisher directions"
    assert (plans["integrated"].kind, plans["integrated"].steps) == ("integrated", 16)
    exact = get_scope("fisher").plan(
        cost_model.CostContext(576, 49152, T, 128),
        AttributionRequest(prompt="x", scope="fisher", fisher_method="exact"))
    assert (exact.directions, exact.batch) == (576, 128)
