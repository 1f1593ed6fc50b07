"""``jscope-desktop --self-test``: load the embedded model, run every scope on a short prompt,
check the scores are finite, render an annotated PNG offscreen; one line per check."""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROMPT = "The capital of France is"


def _check(name: str, fn: Callable[[], str], out) -> bool:
    t0 = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:  # a self-test reports every failure as a line, never a traceback
        out(f"FAIL  {name}: {type(exc).__name__}: {exc}")
        return False
    out(f"ok    {name} ({detail}; {time.perf_counter() - t0:.2f} s)")
    return True


def _scores_ok(result) -> str:
    scores = [s for s in result.scores if s is not None]
    if len(result.scores) != len(result.tokens) or len(scores) != result.position + 1:
        raise ValueError("scores do not line up with the tokens")
    if not all(math.isfinite(s) and s >= 0 for s in scores):
        raise ValueError("a score is not finite and non-negative")
    if max(scores) <= 0:
        raise ValueError("every score is zero")
    return f"{len(scores)} finite scores, max {max(scores):.3g}"


def run_self_test(out: Callable[[str], None] = print) -> int:
    """Run the checks, printing one line each; returns 0 only if every check passed."""
    state: dict = {}

    def load() -> str:
        from ...engine.model.load import load_model

        state["lm"] = load_model()
        info = state["lm"].info
        return f"{info.name}, {info.n_params / 1e6:.0f} M parameters on {state['lm'].device}"

    ok = _check("load the embedded model", load, out)
    if not ok:
        return 1
    from ...engine.explain.attribute import AttributionRequest, attribute
    from ...engine.scopes import scope_names

    for name in scope_names():
        def run(name=name) -> str:
            result = attribute(state["lm"], AttributionRequest(prompt=PROMPT, scope=name))
            state["result"] = result
            return _scores_ok(result)

        ok &= _check(f"scope {name}", run, out)

    def render() -> str:
        from PySide6.QtGui import QImage

        from ...render.outputs import save_picture

        with tempfile.TemporaryDirectory() as tmp:
            path = save_picture(state["result"], Path(tmp) / "selftest.png")
            image = QImage(str(path))
            if image.isNull() or image.width() < 400:
                raise ValueError("the PNG could not be read back")
            return f"{image.width()}×{image.height()} px"

    if "result" in state:
        ok &= _check("render an annotated PNG offscreen", render, out)
    out("self-test passed" if ok else "self-test FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_self_test())
