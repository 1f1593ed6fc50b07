"""Statistics of the faithfulness suite, all with ``scipy.stats``: t-intervals of a mean, AOPC,
rank agreement (Spearman, Kendall τ-b), paired comparisons (bootstrap interval of the mean
difference, Wilcoxon signed-rank) and Holm's step-down correction."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.stats

from ..errors import finite_or_none
from ..results.ranks import rankdata, spearman

__all__ = ["rankdata", "spearman", "t_interval", "aopc", "holm", "kendall", "paired_tests",
           "BOOTSTRAP_RESAMPLES"]

BOOTSTRAP_RESAMPLES = 10_000  # as the reference's rebuttal scripts


@dataclass
class MeanInterval:
    """Mean of ``n`` finite values and its two-sided confidence interval [lo, hi].

    ``lo``/``hi`` are NaN when ``n < 2`` (no spread to estimate), ``mean`` is NaN when n is 0.
    """

    mean: float
    lo: float
    hi: float
    n: int

    def to_dict(self) -> dict:
        """``{"mean": float|None, "ci95": [lo, hi], "n": int}`` with NaN written as None."""
        return finite_or_none({"mean": float(self.mean), "ci95": [float(self.lo), float(self.hi)],
                               "n": self.n})


def finite(values) -> np.ndarray:
    """The finite entries of ``values`` (None and NaN dropped) as float64 (n,)."""
    return np.array([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)


def t_interval(values, confidence: float = 0.95) -> MeanInterval:
    """Mean and Student-t confidence interval ``mean ± t_{(1+c)/2, n−1} · s/√n`` of the finite
    entries of ``values`` (``scipy.stats.t``; None and NaN are dropped)."""
    v = finite(values)
    n = int(v.size)
    if n == 0:
        return MeanInterval(math.nan, math.nan, math.nan, 0)
    mean = float(v.mean())
    if n < 2:
        return MeanInterval(mean, math.nan, math.nan, 1)
    half = float(scipy.stats.t.ppf((1 + confidence) / 2, n - 1)) * float(v.std(ddof=1)) / math.sqrt(n)
    return MeanInterval(mean, mean - half, mean + half, n)


def fraction_key(fraction: float) -> str:
    """The JSON key of a fraction: ``0.05`` → ``"0.05"``."""
    return f"{fraction:g}"


def aopc(deltas: dict[str, float], fractions: list[float]) -> float:
    """The area over the perturbation curve of one passage and scope, as the reference computes
    it: the trapezoid integral of Δ log p(top-1) (nats) over the ablated fractions themselves
    (x = the fractions, no point added at 0, no division by their range), so Δ = −4.32, −7.07,
    −9.14 at 0.05/0.1/0.2 give −1.095. NaN with fewer than two fractions or a missing Δ."""
    xs = sorted(fractions)
    ys = [deltas.get(fraction_key(f)) for f in xs]
    if len(xs) < 2 or any(y is None or not math.isfinite(y) for y in ys):
        return math.nan
    return float(sum((x1 - x0) * (y0 + y1) / 2 for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:])))


def kendall(a, b) -> float:
    """Kendall's τ-b (``scipy.stats.kendalltau``) of two score vectors; NaN when either is
    constant or shorter than 2."""
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(scipy.stats.kendalltau(a, b).statistic)


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values (same order as ``pvalues``): with the m p-values
    sorted ascending, ``p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j))`` (1-based). NaN entries
    stay NaN and do not count in m."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return [float(x) for x in out]


def bootstrap_mean(values: np.ndarray, seed: int, confidence: float = 0.95) -> tuple[float, float]:
    """The seeded bootstrap interval (``scipy.stats.bootstrap``, BCa, 10,000 resamples) of the
    mean of ``values`` (n,); NaN below 2 values; the mean itself when all values are equal."""
    if values.size < 2:
        return math.nan, math.nan
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    with warnings.catch_warnings():  # a degenerate BCa interval is handled below
        warnings.simplefilter("ignore")
        res = scipy.stats.bootstrap((values,), np.mean, confidence_level=confidence,
                                    n_resamples=BOOTSTRAP_RESAMPLES,
                                    rng=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    if not (math.isfinite(lo) and math.isfinite(hi)):  # BCa degenerate: the percentile interval
        res = scipy.stats.bootstrap((values,), np.mean, confidence_level=confidence,
                                    n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                                    rng=np.random.default_rng(seed))
        lo, hi = res.confidence_interval
    return float(lo), float(hi)


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p (``scipy.stats.wilcoxon``) of paired differences (n,);
    1.0 when every difference is 0 (the reference's convention), NaN below 2 values."""
    if diffs.size < 2:
        return math.nan
    if np.all(diffs == 0):
        return 1.0
    with warnings.catch_warnings():  # ties and zeros: scipy's normal approximation, said here
        warnings.simplefilter("ignore")
        return float(scipy.stats.wilcoxon(diffs, alternative="two-sided").pvalue)


def paired_tests(values: dict[str, list[float | None]], subset: str, seed: int,
                 metric: str = "aopc") -> list[dict]:
    """Every pair (a, b) of ``values``' methods (in their order): the mean of a − b over the
    passages where both are finite, its seeded bootstrap 95 % interval, the Wilcoxon p and the
    Holm-adjusted p over the pairs of this call (one family per subset).

    Args:
        values: method → per-passage values (the same passages, in the same order).
        subset: written into each row (``"all"`` or ``"correct"``).
        seed: seeds each pair's bootstrap (``[seed, pair number]``).

    Returns:
        Rows ``{"a", "b", "subset", "metric", "mean_diff", "ci95", "p_wilcoxon", "p_holm", "n"}``.
    """
    rows = []
    for number, (a, b) in enumerate(combinations(list(values), 2)):
        pairs = [(x, y) for x, y in zip(values[a], values[b])
                 if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
        d = np.array([x - y for x, y in pairs], dtype=np.float64)
        lo, hi = bootstrap_mean(d, int(np.random.SeedSequence([seed, number]).generate_state(1)[0]))
        rows.append({"a": a, "b": b, "subset": subset, "metric": metric,
                     "mean_diff": float(d.mean()) if d.size else math.nan, "ci95": [lo, hi],
                     "p_wilcoxon": wilcoxon_p(d), "n": int(d.size)})
    for row, p in zip(rows, holm([r["p_wilcoxon"] for r in rows])):
        row["p_holm"] = p
    return [finite_or_none(r) for r in rows]
