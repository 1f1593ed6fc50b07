"""The estimate of a request on this machine: for a loaded model or for a model folder before
its weights are read, from the cost model, what was measured here (:mod:`.measure`, kept per
model, device and dtype in the user cache by :mod:`.cache`) and the memory the process holds
and may reach.

The process's resident baseline is measured, not assumed: once the model is warm (its weights
paged in) it is the resident memory then; before that, the memory held now plus the weights;
before loading, the baseline an earlier process measured for the model (else the memory held
now plus the weights: the least a first refusal, which imports no torch, can count).
"""

from __future__ import annotations

from pathlib import Path

from ..model import memory  # memory.memory_now read at call time (tests replace it there)
from ..model.shape import ModelShape, UnknownShape, config_sizes
from ..results.request import AttributionRequest
from .cache import RECENT, cache_file, default_threads, device_key, flush, source_key, stored
from .cost_model import NO_ESTIMATE, Estimate, estimate_run
from .measure import (
    baseline_bytes,
    calibrate_directions,
    direction_cost,
    has_calibration,
    lm_records,
    pass_seconds,
    rate_at,
    record_run,
    shape_of,
    throughputs,
    warm_up,
)

__all__ = ["RECENT", "cache_file", "default_threads", "device_key", "estimate_folder", "estimate_loaded",
           "estimate_note", "estimate_source", "flush", "has_calibration", "record_run",
           "shape_of", "source_key", "source_note", "stored", "throughputs", "warm_up"]


def estimate_note(lm) -> str | None:
    """The one line to show for a loaded model whose runs cannot be estimated, else None."""
    return NO_ESTIMATE if shape_of(lm) is None else None


def source_note(source) -> str | None:
    """:func:`estimate_note` before loading: for a model folder (not the embedded model or a
    ``.gguf``, whose converted configs give their sizes) whose ``config.json`` lacks them."""
    from ..model.checks import read_config

    folder = None if source is None else Path(source).expanduser()
    if folder is None or not folder.is_dir():
        return None
    config = read_config(folder)
    return NO_ESTIMATE if isinstance(config, dict) and config_sizes(config) is None else None


def fed_tokens(n_ids: int, position: int | None) -> int:
    """Tokens a run feeds: up to the explained position (later ones cannot matter)."""
    if position is None or not -n_ids <= position < n_ids:
        return max(1, n_ids)
    return position % n_ids + 1


def estimate_loaded(lm, req: AttributionRequest, n_ids: int,
                    limit_bytes: int | None = None, recompute: bool | None = None) -> Estimate | None:
    """The estimate of ``req`` on a loaded model, for a prompt of ``n_ids`` tokens
    (``recompute``: as :func:`~.cost_model.estimate_run`); None when the model's sizes are
    unknown (:func:`estimate_note`). On a warm model the first estimate of a batched plan
    measures a batched direction's cost first (:func:`~.measure.calibrate_directions`)."""
    from ..compute.forward import can_recompute

    shape = shape_of(lm)
    if shape is None:
        return None
    if lm.warmed and plan_kind(shape, req) == "batched":
        calibrate_directions(lm)
    recs = lm_records(lm)
    held, reach = memory.memory_now(str(lm.device))
    n = fed_tokens(n_ids, req.position)
    if not can_recompute(lm):  # a layer stack the engine does not know: never recomputed
        recompute = False
    return estimate_run(shape, n, req, dtype=lm.dtype_name,
                        base_bytes=loaded_base(lm, held, recs), available_bytes=reach,
                        throughput=throughput_at(recs, shape, n), limit_bytes=limit_bytes,
                        recompute=recompute,
                        pass_seconds=pass_seconds(recs), direction_cost=direction_cost(recs))


def throughput_at(recs, shape: ModelShape, n_tokens: int) -> float | None:
    """The measured throughput for passes over ``n_tokens`` (:func:`~.measure.rate_at` at a
    Temperature run's work there: how fast a pass goes depends on its length, whatever the
    scope does with it); None before anything was measured."""
    from .cost_model import work

    return rate_at(recs, work(shape, n_tokens, AttributionRequest(scope="temperature")))


def plan_kind(shape, req: AttributionRequest) -> str:
    """The kind of ``req``'s plan (a prompt's length does not change it)."""
    from .cost_model import plan

    return plan(shape, 16, req).kind


def loaded_base(lm, held: int, recs) -> int:
    """Bytes a run starts from on a loaded model: what the process holds now, and at least its
    resident memory once the model was warm (measured by this process's warm-up, else an
    earlier process's; before either, the weights may not be paged in yet and count whole)."""
    if str(lm.device) != "cpu":
        return held
    warm = getattr(lm, "_baseline_bytes", None) or baseline_bytes(recs)
    if warm is None and not lm.warmed:
        return held + weight_bytes(lm)
    return max(held, warm or 0)


def weight_bytes(lm) -> int:
    """Bytes of a loaded model's parameters."""
    from .cost_model import BYTES

    return int(lm.info.n_params * BYTES.get(lm.dtype_name, 4))


def estimate_folder(folder: Path, source: str, n_ids: int, req: AttributionRequest, device: str,
                    dtype: str, limit_bytes: int | None = None) -> Estimate:
    """The estimate before a model is loaded: its shape from ``config.json`` and the
    safetensors headers; the process's baseline as an earlier process measured it with this
    model warm, else the memory held now plus the weights."""
    from ..model.checks import read_config
    from .cost_model import BYTES

    config = read_config(folder)
    if config is None:  # too large, undecodable or nested past reason: the loader says which
        raise ValueError("no readable config.json")
    shape = ModelShape.from_config(config, memory.safetensors_parameters(folder))
    recs = stored(source_key(source), device_key(device, dtype))
    held, reach = memory.memory_now(device)
    weights = shape.n_params * BYTES.get(dtype, 4)
    warm = baseline_bytes(recs) if device == "cpu" else None
    # before any process measured it (a first refusal, which imports no torch): the least
    # the run can need, the memory held now and the weights; the engine checks again loaded
    base = max(warm, held) if warm is not None else held + weights
    n = fed_tokens(n_ids, req.position)
    return estimate_run(shape, n, req, dtype=dtype,
                        base_bytes=base, available_bytes=reach,
                        throughput=throughput_at(recs, shape, n),
                        limit_bytes=limit_bytes, pass_seconds=pass_seconds(recs),
                        direction_cost=direction_cost(recs))


def estimate_source(source, device: str, dtype: str, req: AttributionRequest,
                    limit_bytes: int | None = None) -> Estimate | None:
    """The estimate of ``req`` on the model at ``source`` (None: the embedded one) before its
    weights are loaded: the tokenizer and ``config.json`` only (a ``.gguf`` is converted into
    its cache first, as loading would). None when the folder does not say enough (then the
    loaded model is estimated instead). ``dtype`` ``auto`` is resolved as loading would."""
    from ..model.checks import check_gguf_header
    from ..model.devices import device_name
    from ..model.dtype import choose_dtype
    from ..model.gguf_cache import convert_gguf, embedded_gguf_path

    path = embedded_gguf_path() if source is None else Path(source).expanduser()
    folder = path
    if path.is_file() and path.suffix.lower() == ".gguf":
        check_gguf_header(path)
        folder = convert_gguf(path)
    if not (folder / "config.json").is_file():
        return None
    n = len(req.token_ids) if req.token_ids is not None else count_tokens(folder, req)
    if n is None:
        return None
    dev = device_name(device)
    try:
        dtype = choose_dtype(dtype, folder, dev)
        return estimate_folder(folder, str(path), n, req, dev, dtype, limit_bytes)
    except (OSError, ValueError, UnknownShape):
        return None


def count_tokens(folder: Path, req: AttributionRequest) -> int | None:
    """Tokens of the request's prompt with the folder's tokenizer: through the light
    ``tokenizers`` library from ``tokenizer.json`` when no chat template is asked for (no
    transformers import: a refusal comes in seconds), else as the engine encodes it."""
    if not req.chat and (folder / "tokenizer.json").is_file():
        try:
            from tokenizers import Tokenizer

            return len(Tokenizer.from_file(str(folder / "tokenizer.json")).encode(
                req.prompt or "").ids)
        except Exception:  # noqa: BLE001 - fall back to the engine's own encoding
            pass
    try:
        from transformers import AutoTokenizer

        from ..model.tokens import encode_prompt

        tok = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
        return len(encode_prompt(tok, req.prompt or "", req.chat).token_ids)
    except Exception:  # noqa: BLE001 - the loader gives the sentence for a broken tokenizer
        return None
