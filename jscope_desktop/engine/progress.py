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


def expect_seconds(progress: ProgressFn | None, seconds: float) -> None:
    """Tell ``progress`` how long the work is predicted to take (the cost model's estimate), if
    it is a :class:`TimedProgress` (any object with an ``expect(seconds)`` method)."""
    expect = getattr(progress, "expect", None)
    if callable(expect):
        expect(seconds)


class TimedProgress:
    """A :data:`ProgressFn` that also says how long the work has left: from the cost model's
    estimate at first, from the measured rate (elapsed time over the fraction done) as the
    fraction grows. ``sink(fraction, message, remaining seconds or None)`` gets every update;
    ``clock`` is the time source (seconds)."""

    def __init__(self, sink: Callable[[float, str, float | None], None],
                 clock: Callable[[], float] | None = None):
        import time

        self.sink, self.clock = sink, clock or time.perf_counter
        self.expected: float | None = None
        self.t0 = self.clock()
        self.f0 = 0.0

    def expect(self, seconds: float) -> None:
        """The work from now on should take ``seconds`` (restarts the clock)."""
        self.expected, self.t0, self.f0 = max(0.0, float(seconds)), self.clock(), None

    def remaining(self, fraction: float) -> float | None:
        """Seconds left at ``fraction`` done, or None before any estimate."""
        if self.expected is None:
            return None
        if self.f0 is None:
            self.f0 = fraction
        elapsed = self.clock() - self.t0
        by_estimate = max(0.0, self.expected - elapsed)
        done = fraction - self.f0
        if done < 0.05 or fraction >= 1:
            return 0.0 if fraction >= 1 else by_estimate
        measured = elapsed * (1 - fraction) / done
        trust = min(1.0, done / 0.5)  # the measured rate takes over by half-way
        return (1 - trust) * by_estimate + trust * measured

    def __call__(self, fraction: float, message: str) -> None:
        self.sink(fraction, message, self.remaining(fraction))
