"""The lock files (locks/test.txt, locks/bundle.txt, written by `make lock` with pip-compile)
pin a version inside every range pyproject.toml and packaging/build-requirements.txt give, so a
range changed without `make lock` fails here, not on a fresh machine; torch stays the CPU pin."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python 3.11+ (the machines this project runs on)

ROOT = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict[str, Version]:
    """The lock's pins, read by the same parser `make test-latest` uses (locks/compare.py)."""
    spec = importlib.util.spec_from_file_location("compare", ROOT / "locks" / "compare.py")
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    return {name: Version(v) for name, v in compare.pins(str(path)).items()}


def requirements(*groups: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for group in groups:
        texts += project["optional-dependencies"][group]
    return [r for r in map(Requirement, texts) if r.marker is None or r.marker.evaluate()]


def unmet(reqs: list[Requirement], pinned: dict[str, Version]) -> list[str]:
    return [f"{r} (locked: {pinned.get(canonicalize_name(r.name), 'none')})" for r in reqs
            if canonicalize_name(r.name) not in pinned
            or not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)]


def test_the_test_lock_satisfies_every_range():
    pinned = pins(ROOT / "locks" / "test.txt")
    assert len(pinned) > 50
    assert unmet(requirements("test", "cluster", "bench"), pinned) == []


def test_the_bundle_lock_satisfies_the_app_and_its_build_tools():
    pinned = pins(ROOT / "locks" / "bundle.txt")
    build = [Requirement(line) for line in
             (ROOT / "packaging" / "build-requirements.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert unmet(requirements() + build, pinned) == []
    assert "pytest" not in pinned  # the frozen app's environment carries no test tools


def test_torch_is_pinned_to_the_cpu_wheel_and_no_cuda_library_is_locked():
    for lock in ("test.txt", "bundle.txt"):
        text = (ROOT / "locks" / lock).read_text(encoding="utf-8")
        assert pins(ROOT / "locks" / lock)["torch"] == Version("2.13.0")
        assert not re.search(r"^(nvidia-|triton==)", text, re.M), lock


def test_an_out_of_range_pin_is_caught():
    assert unmet([Requirement("transformers>=5.20,<6")], {"transformers": Version("6.0.0")})
    assert unmet([Requirement("transformers>=5.20,<6")], {})
    assert not unmet([Requirement("transformers>=5.20,<6")], {"transformers": Version("5.25.0")})
