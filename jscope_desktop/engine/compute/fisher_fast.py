"""Fisher fast: an unbiased estimate of ``tr(J_tᵀ F J_t)`` deflated by a block-Krylov range of K.

In whitened coordinates (a direction ``q`` stands for ``F^{1/2} q`` in h-space) every token's
score is ``tr(K_t)`` with ``K_t = F^{1/2} J_t J_tᵀ F^{1/2}`` and their sum ``K = Σ_t K_t``. The
estimate splits ``tr(K_t) = tr(Qᵀ K_t Q) + tr(P⊥ K_t P⊥)`` over an orthonormal block Q and its
complement: the first part exactly (one VJP per column of Q), the second by probes
``z = P⊥ ξ`` (orthonormal frames of the complement scaled by √dim, ``E[z zᵀ] = P⊥``). Whatever Q
is, the estimate stays unbiased; a Q near the range of K makes the remainder, and so the variance,
small. Q is found by one block-Krylov step:

1. Q₀ = the top ``k`` eigenvectors of F; their VJPs ``G₀ = Jᵀ F^{1/2} Q₀`` (batch 1).
2. ``K Q₀ = F^{1/2} J G₀``: ``J g`` (a JVP) by a forward difference of one batched
   no-grad forward, ``(h(x + εg) − h(x)) / ε``. It only steers Q, so its rounding error
   costs accuracy of the subspace, never bias; it needs neither forward-mode AD (which the CPU
   flash-attention kernel lacks) nor double backward.
3. Q₁ = orth(K Q₀ ⟂ Q₀); VJPs of ``F^{1/2} Q₁`` and of the probes (batch 2).

Cost: ``k`` + ``k`` + ``k`` + probes VJP-equivalents (a JVP counted as one), in two batched
backward passes and one batched forward. The error estimate is the probe mean's standard error,
``√(Σ_t var_t / n) / ‖est‖``, times a factor calibrated on the tuning prompts
(``fisher_config.ERROR_CALIBRATION``) so that it bounds the true error on most prompts.
More probes follow (one more batch each time, doubling) while a requested error is not met,
or, by default, while the ranks are unstable (:func:`rank_stability` below
``fisher_config.RANK_TARGET``, up to ``fisher_config.RANK_MAX_PROBES``): near-tied tokens are
what breaks a rank order, not the L2 error.
What was tried and lost is recorded in fisher_config.py and benchmarks/bench_fisher.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..model.load import LoadedModel
from . import fisher_config
from .fisher_config import (
    ERROR_CALIBRATION,
    RANK_INTERVAL_LEVEL,
    RANK_INTERVAL_SAMPLES,
    RANK_MAX_PROBES,
    RANK_SAMPLES,
    RANK_TOP,
)
from .forward import CancelCheck, Graph, check_cancel, hidden_states, row_norms, vjp_chunks

# forward-difference step: ‖ε g‖ = FD_STEP·‖x‖ (half precision needs a larger one)
FD_STEP = {torch.float32: 1e-3, torch.float64: 1e-3}  # norms run in float32 even in float64 models
FD_STEP_HALF = 3e-2


def finite_difference_jvp(lm: LoadedModel, graph: Graph, tangents: torch.Tensor,
                          cancel: CancelCheck | None = None) -> torch.Tensor:
    """``J g = Σ_t ∂h/∂x_t g_t`` for tangents (B, T, d): (B, d) float64, by a forward difference.

    One batched no-grad forward of ``x + ε g`` (ε per tangent, ``‖εg‖ = step·‖x‖``) against the
    graph's own ``h``. (A central difference costs a second forward — 1.15 VJP-equivalents per
    tangent each on the embedded model — for accuracy the subspace does not need.)
    """
    x = graph.x.detach()
    step = FD_STEP.get(x.dtype, FD_STEP_HALF)
    g = tangents.to(x.device, x.dtype)
    norms = g.flatten(1).norm(dim=1).clamp_min(1e-30)
    eps = (step * x.norm() / norms).view(-1, 1, 1)
    check_cancel(cancel)
    with torch.no_grad():
        plus = hidden_states(lm, x[None] + eps * g)[:, -1]
    base = graph.h.detach()[None]
    return ((plus.double() - base.double()) / eps.view(-1, 1).double()).cpu()


def orthonormal_columns(A: torch.Tensor, against: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
    """An orthonormal basis (d, r) of the columns of A (d, m) with ``against``'s span removed
    (two Gram–Schmidt passes), dropping directions below ``tol`` of the largest."""
    for _ in range(2):
        A = A - against @ (against.T @ A)
    Q, R = torch.linalg.qr(A)
    diag = R.diagonal().abs()
    keep = diag > tol * diag.max().clamp_min(1e-300) if diag.numel() else diag.bool()
    Q = Q[:, keep]
    for _ in range(2):  # re-project after QR (its rounding reintroduces `against`)
        Q = Q - against @ (against.T @ Q)
    return torch.linalg.qr(Q)[0] if Q.shape[1] else Q


def complement_probes(Q: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """n ≤ d − r probes (d, n) with ``E[z zᵀ] = I − Q Qᵀ`` for an orthonormal Q (d, r): a random
    orthonormal frame of Q's complement scaled by √(d − r) (all d − r of them sum to it exactly)."""
    d, r = Q.shape
    if n == 0:
        return torch.zeros(d, 0, dtype=Q.dtype)
    Z = torch.randn(n, d, generator=gen, dtype=Q.dtype).T  # probe j: the j-th draw, whatever n
    return orthonormal_columns(Z, Q, tol=0.0)[:, :n] * math.sqrt(d - r)


def rel_error(terms: torch.Tensor, est: torch.Tensor) -> float:
    """Calibrated relative L2 error of the probe mean: ``c·√(Σ_t var_t / n) / ‖est‖``; NaN for
    fewer than two probes."""
    n = terms.shape[0]
    if n < 2:
        return float("nan")
    var = terms.var(0, unbiased=True) / n
    return float(ERROR_CALIBRATION * var.sum().sqrt() / est.norm().clamp_min(1e-300))


def substream(seed: int, purpose: int) -> torch.Generator:
    """A generator for one use of a seed (0: the complement probes, 1: the vocabulary tail, 2:
    the rank check's redraws), so no two uses, and no two seeds, share random numbers."""
    if purpose == 0:
        return torch.Generator().manual_seed(seed)  # the probes as they always were
    return torch.Generator().manual_seed((seed * 0x9E3779B97F4A7C15 + purpose * 0xBF58476D1CE4E5B9)
                                         % 2**63)


def rank_stability(est: torch.Tensor, terms: torch.Tensor, seed: int,
                   samples: int = RANK_SAMPLES) -> float:
    """How stable the estimate's rank order is: the median Spearman ρ (over ``samples`` draws)
    between ``est`` (T,) and ``est`` redrawn with the probe mean's per-token standard errors
    (``terms`` (n, T); a parametric bootstrap). 1.0 where it is undefined (T < 3, n < 2, no
    spread, or scores that are not finite: more probes would not help). Ties are broken by
    position (a stable sort; the noise makes them rare).
    """
    n, T = terms.shape
    if T < 3 or n < 2:
        return 1.0
    sd = (terms.var(0, unbiased=True) / n).sqrt()
    finite = bool(torch.isfinite(est).all() and torch.isfinite(sd).all())
    if not finite or not bool((sd > 0).any()):
        return 1.0
    drawn = est[None] + sd[None] * torch.randn(samples, T, generator=substream(seed, 2),
                                               dtype=est.dtype)
    ranks = torch.cat([est[None], drawn]).argsort(dim=1, stable=True).argsort(dim=1, stable=True).double()
    ranks -= ranks.mean(1, keepdim=True)
    rho = (ranks[1:] @ ranks[0]) / (ranks[1:].norm(dim=1) * ranks[0].norm())
    return float(rho.median())


def point_ranks(est: torch.Tensor) -> torch.Tensor:
    """Each token's rank in ``est`` (T,), 1 = the highest score (ties: the earlier token first):
    (T,) int64."""
    order = (-est).argsort(stable=True)
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(1, est.shape[0] + 1)
    return ranks


def rank_intervals(est: torch.Tensor, terms: torch.Tensor, seed: int,
                   samples: int = RANK_INTERVAL_SAMPLES,
                   level: float = RANK_INTERVAL_LEVEL) -> torch.Tensor | None:
    """Each token's rank interval: (T, 2) int64, the lower and upper ``level`` quantiles (5th
    and 95th percentile by default) of its rank (1 = highest score) over ``samples`` redraws of
    ``est`` (T,) with the probe mean's per-token standard errors (``terms`` (n, T); the
    parametric bootstrap of :func:`rank_stability`, its own random stream), widened to hold
    the estimate's own rank. None with fewer than two probes (no spread to draw from); point
    intervals where every standard error is zero or a score is not finite."""
    n, T = terms.shape
    if n < 2:
        return None
    point = point_ranks(est)
    sd = (terms.var(0, unbiased=True) / n).sqrt()
    if not (bool(torch.isfinite(est).all()) and bool(torch.isfinite(sd).all())):
        return torch.stack([point, point], 1)
    drawn = est[None] + sd[None] * torch.randn(samples, T, generator=substream(seed, 3),
                                               dtype=est.dtype)
    order = (-drawn).argsort(dim=1, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(1, T + 1).expand(samples, T).contiguous())
    tail = (1 - level) / 2
    sorted_ranks = ranks.sort(dim=0).values  # (samples, T)
    lo = sorted_ranks[int(math.floor(tail * (samples - 1)))]
    hi = sorted_ranks[int(math.ceil((1 - tail) * (samples - 1)))]
    return torch.stack([torch.minimum(lo, point), torch.maximum(hi, point)], 1)


def top_settled(est: torch.Tensor, intervals: torch.Tensor | None, top: int = RANK_TOP) -> bool:
    """Whether the order of the ``top`` best tokens of ``est`` is settled: each of them (at rank
    r) has the rank interval [r, r], so it is disjoint from every other token's (which tokens
    make the top, and their order, are then settled). True for fewer than two tokens; False
    without intervals."""
    if est.shape[0] < 2:
        return True
    if intervals is None:
        return False
    point = point_ranks(est)
    best = point <= min(top, est.shape[0])
    return bool((intervals[best, 0] == point[best]).all() and (intervals[best, 1] == point[best]).all())


def krylov_estimate(lm: LoadedModel, graph: Graph, s: torch.Tensor, U: torch.Tensor,
                    tail_probes: Callable[[int, torch.Generator], torch.Tensor],
                    k: int, probes: int, seed: int, target: float | None, max_probes: int,
                    cancel: CancelCheck | None, progress: Callable[[float], None] | None,
                    per_direction_sq: Callable, rank_target: float | None = None) -> dict:
    """The estimate of the module docstring.

    Args:
        s, U: eigenpairs of F's head (largest first); ``tail_probes(n, gen)`` (n, d) probes of
            the tail of F (zeros without one).
        k: size of the Krylov seed block (F's top k); probes: probes in the complement.
        target: with a requested relative error, probes are doubled until the estimate meets it
            (up to ``max_probes``).
        rank_target: probes are also doubled until :func:`rank_stability` reaches it (up to
            ``max_probes`` with a target, else ``fisher_config.RANK_MAX_PROBES``).
        per_direction_sq: ``(graph, directions, cancel, progress, first_batch) -> (sq (K, T),
            passes)``.

    Returns:
        dict with ``scores`` (T,), ``rank`` (exact directions), ``probes``, ``rel_error``,
        ``rank_stability`` (None without a rank target), ``rank_intervals`` ((T, 2) int64,
        :func:`rank_intervals`; point intervals where the probes span the whole complement,
        None with fewer than two probes), ``passes`` (backward passes) and ``directions``
        (VJP-equivalents: VJPs + JVPs). Which rank check stops the default is
        ``fisher_config.RANK_RULE``.
    """
    d = s.shape[0]
    root = U * s.sqrt()  # F^{1/2} q = root @ (Uᵀ q)

    def h_dirs(Qw: torch.Tensor) -> torch.Tensor:  # whitened (d, n) -> h-space rows (n, d)
        return (root @ (U.T @ Qw)).T

    gen = substream(seed, 0)
    Q0 = U[:, :k]
    grads, passes = [], 0
    for _, g in vjp_chunks(graph, h_dirs(Q0), cancel, first_batch=k):  # batch 1
        grads.append(g.detach())
        passes += 1
    G0 = torch.cat(grads) if grads else graph.x.new_zeros(0, *graph.x.shape)
    sq0 = row_norms(G0, squared=True)
    directions = k
    Q1 = Q0[:, :0]
    if k:
        KQ0 = root @ (U.T @ finite_difference_jvp(lm, graph, G0, cancel).T)  # (d, k)
        directions += k
        Q1 = orthonormal_columns(KQ0, Q0)[:, : max(0, d - k)]
    del G0, grads
    Q = torch.cat([Q0, Q1], 1)
    r = Q.shape[1]
    m = d - r  # probes form one orthonormal frame of the complement: m of them give it exactly
    n = min(probes + k - Q1.shape[1], m)  # a JVP direction that was dropped: one more probe
    adaptive = max_probes if target else RANK_MAX_PROBES if rank_target else n
    n_max = min(max(n, adaptive), m)
    # the first n probes are the same whatever n_max is: stopping early changes nothing drawn
    Z = complement_probes(Q, n_max, gen)
    tail = tail_probes(n_max, substream(seed, 1)).to(Z.dtype)
    probe_dirs = h_dirs(Z) + tail
    first = torch.cat([h_dirs(Q1), probe_dirs[:n]])
    sq, p2 = per_direction_sq(graph, first, cancel, progress, first_batch=max(1, len(first)))
    passes += p2
    exact_part = sq0.sum(0) + sq[: Q1.shape[1]].sum(0)
    terms = sq[Q1.shape[1]:]
    directions += len(first)
    while True:
        est = exact_part + (terms.mean(0) if len(terms) else 0.0)
        err = rel_error(terms, est) if n < m else 0.0
        stable = (rank_stability(est, terms, seed) if n < m else 1.0) if rank_target else None
        intervals = rank_intervals(est, terms, seed) if n < m else point_ranks(est)[:, None].repeat(1, 2)
        # the rank check stops at RANK_MAX_PROBES even where an error target goes on
        ranks_met = not rank_target or n >= RANK_MAX_PROBES or _ranks_settled(
            stable >= rank_target, est, intervals)
        met = (not target or err <= target) and ranks_met
        if met or n >= n_max:
            return {"scores": est, "rank": r, "probes": n, "rel_error": err, "passes": passes,
                    "directions": directions, "rank_stability": stable,
                    "rank_intervals": intervals}
        more = min(n_max - n, max(n, 4))
        extra, p3 = per_direction_sq(graph, probe_dirs[n:n + more], cancel, None)
        terms, n, passes, directions = torch.cat([terms, extra]), n + more, passes + p3, directions + more


def _ranks_settled(spearman_met: bool, est: torch.Tensor, intervals: torch.Tensor | None) -> bool:
    """The default's rank check, by ``fisher_config.RANK_RULE`` (read at call time)."""
    rule = fisher_config.RANK_RULE
    if rule == "spearman":
        return spearman_met
    top = top_settled(est, intervals)
    return top if rule == "top" else top and spearman_met
