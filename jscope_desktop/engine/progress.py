"""How long work reports progress and learns it should stop."""

from __future__ import annotations

from collections.abc import Callable

from .errors import Cancelled

CancelCheck = Callable[[], bool]  # returns True once the work should stop
ProgressFn = Callable[[float, str], None]  # (fraction in [0, 1], what is happening)


def check_cancel(cancel: CancelCheck | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` says the work should stop."""
    if cancel is not None and cancel():
        raise Cancelled()
