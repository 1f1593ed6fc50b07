"""The words beside each strip of a several-scopes view (Qt-free: the terminal, the picture,
the web page and the app's Compare view use the same line)."""

from __future__ import annotations

from ...engine.compute.fisher_config import describe_fisher
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label, scope_unit


def row_caption(r: AttributionResult) -> str:
    """One strip's label: scope, unit, its share of the time, Fisher settings."""
    text = f"{scope_label(r.scope)} ({scope_unit(r.scope)}) · {r.timing.scope_s * 1000:.0f} ms"
    if r.fisher is not None:
        f = r.fisher
        text += " · " + describe_fisher(f.method, f.rank, f.probes, f.rel_error_estimate)
    return text
