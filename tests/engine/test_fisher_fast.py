"""Fisher fast (block-Krylov estimate) against a brute-force Fisher score on tiny random models.

The reference never uses the engine's Fisher code: the full Jacobian ∂h/∂x from
``torch.autograd.functional.jacobian`` through the model's own decoder, F built from the model's
own output matrix and softmax, ``tr(J_tᵀ F J_t)`` by einsum.
"""

from __future__ import annotations

import copy

import pytest
import torch
from cli_helpers import assert_one_line_error, run_cli
from torch.autograd.functional import jacobian

from jscope_desktop.engine.compute.fisher import fisher_scores
from jscope_desktop.engine.compute.fisher_config import (
    DEFAULT_PROBES,
    RANK_MAX_PROBES,
    RANK_TARGET,
    budget_plan,
)
from jscope_desktop.engine.compute.fisher_fast import finite_difference_jvp, rank_stability
from jscope_desktop.engine.compute.forward import build_graph
from jscope_desktop.engine.model.load import LoadedModel
from jscope_desktop.engine.results.ranks import spearman
from jscope_desktop.engine.results.request import AttributionRequest, RequestError, check_request

PROMPT = "3,14,15,92,65"


@pytest.fixture(scope="module")
def fcase(tiny_llama):
    """A sharpened float64 copy of the tiny Llama, its graph and brute-force quantities."""
    model = copy.deepcopy(tiny_llama.model).double()
    model.set_attn_implementation("sdpa")
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        model.get_output_embeddings().weight.mul_(20.0)
    lm = LoadedModel(model, tiny_llama.tokenizer, tiny_llama.info, tiny_llama.device, torch.float64)
    ids = lm.tokenizer(PROMPT)["input_ids"]
    base = model.model
    x = base.embed_tokens(torch.tensor([ids]))[0].detach()

    def h_of(x_):
        return base(inputs_embeds=x_[None], use_cache=False).last_hidden_state[0, -1]

    J = jacobian(h_of, x, vectorize=True)  # (d, T, d)
    W = model.get_output_embeddings().weight.detach()
    p = torch.softmax(W @ h_of(x).detach(), -1)
    F = W.T @ (torch.diag(p) - torch.outer(p, p)) @ W
    exact = torch.einsum("itj,ik,ktj->t", J, F, J)
    graph = build_graph(lm, ids, len(ids) - 1)
    return lm, graph, J, exact


def _err(a, b):
    return float((a - b).norm() / b.norm())


def test_finite_difference_jvp_matches_the_jacobian(fcase):
    lm, graph, J, _ = fcase
    g = torch.randn(3, *graph.x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    got = finite_difference_jvp(lm, graph, g)
    want = torch.einsum("itj,btj->bi", J, g)
    assert _err(got, want) < 1e-2  # it only steers the subspace (no bias either way)


def test_fast_is_unbiased_against_brute_force(fcase):
    """Mean over 64 seeds within 4 standard errors of the brute-force score, every token."""
    lm, graph, _, exact = fcase
    # with the rank check on: stopping on the data must not bias it either
    outs = [fisher_scores(lm, graph, "fast", rank=2, probes=3, seed=s, rank_target=RANK_TARGET)
            for s in range(64)]
    assert sum(o.probes > 3 for o in outs) >= 8  # the check did stop at different counts
    runs = torch.stack([o.scores for o in outs])
    mean, se = runs.mean(0), runs.std(0) / 8
    assert (se > 0).all()
    assert ((mean - exact).abs() <= 4 * se).all(), ((mean - exact) / se).tolist()


def test_fast_converges_to_brute_force(fcase):
    """More probes, smaller error; probes spanning the whole complement give the exact score."""
    lm, graph, _, exact = fcase
    d = graph.h.shape[0]
    errs = [sum(_err(fisher_scores(lm, graph, "fast", rank=2, probes=n, seed=s,
                                   rank_target=None).scores, exact)
                for s in range(8)) / 8 for n in (2, 8, 20)]
    assert errs[0] > errs[1] > errs[2], errs
    full = fisher_scores(lm, graph, "fast", rank=2, probes=d, seed=0)
    assert full.probes == d - full.rank and full.rel_error_estimate == 0.0
    assert _err(full.scores, exact) < 5e-3  # the vocabulary tail (0.1 % of p) stays probed


def test_krylov_block_beats_f_alone(fcase):
    """At the same number of VJP-equivalents the Krylov deflation has a smaller error than
    probes alone (k = 0), on average over seeds."""
    lm, graph, _, exact = fcase
    krylov = sum(_err(fisher_scores(lm, graph, "fast", budget=12, seed=s).scores, exact)
                 for s in range(16))
    plain = sum(_err(fisher_scores(lm, graph, "fast", rank=0, probes=12, seed=s,
                                   rank_target=None).scores, exact)
                for s in range(16))
    assert krylov < plain, (krylov, plain)


def test_rank_stability_is_the_median_spearman_of_redrawn_estimates():
    """Checked against ranks.spearman (average ranks, numpy) on the same draws."""
    gen = torch.Generator().manual_seed(0)
    est = torch.tensor([5.0, 4.0, 3.9, 1.0, 0.5, 0.45], dtype=torch.float64)
    terms = torch.randn(6, 6, generator=gen, dtype=torch.float64) + est
    n = terms.shape[0]
    sd = (terms.var(0, unbiased=True) / n).sqrt()
    draws = est + sd * torch.randn(32, 6, generator=torch.Generator().manual_seed(9),
                                   dtype=torch.float64)
    want = float(torch.tensor([spearman(est.numpy(), d.numpy()) for d in draws],
                              dtype=torch.float64).median())
    assert rank_stability(est, terms, seed=9) == pytest.approx(want, abs=1e-12)
    assert want < 0.99  # near-tied pairs with this spread do swap
    assert rank_stability(est, est[None] + 1e-9 * terms, seed=9) == 1.0  # no doubt left
    assert rank_stability(est[:2], terms[:, :2], seed=0) == 1.0  # undefined: 2 tokens
    assert rank_stability(est, terms[:1], seed=0) == 1.0  # one probe: no spread
    tied = torch.tensor([2.0, 1.0, 1.0, 1.0, 0.5], dtype=torch.float64)
    spread = torch.zeros(4, 5, dtype=torch.float64)
    spread[:, 0] = torch.tensor([1.0, 3.0, 2.0, 2.0])  # only the first token is uncertain
    assert rank_stability(tied, spread + tied, seed=1) == pytest.approx(1.0, abs=1e-12)  # ties kept
    bad = est.clone()
    bad[2] = float("nan")
    assert rank_stability(bad, terms, seed=0) == 1.0  # not finite: more probes cannot help


def test_the_rank_check_adds_probes_only_where_ranks_are_in_doubt(fcase):
    """Without a check the default probes; with a strict one probes double up to the cap and
    the result is at least as stable as asked or at the cap; a budget is never extended."""
    lm, graph, _, exact = fcase
    for s in range(6):
        fixed = fisher_scores(lm, graph, "fast", rank=2, probes=3, seed=s, rank_target=None)
        assert fixed.probes == 3 and fixed.rank_stability is None
        strict = fisher_scores(lm, graph, "fast", rank=2, probes=3, seed=s, rank_target=0.999)
        assert strict.probes in (3, 7, 14, RANK_MAX_PROBES)  # 3 + 4, then doubling
        assert strict.rank_stability >= 0.999 or strict.probes == RANK_MAX_PROBES
        loose = fisher_scores(lm, graph, "fast", rank=2, probes=3, seed=s, rank_target=-1.0)
        assert loose.probes == 3  # met at once: the same as no check
        torch.testing.assert_close(loose.scores, fixed.scores, rtol=1e-6, atol=0)  # QR rounding
        assert fisher_scores(lm, graph, "fast", budget=9, seed=s).probes == budget_plan(9)[1]
    strict_err = sum(_err(fisher_scores(lm, graph, "fast", rank=2, probes=3, seed=s,
                                        rank_target=0.999).scores, exact) for s in range(8))
    fixed_err = sum(_err(fisher_scores(lm, graph, "fast", rank=2, probes=3, seed=s,
                                       rank_target=None).scores, exact) for s in range(8))
    assert strict_err < fixed_err


@pytest.mark.parametrize("script, probes", [
    ([0.9, 0.999], 7),          # in doubt: 4 more probes (at least 4), then met
    ([0.9, 0.9, 0.9, 0.9], RANK_MAX_PROBES),  # never met: 3 → 7 → 14 → the cap, then stop
    ([0.999], 3),               # met at once
])
def test_the_rank_check_doubles_probes_while_the_ranks_are_in_doubt(
        fcase, monkeypatch, script, probes):
    """The loop's decisions with rank_stability scripted, one answer per round."""
    import jscope_desktop.engine.compute.fisher_fast as ff

    lm, graph, _, _ = fcase
    calls = iter(script)
    monkeypatch.setattr(ff, "rank_stability", lambda *a, **k: next(calls))
    out = fisher_scores(lm, graph, "fast", rank=2, probes=3, seed=0, rank_target=0.995)
    assert out.probes == probes
    assert next(calls, None) is None  # every scripted answer was asked for, no more


def test_an_error_target_does_not_extend_the_rank_check_past_its_cap(fcase, monkeypatch):
    """With --fisher-error met at once and ranks never settling, the default stops at
    RANK_MAX_PROBES, not at the error mode's 256."""
    import jscope_desktop.engine.compute.fisher_fast as ff

    lm, graph, _, _ = fcase
    monkeypatch.setattr(ff, "rank_stability", lambda *a, **k: 0.5)
    out = fisher_scores(lm, graph, "fast", rank=2, seed=0, rel_error=0.99, max_probes=256)
    assert out.probes == RANK_MAX_PROBES


def test_error_estimate_bounds_the_true_error(fcase):
    """Stated rate on this tiny model: true ≤ 1.5 × estimate on at least 80 % of 60 seeds
    (the validation set's rate is in benchmarks/results/fisher_accuracy.json)."""
    lm, graph, _, exact = fcase
    held = 0
    for s in range(60):
        out = fisher_scores(lm, graph, "fast", rank=2, probes=5, seed=s)
        held += _err(out.scores, exact) <= 1.5 * out.rel_error_estimate
    assert held >= 48, held


def test_budget_spends_exactly_n_vjp_equivalents(fcase, monkeypatch):
    """Counted independently: rows of every backward pass (torch.autograd.grad) and of every
    forward of the decoder after the graph's own one."""
    lm, graph, _, _ = fcase
    rows = {"vjp": 0, "fwd": 0}
    real_grad = torch.autograd.grad

    def counting_grad(outputs, inputs, grad_outputs=None, *a, is_grads_batched=False, **kw):
        rows["vjp"] += grad_outputs.shape[0] if is_grads_batched else 1
        return real_grad(outputs, inputs, grad_outputs, *a, is_grads_batched=is_grads_batched, **kw)

    def count_forward(_module, args, kwargs):
        rows["fwd"] += kwargs["inputs_embeds"].shape[0]

    monkeypatch.setattr(torch.autograd, "grad", counting_grad)
    handle = lm.model.model.register_forward_pre_hook(count_forward, with_kwargs=True)
    try:
        for n in (2, 5, 9, 13):
            rows.update(vjp=0, fwd=0)
            out = fisher_scores(lm, graph, "fast", budget=n, seed=1)
            assert rows["vjp"] + rows["fwd"] == n == out.directions, (n, rows)
            assert rows["fwd"] == budget_plan(n)[0]
    finally:
        handle.remove()


@pytest.mark.parametrize("budget", [0, 1, -3, 10**7, 2.5, True, "8"])
def test_bad_budgets_are_one_sentence(budget):
    with pytest.raises(RequestError) as info:
        check_request(AttributionRequest(prompt="x", scope="fisher", fisher_budget=budget))
    text = str(info.value)
    assert text.count(".") <= 2 and "\n" not in text and "Fisher budget" in text


def test_budget_and_error_together_are_refused():
    with pytest.raises(RequestError, match="cannot be combined"):
        check_request(AttributionRequest(prompt="x", scope="fisher", fisher_budget=8,
                                         fisher_rel_error=0.05))


def test_cli_refuses_a_bad_budget_in_one_line(capsys):
    err = assert_one_line_error(run_cli(capsys, "attribute", "hi", "--scope", "fisher",
                                        "--fisher-budget", "1"), "--fisher-budget", code=2)
    assert "2" in err


def test_probes_given_are_exact_and_the_default_checks_ranks(tiny_llama):
    """A request without probes gets the rank check (this random model's ranks are in doubt, so
    it adds probes); probes given are spent exactly; the cost model counts the check's mean."""
    from jscope_desktop.engine.compute.fisher_config import RANK_EXTRA_PROBES
    from jscope_desktop.engine.explain.attribute import attribute
    from jscope_desktop.engine.planning.calibration import shape_of
    from jscope_desktop.engine.planning.cost_model import plan

    req = AttributionRequest(prompt="3,14,15,92,65,35,89,79", scope="fisher")
    checked = attribute(tiny_llama, req).fisher
    assert checked.probes in (2 * DEFAULT_PROBES, RANK_MAX_PROBES)
    assert attribute(tiny_llama, req.but(fisher_probes=DEFAULT_PROBES)).fisher.probes == DEFAULT_PROBES
    shape, k = shape_of(tiny_llama), 5
    # VJPs: F's top k, the Krylov block k, the probes (the k JVPs are counted apart)
    assert plan(shape, 8, req).directions == 2 * k + DEFAULT_PROBES + RANK_EXTRA_PROBES
    assert plan(shape, 8, req.but(fisher_probes=DEFAULT_PROBES)).directions == 2 * k + DEFAULT_PROBES
