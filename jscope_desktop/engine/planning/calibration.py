"""The cost model on this machine: measured throughput (kept per model, device and dtype in the
user cache), the memory the process holds and may reach, and the estimate of a request for a
loaded model or for a model folder before its weights are read.

The cache file is one JSON table, replaced whole after every run (a rename, no fsync); a corrupt or
unreadable file is ignored (the estimate falls back to the warm-up's measurement or a guess).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ..model import memory  # memory.memory_now read at call time (tests replace it there)
from ..model.shape import ModelShape, UnknownShape, config_sizes
from ..results.request import AttributionRequest
from ..scopes.base import PLAN_KINDS
from .cost_model import NO_ESTIMATE, Estimate, estimate_run, plan, work

CACHE_NAME = "calibration.json"
KEEP = 16  # measurements kept per model, device, dtype and kind
# the throughput is read from the newest few only: measurements taken while the machine was busy
# (a 20× slower hour on a shared machine) must not outweigh how fast it runs now
RECENT = 4
KINDS = PLAN_KINDS  # a calibration record per kind of plan


def cache_file() -> Path:
    """Where measured throughputs are kept (beside the converted models)."""
    from ..model.gguf_cache import cache_root

    return cache_root() / CACHE_NAME


def source_key(source: str | os.PathLike) -> str | None:
    """A model's identity in the cache: its path, size and modification time (a changed file is
    a new model); None for a model that is not a file or folder (built in a test)."""
    p = Path(source)
    try:
        st = (p / "config.json").stat() if p.is_dir() else p.stat()
    except OSError:
        return None
    return f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def device_key(device: str, dtype: str) -> str:
    """The device part of a cache key: e.g. ``cpu/4 threads/float32`` or ``cuda/NVIDIA H200/bfloat16``.

    For the CPU, torch is not imported when it is not yet: its thread count is then torch's
    default (:func:`default_threads`), so a refusal before loading stays torch-free."""
    if device.startswith("cuda"):
        import torch

        return f"cuda/{torch.cuda.get_device_name(torch.device(device))}/{dtype}"
    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else default_threads()
    return f"{device}/{threads} threads/{dtype}"


def default_threads() -> int:
    """The intra-op threads torch starts with: ``MKL_NUM_THREADS`` or ``OMP_NUM_THREADS`` when
    set, else the machine's physical cores (as torch counts them), else its logical CPUs."""
    for name in ("MKL_NUM_THREADS", "OMP_NUM_THREADS"):  # torch lets MKL's override OMP's
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    cores = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            package = None
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "physical id":
                    package = value.strip()
                elif key.strip() == "core id":
                    cores.add((package, value.strip()))
    except OSError:
        pass
    return len(cores) or os.cpu_count() or 1


def _read_cache() -> dict:
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _records(entry) -> dict[str, list[tuple[float, float]]]:
    """Valid ``kind -> [(units, seconds)]`` of a cache entry (anything malformed is dropped)."""
    out: dict[str, list[tuple[float, float]]] = {}
    if not isinstance(entry, dict):
        return out
    for kind in KINDS:
        rows = entry.get(kind)
        if not isinstance(rows, list):
            continue
        good = [(float(r[0]), float(r[1])) for r in rows if isinstance(r, list) and len(r) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                        and v < 1e30 for v in r)]
        if good:
            out[kind] = good[-KEEP:]
    return out


def stored(model_key: str | None, dev_key: str) -> dict[str, list[tuple[float, float]]]:
    """The measurements the cache holds for a model on a device (empty if none or unreadable)."""
    if model_key is None:
        return {}
    return _records(_read_cache().get(f"{model_key}#{dev_key}"))


def throughputs(records: dict[str, list[tuple[float, float]]]) -> tuple[float | None, dict]:
    """(throughput of one graph and backward pass, {kind: throughput}) in units per second:
    total units over total seconds of the :data:`RECENT` newest measurements of each kind (long
    runs weigh most; older ones, perhaps from a busier machine, not at all)."""
    rates = {k: sum(u for u, _ in rows[-RECENT:]) / sum(s for _, s in rows[-RECENT:])
             for k, rows in records.items() if rows}
    return rates.get("graph"), rates


def _lm_records(lm) -> dict:
    recs = getattr(lm, "_cost_records", None)
    if recs is None:
        key = source_key(lm.info.source)
        recs = stored(key, device_key(str(lm.device), lm.dtype_name))
        lm._cost_records = recs
    return recs


def has_calibration(lm) -> bool:
    """True once this model has a measured throughput on its device (here or in the cache)."""
    return bool(_lm_records(lm).get("graph"))


def record(lm, kind: str, units: float, seconds: float) -> None:
    """Add a measurement (``units`` of work took ``seconds``) for ``lm`` and keep it in the
    cache when the model is a file or folder. A cache that cannot be written is skipped."""
    if not (units > 0 and seconds > 0):
        return
    recs = _lm_records(lm)
    recs.setdefault(kind, []).append((float(units), float(seconds)))
    recs[kind] = recs[kind][-KEEP:]
    key = source_key(lm.info.source)
    if key is None:
        return
    data = {k: v for k, v in _read_cache().items() if _still_there(k)}
    data[f"{key}#{device_key(str(lm.device), lm.dtype_name)}"] = {
        k: [list(r) for r in v] for k, v in recs.items()}
    try:
        _write_cache(data)
    except Exception:  # noqa: BLE001 - a read-only cache costs only the next estimate's accuracy
        pass


def _still_there(cache_key: str) -> bool:
    """Whether the model file or folder a cache entry was measured on still exists (entries of
    deleted models, e.g. temporary ones, are dropped when the cache is next written)."""
    path = cache_key.split("|", 1)[0]
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def _write_cache(data: dict) -> None:
    """Replace the cache file by ``data``: compact JSON, a temporary file renamed over it (no
    fsync: it runs after every run, and a cache lost in a crash is read as empty)."""
    import tempfile

    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record_run(lm, req: AttributionRequest, n_tokens: int, seconds: float,
               recompute: bool = False, batch: int | None = None) -> None:
    """Record a finished run of ``req`` (``seconds`` for the forward and the scope; the work
    counted as it ran: recomputed, batches capped at ``batch``). A plugin scope is not
    recorded: its cost is its own, and would skew the built-in scopes' estimates."""
    from ..scopes import get_scope

    if get_scope(req.scope).plugin is not None:
        return
    shape = shape_of(lm)
    if shape is None:  # nothing to calibrate an estimate of
        return
    record(lm, plan(shape, n_tokens, req).kind, work(shape, n_tokens, req, recompute, batch),
           seconds)


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
    unknown (:func:`estimate_note`)."""
    from ..compute.forward import can_recompute

    shape = shape_of(lm)
    if shape is None:
        return None
    held, reach = memory.memory_now(str(lm.device))
    rate, _kinds = throughputs(_lm_records(lm))
    if not can_recompute(lm):  # a layer stack the engine does not know: never recomputed
        recompute = False
    return estimate_run(shape, fed_tokens(n_ids, req.position), req, dtype=lm.dtype_name,
                        base_bytes=held, available_bytes=reach, throughput=rate,
                        limit_bytes=limit_bytes, recompute=recompute)


def estimate_folder(folder: Path, source: str, n_ids: int, req: AttributionRequest, device: str,
                    dtype: str, limit_bytes: int | None = None) -> Estimate:
    """The estimate before a model is loaded: its shape from ``config.json`` and the
    safetensors headers, the weights counted as memory the load will add."""
    from ..model.checks import read_config
    from .cost_model import BYTES

    config = read_config(folder)
    if config is None:  # too large, undecodable or nested past reason: the loader says which
        raise ValueError("no readable config.json")
    shape = ModelShape.from_config(config, memory.safetensors_parameters(folder))
    held, reach = memory.memory_now(device)
    weights = shape.n_params * BYTES.get(dtype, 4)
    rate, _kinds = throughputs(stored(source_key(source), device_key(device, dtype)))
    return estimate_run(shape, fed_tokens(n_ids, req.position), req, dtype=dtype,
                        base_bytes=held + weights, available_bytes=reach, throughput=rate,
                        limit_bytes=limit_bytes)


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


def warm_up(lm, token_ids: list[int]) -> None:
    """Run one small forward and backward once per model, so that lazy initialisation (kernel
    selection, thread pools, autograd set-up) is not counted in the timings of the first run;
    then :func:`calibrate` (once per model, device and dtype)."""
    import torch

    from ..compute.forward import build_graph, plain_forward

    if lm.warmed:
        return
    graph = build_graph(lm, token_ids[:2], min(1, len(token_ids) - 1))
    torch.autograd.grad(graph.h.sum(), graph.x)
    plain_forward(lm, token_ids[:2])
    lm.warmed = True
    calibrate(lm, token_ids)


CALIBRATION_UNITS = 5e10  # work of the calibration pass: about 0.5 s on a laptop CPU


def calibrate(lm, token_ids: list[int]) -> None:
    """Measure this model's throughput once per model, device and dtype (the cost model's
    calibration, kept in the user cache): one forward graph and one backward pass over 16–128
    tokens (the prompt's ids repeated), timed after the warm-up, as a Temperature run does them
    (a run has no other forward pass)."""
    import torch

    from ..compute.forward import build_graph, sync
    from .cost_model import forward_work

    if has_calibration(lm) or not token_ids:
        return
    shape = shape_of(lm)
    if shape is None:  # sizes unknown: nothing to calibrate
        return
    per_token = (1 + 1.6) * forward_work(shape, 1)
    n = int(min(128, max(16, CALIBRATION_UNITS / per_token), lm.info.context_length or 128))
    ids = (token_ids * (n // len(token_ids) + 1))[:n]
    sync(lm)
    t0 = time.perf_counter()
    graph = build_graph(lm, ids, n - 1)
    torch.autograd.grad(graph.h, graph.x, graph.h.detach() / graph.h.detach().norm())
    sync(lm)
    record_run(lm, AttributionRequest(token_ids=ids), n, time.perf_counter() - t0)
