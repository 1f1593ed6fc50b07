"""What `make test-latest` installed that differs from a lock: `python locks/compare.py LOCK
FREEZE` prints one line per distribution whose version changed or that the lock lacks (names
compared as pip compares them; local labels such as +cpu ignored)."""

from __future__ import annotations

import re
import sys

from packaging.utils import canonicalize_name


def pins(path: str) -> dict[str, str]:
    """Normalised name → version of every ``name==version`` line of a requirements file."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;+]+)", line)
            if m:
                out[canonicalize_name(m[1])] = m[2]
    return out


def main(lock: str, freeze: str) -> None:
    locked, installed = pins(lock), pins(freeze)
    changed = [f"{n}: {locked[n]} -> {v}" for n, v in sorted(installed.items())
               if n in locked and locked[n] != v]
    new = [f"{n}: {v} (not in the lock)" for n, v in sorted(installed.items()) if n not in locked]
    for line in changed + new:
        print(line)
    print(f"{len(changed)} changed, {len(new)} not in the lock (against {lock})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
