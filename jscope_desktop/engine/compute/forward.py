"""One differentiable forward pass and batched input vector-Jacobian products on top of it.

Everything the scopes need comes from here: the input embeddings ``x`` (what the decoder
receives, scaling included), the final post-norm hidden state ``h`` at the explained position,
the output matrix ``W`` and ``p = softmax(logits)``, and ``Jᵀv`` for many directions ``v`` at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass

import torch

from ..model.load import LoadedModel
from ..progress import CancelCheck, ProgressFn, check_cancel
from .batching import VJP_MAX_BATCH, vjp_batch_cap
from .head import logits_from_hidden

__all__ = ["CancelCheck", "Graph", "ProgressFn", "build_graph", "embed", "hidden_states",
           "plain_forward", "row_norms", "sync", "vjp", "vjp_chunks"]


def decoder_of(model: torch.nn.Module) -> torch.nn.Module:
    """The decoder stack whose ``last_hidden_state`` is the final post-norm hidden state."""
    dec = model.get_decoder() if hasattr(model, "get_decoder") else None
    return dec if dec is not None else model.base_model


@dataclass
class Graph:
    """A forward pass kept for backward passes.

    x: (T, d) input embeddings, requires grad. h: the final hidden state(s) to explain,
    connected to x: (d,) at one explained position, or (T, d) at every position for the
    generation matrix (then directions are (K, T, d)). logits/probs: (V,) at the explained
    position, float32, detached (empty for the matrix).
    """

    x: torch.Tensor
    h: torch.Tensor
    logits: torch.Tensor
    probs: torch.Tensor
    # hidden states between decoder layers: a backward pass checks for a cancel at each of them
    layers: tuple[torch.Tensor, ...] = ()


def embed(lm: LoadedModel, token_ids: list[int]) -> torch.Tensor:
    """Input embeddings (T, d) of ``token_ids`` exactly as the decoder receives them."""
    ids = torch.tensor([token_ids], device=lm.device)
    return lm.model.get_input_embeddings()(ids)[0]


def hidden_states(lm: LoadedModel, x: torch.Tensor, layers: bool = False):
    """Final post-norm hidden states (B, T, d) for input embeddings (B, T, d).

    With ``layers``, returns ``(final, between)`` where ``between`` holds the hidden states
    after each decoder layer but the last (each (B, T, d)).
    """
    out = decoder_of(lm.model)(inputs_embeds=x, use_cache=False, output_hidden_states=layers)
    return (out.last_hidden_state, tuple(out.hidden_states[1:-1])) if layers else out.last_hidden_state


def can_recompute(lm: LoadedModel) -> bool:
    """Whether :func:`recomputed_layers` can wrap this model's layers."""
    return decoder_layers(lm.model) is not None


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList | None:
    """The decoder's stack of layers (``.layers`` of Llama, Gemma, Qwen, Mistral, …, ``.h`` of
    GPT-2-like models), or None when the model keeps them elsewhere."""
    dec = decoder_of(model)
    for name in ("layers", "h", "blocks"):
        stack = getattr(dec, name, None)
        if isinstance(stack, torch.nn.ModuleList) and len(stack):
            return stack
    return None


@contextmanager
def recomputed_layers(lm: LoadedModel):
    """Within the block, each decoder layer run with grad keeps only its inputs in the graph
    and recomputes its inside during every backward pass that reaches it (non-reentrant
    ``torch.utils.checkpoint``: it supports many backward passes on one graph and batched
    gradients). One layer at a time is the least memory; larger chunks would only keep fewer
    inputs (``T·d`` each) at the same recomputation cost. A model without a known layer stack
    runs as it is (and is never estimated as recomputed: :func:`can_recompute`). The patch is
    on the shared model while the graph is built; the app runs one job at a time."""
    from torch.utils.checkpoint import checkpoint

    stack = decoder_layers(lm.model)
    patched: dict[int, tuple[torch.nn.Module, object]] = {}  # id -> (layer, its own forward)
    for layer in stack if stack is not None else ():
        if id(layer) in patched:  # the same layer twice in the stack: wrapped once
            continue
        # an instance may carry a forward of its own (accelerate's offload hooks): kept
        patched[id(layer)] = (layer, vars(layer).get("forward"))
        inner = layer.forward

        def forward(*args, _inner=inner, **kwargs):
            return checkpoint(_inner, *args, use_reentrant=False, **kwargs)

        layer.forward = forward
    try:
        yield
    finally:
        for layer, own in patched.values():
            if own is None:
                del layer.forward  # the class's own forward again
            else:
                layer.forward = own


def build_graph(lm: LoadedModel, token_ids: list[int], position: int,
                recompute: bool = False) -> Graph:
    """Forward ``token_ids[:position + 1]`` with a graph from the embeddings to ``h``.

    Later tokens cannot influence the prediction at ``position`` in a causal model, so they are
    not fed at all. With ``recompute`` the graph keeps only each layer's input
    (:func:`recomputed_layers`; the cost model chooses it when the plain graph would not fit):
    the same gradients, one more forward per backward pass.
    """
    x = embed(lm, token_ids[: position + 1]).detach().requires_grad_(True)
    with torch.enable_grad(), recomputed_layers(lm) if recompute else nullcontext():
        final, between = hidden_states(lm, x[None], layers=True)
        h = final[0, position]
    with torch.no_grad():
        logits = logits_from_hidden(lm, h.detach()).float()
    return Graph(x, h, logits, torch.softmax(logits, -1), between)


def plain_forward(lm: LoadedModel, token_ids: list[int]) -> tuple[torch.Tensor, float]:
    """No-grad forward of ``token_ids``; returns (last-position logits (V,), seconds taken)."""
    t0 = time.perf_counter()
    with torch.inference_mode():
        x = embed(lm, token_ids)
        h = hidden_states(lm, x[None])[0, -1]
        logits = logits_from_hidden(lm, h).float()
    sync(lm)
    return logits, time.perf_counter() - t0


def sync(lm: LoadedModel) -> None:
    """Wait for the device to finish queued work (so a timing covers it)."""
    if lm.device.type == "cuda":
        torch.cuda.synchronize(lm.device)


_BATCH_LIMIT: ContextVar[int | None] = ContextVar("jscope_vjp_batch_limit", default=None)


@contextmanager
def batch_limit(n: int | None):
    """Within the block no backward pass takes more than ``n`` directions (the cost model's
    largest batch that fits in memory, ``Estimate.batch``; None: no limit beyond the usual)."""
    token = _BATCH_LIMIT.set(n)
    try:
        yield
    finally:
        _BATCH_LIMIT.reset(token)


def vjp_chunks(
    graph: Graph,
    directions: torch.Tensor,
    cancel: CancelCheck | None = None,
    target_seconds: float = 2.0,
    max_batch: int = VJP_MAX_BATCH,
    first_batch: int | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(start, Jᵀv)`` for the rows ``v`` of ``directions`` (K, …), a batch at a time.

    Each item is (start row, gradients (B, T, d) w.r.t. the input embeddings). After the first
    batch (``first_batch`` rows, default a guess from the prompt length), batches are sized so
    one takes about ``target_seconds`` (large batches run nearer the matmul peak: 22 ms per
    direction at 128 rows against 34 ms at 8, 20 tokens on the embedded model) and a (B, T, d)
    tensor stays under 128 MB and within :func:`batch_limit`; ``cancel`` is checked before
    every batch and inside each, at every decoder layer, so a cancel is noticed within a
    fraction of a second.
    """
    K = directions.shape[0]
    T, d = graph.x.shape
    memory_cap = min(vjp_batch_cap(T, d), _BATCH_LIMIT.get() or VJP_MAX_BATCH)
    guess = int(target_seconds / (T * 2e-3))  # ~2 ms per token and direction on a laptop CPU
    batch = max(1, min(first_batch or guess, K, memory_cap, max(max_batch, first_batch or 0)))
    start = 0
    while start < K:
        check_cancel(cancel)
        v = directions[start : start + batch].to(graph.h.device, graph.h.dtype)
        t0 = time.perf_counter()
        grads = _batched_vjp(graph, v, cancel)
        elapsed = max(time.perf_counter() - t0, 1e-4)
        yield start, grads
        start += v.shape[0]
        per_row = elapsed / v.shape[0]
        batch = int(min(max_batch, memory_cap, K - start, max(1, target_seconds / per_row)))


def _batched_vjp(graph: Graph, v: torch.Tensor, cancel: CancelCheck | None = None) -> torch.Tensor:
    """Jᵀv for the rows of v (B, d): gradients (B, T, d), one vmapped backward pass.

    ``cancel`` is also checked as the pass reaches each decoder layer, so a large batch stops
    within one layer's share of it (raises :class:`Cancelled`).
    """
    if cancel is None or not graph.layers:
        return _plain_batched_vjp(graph, v)

    def check(_grad):
        check_cancel(cancel)

    handles = [t.register_hook(check) for t in graph.layers if t.requires_grad]
    try:
        return _plain_batched_vjp(graph, v)
    finally:
        for handle in handles:
            handle.remove()


def _plain_batched_vjp(graph: Graph, v: torch.Tensor) -> torch.Tensor:
    if v.shape[0] == 1:
        (g,) = torch.autograd.grad(graph.h, graph.x, v[0], retain_graph=True)
        return g[None]
    try:
        (g,) = torch.autograd.grad(
            graph.h, graph.x, v, retain_graph=True, is_grads_batched=True
        )
        return g
    except RuntimeError:  # an op without a batching rule: fall back to one pass per direction
        rows = [torch.autograd.grad(graph.h, graph.x, r, retain_graph=True)[0] for r in v]
        return torch.stack(rows)


def row_norms(g: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """L2 norm (or its square) over the last axis, on the CPU in float64: (…,) .

    Half-precision gradients are widened to float32 on their device first (MPS has no float64,
    so widening to float64 happens only after the move to the CPU).
    """
    if g.dtype in (torch.float16, torch.bfloat16):
        g = g.float()
    out = g.pow(2).sum(-1) if squared else g.norm(dim=-1)
    return out.cpu().double()


def vjp(graph: Graph, direction: torch.Tensor) -> torch.Tensor:
    """Jᵀu for one direction u (d,): gradients (T, d) w.r.t. the input embeddings."""
    (g,) = torch.autograd.grad(
        graph.h, graph.x, direction.to(graph.h.device, graph.h.dtype), retain_graph=True
    )
    return g
