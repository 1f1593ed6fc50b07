"""Fisher Scope: per-token ``tr(J_tᵀ F J_t)`` with ``F = Gᵀ(diag p − p pᵀ)G`` (G = ∂logits/∂h).

Writing ``F = Σ_i s_i u_i u_iᵀ`` (eigenpairs) gives ``tr(J_tᵀ F J_t) = Σ_i s_i ‖J_tᵀ u_i‖²``, so
the score is a sum of squared input-VJPs. Three methods:

- ``exact``: every direction ``√s_i u_i`` (d of them) through batched backward passes.
- ``fast``: an unbiased estimate deflated by a block-Krylov range of
  ``K = F^{1/2}(Σ_t J_t J_tᵀ)F^{1/2}`` (engine/compute/fisher_fast.py): F's top ``k`` directions, K applied
  to them by finite-difference JVPs, both blocks exactly, orthogonal probes in the rest. Its
  error estimate is the probes' calibrated standard error. By default probes are doubled (up to
  fisher_config.RANK_MAX_PROBES) while the ranks are in doubt (fisher_fast.rank_stability);
  ``rel_error`` also asks for an error (the rank check stops at its cap); ``budget`` N spends
  exactly N VJP-equivalents, split as fisher_config.budget_plan says, and adds nothing.
- ``lowrank``: the top-k directions only (biased low; kept to compare with the reference code).

Measured on the validation prompts (benchmarks/bench_fisher.py; settings chosen on a separate
tuning set): see fisher_config.py for what won and what lost.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch

from ..model.load import LoadedModel
from .fisher_config import (
    DEFAULT_PROBES,
    DEFAULT_RANK,
    FISHER_METHODS,
    HEAD_MAX,
    MAX_PROBES,
    RANK_TARGET,
    budget_plan,
)
from .fisher_fast import krylov_estimate
from .forward import CancelCheck, Graph, row_norms, vjp_chunks
from .head import logit_slopes, output_matrix

TAIL_MASS = 1e-3  # fast: tokens beyond 99.9 % of the probability are reached by probes only

__all__ = ["DEFAULT_PROBES", "DEFAULT_RANK", "FISHER_METHODS", "FisherScores", "fisher_matrix",
           "fisher_scores"]


@dataclass
class FisherScores:
    """Per-token Fisher scores (T,) and how they were obtained."""

    scores: torch.Tensor  # (T,) float64
    method: str
    rank: int  # exact eigen-directions used
    probes: int
    rel_error_estimate: float | None  # estimated relative L2 error of scores (0 for exact)
    backward_passes: int
    directions: int = 0  # VJP-equivalents spent (VJPs plus finite-difference JVPs)
    rank_stability: float | None = None  # fast: the ranks' bootstrap Spearman ρ (fisher_fast)
    # fast: (T, 2) each token's rank interval, 1 = highest (fisher_fast.rank_intervals)
    rank_intervals: torch.Tensor | None = None


@dataclass
class FisherSplit:
    """``F = F_head + F_tail`` over the vocabulary's rows ``a_v = √p_v (g_v w_v − μ)``.

    ``head`` (d, d, float64) is formed exactly from the most probable tokens; the tail (the
    tokens holding the last ``tail_mass`` of probability) is reached only through random
    probes ``A_tailᵀ ξ``, which keeps the estimate unbiased at a fraction of the V·d² cost.
    """

    head: torch.Tensor
    W: torch.Tensor  # (V, d) float32 output matrix
    mu: torch.Tensor  # (d,) Gᵀp
    tail_w: torch.Tensor | None  # (V,) √p_v g_v on tail rows, 0 on head rows
    tail_mu: torch.Tensor | None  # (V,) √p_v on tail rows, 0 on head rows

    def tail_probes(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """n probes ``A_tailᵀ ξ`` (n, d) float64 with ``E[z zᵀ] = F_tail`` (zeros if no tail)."""
        d = self.head.shape[0]
        if self.tail_w is None or n == 0:
            return torch.zeros(n, d, dtype=torch.float64)
        xi = torch.randn(n, self.W.shape[0], generator=gen).T.to(self.W.device)  # j-th: j-th draw
        z = self.W.T @ (self.tail_w[:, None] * xi) - torch.outer(self.mu, self.tail_mu @ xi)
        return z.T.cpu().double()


def fisher_split(lm: LoadedModel, graph: Graph, tail_mass: float = 0.0) -> FisherSplit:
    """The Fisher information of the next-token distribution w.r.t. ``h``, split head/tail.

    ``F = Gᵀ diag(p) G − μ μᵀ`` with ``μ = Gᵀ p``; ``G = W`` unless the model soft-caps its
    logits, where ``G = diag(1 − (logits/c)²) W``. With ``tail_mass = 0`` the head is all of F.
    """
    W = output_matrix(lm).float()  # (V, d)
    p = graph.probs.to(W.device)
    g = logit_slopes(lm, graph.logits.to(W.device))  # (V,): G = diag(g) W
    mu = W.T @ (p * g)  # (d,)
    V = p.shape[0]
    head_idx = None
    if tail_mass > 0:
        order = p.argsort(descending=True)
        n_head = int(torch.searchsorted(p[order].cumsum(0), 1 - tail_mass)) + 1
        head_idx = order[: min(max(n_head, 64), HEAD_MAX, V)]
    if head_idx is None:
        rows = p.sqrt()[:, None] * (g[:, None] * W - mu)
        return FisherSplit((rows.T @ rows).cpu().double(), W, mu, None, None)
    rows = p[head_idx].sqrt()[:, None] * (g[head_idx, None] * W[head_idx] - mu)
    tail = torch.ones_like(p, dtype=torch.bool)
    tail[head_idx] = False
    sqrt_p = p.sqrt() * tail
    return FisherSplit((rows.T @ rows).cpu().double(), W, mu, sqrt_p * g, sqrt_p)


def fisher_matrix(lm: LoadedModel, graph: Graph) -> torch.Tensor:
    """The full Fisher matrix F (d, d) float64 of the explained prediction w.r.t. ``h``."""
    return fisher_split(lm, graph).head


def fisher_eigen(F: torch.Tensor, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenpairs of F, largest first: (s (d,), U (d, d) with eigenvectors as columns), s ≥ 0.

    ``dtype`` float32 halves the cost where the directions only steer an estimate (fast).
    """
    s, U = torch.linalg.eigh(F.to(dtype))
    s, U = s.double(), U.double()
    s, U = s.flip(0).clamp_min(0), U.flip(1)
    return s, U


def fisher_scores(
    lm: LoadedModel,
    graph: Graph,
    method: str = "fast",
    rank: int | None = None,
    probes: int | None = None,
    seed: int = 0,
    rel_error: float | None = None,
    max_probes: int = MAX_PROBES,
    cancel: CancelCheck | None = None,
    progress: Callable[[float], None] | None = None,
    budget: int | None = None,
    rank_target: float | None = None,
) -> FisherScores:
    """Fisher Scope scores for every token of the graph.

    Args:
        method: ``fast`` (default), ``exact`` or ``lowrank``.
        rank: fast: F's top directions seeding the Krylov block (exact directions: twice
            this); lowrank: eigen-directions kept (defaults in fisher_config.DEFAULT_RANK).
        probes: probes of the remaining spectrum (fast only); None: DEFAULT_PROBES, and the
            rank check at RANK_TARGET adds probes where ranks are in doubt; a number: exactly
            that many (unless ``rank_target`` or ``rel_error`` asks for more).
        budget: fast only: spend exactly this many VJP-equivalents (replaces rank/probes).
        seed: seeds the probes; the same seed gives the same scores.
        rel_error: if set (fast only), add probes until the estimated relative L2 error is at
            most this, up to ``max_probes``.
        rank_target: fast without a budget: add probes until the ranks are this stable
            (fisher_fast.rank_stability); None: RANK_TARGET when ``probes`` is None, else no
            rank check.

    Returns:
        :class:`FisherScores` with scores (T,): ``Σ_i s_i ‖J_tᵀ u_i‖²`` (squared hidden-state
        units times nats).
    """
    d = graph.h.shape[0]
    if probes is None:
        probes, rank_target = DEFAULT_PROBES, RANK_TARGET if rank_target is None else rank_target
    if method == "fast" and budget is not None:
        rank, probes = budget_plan(budget)
        rank_target = None  # a budget is exact
    k = min(d, rank if rank is not None else DEFAULT_RANK.get(method, d))
    estimate = method == "fast" and k < d  # only then is a probed tail and a float32 basis fine
    split = fisher_split(lm, graph, TAIL_MASS if estimate else 0.0)
    s, U = fisher_eigen(split.head, torch.float32 if estimate else torch.float64)
    if method == "exact" or k == d:
        k = int((s > s[0] * 1e-12).sum())
        total, passes = _sum_sq_vjps(graph, (U[:, :k] * s[:k].sqrt()).T, cancel, progress)
        return FisherScores(total, method, k, 0, 0.0, passes, k)
    if method == "lowrank":
        total, passes = _sum_sq_vjps(graph, (U[:, :k] * s[:k].sqrt()).T, cancel, progress)
        return FisherScores(total, method, k, 0, None, passes, k)
    out = krylov_estimate(lm, graph, s, U, split.tail_probes, k, probes, seed, rel_error,
                          max_probes, cancel, progress, _per_direction_sq, rank_target)
    return FisherScores(out["scores"], "fast", out["rank"], out["probes"], out["rel_error"],
                        out["passes"], out["directions"], out["rank_stability"],
                        out["rank_intervals"])


def _per_direction_sq(graph, directions, cancel, progress, first_batch=None, target_seconds=2.0):
    """‖J_tᵀ v‖² for every direction and token: (K, T) float64, and the number of passes.

    Riders waiting for ``graph`` (:func:`riding`) go first in the first batch that goes
    through here; their VJPs are kept whole in ``Riders.grads`` and not counted in the output."""
    riders = _RIDERS.get()
    m = 0
    if riders is not None and riders.graph is graph and riders.grads is None:
        m = riders.directions.shape[0]
        directions = torch.cat([riders.directions.to(directions.device, directions.dtype),
                                directions])
        first_batch = None if first_batch is None else first_batch + m
        riders.grads = torch.empty((m, *graph.x.shape), dtype=graph.x.dtype, device=graph.x.device)
    K = directions.shape[0] - m
    out = torch.empty(K, graph.x.shape[0], dtype=torch.float64)
    passes = 0
    for start, g in vjp_chunks(graph, directions, cancel, target_seconds,
                               first_batch=first_batch):
        if start < m:  # the riders' rows of this batch
            riders.grads[start : start + g.shape[0]] = g[: m - start]
            g, start = g[m - start :], m
        out[start - m : start - m + g.shape[0]] = row_norms(g, squared=True)
        passes += 1
        if progress:
            progress((start - m + g.shape[0]) / K)
    return out, passes


@dataclass
class Riders:
    """Directions (m, d) of other scopes whose input-VJPs ride in one of Fisher's batched
    backward passes on ``graph`` (engine.multi); ``grads`` (m, T, d), on the graph's device,
    once they ran."""

    graph: Graph
    directions: torch.Tensor
    grads: torch.Tensor | None = None


_RIDERS: ContextVar[Riders | None] = ContextVar("jscope_fisher_riders", default=None)


@contextmanager
def riding(riders: Riders):
    """Within the block, the first of Fisher's squared-norm VJP batches on ``riders.graph``
    also carries the riders."""
    token = _RIDERS.set(riders)
    try:
        yield riders
    finally:
        _RIDERS.reset(token)


def _sum_sq_vjps(graph, directions, cancel, progress) -> tuple[torch.Tensor, int]:
    # batches of at least 64 (32 ms per direction at 8 rows against 22 at 128): on a busy
    # machine the 2 s target alone shrank them to a few rows and exact ran 1.5× slower than a
    # plain loop of 64s; a cancel is still noticed at every decoder layer
    sq, passes = _per_direction_sq(graph, directions, cancel, progress, first_batch=64,
                                   target_seconds=30.0)
    return sq.sum(0), passes
