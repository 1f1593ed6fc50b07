"""Attribution matrix: generate N tokens, then explain every generated token by all before it.

One forward pass over prompt + generation keeps the graph; each generated token is one direction
on its own row of the hidden states, and all rows go through batched backward passes (not N
separate runs). Row n of the matrix explains the prediction made at ``positions[n]``, i.e. the
token at ``positions[n] + 1``.
"""

from __future__ import annotations

import time

import torch

from ..compute.forward import Graph, embed, hidden_states, plain_forward, row_norms, sync, vjp_chunks
from ..compute.head import logits_from_hidden, output_matrix
from ..errors import Cancelled, JScopeError
from ..model.load import LoadedModel
from ..model.tokens import encode_prompt, special_ids, token_texts
from ..planning.calibration import warm_up
from ..progress import CancelCheck, ProgressFn
from ..results.result import MatrixResult, Timing, TopToken
from ..scopes import DirectionScope, Prediction, get_scope, scope_names

MAX_NEW_TOKENS = 512  # one matrix row per token; beyond this the picture is unreadable anyway


def matrix_scopes() -> list[str]:
    """Names of the scopes the generation matrix supports (every direction scope)."""
    return scope_names("matrix")


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
    progress: ProgressFn | None = None,
    cancel: CancelCheck | None = None,
    generated: list[int] | None = None,
    measure_forward: bool = False,
) -> MatrixResult:
    """Generate ``n_tokens`` greedily (or take ``generated``) and attribute each to its past.

    Every direction scope works here: row n uses the scope's direction for the prediction at
    ``positions[n]``, whose target is the generated token (Contrast: against the runner-up).

    Returns:
        A :class:`MatrixResult`: ``positions`` (N,) are the explained positions, ``scores`` is
        an (N, T) list of rows (None after each row's position), ``targets`` (N,) the explained
        token ids and ``prompt_tokens`` the prompt's length in tokens. ``timing.forward_s`` is
        the graph's forward (one pass over prompt and generation), timed on its own, or with
        ``measure_forward`` a separate no-grad forward's; ``scope_s`` includes the graph's.
    """
    s = get_scope(scope)
    if not s.supports("matrix") or not isinstance(s, DirectionScope):
        raise JScopeError(f"The attribution matrix supports {', '.join(matrix_scopes())}, "
                          f"not '{scope}'.")
    if not generated and not 1 <= n_tokens <= MAX_NEW_TOKENS:
        raise JScopeError(f"Generate from 1 to {MAX_NEW_TOKENS} tokens, not {n_tokens}."
                          if n_tokens >= 1 else "Generate at least one token.")
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
    if not new:
        raise JScopeError("The model ended the text at once; there is nothing to attribute.")
    ids = enc.token_ids + new
    P, T = len(enc.token_ids), len(ids)
    positions = list(range(P - 1, T - 1))
    warm_up(lm, ids)  # once per loaded model
    measured = plain_forward(lm, ids[:-1])[1] if measure_forward else None
    sync(lm)
    t0 = time.perf_counter()
    x = embed(lm, ids[:-1]).detach().requires_grad_(True)  # (T-1, d): the last id is never input
    with torch.enable_grad():
        final, between = hidden_states(lm, x[None], layers=True)
    H = final[0]  # (T-1, d): every position's hidden state, one graph for all rows
    sync(lm)
    forward_s = time.perf_counter() - t0 if measured is None else measured  # the graph's own
    directions = _row_directions(lm, s, H.detach(), positions, ids)  # (N, T-1, d)
    graph = Graph(x, H, torch.empty(0), torch.empty(0), between)  # cancel checked inside passes
    rows = torch.zeros(len(positions), T - 1, dtype=torch.float64)
    passes = 0
    for start, g in vjp_chunks(graph, directions, cancel):
        if s.times_input:
            g = g * x.detach()
        rows[start : start + g.shape[0]] = row_norms(g)
        passes += 1
        if progress:
            progress((start + g.shape[0]) / len(positions), "Attributing the generation")
    sync(lm)
    scope_s = time.perf_counter() - t0
    return _matrix_result(lm, ids, positions, rows, scope, forward_s, scope_s, passes, enc, H)


def _row_directions(lm, scope: DirectionScope, H, positions, ids) -> torch.Tensor:
    """(N, T-1, d) directions: row n is zero except at positions[n], where it is the scope's
    direction for the prediction made there (target: the token generated next)."""
    N, (Tm1, d) = len(positions), H.shape
    dirs = torch.zeros(N, Tm1, d, dtype=H.dtype, device=H.device)
    W = output_matrix(lm)
    with torch.no_grad():
        logits = logits_from_hidden(lm, H[positions]).float()  # (N, V)
    for n, p in enumerate(positions):
        probs = torch.softmax(logits[n], -1)
        target = ids[p + 1]
        foil = None
        if scope.needs_foil:
            foil = next(int(i) for i in probs.topk(2).indices if int(i) != target)
        pred = Prediction(H[p], W, logits[n], probs, target if scope.needs_target else None, foil)
        dirs[n, p] = scope.direction_for(pred).to(H.device, H.dtype)
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
    specials = special_ids(lm.tokenizer)
    texts = token_texts(lm.tokenizer, ids)
    return MatrixResult(
        model=lm.info.to_dict(), device=str(lm.device), dtype=lm.dtype_name,
        token_ids=ids, tokens=texts, position=positions[-1], scope=scope,
        target_id=None, target=None, foil_id=None, foil=None, scores=scores,
        topk=[TopToken(int(i), token_texts(lm.tokenizer, [int(i)])[0], float(v))
              for v, i in zip(top.values, top.indices)],
        timing=Timing(forward_s, scope_s, passes), positions=positions,
        special=[i in specials for i in ids],
        roles=(enc.roles + ["assistant"] * (T - len(enc.token_ids))) if enc.roles else None,
        targets=[ids[p + 1] for p in positions], prompt_tokens=len(enc.token_ids),
    )
