"""The built-in scopes (DESIGN.md, Definitions). x_t input embeddings, h the final hidden state
at the explained position, J_t = ∂h/∂x_t, W the output matrix. Four are direction scopes; Fisher
and Integrated compute their own way."""

from __future__ import annotations

from ..compute.fisher_config import DEFAULT_PROBES, DEFAULT_RANK, HEAD_MAX, RANK_EXTRA_PROBES, budget_plan
from .base import CostContext, CostPlan, DirectionScope, Scope, ScopeCall, ScopeOutput
from .registry import register

register(DirectionScope(
    "semantic", "Semantic",
    "How much each token moves the hidden state toward the target token's output embedding: "
    "‖J_tᵀ w_target‖.",
    direction=lambda pred: pred.W[pred.target_id], needs_target=True,
))

register(DirectionScope(
    "contrast", "Contrast",
    "Why the target rather than the foil: ‖J_tᵀ (w_target − w_foil)‖.",
    direction=lambda pred: pred.W[pred.target_id] - pred.W[pred.foil_id],
    needs_target=True, needs_foil=True,
    series=False,  # a series' next value is many digit strings; one foil token says little
))

register(DirectionScope(
    "temperature", "Temperature",
    "How much each token changes the confidence β = ‖h‖ of the whole prediction: "
    "‖J_tᵀ h/‖h‖‖. One backward pass.",
    direction=lambda pred: pred.h / pred.h.norm(),
))


def _fisher(call: ScopeCall) -> ScopeOutput:
    """tr(J_tᵀ F J_t) per token, by the request's Fisher method (fast, exact or lowrank)."""
    from ..compute.fisher import fisher_scores

    r = call.request
    out = fisher_scores(call.lm, call.graph, r.fisher_method, r.fisher_rank, r.fisher_probes,
                        r.seed, r.fisher_rel_error, cancel=call.cancel, progress=call.progress,
                        budget=r.fisher_budget)
    return ScopeOutput(out.scores, out.backward_passes, out)


def _fisher_plan(ctx: CostContext, r) -> CostPlan:
    """Fisher's directions by method (exact: d; lowrank: its k; fast: 2k + probes in two
    batches, k JVPs between them, the rank check's mean probes by default), and the algebra on
    F: forming its rows (all V, or the most probable HEAD_MAX for fast) and its eigenvectors."""
    d, V, cap = ctx.d_model, ctx.vocab, ctx.cap
    fewer = ("fewer Fisher directions (--fisher fast with a smaller --fisher-rank)"
             if r.fisher_method == "exact" else "fewer Fisher directions")
    k = min(d, r.fisher_rank if r.fisher_rank is not None else DEFAULT_RANK.get(r.fisher_method, d))
    jvps = 0
    if r.fisher_method == "exact" or k == d:
        directions, batch = d, min(d, cap)
    elif r.fisher_method != "fast":
        directions, batch = k, min(k, cap)
    else:
        # by default the rank check adds probes where ranks are in doubt: count its mean
        probes = r.fisher_probes if r.fisher_probes is not None else DEFAULT_PROBES + RANK_EXTRA_PROBES
        if r.fisher_budget is not None:
            k, probes = budget_plan(r.fisher_budget)
            k = min(d, k)
        if k == 0:  # probes only
            directions, batch = probes, min(probes, cap)
        else:
            # compute/fisher_fast.py: F's top k (one batch), K applied to them (k JVPs), then
            # the Krylov block and the probes (k + probes, a second batch)
            directions, batch, jvps = 2 * k + probes, min(k + probes, cap), k
    rows = min(V, HEAD_MAX) if r.fisher_method == "fast" else V
    work = 2.0 * rows * d * d + 2.0 * V * d + 10.0 * d**3
    peak = rows * d * 4 + 4 * d * d * 8 + V * (directions + 4) * 4
    peak += directions * ctx.n_tokens * 8  # per-direction squared norms, float64
    return CostPlan("batched", directions, batch, jvps=jvps, extra_work=work, extra_bytes=peak,
                    fewer=fewer)


register(Scope(
    "fisher", "Fisher",
    "How much each token changes the whole predicted distribution: tr(J_tᵀ F J_t) with F the "
    "Fisher information of the next-token distribution.",
    _fisher, unit="tr(JᵀFJ)", plan=_fisher_plan,
    cost="1 forward + two batched backward passes of 2k directions + probes, a third where the "
         "ranks are in doubt (exact: d directions)",
))

register(DirectionScope(
    "grad_input", "Grad × input",
    "The Semantic gradient times the input embedding: ‖∇_{x_t} ⊙ x_t‖.",
    direction=lambda pred: pred.W[pred.target_id], needs_target=True, times_input=True,
    unit="‖∇⊙x‖",
))


def _steps_per_batch(steps: int, n_tokens: int) -> int:
    """Scaled inputs run at once: at most 4,096 token rows a batch."""
    return max(1, min(steps, 4096 // max(1, n_tokens)))


def _integrated_plan(ctx: CostContext, r) -> CostPlan:
    """One forward and one backward pass per path step, the steps batched."""
    steps = max(1, r.ig_steps)
    return CostPlan("integrated", steps, _steps_per_batch(steps, ctx.n_tokens), steps,
                    fewer="fewer steps")


def ig_baseline(lm, x, name: str):
    """Integrated's path start (T, d) for input embeddings ``x`` (T, d), in ``x``'s dtype.

    ``zero``: zeros. ``pad``/``eos``/``bos``: that token's input embedding at every position
    (the tokenizer's fallback token when it has none, ``model.tokens.role_token``), except that
    a BOS at position 0 keeps its own embedding (the reference's choice: the sink is not part of
    what is attributed). ``mean``: the mean input embedding of the vocabulary (scaled as the
    decoder receives it), at every position.
    """
    import torch

    from ..model.tokens import role_token

    if name == "zero":
        return torch.zeros_like(x)
    emb = lm.model.get_input_embeddings()
    with torch.no_grad():
        if name == "mean":
            scale = getattr(emb, "embed_scale", 1.0)
            row = (emb.weight.float().mean(0) * (scale.float() if torch.is_tensor(scale) else scale))
            return row.to(x.device, x.dtype).expand_as(x).clone()
        tid, _ = role_token(lm.tokenizer, name)
        b = emb(torch.tensor([[tid]], device=x.device))[0, 0].to(x.dtype).expand_as(x).clone()
        bos = getattr(lm.tokenizer, "bos_token_id", None)
        if isinstance(bos, int) and torch.equal(
                x[0], emb(torch.tensor([[bos]], device=x.device))[0, 0].to(x.dtype)):
            b[0] = x[0]  # a leading BOS (its embedding, exactly) keeps its own
    return b


def _integrated(call: ScopeCall) -> ScopeOutput:
    """‖mean_α ∇_x (w_targetᵀ h)(b + α (x − b)) ⊙ (x − b)‖₂ per token, α = 1/m, 2/m, …, 1
    (right Riemann sum), b the request's baseline (:func:`ig_baseline`; zero by default).

    The m scaled inputs run as a batch (a few at a time on long prompts); each batch is one
    forward and one backward pass.
    """
    import torch

    from ..compute.forward import hidden_states, row_norms
    from ..progress import check_cancel

    x = call.graph.x.detach()  # (T, d)
    T = x.shape[0]
    b = ig_baseline(call.lm, x, getattr(call.request, "ig_baseline", "zero"))  # (T, d)
    u = call.pred.W[call.pred.target_id]
    m = max(1, call.request.ig_steps)
    alphas = torch.arange(1, m + 1, device=x.device, dtype=x.dtype) / m
    per_batch = _steps_per_batch(m, T)
    total = torch.zeros_like(x, dtype=torch.float32)  # the Riemann sum in float32 at least
    passes = 0
    for start in range(0, m, per_batch):
        check_cancel(call.cancel)
        a = alphas[start : start + per_batch]
        xs = (b[None] + a[:, None, None] * (x - b)[None]).requires_grad_(True)  # (b, T, d)
        with torch.enable_grad():
            h = hidden_states(call.lm, xs)[:, T - 1]  # (b, d)
            # the Semantic objective w_targetᵀ h (DESIGN.md: before any soft-capping)
            (g,) = torch.autograd.grad((h @ u.to(h.device, h.dtype)).sum(), xs)
        total += g.sum(0).float()
        passes += 1
        if call.progress:
            call.progress(min(1.0, (start + len(a)) / m))
    return ScopeOutput(row_norms((total / m) * (x - b).float()), passes)


register(Scope(
    "integrated", "Integrated",
    "Integrated gradients of the target's logit along the straight path from a baseline b to the "
    "input embeddings: ‖mean_α ∇(b + α(x − b)) ⊙ (x − b)‖. The baseline (ig_baseline): zero "
    "embeddings (default), the pad, eos or bos token's embedding at every position (a leading "
    "BOS keeps its own), or the mean input embedding.",
    _integrated, unit="‖IG⊙x‖", needs_target=True, plan=_integrated_plan,
    cost="one forward + backward pass per batch of path steps",
))
