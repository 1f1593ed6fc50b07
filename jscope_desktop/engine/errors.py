"""The one error type a user can cause: its message is a sentence fit to show as it is."""

from __future__ import annotations


class JScopeError(Exception):
    """A problem the user can fix (bad prompt, missing file, wrong device, ...).

    The message is one clear sentence; the CLI prints it on stderr and the app shows it in the
    window. Anything else that escapes the engine is a bug.
    """


class Cancelled(Exception):
    """Raised inside a computation when its cancel flag was set; the caller discards the run."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for running out of GPU or CPU memory, whichever type the backend raised it as."""
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
