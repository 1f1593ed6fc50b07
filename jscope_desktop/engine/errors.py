"""The one error type a user can cause: its message is a sentence fit to show as it is."""

from __future__ import annotations

import math

EMPTY_PROMPT = "The prompt is empty; type some text to explain."  # CLI, app, batch, engine


class JScopeError(Exception):
    """A problem the user can fix (bad prompt, missing file, wrong device, ...).

    The message is one clear sentence; the CLI prints it on stderr and the app shows it in the
    window. Anything else that escapes the engine is a bug. Characters that would break the
    line (a newline or NUL in a file name or value the user gave) are shown escaped, so the
    sentence stays one line whatever it quotes.
    """

    def __init__(self, message: object = "", *args):
        super().__init__(one_line(str(message)), *args)


def one_line(text: str) -> str:
    """``text`` with every non-printable character (newline, NUL, …) written as its escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Cancelled(Exception):
    """Raised inside a computation when its cancel flag was set; the caller discards the run."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for running out of GPU or CPU memory, whichever type the backend raised it as."""
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


def finite_or_none(value):
    """``value`` with NaN and infinities turned into None, recursively through dicts and lists
    (JSON has no NaN); other values are returned as they are."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


OOM_ADVICE = {  # what to change, by setting, in the words of the front end that shows it
    "prompt": "a shorter prompt", "fisher_fast": "the fast Fisher method",
    "fewer_steps": "fewer Integrated steps", "bfloat16": "bfloat16", "cpu": "the CPU",
}


def out_of_memory_sentence(scope: str | None = None, fisher_method: str | None = None,
                           dtype: str | None = None, device: str | None = None,
                           words: dict[str, str] | None = None) -> str:
    """The one sentence after running out of memory: what to change, given the run's settings.

    ``words`` renames the advice (the CLI names its options: ``{"bfloat16": "--dtype bfloat16"}``);
    a setting that is unknown (None) is advised as if it could be changed.
    """
    w = {**OOM_ADVICE, **(words or {})}
    tips = [w["prompt"]]
    if scope in (None, "fisher") and fisher_method in (None, "exact"):
        tips.append(w["fisher_fast"])
    if scope == "integrated":
        tips.append(w["fewer_steps"])
    if dtype in (None, "float32"):
        tips.append(w["bfloat16"])
    if device != "cpu":
        tips.append(w["cpu"])
    if len(tips) == 1:
        return f"Out of memory; try {tips[0]}."
    return f"Out of memory; try {', '.join(tips[:-1])} or {tips[-1]}."
