"""What the frozen app carries beyond the code PyInstaller finds by following imports, in one
place for the spec (packaging/jscope-desktop.spec) and the test that checks it
(tests/test_bundle_contents.py):

- the metadata (``*.dist-info``) of every distribution the app needs at run time: transformers,
  accelerate and huggingface_hub ask ``importlib.metadata`` for their dependencies' versions, and
  without the metadata the loader fails ("Invalid version: 'N/A'");
- the data files packages read while the app runs (kernels, a dependency of transformers since
  5.25, reads ``kernels/_internals/python_depends.json`` at import).

The test records every file a real run opens (load, attribute) and fails when one is not here,
so the next new dependency fails a fast test instead of the installer's self-test.
"""

from __future__ import annotations

import importlib.metadata as md

APP = "jscope-desktop"
# Packages whose non-Python files are read at run time and that no PyInstaller hook collects.
DATA_PACKAGES = ["kernels"]


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them (``PyYAML`` = ``pyyaml``, ``a_b`` = ``a-b``)."""
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def runtime_distributions(root: str = APP) -> list[str]:
    """``root`` and every distribution it requires, recursively, with environment markers
    evaluated and no extras (what a plain ``pip install root`` installs), as installed here;
    sorted normalised names. Requirements that are not installed are left out."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [root]
    while todo:
        name = normalized(todo.pop())
        if name in seen:
            continue
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(seen)
