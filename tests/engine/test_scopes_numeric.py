"""The scopes against independent computations on tiny random models.

The reference values here never use the engine's own forward/backward code: they come from the
full Jacobian ``∂h/∂x`` (``torch.autograd.functional.jacobian`` through the model's own decoder),
the model's own logits (so Gemma's soft-capping is included), explicit loops (integrated
gradients) and finite differences. The engine must match them to float32 precision; float64
copies of the tiny models give tight tolerances.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch
from torch.autograd.functional import jacobian

from jscope_desktop.engine.compute.fisher import fisher_scores
from jscope_desktop.engine.compute.forward import build_graph
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model.load import LoadedModel
from jscope_desktop.engine.scopes import scope_names

PROMPT = "12,34,56,"  # 10 tokens with the BOS
TARGET, FOIL = "7", "3"  # one token each with the tests' character tokenizer
IG_STEPS = 8
# Output-matrix gains giving a peaked next-token distribution (Gemma ties it to its embeddings).
MODELS = {"tiny_llama": 30.0, "tiny_gemma": 10.0}


def float64_copy(lm: LoadedModel, softcap: float | None = None) -> LoadedModel:
    """The same model in float64 with float64 attention (eager attention runs its softmax in
    float32, which would limit the checks to ~1e-7), optionally with another soft-cap."""
    model = copy.deepcopy(lm.model).double()
    model.set_attn_implementation("sdpa")
    if softcap is not None:
        model.config.final_logit_softcapping = softcap
    return LoadedModel(model, lm.tokenizer, lm.info, lm.device, torch.float64)


def sharpened(lm: LoadedModel, head_gain: float) -> LoadedModel:
    """A copy whose random weights make every scope well conditioned: random norm gains (with
    unit gains ‖h‖ is constant after the final RMSNorm, so Temperature would be ~0) and a larger
    output matrix (so the next-token distribution is not nearly uniform)."""
    model = copy.deepcopy(lm.model)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.add_(0.5 * torch.randn(param.shape, generator=gen))
        model.get_output_embeddings().weight.mul_(head_gain)
    return LoadedModel(model, lm.tokenizer, lm.info, lm.device, lm.dtype)


@dataclass
class Case:
    """A float32 test model, its float64 twin and their brute-force references by position."""

    lm32: LoadedModel
    lm64: LoadedModel
    cache: dict

    def brute(self, position: int = -1) -> Brute:
        if position not in self.cache:
            self.cache[position] = brute_force(self.lm64, position)
        return self.cache[position]


@pytest.fixture(scope="module", params=MODELS)
def case(request) -> Case:
    lm32 = sharpened(request.getfixturevalue(request.param), MODELS[request.param])
    return Case(lm32, float64_copy(lm32), {})


@dataclass
class Brute:
    """Reference quantities at one explained position, from full Jacobians."""

    ids: list[int]
    position: int
    x: torch.Tensor  # (T, d) input embeddings from the model's own embedding module
    h: torch.Tensor  # (d,) final hidden state at the position
    J: torch.Tensor  # (d, T, d) = ∂h/∂x
    K: torch.Tensor  # (V, T, d) = ∂logits/∂x, the model's own logits
    logits: torch.Tensor  # (V,)


def brute_force(lm: LoadedModel, position: int = -1) -> Brute:
    """Full Jacobians of h and of the logits at ``position`` w.r.t. every input embedding."""
    ids = lm.tokenizer(PROMPT)["input_ids"]
    base, model = lm.model.model, lm.model  # decoder stack, causal-LM wrapper
    x = base.embed_tokens(torch.tensor([ids]))[0].detach()

    def h_of(x_):
        return base(inputs_embeds=x_[None], use_cache=False).last_hidden_state[0, position]

    def logits_of(x_):
        return model(inputs_embeds=x_[None], use_cache=False).logits[0, position]

    return Brute(ids, position % len(ids), x, h_of(x).detach(),
                 jacobian(h_of, x, vectorize=True), jacobian(logits_of, x, vectorize=True),
                 logits_of(x).detach())


def reference_scores(lm: LoadedModel, b: Brute, scope: str, target: int, foil: int) -> torch.Tensor:
    """Per-token score of ``scope`` (T,) computed from the brute-force Jacobians."""
    W = lm.model.get_output_embeddings().weight.detach().to(b.h.dtype)
    JT = b.J.permute(1, 2, 0)  # (T, d_x, d_h): row t is J_tᵀ
    if scope == "semantic":
        return (JT @ W[target]).norm(dim=-1)
    if scope == "contrast":
        return (JT @ (W[target] - W[foil])).norm(dim=-1)
    if scope == "temperature":
        return (JT @ (b.h / b.h.norm())).norm(dim=-1)
    if scope == "grad_input":
        return ((JT @ W[target]) * b.x).norm(dim=-1)
    if scope == "fisher":
        # K_t = G J_t (G = ∂logits/∂h), so tr(K_tᵀ S K_t) = tr(J_tᵀ F J_t) with S the softmax
        # Jacobian diag p − p pᵀ of the model's own logits.
        S = jacobian(lambda z: torch.softmax(z, -1), b.logits, vectorize=True)  # (V, V)
        Kt = b.K.permute(1, 0, 2)  # (T, V, d)
        return torch.einsum("tvi,vw,twi->t", Kt, S, Kt)
    if scope == "integrated":
        return integrated_reference(lm, b, W[target])
    raise KeyError(f"no independent reference for scope {scope!r}: add one")


def integrated_reference(lm: LoadedModel, b: Brute, w: torch.Tensor) -> torch.Tensor:
    """‖mean_j ∇(wᵀh)(α_j x) ⊙ x‖ per token, α_j = j/m, one Jacobian per step."""
    base = lm.model.model
    pos = b.position
    total = torch.zeros_like(b.x)
    for j in range(1, IG_STEPS + 1):
        def logit(x_):
            return base(inputs_embeds=x_[None], use_cache=False).last_hidden_state[0, pos] @ w
        total += jacobian(logit, (j / IG_STEPS) * b.x, vectorize=True)
    return (total / IG_STEPS * b.x).norm(dim=-1)


def run_engine(lm: LoadedModel, scope: str, **kw):
    """attribute() with the tests' target/foil; returns (result, scores tensor with NaN for None)."""
    req = AttributionRequest(prompt=PROMPT, scope=scope, ig_steps=IG_STEPS, **kw)
    if scope in ("semantic", "contrast", "grad_input", "integrated"):
        req.target = TARGET
    if scope == "contrast":
        req.foil = FOIL
    if scope == "fisher":
        req.fisher_method = kw.get("fisher_method", "exact")
    r = attribute(lm, req)
    return r, torch.tensor([float("nan") if s is None else s for s in r.scores], dtype=torch.float64)


def _ids(lm) -> tuple[int, int]:
    return lm.tokenizer(TARGET, add_special_tokens=False)["input_ids"][0], \
        lm.tokenizer(FOIL, add_special_tokens=False)["input_ids"][0]


# Even the float64 copies run their RMSNorms in float32 (transformers upcasts to float32, not
# to the input dtype), so agreement is to float32 precision; Fisher's F is also formed in float32.
RTOL64 = {"fisher": 1e-5}


@pytest.mark.parametrize("scope", scope_names())
def test_every_scope_matches_brute_force(case, scope):
    b = case.brute()
    ref = reference_scores(case.lm64, b, scope, *_ids(case.lm64))
    assert ref.min() >= 0 and ref.max() > 0
    _, got64 = run_engine(case.lm64, scope)
    torch.testing.assert_close(got64, ref, rtol=RTOL64.get(scope, 1e-6), atol=0)
    _, got32 = run_engine(case.lm32, scope)  # the float32 engine against the float64 reference
    torch.testing.assert_close(got32, ref, rtol=1e-4, atol=1e-6 * float(ref.max()))


@pytest.mark.parametrize("position", [3, -3])
def test_earlier_positions(case, position):
    b = case.brute(position)
    T = len(b.ids)
    pos = position % T
    for scope in scope_names():
        r, got = run_engine(case.lm64, scope, position=position)
        assert r.position == pos
        assert r.scores[pos + 1 :] == [None] * (T - pos - 1), scope
        ref = reference_scores(case.lm64, b, scope, *_ids(case.lm64))[: pos + 1]
        assert ref.max() > 0
        torch.testing.assert_close(got[: pos + 1], ref, rtol=RTOL64.get(scope, 1e-6), atol=0,
                                   msg=lambda m, s=scope: f"{s}: {m}")
    # Explaining another position really changes the scores of the same tokens.
    at_last = reference_scores(case.lm64, case.brute(), "temperature", 0, 0)[: pos + 1]
    assert not torch.allclose(at_last, reference_scores(case.lm64, b, "temperature", 0, 0)[: pos + 1])


def test_fisher_follows_gemma_softcapping(tiny_gemma):
    """A strong cap (cap 1 for logits of a few units) changes Fisher a lot; the engine must
    follow the model's own capped logits."""
    capped = float64_copy(sharpened(tiny_gemma, MODELS["tiny_gemma"]), softcap=1.0)
    uncapped = float64_copy(sharpened(tiny_gemma, MODELS["tiny_gemma"]), softcap=0.0)  # 0 means no capping
    ref = reference_scores(capped, brute_force(capped), "fisher", 0, 0)
    _, got = run_engine(capped, "fisher")
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=0)
    _, plain = run_engine(uncapped, "fisher")
    assert ((plain - got).norm() / got.norm()) > 0.1  # the cap matters, so the test can fail


def test_embeddings_are_what_the_decoder_receives(tiny_llama, tiny_gemma):
    for lm, scale in ((tiny_llama, 1.0), (tiny_gemma, 32**0.5)):
        ids = lm.tokenizer(PROMPT)["input_ids"]
        graph = build_graph(lm, ids, len(ids) - 1)
        ids_t = torch.tensor([ids])
        own = lm.model.model.embed_tokens(ids_t)[0]
        torch.testing.assert_close(graph.x.detach(), own, rtol=0, atol=0)
        raw = lm.model.model.embed_tokens.weight[ids_t[0]]
        torch.testing.assert_close(graph.x.detach(), raw * scale, rtol=1e-6, atol=0)
        # Feeding x as inputs_embeds reproduces the model's own forward from token ids,
        # soft-capped logits included.
        from_ids = lm.model(input_ids=ids_t).logits[0, -1]
        from_x = lm.model(inputs_embeds=graph.x.detach()[None]).logits[0, -1]
        torch.testing.assert_close(from_x, from_ids, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(graph.logits, from_ids, rtol=1e-6, atol=1e-7)


def test_prediction_summary_is_the_models_own(case):
    lm64 = case.lm64
    r, _ = run_engine(lm64, "contrast")
    b = case.brute()
    p = torch.softmax(b.logits, -1)
    top = p.topk(len(r.topk))
    assert top.values[0] > 0.1  # a peaked distribution, so the order is meaningful
    assert [t.id for t in r.topk] == top.indices.tolist()
    torch.testing.assert_close(torch.tensor([t.prob for t in r.topk], dtype=torch.float64),
                               top.values, rtol=1e-6, atol=0)
    assert r.entropy == pytest.approx(float(-(p * p.log()).sum()), rel=1e-6)
    assert r.beta == pytest.approx(float(b.h.norm()), rel=1e-6)
    # Without a target the top-1 prediction is explained; Contrast's foil is the runner-up.
    auto = attribute(lm64, AttributionRequest(prompt=PROMPT, scope="contrast"))
    assert (auto.target_id, auto.foil_id) == tuple(top.indices[:2].tolist())


def _directional_derivatives(lm, b: Brute, t: int, f) -> torch.Tensor:
    """Central differences of f(h) along d orthonormal random directions of x_t: (d,).

    All 2d perturbed inputs run as one batch; the step is 5 % of x_t's typical entry."""
    d = b.x.shape[1]
    gen = torch.Generator().manual_seed(t)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    eps = 0.05 * float(b.x[t].abs().mean())
    xs = b.x.repeat(2 * d, 1, 1)  # (2d, T, d)
    xs[:d, t] += eps * Q.T
    xs[d:, t] -= eps * Q.T
    with torch.no_grad():
        h = lm.model.model(inputs_embeds=xs, use_cache=False).last_hidden_state[:, b.position]
    vals = f(h)  # (2d,)
    return (vals[:d] - vals[d:]) / (2 * eps)


@pytest.mark.parametrize("scope", ["temperature", "semantic"])
def test_finite_differences(case, scope):
    """Directional derivatives along an orthonormal random basis: Σ (∂_v f)² = ‖∇_{x_t} f‖².

    The float32 RMSNorms inside the models limit central differences to ~1e-4, far below what
    a wrong direction, scale or token would give."""
    lm64 = case.lm64
    b = case.brute()
    w = lm64.model.get_output_embeddings().weight[_ids(lm64)[0]].detach()
    f = (lambda h: h.norm(dim=-1)) if scope == "temperature" else (lambda h: h @ w)
    _, got = run_engine(lm64, scope)
    for t in (0, 4, len(b.ids) - 1):
        dd = _directional_derivatives(lm64, b, t, f)
        assert float(dd.norm()) == pytest.approx(float(got[t]), rel=5e-4)


# Fast Fisher against exact


@pytest.fixture(scope="module")
def fisher_case(case):
    lm = case.lm64
    ids = lm.tokenizer(PROMPT)["input_ids"]
    graph = build_graph(lm, ids, len(ids) - 1)
    return lm, graph, fisher_scores(lm, graph, "exact").scores


def test_fast_fisher_is_reproducible(fisher_case):
    lm, graph, _ = fisher_case
    a = fisher_scores(lm, graph, "fast", rank=2, probes=4, seed=7)
    b = fisher_scores(lm, graph, "fast", rank=2, probes=4, seed=7)
    c = fisher_scores(lm, graph, "fast", rank=2, probes=4, seed=8)
    assert torch.equal(a.scores, b.scores)
    assert not torch.equal(a.scores, c.scores)
    r1, _ = run_engine(lm, "fisher", fisher_method="fast", seed=3)
    r2, _ = run_engine(lm, "fisher", fisher_method="fast", seed=3)
    assert r1.scores == r2.scores


def test_fast_fisher_with_full_rank_is_exact(fisher_case):
    lm, graph, exact = fisher_case
    d = graph.h.shape[0]
    full = fisher_scores(lm, graph, "fast", rank=d, probes=4, seed=0)
    torch.testing.assert_close(full.scores, exact, rtol=1e-9, atol=0)
    assert full.rel_error_estimate == 0.0


def test_fast_fisher_is_unbiased(fisher_case):
    """The mean over many seeds lies within 4 standard errors of exact, for every token; the
    biased low-rank method does not, so this test can tell the two apart."""
    lm, graph, exact = fisher_case
    runs = torch.stack([fisher_scores(lm, graph, "fast", rank=2, probes=12, seed=s).scores
                        for s in range(48)])  # (48, T)
    mean, se = runs.mean(0), runs.std(0) / runs.shape[0] ** 0.5
    assert (se > 0).all()
    assert ((mean - exact).abs() <= 4 * se).all(), ((mean - exact) / se).tolist()
    low = fisher_scores(lm, graph, "lowrank", rank=2).scores
    assert ((exact - low) > 10 * se).all()


def test_fast_fisher_error_estimate(fisher_case):
    lm, graph, exact = fisher_case
    ests, actual = [], []
    for s in range(40):
        out = fisher_scores(lm, graph, "fast", rank=2, probes=4, seed=s)
        assert out.rel_error_estimate is not None and 0 < out.rel_error_estimate < float("inf")
        ests.append(out.rel_error_estimate)
        actual.append(float((out.scores - exact).norm() / exact.norm()))
    ratio = (sum(a * a for a in actual) / len(actual)) ** 0.5 / (sum(ests) / len(ests))
    assert 0.3 < ratio < 3, ratio  # the estimate is of the right size
    r, _ = run_engine(lm, "fisher", fisher_method="fast")
    assert r.fisher.method == "fast" and 0 < r.fisher.rel_error_estimate < float("inf")


def test_fast_fisher_reaches_a_requested_error(fisher_case):
    lm, graph, exact = fisher_case
    out = fisher_scores(lm, graph, "fast", rank=2, probes=4, seed=0, rel_error=0.01)
    assert out.rel_error_estimate <= 0.01 or out.probes == graph.h.shape[0] - 2
    assert float((out.scores - exact).norm() / exact.norm()) < 0.05
