"""Checks on a model file or folder before anything in it is read by transformers or allocated:
a model folder is data, never code, and its sizes must be plausible. Torch-free."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import JScopeError
from .memory import physical_memory

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


CODE_KEYS = ("auto_map",)  # where a model folder names Python code of its own to run
SMALL_JSON = 16 * 2**20  # a config or tokenizer config bigger than this is not one


def read_config(folder: Path, name: str = "config.json") -> dict | None:
    """A folder's JSON configuration as a dict, or None when it is missing, over
    ``SMALL_JSON`` bytes (never read), undecodable, too deeply nested or not an object: what
    reads a config before the loader (estimates, ``--dtype auto``) never trusts its size."""
    f = folder / name
    try:
        if not f.is_file() or f.stat().st_size > SMALL_JSON:
            return None
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


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
    from .shape import ModelShape, UnknownShape

    try:
        return ModelShape.from_config(config).n_params
    except UnknownShape:
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
