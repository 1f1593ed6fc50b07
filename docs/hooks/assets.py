"""MkDocs hook: the pictures that live outside ``docs/`` join the site at build time.

The app's screenshots (``resources/screenshots/*.png``) become ``img/screenshots/NAME.png`` and
the benchmark plots (``benchmarks/results/*.png``) ``results/img/NAME.png``. They are not
copied into ``docs/``, so the site shows the same files the README and the benchmarks write.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "img/screenshots": ROOT / "resources" / "screenshots",
    "results/img": ROOT / "benchmarks" / "results",
}


def on_files(files, config):
    """Add every PNG of :data:`SOURCES` to the site."""
    for target, folder in SOURCES.items():
        for png in sorted(folder.glob("*.png")):
            files.append(File.generated(config, f"{target}/{png.name}", abs_src_path=str(png)))
    return files
