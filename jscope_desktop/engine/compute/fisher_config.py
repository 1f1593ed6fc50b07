"""The Fisher Scope's methods and defaults, and the one sentence that describes how a Fisher
score was computed. Torch-free, so the request, the app's panels and the captions can read it
before torch is imported."""

from __future__ import annotations

FISHER_METHODS = ("fast", "exact", "lowrank")
# fast (engine/compute/fisher_fast.py): F's top k directions seed one block-Krylov step on
# K = F^{1/2}(Σ_t J_t J_tᵀ)F^{1/2}; k + k exact directions, k finite-difference JVPs, then probes.
# Chosen on benchmarks/data/fisher_tuning.json only: offline simulation from full Jacobians of
# its 10 shortest prompts (5–19 tokens), 5 seeds; relative L2 error, median over prompts of the
# per-prompt median / worst prompt's median / worst single run, cost in VJP-equivalents:
#   old default, F top-12 + 8 probes (20): 4.3 % / 15.7 % / 27 %   (lost)
#   Krylov k=4 + 8 probes (20):            1.8 % /  6.3 % / 10 %
#   Krylov k=3 + 11 probes (20):           2.0 % /  4.2 % / 10 %
#   Krylov k=5 + 5 probes (20):            1.2 % /  3.4 % / 14 %   (default)
#   two Krylov steps k=3 + 5 probes (20):  1.5 % /  4.2 % / 13 %   (lost: a third sequential batch)
#   Krylov k=6 + 6 (24): 0.7 % / 3.9 %; k=8 + 8 (32): 0.6 % / 2.1 %; k=4 + 4 (16): 1.6 % / 10.5 %
#   Gaussian instead of orthogonal probes (k=4 + 8): 2.2 % vs 2.5 % on 2 prompts (no clear gain)
DEFAULT_RANK = {"fast": 5, "lowrank": 1}
# fast: at most this many tokens are formed exactly. Forming all of F is V·d² work (0.29 s for the
# embedded model, more than a Temperature Scope at 32 tokens); beyond the 4,096 most probable
# tokens of 40 LAMBADA prompts lay 0.01–5 % of the probability (median 0.1 %), left to the probes.
HEAD_MAX = 4096
DEFAULT_PROBES = 5
# fast with a requested error: probes are added until the estimate is met, up to this many
MAX_PROBES = 256
# fast by default (no budget): probes are doubled (5 → 10 → 20) until the ranks are stable, i.e.
# the estimate's Spearman ρ against itself redrawn with its per-token standard errors (median of
# RANK_SAMPLES draws) is at least RANK_TARGET. Chosen on the tuning simulation (16 prompts, 10
# seeds; runs with ρ ≥ 0.99 against exact / mean probes / runs that took a third pass):
#   no rank check:              93.8 % / 5.0 /  0 %
#   0.995, up to 20 probes:     97.5 % / 7.0 / 18 %   (default)
#   0.995, up to 40 probes:     97.5 % / 8.6 / 19 %
#   0.998, up to 20 probes:     97.5 % / 9.8 / 41 %
#   0.995 with the errors ×1.5: 97.5 % / 8.8 / 34 %
#   0.995, only where 20 probes' errors would reach it: 96.3 % / 5.8 / 11 %   (lost)
# The last rule spends nothing where not even 20 probes would settle the ranks (a random-weight
# 1.2B model, near-equal scores everywhere, spent the cap at 512 tokens: 642 s against 492 s);
# it lost on the tuning set, and on the validation set too (93 % of prompts against 98 %; 96 %
# when re-measured with the final random streams).
# On the tuning set a fixed 6 + 6 (24 VJP-equivalents) reached 98.8 % at 4 more directions on
# every prompt; the check spends them only where ranks are in doubt.
RANK_TARGET = 0.995
RANK_MAX_PROBES = 20
RANK_SAMPLES = 32
RANK_EXTRA_PROBES = 2  # mean probes the check added on the tuning simulation (the cost model's)
# Rank intervals (fisher_fast.rank_intervals): each token's rank (1 = highest score) at the 5th
# and 95th percentile of RANK_INTERVAL_SAMPLES parametric-bootstrap redraws of the estimate (the
# probe mean's per-token standard errors); two tokens whose intervals are disjoint have a
# settled order. RANK_RULE: when the default stops adding probes: "top" once the RANK_TOP best
# tokens' order (and which tokens they are) is settled, "spearman" once rank_stability reaches
# RANK_TARGET, "both" when both hold (each up to RANK_MAX_PROBES).
RANK_INTERVAL_SAMPLES = 128
RANK_INTERVAL_LEVEL = 0.9
RANK_TOP = 5
RANK_RULE = "spearman"
# fast --fisher-budget N: at least this many VJP-equivalents, at most MAX_BUDGET
MIN_BUDGET, MAX_BUDGET = 2, 4096
# the probes' standard error times this bounds the true error on most prompts: on the tuning
# simulation true/raw had quantiles 0.86 (median), 1.82 (90 %), 1.92 (95 %) for k=5 + 5 probes,
# so 1.3 gives true ≤ 1.5 × estimate on 95 % of prompt × seed pairs there
ERROR_CALIBRATION = 1.3


def budget_plan(budget: int) -> tuple[int, int]:
    """(Krylov seed block k, probes) spending exactly ``budget`` VJP-equivalents (3k + probes).

    k = N // 4 as on the tuning frontier (16: 4 + 4, 20: 5 + 5, 24: 6 + 6, 32: 8 + 8), keeping
    at least 2 probes so the error can be estimated (below 5: probes only).
    """
    k = max(0, min(budget // 4, (budget - 2) // 3))
    return k, budget - 3 * k


def describe_fisher(method: str, rank: int, probes: int, rel_error: float | None) -> str:
    """How a Fisher score was computed, as shown in captions, the cost panel and the terminal.

    Returns:
        e.g. ``"Fisher fast, 12 directions + 8 probes, est. error 3.1%"``.
    """
    text = f"Fisher {method}, {rank} directions"
    if probes:
        text += f" + {probes} probes"
    if rel_error:
        text += f", est. error {rel_error:.1%}"
    return text
