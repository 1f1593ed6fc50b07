"""The time left on the progress bar, counting down between the engine's progress updates.

The engine reports progress per backward batch, which on a long prompt and a large model can be
minutes apart; the bar's "· 4 min left" then keeps counting down by the clock until the next
update replaces it (past the estimate it says "finishing"). The suffix is written and read
here only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QProgressBar

from ...engine.planning.cost_model import format_seconds

_LEFT = re.compile(r"^(?P<base>.*) · (?P<n>\d+(?:\.\d+)?) (?P<unit>s|min|h) left$", re.DOTALL)
_UNIT = {"s": 1.0, "min": 60.0, "h": 3600.0}


def with_time_left(message: str, seconds: float) -> str:
    """``"Fisher Scope · 12 s left"``: a progress message with the time left appended."""
    return f"{message} · {format_seconds(seconds)} left"


def time_left_of(message: str) -> tuple[str, float] | None:
    """(the message without its suffix, seconds left) of a :func:`with_time_left` message, or
    None for a message without one."""
    m = _LEFT.match(message)
    return (m["base"], float(m["n"]) * _UNIT[m["unit"]]) if m else None


class Countdown(QObject):
    """Shows progress messages on ``bar`` (``"<message> – %p%"``) and, for one that says the
    time left, recounts it every ``interval_ms`` from ``clock`` (seconds)."""

    def __init__(self, bar: QProgressBar, clock: Callable[[], float] = time.monotonic,
                 interval_ms: int = 1000):
        super().__init__(bar)
        self.bar, self.clock = bar, clock
        self._left: tuple[str, float, float] | None = None  # (base, seconds, when received)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def show(self, message: str) -> None:
        """Show ``message`` now; count its time left down from here on, if it has one."""
        parsed = time_left_of(message)
        self._left = (parsed[0], parsed[1], self.clock()) if parsed else None
        self.bar.setFormat(f"{message} – %p%")
        if parsed:
            self.timer.start()
        else:
            self.timer.stop()

    def tick(self) -> None:
        """Redraw the time left by the clock."""
        if self._left is None:
            return
        base, seconds, since = self._left
        left = seconds - (self.clock() - since)
        # past the estimate the work goes on: no claim of a time left until the next update
        text = with_time_left(base, left) if left >= 0.5 else f"{base} · finishing"
        self.bar.setFormat(f"{text} – %p%")

    def stop(self) -> None:
        """No more counting (the job finished or was cancelled)."""
        self._left = None
        self.timer.stop()
