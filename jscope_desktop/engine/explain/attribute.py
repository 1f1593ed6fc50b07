"""Explain one prediction: tokenize, check the request, run a scope, time it, build the result.

The steps are public so that several scopes on one graph (:mod:`.multi`) share them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from ..compute.forward import (
    CancelCheck,
    Graph,
    ProgressFn,
    batch_limit,
    build_graph,
    plain_forward,
    sync,
)
from ..compute.head import output_matrix
from ..errors import EMPTY_PROMPT, Cancelled, JScopeError, finite_or_none, is_out_of_memory
from ..model.load import LoadedModel
from ..model.tokens import encode_prompt, single_token_id, special_ids, token_texts
from ..planning.calibration import estimate_loaded, record_run, warm_up
from ..planning.cost_model import check_fits
from ..progress import expect_seconds
from ..results.request import AttributionRequest, check_request
from ..results.result import AttributionResult, FisherInfo, Timing, TopToken
from ..scopes import Prediction, Scope, ScopeCall, ScopeOutput, get_scope

__all__ = ["AttributionRequest", "Prepared", "attribute", "build_result", "check_request",
           "prepare", "run_scope", "scope_call"]

T = TypeVar("T")


def attribute(
    lm: LoadedModel,
    req: AttributionRequest,
    progress: ProgressFn | None = None,
    cancel: CancelCheck | None = None,
    memory_limit: int | None = None,
    force: bool = False,
    refuse_unused: bool = False,
    measure_forward: bool = False,
) -> AttributionResult:
    """Run ``req.scope`` on ``lm`` and return the result of the contract.

    The request is validated here, once (:func:`check_request`; with ``refuse_unused``, what a
    person typed: a target or foil the scope would ignore is refused too).

    ``progress`` gets (fraction, message); ``cancel`` is polled between backward batches and a
    set flag raises :class:`~jscope_desktop.engine.errors.Cancelled`. Before any backward pass
    the run's cost is estimated (:mod:`.cost_model`): one predicted over the available memory,
    or over ``memory_limit`` bytes, raises :class:`~.cost_model.DoesNotFit` unless ``force``.

    The run does one forward pass, the graph's: the prediction, target and top-k come from it
    and ``timing.forward_s`` is its seconds, timed on its own. ``measure_forward`` adds a
    separate no-grad forward whose seconds are ``forward_s`` instead (the cost panel's
    "Measure"); ``timing.scope_s`` is the graph's forward and the scope's backward passes.
    """
    check_request(req, refuse_unused)
    scope = get_scope(req.scope)
    prep = prepare(lm, req, [scope], progress, memory_limit, force, measure_forward)
    if progress:
        progress(0.05, f"{scope.label} Scope{RECOMPUTING if prep.recompute else ''}")
    t0 = time.perf_counter()
    graph = prep.graph
    call = scope_call(
        lm, graph, prep, scope, req, cancel,
        (lambda f: progress(0.05 + 0.95 * f, f"{scope.label} Scope")) if progress else None,
    )
    with batch_limit(prep.batch):
        out = run_scope(scope, call, prep.position + 1)
    sync(lm)
    scope_s = prep.graph_s + time.perf_counter() - t0
    record_run(lm, req, prep.position + 1, scope_s, prep.recompute, prep.batch)
    result = build_result(lm, prep, graph, req.scope, out, scope_s)
    if req.scope == "integrated":
        result.ig_baseline = req.ig_baseline
    if progress:
        progress(1.0, "Done")
    return result


RECOMPUTING = " (recomputing layers to fit in memory)"  # said while such a graph is built


@dataclass
class Prepared:
    """A request resolved against a model, before any scope runs: the fed ids and their texts,
    the explained position, the target/foil ids the scopes need (None when none does), the
    forward graph every scope of the run shares, its next-token probabilities (V,) with their
    top-k; ``graph_s``: seconds of the graph's forward, ``forward_s``: the forward pass's
    seconds as the result reports them (``graph_s``, or a separate no-grad forward's where one
    was measured); ``recompute``: the graph recomputes its layers in the backward passes to fit
    in memory, ``batch``: the most directions one backward pass may take (the cost model's
    choices)."""

    ids: list[int]
    tokens: list[str]
    special: list[bool]
    roles: list[str | None] | None
    position: int
    target_id: int | None
    foil_id: int | None
    probs: torch.Tensor
    top: Any  # torch.return_types.topk of probs
    forward_s: float
    graph: Graph
    graph_s: float
    recompute: bool = False
    batch: int | None = None  # the most directions a backward pass may take (None: any)


def prepare(lm: LoadedModel, req: AttributionRequest, scopes: list[Scope],
            progress: ProgressFn | None = None, memory_limit: int | None = None,
            force: bool = False, measure_forward: bool = False) -> Prepared:
    """Tokenize ``req``, check it against the model and build the forward graph (the run's one
    forward pass; with ``measure_forward`` a no-grad forward is timed first, for the cost panel).

    A target is resolved (default: the top-1 prediction) when any of ``scopes`` needs one, a
    foil (default: the most probable other token) when any needs one. Raises a one-sentence
    :class:`JScopeError` for an empty prompt, a bad position, target or foil, or a prompt
    longer than the model's context; :class:`~.cost_model.DoesNotFit` for a run predicted over
    the available memory or ``memory_limit`` bytes, unless ``force`` (before any backward pass).
    """
    tok = lm.tokenizer
    if req.token_ids is not None:
        ids = list(req.token_ids)
        if not ids:
            raise JScopeError(EMPTY_PROMPT)
        specials = special_ids(tok)
        tokens, special, roles = token_texts(tok, ids), [i in specials for i in ids], None
    else:
        enc = encode_prompt(tok, req.prompt or "", req.chat)
        ids, tokens, special, roles = enc.token_ids, enc.tokens, enc.special, enc.roles
    position = _check_position(req.position, len(ids))
    if len(ids) > lm.info.context_length:
        raise JScopeError(
            f"The prompt is {len(ids)} tokens, longer than the model's context of "
            f"{lm.info.context_length}; shorten it."
        )
    target_id = _token_id(tok, req.target, req.target_id, "target", lm.info.vocab_size)
    foil_id = _token_id(tok, req.foil, req.foil_id, "foil", lm.info.vocab_size)
    needs_target = any(s.needs_target for s in scopes)
    needs_foil = any(s.needs_foil for s in scopes)
    # the costliest scope decides whether the run fits; their times add up
    ests = [estimate_loaded(lm, req.but(scope=s.name), len(ids), memory_limit) for s in scopes]
    ests = [e for e in ests if e is not None]  # none where the model's sizes are unknown
    if ests:
        check_fits(max(ests, key=lambda e: e.peak_bytes), req, lm.dtype_name, force)
        expect_seconds(progress, sum(e.seconds for e in ests))
    recompute = any(e.recompute for e in ests)  # they share one graph
    batch = min((e.batch for e in ests if e.batch), default=None)
    if progress:
        progress(0.0, "Forward pass" if ests else "Forward pass (no estimate for this model)")
    warm_up(lm, ids)  # once per loaded model
    forward_s = plain_forward(lm, ids[: position + 1])[1] if measure_forward else None
    graph, graph_s = timed_graph(lm, ids, position, recompute)
    probs = graph.probs
    top = probs.topk(min(req.top_k, probs.numel()))
    if needs_target and target_id is None:
        target_id = int(top.indices[0])
    if needs_foil and foil_id is None:
        foil_id = next(int(i) for i in probs.topk(2).indices if int(i) != target_id)
    if needs_foil and foil_id == target_id:
        raise JScopeError("The foil is the same token as the target; choose a different foil.")
    return Prepared(ids, tokens, special, roles, position, target_id if needs_target else None,
                    foil_id if needs_foil else None, probs, top,
                    graph_s if forward_s is None else forward_s, graph, graph_s, recompute, batch)


def timed_graph(lm: LoadedModel, ids: list[int], position: int,
                recompute: bool = False) -> tuple[Graph, float]:
    """:func:`~..compute.forward.build_graph` and its seconds, timed on its own (the device
    synchronised before and after)."""
    sync(lm)
    t0 = time.perf_counter()
    graph = build_graph(lm, ids, position, recompute)
    sync(lm)
    return graph, time.perf_counter() - t0


def prediction_for(lm: LoadedModel, graph: Graph, prep: Prepared, scope: Scope) -> Prediction:
    """The explained prediction as ``scope`` sees it (target/foil only where it needs them)."""
    return Prediction(graph.h.detach(), output_matrix(lm), graph.logits, graph.probs,
                      prep.target_id if scope.needs_target else None,
                      prep.foil_id if scope.needs_foil else None)


def scope_call(lm: LoadedModel, graph: Graph, prep: Prepared, scope: Scope,
               req: AttributionRequest, cancel: CancelCheck | None = None,
               progress=None) -> ScopeCall:
    """What ``scope.compute`` gets for the prepared request on ``graph``."""
    return ScopeCall(lm, graph, prediction_for(lm, graph, prep, scope), req, cancel, progress)


def build_result(lm: LoadedModel, prep: Prepared, graph: Graph, scope_name: str,
                 out: ScopeOutput, scope_s: float) -> AttributionResult:
    """The result contract for ``out`` (scores of the fed tokens) of scope ``scope_name``;
    ``scope_s`` seconds are recorded as the scope's time."""
    scope = get_scope(scope_name)
    tok = lm.tokenizer
    target_id = prep.target_id if scope.needs_target else None
    foil_id = prep.foil_id if scope.needs_foil else None
    scores = [float(v) for v in out.scores.tolist()] + [None] * (len(prep.ids) - prep.position - 1)
    p = prep.probs.cpu().double()
    fisher = out.fisher
    return AttributionResult(
        model=lm.info.to_dict(),
        device=str(lm.device),
        dtype=lm.dtype_name,
        token_ids=prep.ids,
        tokens=prep.tokens,
        position=prep.position,
        scope=scope_name,
        target_id=target_id,
        target=_text(tok, target_id),
        foil_id=foil_id,
        foil=_text(tok, foil_id),
        scores=scores,
        topk=[TopToken(int(i), _text(tok, int(i)), float(v))
              for v, i in zip(prep.top.values, prep.top.indices)],
        timing=Timing(forward_s=prep.forward_s, scope_s=scope_s,
                      backward_passes=out.backward_passes),
        fisher=FisherInfo(fisher.method, fisher.rank, fisher.probes, finite_or_none(
            fisher.rel_error_estimate), _intervals(fisher, len(prep.ids))) if fisher else None,
        special=prep.special,
        roles=prep.roles,
        entropy=float(-(p * p.clamp_min(1e-300).log()).sum()),
        beta=float(graph.h.detach().float().norm()),
    )


def guarded(scope: Scope, fn: Callable[[], T]) -> T:
    """``fn()``; for a plugin scope any error but ours becomes one sentence naming the plugin
    (built-in scopes are trusted and run bare)."""
    if scope.plugin is None:
        return fn()
    try:
        return fn()
    except (JScopeError, Cancelled):
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            raise
        raise JScopeError(f"The {scope.label} Scope (plugin {scope.plugin}) failed: "
                          f"{type(exc).__name__}: {str(exc)[:200]}.") from exc


def run_scope(scope: Scope, call: ScopeCall, n_fed: int) -> ScopeOutput:
    """``scope.compute(call)``, checked: a plugin's error or malformed output becomes one
    sentence naming the plugin; built-in scopes are trusted."""
    out = guarded(scope, lambda: scope.compute(call))
    if scope.plugin is None:
        return out
    shape = tuple(getattr(getattr(out, "scores", None), "shape", ()))
    if shape != (n_fed,):
        raise JScopeError(f"The {scope.label} Scope (plugin {scope.plugin}) gave scores of shape "
                          f"{shape}; it must give one per fed token, ({n_fed},).")
    if not bool(torch.isfinite(out.scores).all()):
        raise JScopeError(f"The {scope.label} Scope (plugin {scope.plugin}) gave NaN or infinite "
                          "scores.")
    return out


def _intervals(fisher, n_ids: int) -> list | None:
    """Fisher fast's rank intervals as the contract writes them: ``[lowest, highest]`` rank per
    fed token (1 = the highest score), None after the explained position; None when the
    estimate has none (exact, lowrank, fewer than two probes)."""
    iv = getattr(fisher, "rank_intervals", None)
    if iv is None:
        return None
    rows: list = [[int(a), int(b)] for a, b in iv.tolist()]
    return rows + [None] * (n_ids - len(rows))


def _text(tok, token_id: int | None) -> str | None:
    return None if token_id is None else token_texts(tok, [token_id])[0]


def _check_position(position: int | None, n: int) -> int:
    if position is None:
        return n - 1
    if not -n <= position < n:
        raise JScopeError(f"Position {position} is out of range; the prompt has {n} tokens (0–{n - 1}).")
    return position % n


def _token_id(tok, text: str | None, token_id: int | None, what: str, vocab: int) -> int | None:
    if token_id is not None:
        if not 0 <= token_id < vocab:
            raise JScopeError(f"The {what} id {token_id} is outside the vocabulary (0–{vocab - 1}).")
        return int(token_id)
    if text is None:
        return None
    return single_token_id(tok, text, what)
