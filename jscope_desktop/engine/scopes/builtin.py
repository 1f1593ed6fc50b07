"""The built-in scopes (DESIGN.md, Definitions). x_t input embeddings, h the final hidden state
at the explained position, J_t = ∂h/∂x_t, W the output matrix. Four are direction scopes; Fisher
and Integrated compute their own way."""

from __future__ import annotations

from .base import DirectionScope, Scope, ScopeCall, ScopeOutput
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


register(Scope(
    "fisher", "Fisher",
    "How much each token changes the whole predicted distribution: tr(J_tᵀ F J_t) with F the "
    "Fisher information of the next-token distribution.",
    _fisher, unit="tr(JᵀFJ)",
    cost="1 forward + two batched backward passes of 2k directions + probes, a third where the "
         "ranks are in doubt (exact: d directions)",
))

register(DirectionScope(
    "grad_input", "Grad × input",
    "The Semantic gradient times the input embedding: ‖∇_{x_t} ⊙ x_t‖.",
    direction=lambda pred: pred.W[pred.target_id], needs_target=True, times_input=True,
    unit="‖∇⊙x‖",
))


def _integrated(call: ScopeCall) -> ScopeOutput:
    """‖mean_α ∇_x (w_targetᵀ h)(α x) ⊙ x‖₂ per token, α = 1/m, 2/m, …, 1 (right Riemann sum).

    The m scaled inputs run as a batch (a few at a time on long prompts); each batch is one
    forward and one backward pass.
    """
    import torch

    from ..compute.forward import hidden_states, row_norms
    from ..progress import check_cancel

    x = call.graph.x.detach()  # (T, d)
    T = x.shape[0]
    u = call.pred.W[call.pred.target_id]
    m = max(1, call.request.ig_steps)
    alphas = torch.arange(1, m + 1, device=x.device, dtype=x.dtype) / m
    per_batch = max(1, min(m, 4096 // T))
    total = torch.zeros_like(x, dtype=torch.float32)  # the Riemann sum in float32 at least
    passes = 0
    for start in range(0, m, per_batch):
        check_cancel(call.cancel)
        a = alphas[start : start + per_batch]
        xs = (a[:, None, None] * x[None]).requires_grad_(True)  # (b, T, d)
        with torch.enable_grad():
            h = hidden_states(call.lm, xs)[:, T - 1]  # (b, d)
            # the Semantic objective w_targetᵀ h (DESIGN.md: before any soft-capping)
            (g,) = torch.autograd.grad((h @ u.to(h.device, h.dtype)).sum(), xs)
        total += g.sum(0).float()
        passes += 1
        if call.progress:
            call.progress(min(1.0, (start + len(a)) / m))
    return ScopeOutput(row_norms((total / m) * x.float()), passes)


register(Scope(
    "integrated", "Integrated",
    "Integrated gradients of the target's logit along the straight path from zero embeddings: "
    "‖mean_α ∇(α x) ⊙ x‖.",
    _integrated, unit="‖IG⊙x‖", needs_target=True,
    cost="one forward + backward pass per batch of path steps",
))
