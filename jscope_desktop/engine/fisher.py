"""Fisher Scope: per-token ``tr(J_tᵀ F J_t)`` with ``F = Gᵀ(diag p − p pᵀ)G`` (G = ∂logits/∂h).

Writing ``F = Σ_i s_i u_i u_iᵀ`` (eigenpairs) gives ``tr(J_tᵀ F J_t) = Σ_i s_i ‖J_tᵀ u_i‖²``, so
the score is a sum of squared input-VJPs. Three methods:

- ``exact``: every direction ``√s_i u_i`` (d of them) through batched backward passes.
- ``fast``: the top-k directions exactly, the rest of the spectrum estimated without bias by
  orthogonal probes ``z = U_r diag(√s_r) q`` (``E[z zᵀ] = F_rest``), all in one batched pass.
  Its standard error comes from the spread of the probe terms.
- ``lowrank``: the top-k directions only (biased low; kept to compare with the reference code).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .forward import CancelCheck, Graph, logit_softcap, vjp_chunks
from .models import LoadedModel

FISHER_METHODS = ("fast", "exact", "lowrank")
DEFAULT_RANK = {"fast": 8, "lowrank": 1}
DEFAULT_PROBES = 8


@dataclass
class FisherScores:
    """Per-token Fisher scores (T,) and how they were obtained."""

    scores: torch.Tensor  # (T,) float64
    method: str
    rank: int  # exact eigen-directions used
    probes: int
    rel_error_estimate: float | None  # estimated relative L2 error of scores (0 for exact)
    backward_passes: int


def fisher_matrix(lm: LoadedModel, graph: Graph) -> torch.Tensor:
    """The Fisher information of the next-token distribution w.r.t. ``h``: (d, d), float64.

    ``F = Gᵀ diag(p) G − μ μᵀ`` with ``μ = Gᵀ p``; ``G = W`` unless the model soft-caps its
    logits, where ``G = diag(1 − tanh²(z/c)) W``.
    """
    W = lm.model.get_output_embeddings().weight.detach().float()  # (V, d)
    p = graph.probs.to(W.device)
    cap = logit_softcap(lm.model)
    # logits are c·tanh(z/c): their derivative in z is 1 − (logits/c)²
    g = 1 - (graph.logits.to(W.device) / cap) ** 2 if cap else torch.ones_like(p)
    mu = W.T @ (p * g)  # (d,)
    F = (W * (p * g * g)[:, None]).T @ W - torch.outer(mu, mu)
    return F.double()


def fisher_eigen(F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenpairs of F, largest first: (s (d,), U (d, d) with eigenvectors as columns), s ≥ 0."""
    s, U = torch.linalg.eigh(F)
    s, U = s.flip(0).clamp_min(0), U.flip(1)
    return s, U


def fisher_scores(
    lm: LoadedModel,
    graph: Graph,
    method: str = "fast",
    rank: int | None = None,
    probes: int = DEFAULT_PROBES,
    seed: int = 0,
    rel_error: float | None = None,
    max_probes: int = 256,
    cancel: CancelCheck | None = None,
    progress: Callable[[float], None] | None = None,
) -> FisherScores:
    """Fisher Scope scores for every token of the graph.

    Args:
        method: ``fast`` (default), ``exact`` or ``lowrank``.
        rank: eigen-directions taken exactly (fast: 8, lowrank: 1 by default).
        probes: probes of the remaining spectrum (fast only).
        seed: seeds the probes; the same seed gives the same scores.
        rel_error: if set (fast only), add probes until the estimated relative L2 error is at
            most this, up to ``max_probes``.

    Returns:
        :class:`FisherScores` with scores (T,) in the units of ``‖J_tᵀ u‖² · s``.
    """
    d = graph.h.shape[0]
    s, U = fisher_eigen(fisher_matrix(lm, graph))
    if method == "exact":
        k = int((s > s[0] * 1e-12).sum())
        total, passes = _sum_sq_vjps(graph, (U[:, :k] * s[:k].sqrt()).T, cancel, progress)
        return FisherScores(total, "exact", k, 0, 0.0, passes)
    k = min(d, rank if rank is not None else DEFAULT_RANK[method])
    top = (U[:, :k] * s[:k].sqrt()).T  # (k, d)
    if method == "lowrank" or k == d:
        total, passes = _sum_sq_vjps(graph, top, cancel, progress)
        return FisherScores(total, method, k, 0, None if k < d else 0.0, passes)
    return _fast(graph, top, U[:, k:], s[k:], probes, seed, rel_error, max_probes, cancel, progress)


def _fast(graph, top, U_rest, s_rest, probes, seed, rel_error, max_probes, cancel, progress):
    m = U_rest.shape[1]
    gen = torch.Generator().manual_seed(seed)
    # Orthogonal probes, scaled so E[q qᵀ] = I: lower variance than Gaussian ones, still unbiased.
    n_max = min(max_probes if rel_error else probes, m)
    Q, _ = torch.linalg.qr(torch.randn(m, n_max, generator=gen, dtype=torch.float64))
    Q = Q * math.sqrt(m)
    B = U_rest.to(Q.dtype) * s_rest.sqrt()  # (d, m)
    n = min(probes, n_max)
    directions = torch.cat([top, (B @ Q[:, :n]).T])
    sq, passes = _per_direction_sq(graph, directions, cancel, progress)
    k = top.shape[0]
    while True:
        exact_part = sq[:k].sum(0)
        terms = sq[k:]  # (n, T)
        est = exact_part + terms.mean(0)
        err = _rel_error(terms, est)
        if not rel_error or err <= rel_error or n >= n_max:
            return FisherScores(est, "fast", k, n, err, passes)
        more = min(n_max - n, max(n, 4))  # double the probes each round
        extra, p2 = _per_direction_sq(graph, (B @ Q[:, n : n + more]).T, cancel, None)
        sq, n, passes = torch.cat([sq, extra]), n + more, passes + p2


def _rel_error(terms: torch.Tensor, est: torch.Tensor) -> float:
    """Estimated relative L2 error of the probe mean: √(Σ_t var_t / n) / ‖est‖."""
    n = terms.shape[0]
    if n < 2:
        return float("nan")
    var = terms.var(0, unbiased=True) / n
    return float(var.sum().sqrt() / est.norm().clamp_min(1e-300))


def _per_direction_sq(graph, directions, cancel, progress) -> tuple[torch.Tensor, int]:
    """‖J_tᵀ v‖² for every direction and token: (K, T) float64, and the number of passes."""
    K = directions.shape[0]
    out = torch.empty(K, graph.x.shape[0], dtype=torch.float64)
    passes = 0
    for start, g in vjp_chunks(graph, directions, cancel):
        out[start : start + g.shape[0]] = g.double().pow(2).sum(-1).cpu()
        passes += 1
        if progress:
            progress((start + g.shape[0]) / K)
    return out, passes


def _sum_sq_vjps(graph, directions, cancel, progress) -> tuple[torch.Tensor, int]:
    sq, passes = _per_direction_sq(graph, directions, cancel, progress)
    return sq.sum(0), passes
