"""Attribution matrix: generate N tokens, then explain every generated token by all before it.

One forward pass over prompt + generation keeps the graph; each generated token is one direction
on its own row of the hidden states, and all rows go through batched backward passes (not N
separate runs). Row n of the matrix explains the prediction made at ``positions[n]``, i.e. the
token at ``positions[n] + 1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .attribute import AttributionRequest, check_request
from .errors import Cancelled, JScopeError
from .forward import (
    CancelCheck,
    Graph,
    _sync,
    embed,
    hidden_states,
    logits_from_hidden,
    plain_forward,
    row_norms,
    vjp_chunks,
    warm_up,
)
from .models import LoadedModel
from .result import AttributionResult, Timing, TopToken
from .scopes import SCOPES
from .tokens import encode_prompt, token_texts

MATRIX_SCOPES = ("temperature", "semantic", "grad_input")


def generate_tokens(
    lm: LoadedModel, prompt_ids: list[int], n_tokens: int, cancel: CancelCheck | None = None
) -> list[int]:
    """Greedy continuation of ``prompt_ids``: up to ``n_tokens`` new ids (stops at end-of-text)."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cancel(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            if cancel and cancel():
                raise Cancelled()
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    ids = torch.tensor([prompt_ids], device=lm.device)
    with torch.inference_mode():
        out = lm.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_tokens,
            do_sample=False, stopping_criteria=StoppingCriteriaList([_Cancel()]),
            pad_token_id=getattr(lm.tokenizer, "eos_token_id", None),
        )
    new = [int(i) for i in out[0, len(prompt_ids) :]]
    return new


def generate_attribution(
    lm: LoadedModel,
    prompt: str,
    n_tokens: int,
    scope: str = "temperature",
    chat: bool = False,
    progress: Callable[[float, str], None] | None = None,
    cancel: CancelCheck | None = None,
    generated: list[int] | None = None,
) -> AttributionResult:
    """Generate ``n_tokens`` greedily (or take ``generated``) and attribute each to its past.

    Returns:
        A multi-position :class:`AttributionResult`: ``positions`` (N,) are the explained
        positions, ``scores`` is an (N, T) list of rows (None after each row's position), and
        ``extra["targets"]`` the explained token ids. Scope is ``temperature``, ``semantic``
        (target: the generated token) or ``grad_input``.
    """
    if scope not in MATRIX_SCOPES:
        raise JScopeError(
            f"The attribution matrix supports {', '.join(MATRIX_SCOPES)}, not '{scope}'."
        )
    check_request(AttributionRequest(prompt=prompt, scope=scope))
    if n_tokens < 1 and not generated:
        raise JScopeError("Generate at least one token.")
    enc = encode_prompt(lm.tokenizer, prompt, chat)
    planned = len(enc.token_ids) + (len(generated) if generated else n_tokens)
    if planned > lm.info.context_length:  # checked before spending time on the generation
        raise JScopeError(
            f"Prompt plus generation ({planned} tokens) is longer than the model's context of "
            f"{lm.info.context_length}; generate fewer tokens."
        )
    if progress:
        progress(0.0, "Generating")
    new = list(generated) if generated else generate_tokens(lm, enc.token_ids, n_tokens, cancel)
    ids = enc.token_ids + new
    P, T = len(enc.token_ids), len(ids)
    positions = list(range(P - 1, T - 1))
    warm_up(lm, ids)
    _, forward_s = plain_forward(lm, ids[:-1])
    t0 = time.perf_counter()
    x = embed(lm, ids[:-1]).detach().requires_grad_(True)  # (T-1, d): the last id is never input
    with torch.enable_grad():
        final, between = hidden_states(lm, x[None], layers=True)
    H = final[0]  # (T-1, d)
    directions = _row_directions(lm, H.detach(), positions, ids, scope)  # (N, T-1, d)
    graph = Graph(x, H, torch.empty(0), torch.empty(0), between)  # cancel checked inside passes
    rows = torch.zeros(len(positions), T - 1, dtype=torch.float64)
    passes = 0
    for start, g in vjp_chunks(graph, directions, cancel):
        if scope == "grad_input":
            g = g * x.detach()
        rows[start : start + g.shape[0]] = row_norms(g)
        passes += 1
        if progress:
            progress((start + g.shape[0]) / len(positions), "Attributing the generation")
    _sync(lm)
    scope_s = time.perf_counter() - t0
    return _matrix_result(lm, ids, positions, rows, scope, forward_s, scope_s, passes, enc, H)


def _row_directions(lm, H, positions, ids, scope) -> torch.Tensor:
    """(N, T-1, d) directions: row n is zero except at positions[n]."""
    N, (Tm1, d) = len(positions), H.shape
    dirs = torch.zeros(N, Tm1, d, dtype=H.dtype, device=H.device)
    W = lm.model.get_output_embeddings().weight.detach()
    for n, p in enumerate(positions):
        if scope == "temperature":
            dirs[n, p] = H[p] / H[p].norm()
        else:
            dirs[n, p] = W[ids[p + 1]].to(H.device, H.dtype)
    return dirs


def _matrix_result(lm, ids, positions, rows, scope, forward_s, scope_s, passes, enc, H):
    T = len(ids)
    scores = [
        [float(v) for v in rows[n, : p + 1].tolist()] + [None] * (T - p - 1)
        for n, p in enumerate(positions)
    ]
    with torch.no_grad():
        probs = torch.softmax(logits_from_hidden(lm, H[positions[-1]].detach()).float(), -1)
    top = probs.topk(min(10, probs.numel()))
    special_ids = set(getattr(lm.tokenizer, "all_special_ids", []) or [])
    texts = token_texts(lm.tokenizer, ids)
    return AttributionResult(
        model=lm.info.to_dict(), device=str(lm.device), dtype=lm.dtype_name,
        token_ids=ids, tokens=texts, position=positions[-1], scope=scope,
        target_id=None, target=None, foil_id=None, foil=None, scores=scores,
        topk=[TopToken(int(i), texts_of(lm, int(i)), float(v)) for v, i in zip(top.values, top.indices)],
        timing=Timing(forward_s, scope_s, passes), positions=positions,
        special=[i in special_ids for i in ids],
        roles=(enc.roles + ["assistant"] * (T - len(enc.token_ids))) if enc.roles else None,
        extra={"targets": [ids[p + 1] for p in positions], "prompt_tokens": len(enc.token_ids),
               "scope_label": SCOPES[scope].label},
    )


def texts_of(lm: LoadedModel, token_id: int) -> str:
    """Display text of one token id."""
    return token_texts(lm.tokenizer, [token_id])[0]
