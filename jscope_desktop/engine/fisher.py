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
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch

from .fisher_config import DEFAULT_PROBES, DEFAULT_RANK, FISHER_METHODS, MAX_PROBES
from .forward import CancelCheck, Graph, row_norms, vjp_chunks
from .head import logit_slopes, output_matrix
from .models import LoadedModel

TAIL_MASS = 1e-3  # fast: tokens beyond 99.9 % of the probability are reached by probes only
# fast: at most this many tokens are formed exactly. Forming all of F is V·d² work (0.29 s for the
# embedded model, more than a Temperature Scope at 32 tokens); beyond the 4,096 most probable
# tokens of 40 LAMBADA prompts lay 0.01–5 % of the probability (median 0.1 %), left to the probes.
HEAD_MAX = 4096

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
        xi = torch.randn(self.W.shape[0], n, generator=gen).to(self.W.device)
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
    probes: int = DEFAULT_PROBES,
    seed: int = 0,
    rel_error: float | None = None,
    max_probes: int = MAX_PROBES,
    cancel: CancelCheck | None = None,
    progress: Callable[[float], None] | None = None,
) -> FisherScores:
    """Fisher Scope scores for every token of the graph.

    Args:
        method: ``fast`` (default), ``exact`` or ``lowrank``.
        rank: eigen-directions taken exactly (fast: 16, lowrank: 1 by default).
        probes: probes of the remaining spectrum (fast only).
        seed: seeds the probes; the same seed gives the same scores.
        rel_error: if set (fast only), add probes until the estimated relative L2 error is at
            most this, up to ``max_probes``.

    Returns:
        :class:`FisherScores` with scores (T,): ``Σ_i s_i ‖J_tᵀ u_i‖²`` (squared hidden-state
        units times nats).
    """
    d = graph.h.shape[0]
    k = min(d, rank if rank is not None else DEFAULT_RANK.get(method, d))
    estimate = method == "fast" and k < d  # only then is a probed tail and a float32 basis fine
    split = fisher_split(lm, graph, TAIL_MASS if estimate else 0.0)
    s, U = fisher_eigen(split.head, torch.float32 if estimate else torch.float64)
    if method == "exact" or k == d:
        k = int((s > s[0] * 1e-12).sum())
        total, passes = _sum_sq_vjps(graph, (U[:, :k] * s[:k].sqrt()).T, cancel, progress)
        return FisherScores(total, method, k, 0, 0.0, passes)
    top = (U[:, :k] * s[:k].sqrt()).T  # (k, d)
    if method == "lowrank":
        total, passes = _sum_sq_vjps(graph, top, cancel, progress)
        return FisherScores(total, method, k, 0, None, passes)
    probe = _ProbeSource(U[:, k:] * s[k:].sqrt(), split, seed, max_probes if rel_error else probes)
    return _fast(graph, top, probe, probes, rel_error, cancel, progress)


class _ProbeSource:
    """Unbiased probes of ``F − (top-k part)``: orthogonal in the head's remaining eigenbasis
    (scaled so ``E[q qᵀ] = I``, lower variance than Gaussian), plus Gaussian tail probes."""

    def __init__(self, B: torch.Tensor, split: FisherSplit, seed: int, n_max: int):
        m = B.shape[1]
        self.gen = torch.Generator().manual_seed(seed)
        self.n_max = max(1, min(n_max, m))
        Q, _ = torch.linalg.qr(torch.randn(m, self.n_max, generator=self.gen, dtype=B.dtype))
        self.coef = Q * math.sqrt(m)  # (m, n_max)
        self.B, self.split = B, split

    def take(self, start: int, n: int) -> torch.Tensor:
        """Probes start … start+n−1 as rows (n, d)."""
        z = (self.B @ self.coef[:, start : start + n]).T
        return z + self.split.tail_probes(n, self.gen).to(z.dtype)


def _fast(graph, top, probe: _ProbeSource, probes, rel_error, cancel, progress) -> FisherScores:
    k = top.shape[0]
    n = min(probes, probe.n_max)
    directions = torch.cat([top, probe.take(0, n)])
    # one batched backward pass for all directions (the DESIGN's plan), however many there are
    sq, passes = _per_direction_sq(graph, directions, cancel, progress, first_batch=len(directions))
    while True:
        terms = sq[k:]  # (n, T)
        est = sq[:k].sum(0) + terms.mean(0)
        err = _rel_error(terms, est)
        if not rel_error or err <= rel_error or n >= probe.n_max:
            return FisherScores(est, "fast", k, n, err, passes)
        more = min(probe.n_max - n, max(n, 4))  # double the probes each round
        extra, p2 = _per_direction_sq(graph, probe.take(n, more), cancel, None)
        sq, n, passes = torch.cat([sq, extra]), n + more, passes + p2


def _rel_error(terms: torch.Tensor, est: torch.Tensor) -> float:
    """Estimated relative L2 error of the probe mean: √(Σ_t var_t / n) / ‖est‖."""
    n = terms.shape[0]
    if n < 2:
        return float("nan")
    var = terms.var(0, unbiased=True) / n
    return float(var.sum().sqrt() / est.norm().clamp_min(1e-300))


def _per_direction_sq(graph, directions, cancel, progress, first_batch=None):
    """‖J_tᵀ v‖² for every direction and token: (K, T) float64, and the number of passes.

    Riders waiting for ``graph`` (:func:`riding`) go first in the first batch; their VJPs are
    kept whole in ``Riders.grads`` and not counted in the output."""
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
    for start, g in vjp_chunks(graph, directions, cancel, first_batch=first_batch):
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
    """Directions (m, d) of other scopes whose input-VJPs ride in Fisher's first batched
    backward pass on ``graph`` (engine.multi); ``grads`` (m, T, d), on the graph's device, once they ran."""

    graph: Graph
    directions: torch.Tensor
    grads: torch.Tensor | None = None


_RIDERS: ContextVar[Riders | None] = ContextVar("jscope_fisher_riders", default=None)


@contextmanager
def riding(riders: Riders):
    """Within the block, Fisher's first VJP batch on ``riders.graph`` also carries the riders."""
    token = _RIDERS.set(riders)
    try:
        yield riders
    finally:
        _RIDERS.reset(token)


def _sum_sq_vjps(graph, directions, cancel, progress) -> tuple[torch.Tensor, int]:
    sq, passes = _per_direction_sq(graph, directions, cancel, progress)
    return sq.sum(0), passes
