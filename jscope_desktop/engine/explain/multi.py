"""Several scopes explaining one prediction on one forward graph.

The plan: one forward pass, the differentiable graph all scopes share; the directions
of every direction scope (Semantic, Contrast, Temperature, Grad × input, plugins) go through
one batched backward pass — a batch of the Fisher Scope's own passes when Fisher is
asked for (:func:`~jscope_desktop.engine.compute.fisher.riding`), else a batch of their own; Integrated
keeps its own batched passes and any other scope computes on the same graph. Each result
equals its single-scope run (direction scopes to float rounding, Fisher the same estimate at
the same seed).
"""

from __future__ import annotations

import time

import torch

from ..compute.fisher import Riders, riding
from ..compute.forward import (
    CancelCheck,
    Graph,
    ProgressFn,
    batch_limit,
    row_norms,
    sync,
    vjp_chunks,
)
from ..errors import JScopeError
from ..model.load import LoadedModel
from ..results.multi_result import Agreement, MultiScopeResult, MultiTiming
from ..results.request import AttributionRequest, RequestError, check_request
from ..scopes import DirectionScope, Scope, ScopeOutput, get_scope, scope_names
from .attribute import (
    RECOMPUTING,
    Prepared,
    build_result,
    guarded,
    prediction_for,
    prepare,
    run_scope,
    scope_call,
)

__all__ = ["attribute_many", "check_scopes", "parse_scopes"]

FISHER = "fisher"  # the scope in one of whose batched passes the direction scopes ride


def parse_scopes(text: str) -> list[str]:
    """Scope names from ``"a,b,c"`` (in that order) or ``"all"`` (every registered scope).

    Raises a one-sentence :class:`RequestError` (setting ``scope``) for an empty list, an
    unknown name or a name given twice.
    """
    if text.strip() == "all":
        return scope_names()
    names = [n.strip() for n in text.split(",")]
    if not any(names) or not all(names):
        raise RequestError("{scope} needs scope names separated by commas (e.g. "
                           "semantic,fisher) or all; an empty name was given", "scope")
    known = scope_names()
    for n in names:
        if n not in known:
            raise RequestError(f"Unknown scope '{n[:40]}' in {{scope}}; choose from "
                               f"{', '.join(known)} or all", "scope")
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice:
        raise RequestError(f"{{scope}} names '{twice}' twice; name each scope once", "scope")
    return names


def check_scopes(req: AttributionRequest, scopes: list[str], refuse_unused: bool = False) -> None:
    """:func:`check_request` for a run of ``scopes`` (names, at least one, each once).

    With ``refuse_unused``, a target (a foil) is refused only when none of the scopes uses it.
    """
    if not scopes or len(set(scopes)) != len(scopes):
        raise RequestError("{scope} must name at least one scope, each once", "scope")
    for name in scopes:
        check_request(req.but(scope=name))
    if refuse_unused:
        objs = [get_scope(n) for n in scopes]
        if not any(s.needs_target for s in objs):
            check_request(req.but(scope=scopes[0]), refuse_unused=True)
        if not any(s.needs_foil for s in objs):
            check_request(req.but(scope=scopes[0], target=None, target_id=None),
                          refuse_unused=True)


def _is_direction(scope: Scope) -> bool:
    """A direction scope computing the usual way (not one that replaced its own compute)."""
    return isinstance(scope, DirectionScope) and scope.compute == scope._compute


def attribute_many(
    lm: LoadedModel,
    req: AttributionRequest,
    scopes: list[str],
    progress: ProgressFn | None = None,
    cancel: CancelCheck | None = None,
    memory_limit: int | None = None,
    force: bool = False,
    refuse_unused: bool = False,
    measure_forward: bool = False,
) -> MultiScopeResult:
    """Run every scope of ``scopes`` (names, in the order of the results) on one prediction.

    ``req`` holds the prompt and every scope's settings (its ``scope`` field is ignored).
    The request is validated here, once (:func:`check_scopes`; ``refuse_unused`` as for
    ``attribute``).
    Returns a :class:`MultiScopeResult` whose results each equal the single-scope run. A run
    whose costliest scope is predicted not to fit (``memory_limit`` bytes or the available
    memory) raises :class:`~.cost_model.DoesNotFit` before any backward pass, unless ``force``.
    ``timing.forward_s`` is the graph's forward, or with ``measure_forward`` a separate no-grad
    forward's (as :func:`~.attribute.attribute`); ``total_s`` includes the graph's forward.
    """
    check_scopes(req, scopes, refuse_unused)
    objs = [get_scope(n) for n in scopes]
    prep = prepare(lm, req, objs, progress, memory_limit, force, measure_forward)
    say = (lambda f, m: progress(0.05 + 0.95 * f, m)) if progress else (lambda f, m: None)
    say(0.0, f"Scopes{RECOMPUTING if prep.recompute else ''}")
    t0 = time.perf_counter()
    graph, graph_s = prep.graph, prep.graph_s
    direction = [i for i, s in enumerate(objs) if _is_direction(s)]
    riders, row_of = _riders(lm, graph, prep, objs, direction)
    outs: dict[int, ScopeOutput] = {}
    share: dict[int, float] = {}
    passes = 0
    order = sorted(range(len(objs)), key=lambda i: objs[i].name != FISHER)  # Fisher first
    with batch_limit(prep.batch):  # the cost model's largest backward batch that fits
        for k, i in enumerate(order):
            if i in direction:
                continue
            s = objs[i]
            say(k / len(objs), f"{s.label} Scope")
            r = req.but(scope=s.name)
            t = time.perf_counter()
            call = scope_call(lm, graph, prep, s, r, cancel)
            if s.name == FISHER and riders is not None:
                with riding(riders):
                    outs[i] = run_scope(s, call, prep.position + 1)
            else:
                outs[i] = run_scope(s, call, prep.position + 1)
            sync(lm)
            share[i] = time.perf_counter() - t
            passes += outs[i].backward_passes
            if s.name == FISHER and riders is not None and riders.grads is not None:
                _split_share(share, i, direction, riders.directions.shape[0], outs[i])
        if riders is not None:
            if riders.grads is None:  # no Fisher (or it took another path): one batch of their own
                say(0.9, "Direction scopes")
                t = time.perf_counter()
                riders.grads, own = _batched(graph, riders.directions, cancel)
                sync(lm)
                passes += own
                for i in direction:
                    share[i] = (time.perf_counter() - t) / len(direction)
            for j, i in enumerate(direction):
                outs[i] = _direction_output(objs[i], graph, riders.grads[row_of[j]],
                                            prep.position + 1)
    sync(lm)
    total_s = graph_s + time.perf_counter() - t0
    results = [build_result(lm, prep, graph, objs[i].name, outs[i],
                            graph_s / len(objs) + share[i]) for i in range(len(objs))]
    for r in results:
        if r.scope == "integrated":
            r.ig_baseline = req.ig_baseline
    say(1.0, "Done")
    return MultiScopeResult(results, Agreement.of(results),
                            MultiTiming(prep.forward_s, total_s, passes))


def _riders(lm: LoadedModel, graph: Graph, prep: Prepared, objs: list[Scope],
            direction: list[int]) -> tuple[Riders | None, list[int]]:
    """The direction scopes' directions, checked, as riders of one batched pass: the distinct
    rows (m, d) — Semantic and Grad × input share theirs — and, per direction scope, its row."""
    if not direction:
        return None, []
    rows: list[torch.Tensor] = []
    row_of = []
    for i in direction:
        s = objs[i]
        pred = prediction_for(lm, graph, prep, s)
        u = guarded(s, lambda s=s, pred=pred: s.direction_for(pred))
        same = next((k for k, r in enumerate(rows) if torch.equal(r, u)), None)
        if same is None:
            rows.append(u)
            same = len(rows) - 1
        row_of.append(same)
    return Riders(graph, torch.stack(rows)), row_of


def _batched(graph: Graph, directions: torch.Tensor, cancel) -> tuple[torch.Tensor, int]:
    """Jᵀu for every row of ``directions``: (m, T, d), and the batched passes it took."""
    grads = torch.empty((directions.shape[0], *graph.x.shape), dtype=graph.x.dtype,
                        device=graph.x.device)
    passes = 0
    for start, g in vjp_chunks(graph, directions, cancel, first_batch=directions.shape[0]):
        grads[start : start + g.shape[0]] = g
        passes += 1
    return grads, passes


def _direction_output(scope: DirectionScope, graph: Graph, g: torch.Tensor,
                      n_fed: int) -> ScopeOutput:
    """A direction scope's scores from its VJP ``g`` (T, d), as its own compute makes them."""
    if scope.times_input:
        g = g * graph.x.detach()
    out = ScopeOutput(row_norms(g), 1)
    if out.scores.shape != (n_fed,):  # pragma: no cover - the graph fixes the shape
        raise JScopeError(f"The {scope.label} Scope gave {tuple(out.scores.shape)} scores.")
    return out


def _split_share(share: dict[int, float], fisher: int, direction: list[int], m: int,
                 out: ScopeOutput) -> None:
    """Split the Fisher call's seconds between Fisher and its ``m`` rider rows by directions
    pushed; the riders' part is shared evenly by the direction scopes."""
    f = out.fisher
    k = (f.rank + f.probes) if f is not None else 0
    riders_s = share[fisher] * m / (k + m)
    for i in direction:
        share[i] = riders_s / len(direction)
    share[fisher] -= riders_s
