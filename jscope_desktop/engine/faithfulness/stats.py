"""Statistics for the faithfulness benchmark: t-intervals of a mean and Spearman correlation.

Pure numpy (scipy is a test-only dependency); the tests check both against ``scipy.stats``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import finite_or_none
from ..results.ranks import rankdata, spearman

__all__ = ["rankdata", "spearman", "student_t_cdf", "student_t_ppf", "t_interval"]


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


def student_t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom (Simpson's rule on the density)."""
    if t == 0:
        return 0.5
    x = np.linspace(0.0, abs(t), 4001)  # even number of intervals
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    pdf = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
    h = x[1] - x[0]
    area = h / 3 * (pdf[0] + pdf[-1] + 4 * pdf[1:-1:2].sum() + 2 * pdf[2:-1:2].sum())
    return 0.5 + math.copysign(float(area), t)


def student_t_ppf(q: float, df: float) -> float:
    """The q-quantile of Student's t with ``df`` degrees of freedom (bisection on the CDF)."""
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    if q == 0.5:
        return 0.0
    target, sign = (q, 1.0) if q > 0.5 else (1 - q, -1.0)
    lo, hi = 0.0, 1.0
    while student_t_cdf(hi, df) < target:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if student_t_cdf(mid, df) < target else (lo, mid)
    return sign * (lo + hi) / 2


def t_interval(values, confidence: float = 0.95) -> MeanInterval:
    """Mean and Student-t confidence interval ``mean ± t_{(1+c)/2, n−1} · s/√n`` of the finite
    entries of ``values`` (None and NaN are dropped)."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return MeanInterval(math.nan, math.nan, math.nan, 0)
    mean = float(v.mean())
    if n < 2:
        return MeanInterval(mean, math.nan, math.nan, 1)
    half = student_t_ppf((1 + confidence) / 2, n - 1) * float(v.std(ddof=1)) / math.sqrt(n)
    return MeanInterval(mean, mean - half, mean + half, n)


