"""What this machine measured about a loaded model, for the cost model: the throughput of its
passes and their fixed time, a batched direction's cost against a backward pass, and the
process's resident memory once the model is warm; measured at the warm-up (before the first
estimate a person sees) and refined by every finished run (kept through :mod:`.cache`)."""

from __future__ import annotations

import math
import statistics
import time

from ..model import memory
from ..model.shape import ModelShape, UnknownShape
from ..results.request import AttributionRequest
from .cache import KEEP, RECENT, Records, device_key, keep, source_key, stored
from .cost_model import BACKWARD_PER_FORWARD, DIRECTION_COST, forward_work, passes, plan, work

CALIBRATION_UNITS = 5e10  # work of the long calibration pass: about 0.5 s on a laptop CPU
SHORT_TOKENS = 4  # the short calibration pass: nearly all of it is the fixed time of its passes
DIRECTIONS = 16  # directions of the batch that calibrates a batched direction's cost
DIRECTION_TOKENS = 64
# a run's time left for its work after the fixed time of its passes is subtracted is kept at
# least this share of the run (a fixed time measured high must not make a throughput absurd)
LEAST_WORK_SHARE = 0.25


def throughputs(records: Records) -> tuple[float | None, dict]:
    """(throughput of one graph and backward pass, {kind: throughput}) in units per second:
    total units over total seconds of the :data:`~.cache.RECENT` newest measurements of each
    plan kind (long runs weigh most; older ones, perhaps from a busier machine, not at all)."""
    rates = {k: sum(u for u, _ in rows[-RECENT:]) / sum(s for _, s in rows[-RECENT:])
             for k, rows in records.items() if rows and k not in ("pass", "direction", "baseline")}
    return rates.get("graph"), rates


def rate_at(records: Records, units: float) -> float | None:
    """The graph's throughput for a Temperature run of ``units`` (units per second): from the
    measurements nearest in size, log-linear between the two that bracket it, the nearest one's
    beyond them (the throughput falls as a prompt's activations outgrow the caches: 2×
    between 128 and 1,024 tokens on the embedded model); None before any. The newest
    ``2 × RECENT`` measurements count, a size measured twice by its newest."""
    rows = records.get("graph", [])[-2 * RECENT:]
    if not rows:
        return None
    pts = sorted({round(math.log(u), 1): (u, u / s) for u, s in rows}.values())
    if units <= pts[0][0] or len(pts) == 1:
        return pts[0][1] if units <= pts[0][0] else pts[-1][1]
    for (u0, r0), (u1, r1) in zip(pts, pts[1:]):
        if units <= u1:
            w = math.log(units / u0) / math.log(u1 / u0)
            return math.exp(math.log(r0) + w * (math.log(r1) - math.log(r0)))
    return pts[-1][1]


def pass_seconds(records: Records) -> float:
    """The fixed seconds of one pass (seconds over passes of the newest measurements), 0.0 when
    none was measured."""
    rows = records.get("pass", [])[-RECENT:]
    return sum(s for _, s in rows) / sum(n for n, _ in rows) if rows else 0.0


def direction_cost(records: Records) -> float:
    """A batched direction's cost against a backward pass of its own: the median of the newest
    measurements (:func:`calibrate_directions`, two passes timed back to back, so a busy
    machine slows both; a run's total would confound it with the load of another moment),
    :data:`~.cost_model.DIRECTION_COST` before any."""
    rows = records.get("direction", [])[-RECENT:]
    return statistics.median(r for _, r in rows) if rows else DIRECTION_COST


def baseline_bytes(records: Records) -> int | None:
    """The process's resident memory once this model was loaded and warm (the newest
    measurement), None before any."""
    rows = records.get("baseline")
    return int(rows[-1][1]) if rows else None


def lm_records(lm) -> Records:
    """The measurements of a loaded model on its device (read from the cache once, then kept
    on the model and updated by each run)."""
    recs = getattr(lm, "_cost_records", None)
    if recs is None:
        key = source_key(lm.info.source)
        recs = stored(key, device_key(str(lm.device), lm.dtype_name))
        lm._cost_records = recs
    return recs


def has_calibration(lm) -> bool:
    """True once this model has a measured throughput on its device (here or in the cache)."""
    return bool(lm_records(lm).get("graph"))


def record(lm, kind: str, units: float, seconds: float) -> None:
    """Add a measurement (``units`` of work took ``seconds``; for ``pass``, ``direction`` and
    ``baseline`` see :data:`~.cache.KINDS`) for ``lm``, kept in the cache when the model is a
    file or folder (written off the caller's path)."""
    if not (0 < units < 1e30 and 0 < seconds < 1e30):
        return
    recs = lm_records(lm)
    recs.setdefault(kind, []).append((float(units), float(seconds)))
    recs[kind] = recs[kind][-KEEP:]
    key = source_key(lm.info.source)
    if key is not None:
        keep(key, device_key(str(lm.device), lm.dtype_name), recs)


def record_run(lm, req: AttributionRequest, n_tokens: int, seconds: float,
               recompute: bool = False, batch: int | None = None) -> None:
    """Record a finished run of ``req`` (``seconds`` for the forward and the scope; the work
    counted as it ran: recomputed, batches capped at ``batch``): its throughput once the fixed
    time of its passes is taken off. A plugin scope is not recorded: its cost is its own, and
    would skew the built-in scopes'."""
    from ..scopes import get_scope

    if get_scope(req.scope).plugin is not None:
        return
    shape = shape_of(lm)
    if shape is None:  # nothing to calibrate an estimate of
        return
    recs = lm_records(lm)
    fixed = passes(shape, n_tokens, req, recompute, batch) * pass_seconds(recs)
    net = max(seconds - fixed, LEAST_WORK_SHARE * seconds)
    record(lm, plan(shape, n_tokens, req).kind,
           work(shape, n_tokens, req, recompute, batch, direction_cost(recs)), net)


def shape_of(lm) -> ModelShape | None:
    """The shape of a loaded model (its exact parameter count), or None when its config does
    not give its sizes (then nothing about it is estimated: :data:`~.cost_model.NO_ESTIMATE`)."""
    if hasattr(lm, "_cost_shape"):
        return lm._cost_shape
    try:
        shape = ModelShape.from_config(lm.model.config, lm.info.n_params)
    except UnknownShape:
        shape = None
    impl = getattr(lm.model.config, "_attn_implementation", None)
    if shape is not None and impl == "eager" and not shape.eager_attention:
        shape = ModelShape(**{**shape.__dict__, "eager_attention": True})
    lm._cost_shape = shape
    return shape


def warm_up(lm, token_ids: list[int]) -> None:
    """Run one small forward and backward once per model, so that lazy initialisation (kernel
    selection, thread pools, autograd set-up, the weights paged in) is not counted in the
    timings of the first run; measure the process's resident memory then (the baseline of
    every estimate); then :func:`calibrate` (once per model, device and dtype)."""
    import torch

    from ..compute.forward import build_graph, plain_forward

    if lm.warmed:
        return
    graph = build_graph(lm, token_ids[:2], min(1, len(token_ids) - 1))
    torch.autograd.grad(graph.h.sum(), graph.x)
    del graph
    plain_forward(lm, token_ids[:2])  # the cost panel's measured forward, when asked for
    lm.warmed = True
    memory.release_freed()
    lm._baseline_bytes = memory.resident_bytes()
    record(lm, "baseline", 1.0, lm._baseline_bytes)
    calibrate(lm, token_ids)
    memory.release_freed()  # the calibration's passes are not the run's to start from


def _timed_pass(lm, ids: list[int]) -> float:
    """Seconds of a Temperature run's passes over ``ids``: the graph's forward and one backward."""
    import torch

    from ..compute.forward import build_graph, sync

    sync(lm)
    t0 = time.perf_counter()
    graph = build_graph(lm, ids, len(ids) - 1)
    torch.autograd.grad(graph.h, graph.x, graph.h.detach() / graph.h.detach().norm())
    sync(lm)
    return time.perf_counter() - t0


def calibrate(lm, token_ids: list[int]) -> None:
    """Measure this model's throughput and the fixed time of a pass, once per model, device
    and dtype: a Temperature run's passes over :data:`SHORT_TOKENS` tokens (the best of two),
    over 16–128 tokens and over four times as many (the prompt's ids repeated), after the
    warm-up. The fixed time is where the line through the shortest and the longest meets no
    work; each longer pass, less it, is a throughput at its size (:func:`rate_at`)."""
    if has_calibration(lm) or not token_ids:
        return
    shape = shape_of(lm)
    if shape is None:  # sizes unknown: nothing to calibrate
        return
    per_token = (1 + BACKWARD_PER_FORWARD) * forward_work(shape, 1)
    limit = lm.info.context_length or 512
    n1 = int(min(128, max(16, CALIBRATION_UNITS / per_token), limit))
    sizes = sorted({SHORT_TOKENS, n1, min(4 * n1, 512, limit)})
    ids = (token_ids * (max(sizes) // len(token_ids) + 1))[:max(sizes)]
    seconds = {SHORT_TOKENS: min(_timed_pass(lm, ids[:SHORT_TOKENS]) for _ in range(2))}
    seconds.update({n: _timed_pass(lm, ids[:n]) for n in sizes[1:]})
    req = AttributionRequest(token_ids=ids, scope="temperature")
    units = {n: work(shape, n, req) for n in seconds}
    longest = max(seconds)
    rate = ((units[longest] - units[SHORT_TOKENS]) / (seconds[longest] - seconds[SHORT_TOKENS])
            if seconds[longest] > seconds[SHORT_TOKENS] else 0.0)
    fixed = (seconds[SHORT_TOKENS] - units[SHORT_TOKENS] / rate) / 2 if rate > 0 else 0.0
    fixed = min(max(fixed, 0.0), seconds[n1] / 4)  # noise: most of a longer pass is work
    if fixed > 0:
        record(lm, "pass", 2.0, 2 * fixed)
    for n in sizes[1:]:
        record(lm, "graph", units[n], seconds[n] - 2 * fixed)


def calibrate_directions(lm) -> None:
    """Measure a batched direction's cost against a backward pass of its own, once per model,
    device and dtype (before the first estimate of a batched plan on a warm model): a backward
    pass of one direction (the best of two, one before and one after) and one of
    :data:`DIRECTIONS` over :data:`DIRECTION_TOKENS` tokens of one graph (the fixed time of a
    pass is not taken off: on a short graph it is most of a single pass and its noise would be
    the ratio's)."""
    if lm_records(lm).get("direction") or shape_of(lm) is None:
        return
    ratio = _direction_ratio(lm)
    memory.release_freed()
    record(lm, "direction", 1.0, min(2.0, max(0.2, ratio)))


def _direction_ratio(lm) -> float:
    """Seconds of a batch of directions over :data:`DIRECTIONS` single backward passes."""
    import torch

    from ..compute.forward import build_graph, sync

    n = int(min(DIRECTION_TOKENS, lm.info.context_length or DIRECTION_TOKENS))
    ids = [(7 + 13 * i) % lm.info.vocab_size for i in range(n)]
    graph = build_graph(lm, ids, n - 1)
    u = graph.h.detach() / graph.h.detach().norm()
    V = torch.randn(DIRECTIONS, *u.shape, dtype=u.dtype, device=u.device)

    def timed(v, batched: bool) -> float:
        sync(lm)
        t0 = time.perf_counter()
        torch.autograd.grad(graph.h, graph.x, v, retain_graph=True, is_grads_batched=batched)
        sync(lm)
        return time.perf_counter() - t0

    timed(V[:2], True)  # a first batched pass sets up the batching rules: not counted
    one = timed(u, False)
    many = timed(V, True)
    one = min(one, timed(u, False))
    return many / (DIRECTIONS * one)
