"""What a run will cost before it starts: peak memory and wall time of an
:class:`~.request.AttributionRequest`, from the model's shape, the prompt's length, the scope and
its settings, the dtype and the device; and the one check that refuses a run that cannot fit.

Memory is counted, not measured: the forward graph keeps, per token and decoder layer, the
inputs of both norms and the attention's q, k, v and output (``6 d``, or less with grouped
keys), and the gated MLP's three ``f``-wide tensors (weights are frozen, so no linear layer keeps
its input); a batch of ``B`` directions adds, for the layer being differentiated, ``B·T·(3 f + 6 d)``.
Time is counted in multiply-adds (:func:`work`) divided by a throughput, plus a fixed time per
pass (:func:`passes`: a pass streams all the weights through the cores however short the
prompt, ~0.1 s for the embedded model on a laptop CPU), both measured on this machine: the
model's warm-up times a short and a longer forward and backward pass, the first batched plan
times a batch of directions against a single backward pass, and every finished run adds its
own measurement (kept per model, device and dtype in the user cache, see :mod:`.calibration`).
Torch-free: the app and the command line import it before torch loads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..compute.batching import VJP_MAX_BATCH, vjp_batch_cap
from ..errors import JScopeError
from ..model.shape import ModelShape
from ..results.request import AttributionRequest
from ..scopes.base import CostContext, CostPlan

BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
BACKWARD_PER_FORWARD = 1.6  # one input-gradient pass (frozen weights) against one forward, measured
DEFAULT_THROUGHPUT = 2e10  # multiply-add units per second before anything was measured (a laptop)
# tokenizing, the top-k and the result: a run's seconds beyond its passes (measured: 4–10 ms on
# the embedded model at 11–121 tokens, once the cache is written off the run's path)
RUN_OVERHEAD_S = 0.01
# one direction of a batched backward pass against a backward pass of its own, until this
# machine measured it (0.55–0.76 on the embedded model, 2 cores)
DIRECTION_COST = 0.65
PROCESS_OVERHEAD = 1.06  # allocator slack over the counted tensors (measured, embedded model)
# a plain graph whose backward batches must shrink below this many directions to fit is
# recomputed instead when that allows larger ones (32 ms a direction at 8 rows, 22 at 128)
GOOD_BATCH = 8


# What the CLI, the app and batch say, once, about a model whose cost cannot be estimated.
NO_ESTIMATE = ("No cost estimate for this model: its config does not give its sizes "
               "(hidden_size, num_hidden_layers, vocab_size), so runs go ahead without one.")


def plan(shape: ModelShape, n_tokens: int, req: AttributionRequest) -> CostPlan:
    """The work of ``req`` on a prompt of ``n_tokens`` fed tokens, as its scope declares it
    (:class:`~..scopes.base.CostPlan`); an unknown scope is one sentence."""
    from ..scopes import get_scope

    cap = min(vjp_batch_cap(n_tokens, shape.d_model), VJP_MAX_BATCH)
    ctx = CostContext(shape.d_model, shape.vocab, n_tokens, cap)
    return get_scope(req.scope).plan(ctx, req)


def forward_work(shape: ModelShape, n_tokens: int) -> float:
    """Multiply-adds of one forward pass over ``n_tokens``: the layers' weights times each
    token, and causal attention (``T²/2`` score and value products per head dimension)."""
    T = n_tokens
    return 2.0 * shape.layer_params * T + 2.0 * shape.n_layers * shape.n_heads * shape.head_dim * T * T


def backward_passes(p: CostPlan, batch: int | None = None) -> int:
    """Batched backward passes of a plan (Fisher fast: its two sequential batches at least),
    with batches capped at ``batch``."""
    size = max(1, min(p.batch, batch) if batch else p.batch)
    passes = -(-p.directions // size)
    return max(passes, 2) if p.jvps else passes


def can_recompute(p: CostPlan) -> bool:
    """Whether recomputation applies: the one forward graph that every backward pass of a
    ``graph`` or ``batched`` plan reuses (Integrated builds a graph per batch of steps)."""
    return p.kind in ("graph", "batched")


def work(shape: ModelShape, n_tokens: int, req: AttributionRequest,
         recompute: bool = False, batch: int | None = None,
         direction_cost: float = DIRECTION_COST) -> float:
    """The multiply-add units a whole run of ``req`` does (the graph's forward, the run's only
    one, the backward passes and the Fisher matrix's own algebra); ``recompute`` adds one
    forward per backward pass (each pass recomputes the layers' insides; batches capped at
    ``batch``). A direction of a batched plan costs ``direction_cost`` of a backward pass."""
    p = plan(shape, n_tokens, req)
    F = forward_work(shape, n_tokens)
    per_direction = direction_cost if p.kind == "batched" else 1.0
    total = F + p.directions * per_direction * BACKWARD_PER_FORWARD * F + p.jvps * F
    if recompute and can_recompute(p):
        total += backward_passes(p, batch) * F
    if p.kind == "integrated":
        total += p.steps * F
    return total + p.extra_work


def passes(shape: ModelShape, n_tokens: int, req: AttributionRequest,
           recompute: bool = False, batch: int | None = None) -> int:
    """Passes through the whole model a run makes, each of which costs a fixed time on top of
    its work: the graph's forward, each batched backward pass, each JVP's forward, each
    recomputed forward, and Integrated's forward and backward per batch of steps."""
    p = plan(shape, n_tokens, req)
    if p.kind == "integrated":
        return 2 * -(-max(1, p.steps) // max(1, p.batch))
    backward = backward_passes(p, batch)
    return 1 + backward + p.jvps + (backward if recompute and can_recompute(p) else 0)


def peak_bytes_of_run(shape: ModelShape, n_tokens: int, req: AttributionRequest,
                      dtype: str = "float32", recompute: bool = False,
                      batch: int | None = None) -> int:
    """Bytes a run adds to the process at its peak (above the loaded model): the kept graph,
    the largest backward batch's temporaries and the Fisher matrix's algebra. With
    ``recompute`` the graph keeps each layer's input only, plus one layer's inside while a
    backward pass recomputes it; ``batch`` caps the directions of one backward pass."""
    b = BYTES.get(dtype, 4)
    T, L, d, f = n_tokens, shape.n_layers, shape.d_model, shape.ffn
    kv = 2 * min(d, shape.n_heads * shape.head_dim)  # sdpa repeats grouped keys to every head
    per_token_layer = 2 * d * 4 / b + 2 * d + kv + 3 * f  # norms keep float32 inputs
    layer = T * per_token_layer * b + (2 * shape.n_heads * T * T * b if shape.eager_attention else 0)
    p = plan(shape, n_tokens, req)
    graph = L * T * d * b + layer if recompute and can_recompute(p) else L * layer
    # the backward of one layer's attention holds (H, T, T)-sized float32 buffers and the causal
    # mask: measured on the embedded model (head width 64) at 2,048–6,000 tokens (0.2, 0.8, 1.7 GB
    # beyond the graph); scaled by head width, which matched a head width of 32 (the tests)
    attention_backward = (shape.n_heads * shape.head_dim / 64 + 3) * T * T * 4
    B = p.batch if batch is None or p.kind != "batched" else max(1, min(batch, p.batch))
    transient = B * T * (3 * f + 6 * d) * b + T * d * 4 * 2  # + the (B,T,d) result rows
    if p.kind == "integrated":  # a batch of scaled inputs keeps its own graph
        graph = graph * p.batch
    return int(PROCESS_OVERHEAD * (graph + transient + attention_backward + p.extra_bytes))


@dataclass
class Estimate:
    """A run's predicted cost and whether it fits.

    peak_bytes: the process's predicted peak resident memory (CPU) or allocated memory (GPU).
    seconds: predicted wall time of the run (the forward pass and the scope). available_bytes:
    what the process may reach (memory it holds plus what the system can still give, capped by
    a memory limit). fits: ``peak_bytes <= available_bytes``. recompute: the run keeps only
    each layer's input and recomputes the rest in every backward pass (chosen when the plain
    graph would not fit and this does).
    """

    peak_bytes: int
    seconds: float
    available_bytes: int
    fits: bool
    n_tokens: int = 0
    limited: bool = False  # available_bytes is a user's memory limit
    recompute: bool = False
    dtype: str = "float32"  # the dtype it assumed (``--dtype auto`` resolved)
    batch: int | None = None  # the most directions of one backward pass that fit (None: any)
    fewer: str | None = None  # what to ask for less of when it does not fit (the scope's words)

    def to_dict(self) -> dict:
        """The estimate contract: ``{"peak_bytes", "seconds", "available_bytes", "fits"}``."""
        return {"peak_bytes": int(self.peak_bytes), "seconds": float(self.seconds),
                "available_bytes": int(self.available_bytes), "fits": bool(self.fits)}

    def text(self) -> str:
        """E.g. ``"≈ 12 s · 3.4 GB"`` (beside Run, in the terminal; ``, recomputing layers``
        when the run recomputes to fit)."""
        text = f"≈ {format_seconds(self.seconds)} · {format_size(self.peak_bytes)}"
        return text + (", recomputing layers" if self.recompute else "")


def estimate_run(shape: ModelShape, n_tokens: int, req: AttributionRequest, *, dtype: str,
                 base_bytes: int, available_bytes: int, throughput: float | None = None,
                 kind_throughput: dict[str, float] | None = None,
                 limit_bytes: int | None = None, recompute: bool | None = None,
                 pass_seconds: float = 0.0, direction_cost: float = DIRECTION_COST) -> Estimate:
    """The estimate of ``req`` on a prompt of ``n_tokens`` fed tokens.

    Args:
        base_bytes: what the process holds before the run (the loaded model included).
        available_bytes: what the process may reach (its own memory plus the free memory).
        throughput: measured multiply-add units per second of one graph and backward pass
            (None: a laptop's guess); ``kind_throughput`` per plan kind, where a caller trusts
            one (the engine does not: a batch of directions is cheaper per direction on short
            prompts and dearer on long ones, so one measured at one length misleads at another,
            while the graph's throughput kept Fisher fast within 1.5× from 32 to 1,024 tokens).
        limit_bytes: a user's cap on the process's memory (``--memory-limit``).
        pass_seconds: the fixed seconds of one pass (:func:`passes`), measured with the
            throughput (0 before anything was measured: the default throughput counts it).
        direction_cost: a batched direction's cost against a backward pass of its own.
        recompute: None chooses it when the plain graph would not fit (then the estimate,
            and a refusal, give the least the run can need); True or False decides.

    A batched plan whose backward batch would not fit gets the largest batch that does
    (``Estimate.batch``); recomputation is chosen when the plain graph fits only with batches
    under ``GOOD_BATCH`` and recomputing allows larger ones, or when it does not fit at all.
    """
    p = plan(shape, n_tokens, req)
    rate = (kind_throughput or {}).get(p.kind) or throughput or DEFAULT_THROUGHPUT
    limited = limit_bytes is not None and limit_bytes < available_bytes
    available = int(limit_bytes if limited else available_bytes)

    def of(recomputed: bool, batch: int | None = None) -> Estimate:
        seconds = (work(shape, n_tokens, req, recomputed, batch, direction_cost) / rate
                   + passes(shape, n_tokens, req, recomputed, batch) * pass_seconds + RUN_OVERHEAD_S)
        peak = int(base_bytes + peak_bytes_of_run(shape, n_tokens, req, dtype, recomputed, batch))
        return Estimate(peak, seconds, available, peak <= available, n_tokens, limited,
                        recomputed, dtype, batch, p.fewer)

    def smaller_batches(est: Estimate) -> Estimate:
        # the largest batch of directions that fits, when the plan's does not (then the
        # engine caps its batches at it); batches of one when none does
        if est.fits or p.kind != "batched" or p.batch <= 1:
            return est
        lo, hi = 1, p.batch - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if of(est.recompute, mid).fits else (lo, mid - 1)
        return of(est.recompute, lo)

    plain = smaller_batches(of(bool(recompute) and can_recompute(p)))
    if recompute is not None or not can_recompute(p) or (
            plain.fits and (plain.batch is None or plain.batch >= min(GOOD_BATCH, p.batch))):
        return plain
    # the plain graph fits only with small batches (each direction then costs more than the
    # one forward per pass that recomputation adds), or not at all: recompute where it fits
    # with larger batches, or is the least a run can need
    again = smaller_batches(of(True))
    if not plain.fits or (again.fits and (again.batch or p.batch) > (plain.batch or p.batch)):
        return again
    return plain


class DoesNotFit(JScopeError):
    """A run predicted over the available memory or the memory limit (refused before it starts)."""

    def __init__(self, sentence: str, estimate: Estimate):
        super().__init__(sentence)
        self.estimate = estimate


def refusal(est: Estimate, req: AttributionRequest, dtype: str,
            force: str = "--force to run anyway") -> str:
    """The one sentence that says a run will not fit and what to change (``force``: how this
    front end runs it anyway)."""
    where = "the memory limit of" if est.limited else "the available"
    changes = ["a shorter prompt"]
    if dtype == "float32":
        changes.append("bfloat16")
    if est.fewer:
        changes.append(est.fewer)
    return (f"This run needs about {format_size(est.peak_bytes)} at its peak ({est.n_tokens:,} "
            f"tokens), more than {where} {format_size(est.available_bytes)}; try "
            f"{', '.join(changes[:-1])} or {changes[-1]}, or {force}.")


def check_fits(est: Estimate, req: AttributionRequest, dtype: str, force: bool = False) -> None:
    """Raise :class:`DoesNotFit` (one sentence) for a run that will not fit, unless ``force``."""
    if not est.fits and not force:
        raise DoesNotFit(refusal(est, req, dtype), est)


_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """Bytes of a size such as ``8GB``, ``512MB``, ``1.5g`` or ``4096`` (bytes); units are
    binary (1 GB = 2³⁰ bytes), as the memory figures shown. A size that is not one is a
    one-sentence error."""
    m = _SIZE.match(str(text))
    value = float(m.group(1)) * _UNITS[m.group(2).lower()] if m else math.nan
    if not m or not math.isfinite(value) or value < 2**20:
        raise JScopeError(f"The memory limit '{str(text)[:40]}' is not a size of at least 1 MB; "
                          "write it like 8GB or 512MB.")
    return int(value)


def format_size(n: float) -> str:
    """``3.4 GB``, ``512 MB`` (binary units)."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{max(n, 0) / 2**20:.0f} MB"


def format_seconds(s: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min``, ``1.5 h``."""
    if s < 10:
        return f"{s:.1f} s"
    if s < 100:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
