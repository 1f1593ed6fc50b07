"""``--dtype auto``: float32 when the weights fit in it, else the checkpoint's own half dtype.

Torch-free (the estimate before loading resolves it too). The weights are counted from the
safetensors headers (the config's shape when there are none) and must fit, with room for a
run, in what the process may still reach on the device.
"""

from __future__ import annotations

from pathlib import Path

from .checks import read_config
from .choices import DTYPE_AUTO as AUTO
from .choices import DTYPE_CHOICES, DTYPE_NAMES

__all__ = ["AUTO", "DTYPE_CHOICES", "checkpoint_dtype", "choose_dtype", "weight_count"]
WEIGHT_SLACK = 1.25  # float32 weights plus room for a run's graph, as a share of the weights
HALF = ("bfloat16", "float16")


def checkpoint_dtype(folder: Path) -> str | None:
    """The dtype a model folder's ``config.json`` says its weights were saved in, if it says."""
    config = read_config(folder)
    if config is None:
        return None
    for cfg in (config, config.get("text_config") or {}):
        if isinstance(cfg, dict):
            value = cfg.get("torch_dtype") or cfg.get("dtype")
            if isinstance(value, str) and value.removeprefix("torch.") in DTYPE_NAMES:
                return value.removeprefix("torch.")
    return None


def weight_count(folder: Path) -> int | None:
    """Parameters of a model folder: the safetensors headers, else the config's shape."""
    from .memory import safetensors_parameters
    from .shape import ModelShape, UnknownShape

    n = safetensors_parameters(folder)
    if n:
        return n
    config = read_config(folder)
    try:
        return ModelShape.from_config(config).n_params if config is not None else None
    except (ValueError, KeyError, TypeError, OverflowError, UnknownShape):
        return None


def choose_dtype(dtype: str, folder: Path, device: str) -> str:
    """``dtype`` itself unless it is ``auto``; then float32 when the weights fit in float32 on
    ``device`` (``WEIGHT_SLACK`` × 4 bytes a parameter within what the process may still reach),
    else the checkpoint's half dtype (bfloat16 where it names none, or names float16 on the CPU,
    whose float16 kernels are few and slow)."""
    if dtype != AUTO:
        return dtype
    from .memory import memory_now

    n = weight_count(folder)
    held, reach = memory_now(device)
    if n is None or n * 4 * WEIGHT_SLACK <= reach - held:
        return "float32"
    saved = checkpoint_dtype(folder)
    if saved == "float16" and device == "cpu":
        return "bfloat16"
    return saved if saved in HALF else "bfloat16"
