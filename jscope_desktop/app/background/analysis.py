"""Numbers the panels show that are computed from results: rank agreement and cost estimates.

Pure Python (no Qt, no torch), so the arithmetic is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...engine.results.ranks import spearman_attributed as spearman
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label

__all__ = ["CostRow", "cost_rows", "directions_of", "joint_note", "same_input", "spearman"]


@dataclass
class CostRow:
    """One line of the cost panel: seconds, and whether it was measured or estimated."""

    label: str
    seconds: float | None
    measured: bool
    note: str = ""


def directions_of(result: AttributionResult) -> int:
    """Backward directions a Fisher result pushed through (exact rank plus probes)."""
    f = result.fisher
    return 0 if f is None else f.rank + f.probes


def cost_rows(results: list[AttributionResult], d_model: int,
              shared: dict[int, int] | None = None) -> list[CostRow]:
    """Forward, Temperature, Fisher fast and Fisher exact seconds from ``results`` of one prompt.

    The newest result of each kind wins. A result whose ``id`` is in ``shared`` came from a
    joint run of ``shared[id]`` scopes: its time is its share of that run, shown as an
    estimate (not measured alone). Fisher exact, until it has been run, is estimated as
    the fast run's time plus ``d_model − directions`` more directions at the fast run's
    per-direction cost: (fast − Temperature) / (directions − 1), since a Temperature run is the
    same forward-and-graph work with one direction.
    """
    latest: dict[str, AttributionResult] = {}
    for r in results:
        key = r.scope if r.fisher is None else f"fisher_{r.fisher.method}"
        latest[key] = r
    forward = next((r.timing.forward_s for r in reversed(results)), None)
    temp, fast, exact = (latest.get(k) for k in ("temperature", "fisher_fast", "fisher_exact"))
    fisher = scope_label("fisher")  # labels from the registry, like every other view
    shared = shared or {}

    def row(label: str, r: AttributionResult | None) -> CostRow:
        if r is None:
            return CostRow(label, None, False)
        if id(r) in shared:
            return CostRow(label, r.timing.scope_s, False,
                           f"share of one joint run of {shared[id(r)]} scopes")
        return CostRow(label, r.timing.scope_s, True)

    rows = [CostRow("Forward", forward, forward is not None),
            row(scope_label("temperature"), temp), row(f"{fisher} fast", fast)]
    if exact is not None:
        rows.append(CostRow(f"{fisher} exact", exact.timing.scope_s, id(exact) not in shared,
                            f"{exact.fisher.rank} directions"))
    elif fast is not None:
        k = directions_of(fast)
        base = temp.timing.scope_s if temp else 2 * fast.timing.forward_s
        per_dir = max(fast.timing.scope_s - base, 1e-6) / max(k - 1, 1)
        est = fast.timing.scope_s + max(d_model - k, 0) * per_dir
        rows.append(CostRow(f"{fisher} exact", est, False,
                            f"estimate: {d_model} directions at {per_dir * 1000:.1f} ms each"))
    else:
        rows.append(CostRow(f"{fisher} exact", None, False, f"run {fisher} fast or Measure first"))
    return rows


def joint_note(multi) -> str:
    """The cost panel's line about a joint run (an ``engine.multi_result.MultiScopeResult``)."""
    t = multi.timing
    names = ", ".join(scope_label(n) for n in multi.scopes)
    return (f"{names}: together {t.total_s * 1000:.0f} ms in {t.backward_passes} batched "
            f"backward pass{'es' if t.backward_passes != 1 else ''} "
            f"({t.total_s / t.forward_s:.1f}× forward).") if t.forward_s > 0 else names


def same_input(a: AttributionResult, b: AttributionResult) -> bool:
    """True when two results explain the same tokens at the same position (comparable costs)."""
    return a.token_ids == b.token_ids and a.position == b.position and a.device == b.device
