"""Rank statistics shared by every view that compares scores: ranks with ties and Spearman's ρ."""

from __future__ import annotations

import math

import numpy as np


def rankdata(a) -> np.ndarray:
    """Ranks 1..n of ``a`` (1-D), ties given their average rank (as ``scipy.stats.rankdata``)."""
    a = np.asarray(a, dtype=np.float64)
    order = np.argsort(a, kind="stable")
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = np.arange(1, a.size + 1, dtype=np.float64)
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    sums = np.zeros(counts.size)
    np.add.at(sums, inverse, ranks)
    return (sums / counts)[inverse]


def spearman(a, b) -> float:
    """Spearman rank correlation of two equal-length 1-D sequences; NaN if either is constant
    or shorter than 2."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("spearman needs two sequences of the same length")
    if a.size < 2:
        return math.nan
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else math.nan


def spearman_attributed(a: list[float | None], b: list[float | None]) -> float:
    """Spearman's ρ of two score rows over the tokens both attribute (None elsewhere); NaN if
    fewer than 2 such tokens or either is constant."""
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    if len(pairs) < 2:
        return math.nan
    return spearman([p[0] for p in pairs], [p[1] for p in pairs])
