"""Recomputation (activation checkpointing): chosen by the cost model when the plain graph would
not fit, it keeps each decoder layer's input only and gives the same gradients, scores and
several-scope results as the plain graph. Memory is checked by counting the bytes autograd
saves (an independent hook), not through the cost model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import tiny_model

from jscope_desktop.engine.compute.forward import _plain_batched_vjp, build_graph, decoder_layers
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.explain.multi import attribute_many
from jscope_desktop.engine.model import memory
from jscope_desktop.engine.model.shape import ModelShape
from jscope_desktop.engine.planning import calibration
from jscope_desktop.engine.planning.cost_model import estimate_run, peak_bytes_of_run


def _saved_bytes(fn) -> int:
    total = [0]

    def pack(t):
        total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total[0]


@pytest.fixture(scope="module")
def deep_llama():
    return tiny_model("LlamaConfig", "LlamaForCausalLM", vocab_size=128, hidden_size=64,
                 intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=512)


@pytest.mark.parametrize("which", ["llama", "gemma"])
def test_recomputed_graph_gives_the_same_vjps_with_far_less_kept(which, deep_llama, tiny_gemma):
    lm = deep_llama if which == "llama" else tiny_gemma
    ids = [5 + i % 100 for i in range(160)]
    plain = _saved_bytes(lambda: build_graph(lm, ids, len(ids) - 1))
    kept = _saved_bytes(lambda: build_graph(lm, ids, len(ids) - 1, recompute=True))
    assert kept < plain / 4
    g0, g1 = build_graph(lm, ids, 150), build_graph(lm, ids, 150, recompute=True)
    d = g0.h.shape[0]
    V = torch.randn(5, d, generator=torch.Generator().manual_seed(0))
    for batch in (V, V[:1], V):  # batched, single and a third pass on the same graph
        assert torch.allclose(_plain_batched_vjp(g0, batch), _plain_batched_vjp(g1, batch),
                              atol=1e-6, rtol=1e-5)
    # the layers are themselves again afterwards
    assert all("forward" not in vars(layer) for layer in decoder_layers(lm.model))


def _shape(lm) -> ModelShape:
    return calibration.shape_of(lm)


def test_the_cost_model_recomputes_only_when_the_plain_graph_would_not_fit():
    shape = ModelShape(n_params=1_200_000_000, d_model=2048, n_layers=16, ffn=8192, n_heads=32,
                       n_kv_heads=8, head_dim=64, vocab=49152)
    req = AttributionRequest(scope="temperature")
    kw = dict(dtype="float32", base_bytes=5 * 2**30, available_bytes=24 * 2**30)
    short = estimate_run(shape, 2048, req, **kw)
    assert short.fits and not short.recompute
    long = estimate_run(shape, 8192, req, **kw)
    plain = estimate_run(shape, 8192, req, **kw, recompute=False)
    assert not plain.fits and long.recompute and long.fits
    base = kw["base_bytes"]
    assert long.peak_bytes - base < (plain.peak_bytes - base) / 2 and long.seconds > plain.seconds
    assert "recomputing layers" in long.text()
    # Integrated builds a graph per batch of steps: never recomputed
    ig = estimate_run(shape, 8192, req.but(scope="integrated", ig_steps=8), **kw)
    assert not ig.recompute


HELD, REACH = 10**9, 10**12
IDS = [5 + i % 100 for i in range(300)]


def _holding(monkeypatch, lm) -> None:
    """The process holds HELD bytes and can reach REACH, and so it did when the model was warm
    (a baseline measured by an earlier test's warm-up would otherwise count)."""
    monkeypatch.setattr(memory, "memory_now", lambda device: (HELD, REACH))
    monkeypatch.setattr(lm, "_baseline_bytes", HELD, raising=False)


def _between(lm, req) -> int:
    """A memory limit the plain run exceeds even with batches of one direction, and the
    recomputed one fits."""
    plain = peak_bytes_of_run(_shape(lm), len(IDS), req, "float32", False, batch=1)
    again = peak_bytes_of_run(_shape(lm), len(IDS), req, "float32", True, batch=1)
    assert again < plain
    return HELD + (plain + again) // 2


def _spy(monkeypatch, module: str) -> list[bool]:
    seen: list[bool] = []

    def spy(lm, token_ids, position, recompute=False):
        seen.append(recompute)
        return build_graph(lm, token_ids, position, recompute)

    monkeypatch.setattr(f"jscope_desktop.engine.{module}.build_graph", spy)
    return seen


@pytest.mark.parametrize("scope", ["temperature", "fisher"])
def test_a_memory_limit_between_plain_and_recomputed_runs_recomputed_with_equal_scores(
        deep_llama, monkeypatch, scope):
    _holding(monkeypatch, deep_llama)
    req = AttributionRequest(token_ids=IDS, scope=scope)
    seen = _spy(monkeypatch, "explain.attribute")
    r = attribute(deep_llama, req, memory_limit=_between(deep_llama, req))
    free = attribute(deep_llama, req)
    assert seen == [True, False]
    np.testing.assert_allclose(r.scores, free.scores, rtol=1e-5, atol=1e-9)


def test_several_scopes_share_one_recomputed_graph(deep_llama, monkeypatch):
    _holding(monkeypatch, deep_llama)
    req = AttributionRequest(token_ids=IDS)
    seen = _spy(monkeypatch, "explain.attribute")  # prepare builds the one graph
    limit = _between(deep_llama, req.but(scope="temperature"))
    many = attribute_many(deep_llama, req, ["temperature", "semantic"], memory_limit=limit)
    free = attribute_many(deep_llama, req, ["temperature", "semantic"])
    assert seen == [True, False]
    for a, b in zip(many.results, free.results, strict=True):
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-9)


def test_fisher_batches_shrink_to_what_the_memory_budget_holds(deep_llama, monkeypatch):
    """A limit that holds batches of 8 directions (not the plan's 64) keeps the plain graph, caps
    every backward pass at 8, and gives the same scores."""
    from jscope_desktop.engine.compute import forward

    _holding(monkeypatch, deep_llama)
    req = AttributionRequest(token_ids=IDS, scope="fisher", fisher_method="exact")
    kw = dict(dtype="float32", base_bytes=HELD, available_bytes=REACH)
    eight = HELD + peak_bytes_of_run(_shape(deep_llama), len(IDS), req, "float32", batch=8)
    two = estimate_run(_shape(deep_llama), len(IDS), req, **kw, limit_bytes=eight)
    assert two.fits and not two.recompute and two.batch == 8
    sizes = []
    real = forward._batched_vjp
    monkeypatch.setattr(forward, "_batched_vjp", lambda g, v, c=None: sizes.append(len(v)) or real(g, v, c))
    capped = attribute(deep_llama, req, memory_limit=two.available_bytes)
    assert sizes and max(sizes) <= two.batch and sum(sizes) == deep_llama.info.d_model
    sizes.clear()
    free = attribute(deep_llama, req)
    assert max(sizes) > two.batch
    np.testing.assert_allclose(capped.scores, free.scores, rtol=1e-6, atol=1e-12)


def test_a_layers_own_instance_forward_is_kept_and_a_repeated_layer_wrapped_once(deep_llama):
    """accelerate's offload hooks live on the instance as ``forward``: after a recomputed graph
    they are there again (and still called); a layer listed twice is wrapped once."""
    from jscope_desktop.engine.compute.forward import recomputed_layers

    stack = decoder_layers(deep_llama.model)
    calls = []
    original = type(stack[0]).forward

    def hooked(*args, **kwargs):
        calls.append(1)
        return original(stack[0], *args, **kwargs)

    stack[0].forward = hooked
    try:
        ids = [5 + i % 100 for i in range(40)]
        g = build_graph(deep_llama, ids, 39, recompute=True)
        assert vars(stack[0])["forward"] is hooked and calls
        torch.autograd.grad(g.h.sum(), g.x)  # the recompute calls the hooked forward again
        assert len(calls) >= 2
        stack.append(stack[1])  # the same module twice
        with recomputed_layers(deep_llama):
            pass
        assert "forward" not in vars(stack[1])
    finally:
        del stack[-1]
        del stack[0].forward


def test_a_model_without_a_known_layer_stack_is_never_estimated_as_recomputed(deep_llama,
                                                                            monkeypatch):
    from jscope_desktop.engine.compute import forward

    _holding(monkeypatch, deep_llama)
    req = AttributionRequest(token_ids=IDS, scope="temperature")
    limit = _between(deep_llama, req)
    assert calibration.estimate_loaded(deep_llama, req, len(IDS), limit).recompute
    monkeypatch.setattr(forward, "decoder_layers", lambda model: None)
    est = calibration.estimate_loaded(deep_llama, req, len(IDS), limit)
    assert not est.recompute and not est.fits  # refused, not run plain on a recomputed estimate


def test_recomputation_is_preferred_to_batches_of_one():
    """A plain graph that fits only with tiny backward batches is recomputed with larger ones."""
    from jscope_desktop.engine.planning.cost_model import GOOD_BATCH

    shape = ModelShape(n_params=1_200_000_000, d_model=1024, n_layers=16, ffn=8192, n_heads=32,
                       n_kv_heads=8, head_dim=64, vocab=49152)
    req = AttributionRequest(scope="fisher", fisher_method="exact")
    kw = dict(dtype="float32", base_bytes=0, available_bytes=2**50)
    tight = peak_bytes_of_run(shape, 1024, req, "float32", False, batch=2)
    est = estimate_run(shape, 1024, req, **kw, limit_bytes=tight)
    assert est.fits and est.recompute and (est.batch is None or est.batch > 2)  # None: the plan's
    roomy = peak_bytes_of_run(shape, 1024, req, "float32", False, batch=GOOD_BATCH)
    est = estimate_run(shape, 1024, req, **kw, limit_bytes=roomy)
    assert est.fits and not est.recompute and est.batch == GOOD_BATCH
