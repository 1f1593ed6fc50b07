"""The result of several scopes on one prediction (DESIGN.md, "Several scopes in one run"):
one single-scope result per scope, their rank agreement and the run's timing; written and
read back exactly.

    {"version": 1, "results": [<single-scope contract>, ...],
     "agreement": {"scopes": [str], "spearman": [[float | null]]},
     "timing": {"forward_s": float, "total_s": float, "backward_passes": int}}

``timing.total_s`` is the wall time of all the scopes together, from building the shared graph
to the last score (the counterpart of one result's ``scope_s``; the plain forward pass is
``forward_s``); ``backward_passes`` counts every batched backward pass once. Each result's own
``timing.scope_s`` is its share of that time: the shared graph split evenly, a shared batched
pass split by the directions each scope put in it, plus what it ran alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import JScopeError, finite_or_none
from ..io import read_user_json, write_text
from .result import CONTRACT_VERSION, AttributionResult

if TYPE_CHECKING:
    import numpy as np


@dataclass
class MultiTiming:
    """Seconds of the plain forward pass and of all scopes together; batched backward passes."""

    forward_s: float
    total_s: float
    backward_passes: int


@dataclass
class Agreement:
    """Spearman's ρ between every two scopes' scores over the tokens both attribute:
    ``spearman[i][j]`` for ``scopes[i]`` and ``scopes[j]`` (None where undefined, e.g. a
    constant row)."""

    scopes: list[str]
    spearman: list[list[float | None]]

    @classmethod
    def of(cls, results: list[AttributionResult]) -> Agreement:
        """The agreement matrix of ``results`` (one per scope, same prompt and position)."""
        from .ranks import spearman_attributed  # numpy: only when an agreement is computed

        rows = [r.score_row() for r in results]
        rho = [[_finite(spearman_attributed(a, b)) for b in rows] for a in rows]
        return cls([r.scope for r in results], rho)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass
class MultiScopeResult:
    """Several scopes explaining one prediction, in the order asked (see the module text)."""

    results: list[AttributionResult]
    agreement: Agreement
    timing: MultiTiming
    version: int = CONTRACT_VERSION

    @property
    def scopes(self) -> list[str]:
        """The scope names, in the order of :attr:`results`."""
        return [r.scope for r in self.results]

    def _repr_html_(self) -> str | None:
        """The several-scopes page inside an iframe, for Jupyter (engine/results/display.py)."""
        from .display import notebook_html

        return notebook_html(self, [t for r in self.results for t in r.tokens])

    def result(self, scope: str) -> AttributionResult:
        """The result of ``scope`` (KeyError if it was not run)."""
        for r in self.results:
            if r.scope == scope:
                return r
        raise KeyError(scope)

    def to_dict(self) -> dict:
        """The multi-scope contract as a JSON-ready dict."""
        return {"version": self.version, "results": [r.to_dict() for r in self.results],
                "agreement": asdict(self.agreement), "timing": asdict(self.timing)}

    def to_json(self) -> str:
        """The contract as JSON text (NaN and infinities written as null)."""
        return json.dumps(finite_or_none(self.to_dict()), indent=1, ensure_ascii=False)

    def to_numpy(self) -> np.ndarray:
        """The scores as a float64 array of shape (S, T): row s is ``results[s]``'s scores
        (each in its own scope's unit), NaN where a token is not attributed."""
        import numpy as np  # on first use: the quick CLI paths import no numpy

        return np.stack([r.to_numpy() for r in self.results])

    def save(self, path: str | Path) -> None:
        """Write the contract to ``path`` (UTF-8, atomically)."""
        write_text(path, self.to_json() + "\n")

    @classmethod
    def from_dict(cls, d: dict) -> MultiScopeResult:
        """Rebuild from the contract's dict (inverse of :meth:`to_dict`); ``ValueError`` (or
        KeyError/TypeError) for a dict that is not one."""
        results = [AttributionResult.from_dict(r) for r in d["results"]]
        a, t = d["agreement"], d["timing"]
        out = cls(results, Agreement(list(a["scopes"]), [list(row) for row in a["spearman"]]),
                  MultiTiming(float(t["forward_s"]), float(t["total_s"]),
                              int(t["backward_passes"])), int(d.get("version", CONTRACT_VERSION)))
        out.check()
        return out

    def check(self) -> None:
        """Raise ``ValueError`` unless the parts agree: at least one result, all of one
        prompt and position, and an n × n agreement over the same scopes."""
        if not self.results:
            raise ValueError("results must hold at least one result")
        first = self.results[0]
        if any(r.token_ids != first.token_ids or r.position != first.position
               for r in self.results):
            raise ValueError("results must explain the same tokens at the same position")
        n = len(self.results)
        if self.agreement.scopes != self.scopes or len(self.agreement.spearman) != n or any(
                len(row) != n or not all(v is None or isinstance(v, (int, float)) for v in row)
                for row in self.agreement.spearman):
            raise ValueError("agreement must be an n × n matrix over the results' scopes")

    @classmethod
    def load(cls, path: str | Path) -> MultiScopeResult:
        """Read a file written by :meth:`save` (or ``jscope attribute --scope a,b --json``)."""
        return _parse(read_user_json(path, "result file", "a result written by Jacobian Scopes"),
                      path, cls.from_dict)


def _parse(d, path, build):
    try:
        return build(d)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JScopeError(f"The result file {path} is not a Jacobian Scopes result "
                          f"({type(exc).__name__}: {exc}).") from None


def result_from_dict(d: dict) -> AttributionResult | MultiScopeResult:
    """A single-scope or a multi-scope result from its contract's dict (by its ``results``
    key)."""
    if isinstance(d, dict) and "results" in d:
        return MultiScopeResult.from_dict(d)
    return AttributionResult.from_dict(d)


def read_result(path: str | Path) -> AttributionResult | MultiScopeResult:
    """Read a result file of any kind: a single result, a generation matrix, a series (each as
    its :class:`AttributionResult` kind) or several scopes (:class:`MultiScopeResult`, the
    contract with ``results``). The one reader the notebook API, the CLI and the app use.

    Raises:
        JScopeError: the file is missing, not JSON, or not a Jacobian Scopes result (one
            sentence).
    """
    d = read_user_json(path, "result file", "a result written by Jacobian Scopes")
    if not isinstance(d, dict):
        raise JScopeError(f"The result file {path} is not a Jacobian Scopes result (it holds "
                          f"{type(d).__name__}, not a table).")
    return _parse(d, path, result_from_dict)
