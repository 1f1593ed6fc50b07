"""Load a local causal language model (folder, .gguf or the embedded default) for the scopes.

Nothing here touches the network: ``HF_HUB_OFFLINE`` is set before transformers is imported and
every source is a local path. A ``.gguf`` file is dequantised once into a cache folder
(safetensors + tokenizer files) keyed by a fingerprint of the file, because transformers'
conversion takes tens of seconds while loading the converted folder takes a few.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import inspect  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from ..errors import JScopeError, is_out_of_memory  # noqa: E402
from ..progress import check_cancel  # noqa: E402
from .checks import (  # noqa: E402
    check_config_size,
    check_gguf_header,
    refuse_custom_code,
)
from .choices import DTYPE_CHOICES, DTYPE_NAMES  # noqa: E402
from .devices import DEVICES, available_devices, resolve_device  # noqa: E402,F401
from .dtype import AUTO, choose_dtype  # noqa: E402
from .gguf_cache import (  # noqa: E402
    Progress,
    convert_gguf,
    embedded_gguf_path,
    first_line,
    quiet_transformers,
)

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_LICENSE = "Apache-2.0"


@dataclass
class ModelInfo:
    """What the result contract and the app's model panel say about a model."""

    name: str
    source: str
    n_params: int
    d_model: int
    vocab_size: int
    n_layers: int
    context_length: int
    architecture: str

    def to_dict(self) -> dict:
        """The ``model`` object of the result contract (name, source, n_params, d_model, vocab)."""
        d = asdict(self)
        return {k: d[k] for k in ("name", "source", "n_params", "d_model", "vocab_size")}


@dataclass
class LoadedModel:
    """A model ready for the scopes: weights frozen, eval mode, on its device."""

    model: torch.nn.Module
    tokenizer: object
    info: ModelInfo
    device: torch.device  # where the input embeddings live (the first shard)
    dtype: torch.dtype
    warmed: bool = False  # set after the first forward+backward (lazy init is not timed)

    @property
    def dtype_name(self) -> str:
        """The dtype as the contract spells it, e.g. ``"float32"``."""
        return str(self.dtype).removeprefix("torch.")


def resolve_dtype(dtype: str) -> torch.dtype:
    """``float32|bfloat16|float16`` as a torch dtype, or a one-sentence error."""
    if dtype not in DTYPES:
        raise JScopeError(f"Unknown dtype '{dtype}'; choose one of {', '.join(DTYPE_CHOICES)}.")
    return DTYPES[dtype]


def _check_folder(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise JScopeError(f"{folder} has no config.json, so it is not a Hugging Face model folder.")
    refuse_custom_code(folder)
    weights = list(folder.glob("*.safetensors")) + list(folder.glob("*.bin"))
    if not weights:
        raise JScopeError(f"{folder} holds no weights (*.safetensors or *.bin).")
    check_config_size(folder, sum(w.stat().st_size for w in weights))


def _load_folder(folder: Path, device: torch.device, dtype: torch.dtype, device_map: str | None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()

    _check_folder(folder)
    try:
        tok = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    except Exception as exc:  # missing or corrupt tokenizer files
        if is_out_of_memory(exc):
            raise
        if not any(folder.glob("tokenizer*")) and not (folder / "vocab.json").is_file():
            raise JScopeError(f"{folder.name} holds no tokenizer files (tokenizer.json, ...).") from exc
        raise JScopeError(f"Could not load the tokenizer in {folder.name}: {first_line(exc)}") from exc
    try:
        # .bin checkpoints are read by transformers with torch.load(weights_only=True) only.
        model, loading = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=dtype, device_map=device_map, trust_remote_code=False,
            output_loading_info=True,
        )
    except ValueError as exc:
        raise JScopeError(f"This model is not supported: {first_line(exc)}") from exc
    except Exception as exc:  # corrupt files surface as many types (SafetensorError, JSON, ...)
        if is_out_of_memory(exc):  # not a damaged cache: say so, keep the cache
            raise
        raise JScopeError(f"Could not load the model in {folder.name}: {first_line(exc)}") from exc
    # transformers fills missing tensors with random values (and only logs it): refuse instead.
    missing = sorted(loading.get("missing_keys") or []) + sorted(loading.get("mismatched_keys") or [])
    if missing:
        raise JScopeError(
            f"The weights in {folder.name} do not match its config.json: {len(missing)} tensors "
            f"are missing or of the wrong shape (e.g. {missing[0]})."
        )
    if device_map is None:
        model.to(device)
    return model, tok


def _check_capabilities(model: torch.nn.Module) -> None:
    """Refuse a model that lacks what the scopes need, with a sentence saying what is missing."""
    if model.get_input_embeddings() is None:
        raise JScopeError("This model has no input-embedding layer, which the scopes need.")
    if model.get_output_embeddings() is None:
        raise JScopeError("This model has no output (unembedding) matrix, which the scopes need.")
    if "inputs_embeds" not in inspect.signature(model.forward).parameters:
        raise JScopeError("This model does not accept input embeddings, which the scopes need.")


def _fits_on_gpu(folder: Path, dtype: torch.dtype) -> bool:
    weight_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    scale = torch.finfo(dtype).bits / 32 if weight_bytes else 1.0
    free, _ = torch.cuda.mem_get_info()
    return weight_bytes * max(scale, 0.5) * 1.3 < free


def load_model(
    source: str | os.PathLike | None = None,
    device: str = "auto",
    dtype: str = "float32",
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> LoadedModel:
    """Load a model for the scopes.

    Args:
        source: a Hugging Face model folder, a ``.gguf`` file, or None for the embedded model.
        device: ``auto|cpu|cuda|mps``; ``auto`` picks CUDA, then MPS, then the CPU.
        dtype: ``float32`` (default), ``bfloat16``, ``float16``, or ``auto``: float32 when the
            weights fit in it, else the checkpoint's half dtype (:mod:`.auto_dtype`).
        progress: called with (fraction, message) while loading.
        cancel: called between the loading steps (before and after converting a ``.gguf``,
            after reading the weights); once it returns True the load stops.

    Returns:
        A :class:`LoadedModel` in eval mode with frozen weights. A model too large for one GPU is
        spread over the GPUs present with accelerate's ``device_map="auto"``.

    Raises:
        JScopeError: the source cannot be loaded (the message says why, in one sentence).
        Cancelled: ``cancel()`` returned True between two steps; nothing was kept.
    """
    torch_device = resolve_device(device)
    if dtype != AUTO:
        resolve_dtype(dtype)  # an unknown dtype is one sentence before anything is read
    path = embedded_gguf_path() if source is None else Path(source).expanduser()
    if not path.exists():
        raise JScopeError(f"No model at {path}: the file or folder does not exist.")
    if progress:
        progress(0.0, f"Loading {path.name}")
    check_cancel(cancel)
    folder = path
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise JScopeError(f"{path.name} is not a .gguf file or a model folder.")
        check_gguf_header(path)  # before hashing a multi-gigabyte file that is not one
        folder = convert_gguf(path, progress)
        check_cancel(cancel)
    torch_dtype = resolve_dtype(choose_dtype(dtype, folder, str(torch_device)))
    device_map = None
    if torch_device.type == "cuda" and not _fits_on_gpu(folder, torch_dtype):
        device_map = "auto"
    if progress:
        progress(0.7, "Loading weights")
    try:
        model, tok = _load_folder(folder, torch_device, torch_dtype, device_map)
    except JScopeError:
        if folder == path:
            raise
        check_cancel(cancel)
        folder = convert_gguf(path, progress, rebuild=True)  # the cache was damaged: rebuild once
        check_cancel(cancel)
        model, tok = _load_folder(folder, torch_device, torch_dtype, device_map)
    check_cancel(cancel)
    _check_capabilities(model)
    model.eval()
    model.requires_grad_(False)
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    embed = model.get_input_embeddings()
    name = EMBEDDED_NAME if source is None else path.stem if path.is_file() else path.name
    info = ModelInfo(
        name=name,
        source=str(path),
        n_params=sum(p.numel() for p in model.parameters()),
        d_model=int(config.hidden_size),
        vocab_size=int(model.get_output_embeddings().weight.shape[0]),
        n_layers=int(getattr(config, "num_hidden_layers", 0)),
        context_length=int(getattr(config, "max_position_embeddings", 0) or 0)
        or int(getattr(tok, "model_max_length", 2048)),
        architecture=type(model).__name__,
    )
    if progress:
        progress(1.0, f"{name} ready")
    return LoadedModel(model, tok, info, embed.weight.device, torch_dtype)
