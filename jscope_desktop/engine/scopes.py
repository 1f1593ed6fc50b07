"""The Jacobian Scopes, registered under one name each (the CLI, the app and the tests read
:data:`SCOPES`). Definitions as in DESIGN.md: x_t input embeddings, h the final hidden state at
the explained position, J_t = ∂h/∂x_t, W the output matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .errors import Cancelled
from .fisher import DEFAULT_PROBES, FisherScores, fisher_scores
from .forward import CancelCheck, Graph, hidden_states, row_norms, vjp
from .models import LoadedModel


@dataclass
class ScopeSettings:
    """Everything a scope may need besides the graph: target/foil ids and method settings."""

    target_id: int | None = None
    foil_id: int | None = None
    fisher_method: str = "fast"
    fisher_rank: int | None = None
    fisher_probes: int = DEFAULT_PROBES
    fisher_rel_error: float | None = None
    ig_steps: int = 16
    seed: int = 0


@dataclass
class ScopeOutput:
    """Scores (T,) float64 for the fed tokens, backward passes used, Fisher details if any."""

    scores: torch.Tensor
    backward_passes: int
    fisher: FisherScores | None = None


ScopeFn = Callable[
    [LoadedModel, Graph, ScopeSettings, CancelCheck | None, Callable[[float], None] | None],
    ScopeOutput,
]


@dataclass
class Scope:
    """A registered scope: its name, a label, a one-line explanation and what it needs."""

    name: str
    label: str
    explanation: str
    compute: ScopeFn = field(repr=False)
    needs_target: bool = False
    needs_foil: bool = False


SCOPES: dict[str, Scope] = {}


def register(name, label, explanation, needs_target=False, needs_foil=False):
    """Decorator adding a compute function to :data:`SCOPES` under ``name``."""

    def wrap(fn: ScopeFn) -> ScopeFn:
        SCOPES[name] = Scope(name, label, explanation, fn, needs_target, needs_foil)
        return fn

    return wrap


def output_row(lm: LoadedModel, token_id: int) -> torch.Tensor:
    """Row ``token_id`` of the output (unembedding) matrix W: (d,)."""
    return lm.model.get_output_embeddings().weight[token_id].detach()


def _norm_scope(graph: Graph, u: torch.Tensor) -> ScopeOutput:
    g = vjp(graph, u)  # (T, d)
    return ScopeOutput(row_norms(g), 1)


@register("semantic", "Semantic", "How much each token moves the hidden state toward the "
          "target token's output embedding: ‖J_tᵀ w_target‖.", needs_target=True)
def semantic(lm, graph, settings, cancel=None, progress=None) -> ScopeOutput:
    """‖J_tᵀ w_target‖₂ per token."""
    return _norm_scope(graph, output_row(lm, settings.target_id))


@register("contrast", "Contrast", "Why the target rather than the foil: ‖J_tᵀ (w_target − "
          "w_foil)‖.", needs_target=True, needs_foil=True)
def contrast(lm, graph, settings, cancel=None, progress=None) -> ScopeOutput:
    """‖J_tᵀ (w_target − w_foil)‖₂ per token."""
    u = output_row(lm, settings.target_id) - output_row(lm, settings.foil_id)
    return _norm_scope(graph, u)


@register("temperature", "Temperature", "How much each token changes the confidence "
          "β = ‖h‖ of the whole prediction: ‖J_tᵀ h/‖h‖‖. One backward pass.")
def temperature(lm, graph, settings, cancel=None, progress=None) -> ScopeOutput:
    """‖J_tᵀ h/‖h‖‖₂ per token (the gradient of β = ‖h‖)."""
    h = graph.h.detach()
    return _norm_scope(graph, h / h.norm())


@register("fisher", "Fisher", "How much each token changes the whole predicted distribution: "
          "tr(J_tᵀ F J_t) with F the Fisher information of the next-token distribution.")
def fisher(lm, graph, settings, cancel=None, progress=None) -> ScopeOutput:
    """tr(J_tᵀ F J_t) per token, by ``settings.fisher_method`` (fast, exact or lowrank)."""
    out = fisher_scores(
        lm, graph, settings.fisher_method, settings.fisher_rank, settings.fisher_probes,
        settings.seed, settings.fisher_rel_error, cancel=cancel, progress=progress,
    )
    return ScopeOutput(out.scores, out.backward_passes, out)


@register("grad_input", "Grad × input", "The Semantic gradient times the input embedding: "
          "‖∇_{x_t} ⊙ x_t‖.", needs_target=True)
def grad_input(lm, graph, settings, cancel=None, progress=None) -> ScopeOutput:
    """‖(J_tᵀ w_target) ⊙ x_t‖₂ per token."""
    g = vjp(graph, output_row(lm, settings.target_id))
    return ScopeOutput(row_norms(g * graph.x.detach()), 1)


@register("integrated", "Integrated", "Integrated gradients of the target's logit along the "
          "straight path from zero embeddings: ‖mean_α ∇(α x) ⊙ x‖.", needs_target=True)
def integrated(lm, graph, settings, cancel=None, progress=None) -> ScopeOutput:
    """‖mean_α ∇_x (w_targetᵀ h)(α x) ⊙ x‖₂ per token, α = 1/m, 2/m, …, 1 (right Riemann sum).

    The m scaled inputs run as a batch (a few at a time on long prompts); each batch is one
    forward and one backward pass.
    """
    x = graph.x.detach()  # (T, d)
    T = x.shape[0]
    u = output_row(lm, settings.target_id)
    m = max(1, settings.ig_steps)
    alphas = torch.arange(1, m + 1, device=x.device, dtype=x.dtype) / m
    per_batch = max(1, min(m, 4096 // T))
    total = torch.zeros_like(x, dtype=torch.float32)  # the Riemann sum in float32 at least
    passes = 0
    for start in range(0, m, per_batch):
        if cancel and cancel():
            raise Cancelled()
        a = alphas[start : start + per_batch]
        xs = (a[:, None, None] * x[None]).requires_grad_(True)  # (b, T, d)
        with torch.enable_grad():
            h = hidden_states(lm, xs)[:, T - 1]  # (b, d)
            (g,) = torch.autograd.grad((h @ u.to(h.device, h.dtype)).sum(), xs)
        total += g.sum(0).float()
        passes += 1
        if progress:
            progress(min(1.0, (start + len(a)) / m))
    return ScopeOutput(row_norms((total / m) * x.float()), passes)


def scope_names() -> list[str]:
    """Registered scope names, in registration order."""
    return list(SCOPES)
