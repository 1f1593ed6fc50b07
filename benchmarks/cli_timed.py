"""``jscope`` exactly as the command line runs it, plus one line on stderr with the seconds of
the engine call (``attribute()``) and of the model's warm-up inside it:
``JSCOPE_TIMES {"call_s": …, "warm_s": …}`` (the child process of ``bench_scale --fresh``).

    python -m benchmarks.cli_timed attribute - --json OUT ...
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` with the engine call and its warm-up timed; its exit status."""
    import jscope_desktop.engine.explain.attribute as engine

    times = {"call_s": 0.0, "warm_s": 0.0}

    def timed(fn, name):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[name] += time.perf_counter() - t0
        return run

    engine.attribute = timed(engine.attribute, "call_s")
    engine.warm_up = timed(engine.warm_up, "warm_s")
    from jscope_desktop.cli import main as cli

    try:
        return cli(argv)
    finally:
        print("JSCOPE_TIMES " + json.dumps(times), file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
