"""What a scope is (the registry of them is :mod:`.registry`).

A :class:`Scope` describes itself completely — name, label, explanation, unit, what it needs
(a target, a foil) and what it supports (the generation matrix, time series, faithfulness) — so
the CLI's choices, the app's boxes, captions, colour-bar units and the About text are all read
from the registry. The common case is a :class:`DirectionScope`: ``score_t = ‖J_tᵀ u‖₂`` for one
direction ``u`` of the explained prediction.

This module imports no torch at import time (the app reads the registry before torch loads).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import JScopeError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..compute.forward import CancelCheck, Graph
    from ..model.load import LoadedModel

USES = ("matrix", "series", "faithfulness")  # what a scope may support besides a single strip
PLAN_KINDS = ("graph", "batched", "integrated")


@dataclass(frozen=True)
class CostContext:
    """What a scope's cost plan may depend on besides the request: the model's hidden size and
    vocabulary, the fed tokens, and ``cap``, the most directions one backward pass holds for this
    prompt (a memory bound the engine's batches share)."""

    d_model: int
    vocab: int
    n_tokens: int
    cap: int


@dataclass(frozen=True)
class CostPlan:
    """A run's work as the scope declares it, in the units the cost model counts.

    ``kind``: ``graph`` (one forward graph, one backward pass), ``batched`` (many directions
    backward through one graph) or ``integrated`` (a graph per batch of scaled inputs);
    ``directions`` backward directions, ``batch`` the most at once, ``steps`` path steps,
    ``jvps`` no-grad forward passes (finite-difference JVPs); ``extra_work`` the scope's own
    algebra in multiply-adds and ``extra_bytes`` its peak bytes beyond the graph and the batches;
    ``fewer``: what to ask for less of when a run does not fit (words for a sentence).
    """

    kind: str
    directions: int
    batch: int
    steps: int = 0
    jvps: int = 0
    extra_work: float = 0.0
    extra_bytes: float = 0.0
    fewer: str | None = None


def one_backward_pass(ctx: CostContext, request: Any) -> CostPlan:
    """The plan of a scope that needs one backward pass through the kept graph (every direction
    scope, and a plugin scope that declares nothing else)."""
    return CostPlan("graph", 1, 1)
DIRECTION_UNIT = "‖Jᵀu‖"


@dataclass
class Prediction:
    """The explained prediction, as a direction function sees it.

    h: (d,) final hidden state at the explained position (detached). W: (V, d) output matrix.
    logits, probs: (V,) float32. target_id / foil_id: the token ids the request resolved (None
    when the scope needs none).
    """

    h: torch.Tensor
    W: torch.Tensor
    logits: torch.Tensor
    probs: torch.Tensor
    target_id: int | None = None
    foil_id: int | None = None


@dataclass
class ScopeOutput:
    """Scores (T,) float64 for the fed tokens, backward passes used, Fisher details if any."""

    scores: torch.Tensor
    backward_passes: int
    fisher: Any = None  # engine.fisher.FisherScores for the Fisher Scope


@dataclass
class ScopeCall:
    """Everything a scope's ``compute`` gets: the model, the kept forward graph, the explained
    prediction, the request (per-scope settings), a cancel check and a progress callback
    (fraction in [0, 1])."""

    lm: LoadedModel
    graph: Graph
    pred: Prediction
    request: Any  # engine.request.AttributionRequest
    cancel: CancelCheck | None = None
    progress: Callable[[float], None] | None = None


@dataclass(eq=False)
class Scope:
    """A registered scope: how it is described and how it computes.

    ``compute(call: ScopeCall) -> ScopeOutput``. ``unit`` names what a score measures (colour
    bars, captions); ``cost`` says what one run costs (cost panel, About).
    """

    name: str
    label: str
    explanation: str
    compute: Callable[[ScopeCall], ScopeOutput] = field(repr=False)
    unit: str = DIRECTION_UNIT
    needs_target: bool = False
    needs_foil: bool = False
    matrix: bool = False
    series: bool = True
    faithfulness: bool = True
    cost: str = "1 forward + 1 backward pass"
    # what a run costs, in the cost model's units: (CostContext, request) -> CostPlan
    plan: Callable[[CostContext, Any], CostPlan] = field(default=one_backward_pass, repr=False)
    plugin = None  # the entry point ("package:object") a plugin scope came from; None: built in

    def supports(self, use: str) -> bool:
        """True when the scope can be used for ``use`` (one of :data:`USES`); the generation
        matrix takes direction scopes only (it batches one direction per generated token)."""
        if use == "matrix":
            return bool(self.matrix) and isinstance(self, DirectionScope)
        return bool(getattr(self, use))


class DirectionScope(Scope):
    """``score_t = ‖J_tᵀ u‖₂`` (or ``‖(J_tᵀ u) ⊙ x_t‖₂`` with ``times_input``) for the direction
    ``u = direction(pred)`` (d,) of the explained prediction.

    One backward pass per prediction; the generation matrix batches one direction per generated
    token, so every direction scope supports it without code of its own.
    """

    def __init__(self, name: str, label: str, explanation: str,
                 direction: Callable[[Prediction], torch.Tensor], needs_target: bool = False,
                 needs_foil: bool = False, unit: str = DIRECTION_UNIT, times_input: bool = False,
                 series: bool = True, faithfulness: bool = True,
                 cost: str = "1 forward + 1 backward pass"):
        super().__init__(name, label, explanation, self._compute, unit, needs_target,
                         needs_foil, True, series, faithfulness, cost)
        self.direction = direction
        self.times_input = times_input

    def direction_for(self, pred: Prediction) -> torch.Tensor:
        """``u`` (d,) for ``pred``, checked: a wrong shape or a non-finite value is refused in
        one sentence (a plugin's direction is code we did not write)."""
        u = self.direction(pred)
        d = pred.h.shape[-1]
        shape = tuple(getattr(u, "shape", ()))
        if shape != (d,):
            raise JScopeError(f"The {self.label} Scope gave a direction of shape {shape}; it must "
                              f"be ({d},), one value per hidden dimension.")
        if not math.isfinite(float(u.detach().float().abs().sum())):
            raise JScopeError(f"The {self.label} Scope gave a direction with NaN or infinite values.")
        return u.detach()

    def _compute(self, call: ScopeCall) -> ScopeOutput:
        from ..compute.forward import row_norms, vjp

        g = vjp(call.graph, self.direction_for(call.pred))  # (T, d)
        if self.times_input:
            g = g * call.graph.x.detach()
        return ScopeOutput(row_norms(g), 1)
