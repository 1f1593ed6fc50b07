"""Explain one prediction: tokenize, check the request, run a scope, time it, build the result."""

from __future__ import annotations

import time

import torch

from .calibration import estimate_loaded, record_run
from .cost_model import check_fits
from .errors import Cancelled, JScopeError, finite_or_none, is_out_of_memory
from .forward import CancelCheck, ProgressFn, build_graph, plain_forward, sync, warm_up
from .head import output_matrix
from .models import LoadedModel
from .progress import expect_seconds
from .request import AttributionRequest, check_request
from .result import AttributionResult, FisherInfo, Timing, TopToken
from .scopes import Prediction, ScopeCall, get_scope
from .tokens import encode_prompt, single_token_id, special_ids, token_texts

__all__ = ["AttributionRequest", "attribute", "check_request"]

def attribute(
    lm: LoadedModel,
    req: AttributionRequest,
    progress: ProgressFn | None = None,
    cancel: CancelCheck | None = None,
    memory_limit: int | None = None,
    force: bool = False,
) -> AttributionResult:
    """Run ``req.scope`` on ``lm`` and return the result of the contract.

    ``progress`` gets (fraction, message); ``cancel`` is polled between backward batches and a
    set flag raises :class:`~jscope_desktop.engine.errors.Cancelled`. Before any backward pass
    the run's cost is estimated (:mod:`.cost_model`): one predicted over the available memory,
    or over ``memory_limit`` bytes, raises :class:`~.cost_model.DoesNotFit` unless ``force``.
    """
    check_request(req)
    tok = lm.tokenizer
    if req.token_ids is not None:
        ids = list(req.token_ids)
        if not ids:
            raise JScopeError("The prompt is empty; type some text to explain.")
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
    scope = get_scope(req.scope)
    est = estimate_loaded(lm, req, len(ids), memory_limit)
    check_fits(est, req, lm.dtype_name, force)
    expect_seconds(progress, est.seconds)
    if progress:
        progress(0.0, "Forward pass")
    warm_up(lm, ids)
    logits, forward_s = plain_forward(lm, ids[: position + 1])
    probs = torch.softmax(logits, -1)
    top = probs.topk(min(req.top_k, probs.numel()))
    if scope.needs_target and target_id is None:
        target_id = int(top.indices[0])
    if scope.needs_foil and foil_id is None:
        foil_id = next(int(i) for i in probs.topk(2).indices if int(i) != target_id)
    if scope.needs_foil and foil_id == target_id:
        raise JScopeError("The foil is the same token as the target; choose a different foil.")
    if progress:
        progress(0.05, f"{scope.label} Scope")
    t0 = time.perf_counter()
    graph = build_graph(lm, ids, position)
    pred = Prediction(graph.h.detach(), output_matrix(lm), graph.logits, graph.probs,
                      target_id if scope.needs_target else None,
                      foil_id if scope.needs_foil else None)
    call = ScopeCall(
        lm, graph, pred, req, cancel,
        (lambda f: progress(0.05 + 0.95 * f, f"{scope.label} Scope")) if progress else None,
    )
    out = _run_scope(scope, call, position + 1)
    sync(lm)
    scope_s = time.perf_counter() - t0
    record_run(lm, req, position + 1, forward_s + scope_s)
    scores = [float(v) for v in out.scores.tolist()] + [None] * (len(ids) - position - 1)
    p = probs.cpu().double()
    fisher = out.fisher
    result = AttributionResult(
        model=lm.info.to_dict(),
        device=str(lm.device),
        dtype=lm.dtype_name,
        token_ids=ids,
        tokens=tokens,
        position=position,
        scope=req.scope,
        target_id=target_id if scope.needs_target else None,
        target=_text(tok, target_id) if scope.needs_target else None,
        foil_id=foil_id if scope.needs_foil else None,
        foil=_text(tok, foil_id) if scope.needs_foil else None,
        scores=scores,
        topk=[TopToken(int(i), _text(tok, int(i)), float(v)) for v, i in zip(top.values, top.indices)],
        timing=Timing(forward_s=forward_s, scope_s=scope_s, backward_passes=out.backward_passes),
        fisher=FisherInfo(fisher.method, fisher.rank, fisher.probes, finite_or_none(
            fisher.rel_error_estimate)) if fisher else None,
        special=special,
        roles=roles,
        entropy=float(-(p * p.clamp_min(1e-300).log()).sum()),
        beta=float(graph.h.detach().float().norm()),
    )
    if progress:
        progress(1.0, "Done")
    return result


def _run_scope(scope, call: ScopeCall, n_fed: int):
    """``scope.compute(call)``, checked: a plugin's error or malformed output becomes one
    sentence naming the plugin; built-in scopes are trusted."""
    if scope.plugin is None:
        return scope.compute(call)
    try:
        out = scope.compute(call)
    except (JScopeError, Cancelled):
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            raise
        raise JScopeError(f"The {scope.label} Scope (plugin {scope.plugin}) failed: "
                          f"{type(exc).__name__}: {str(exc)[:200]}.") from exc
    shape = tuple(getattr(getattr(out, "scores", None), "shape", ()))
    if shape != (n_fed,):
        raise JScopeError(f"The {scope.label} Scope (plugin {scope.plugin}) gave scores of shape "
                          f"{shape}; it must give one per fed token, ({n_fed},).")
    if not bool(torch.isfinite(out.scores).all()):
        raise JScopeError(f"The {scope.label} Scope (plugin {scope.plugin}) gave NaN or infinite "
                          "scores.")
    return out


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
