"""Regenerate the case-study pictures of the documentation site (``make docs-figures``).

Runs the real command line, ``jscope examples NAME --json --png``, once per entry of
:data:`jscope_desktop.engine.examples.EXAMPLES` on the embedded model, and keeps what it writes
(the JSON result, the PNG picture and the printed note and key numbers) in
``docs/content/tutorials/case-studies/runs/``. The pictures are committed: running every case
study takes several minutes on a 2-core CPU, too long for each ``make docs``. The site's hook
(``docs/hooks/case_studies.py``) refuses to build when an example has no committed run, so a new
example cannot be left without its page.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from jscope_desktop.engine.examples import EXAMPLES

RUNS = Path(__file__).resolve().parents[1] / "content" / "tutorials" / "case-studies" / "runs"


def run_one(example_id: str, out: Path) -> None:
    """Run ``jscope examples`` for one example, writing ``ID.json``/``ID.png`` (a comparison:
    one pair per scope) and ``ID.txt`` (what the command printed) into ``out``.

    Raises:
        subprocess.CalledProcessError: the command failed (its stderr is shown).
    """
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-m", "jscope_desktop.cli", "examples", example_id,
         "--json", str(out / f"{example_id}.json"), "--png", str(out / f"{example_id}.png")],
        env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise subprocess.CalledProcessError(done.returncode, done.args)
    (out / f"{example_id}.txt").write_text(done.stdout, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Regenerate the named examples (default: all); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="example ids (default: every example)")
    args = parser.parse_args(argv)
    RUNS.mkdir(parents=True, exist_ok=True)
    for example in EXAMPLES:
        if args.names and example.id not in args.names:
            continue
        print(f"running {example.id} …", flush=True)
        run_one(example.id, RUNS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
