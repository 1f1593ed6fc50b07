"""The README stays short (issue 26) and agrees with the data: it starts with the two commands,
links only to files that exist, and its headline numbers are those of benchmarks/results."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def result(name: str) -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text(encoding="utf-8"))


def test_the_readme_is_short_and_starts_with_the_two_commands():
    assert len(README.splitlines()) <= 150
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
    assert "## Layout" in README and "engine/ (no Qt)" in README


def test_every_local_link_and_image_of_the_readme_exists():
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "the README links into the documentation"
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_the_headline_numbers_are_the_benchmarks():
    f, fa = result("faithfulness")["results"], result("fisher_accuracy")
    grid = fa["grid"][",".join(map(str, fa["default"]))]
    cost = result("cost")["methods"]
    expected = [
        " / ".join(f"{f[s]['0.1']['mean']:.2f}" for s in ("fisher", "semantic", "temperature", "random")),
        f"{100 * grid['median_rel_l2']:.1f} %, {100 * grid['spearman_pass']:.0f} %",
        f"{grid['median_time_ratio']:.1f}×",
        f"{result('multi')['median_ratio']:.2f}×",
        f"{cost['temperature']['128']['seconds']:.2f} s "
        f"({1 / cost['forward']['128']['ratio_to_temperature']:.1f}× a forward pass)",
    ]
    for text in expected:
        assert text in README, text
