"""Saying when a view shows an earlier prompt's results (the Compare tab, the generation matrix):
a result keeps its prompt's tokens, and the view says so once the prompt on screen differs."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


def stale_label() -> QLabel:
    """The hidden line a view shows when its results belong to another prompt."""
    label = QLabel("")
    label.setWordWrap(True)
    label.setStyleSheet("color: #8a5a00; font-weight: 600;")
    label.setVisible(False)
    return label


def prompt_text(result) -> str:
    """The prompt a result explains, as text: its tokens that are not special (a generation
    matrix: only its prompt's tokens, not the generated ones)."""
    n = getattr(result, "prompt_tokens", None) or len(result.tokens)
    special = result.special or [False] * len(result.tokens)
    return "".join(t for t, s in zip(result.tokens[:n], special[:n]) if not s)


def mark(label: QLabel, result, prompt: str, what: str) -> None:
    """Show on ``label`` that ``result`` (None: nothing shown) explains another prompt than
    ``prompt``, or hide it when it is this prompt's."""
    theirs = prompt_text(result) if result is not None else None
    stale = theirs is not None and theirs.strip() != prompt.strip()
    label.setVisible(stale)
    if stale:
        short = theirs if len(theirs) <= 60 else theirs[:57] + "…"
        label.setText(f"These {what} are for an earlier prompt (“{short}”); run again for the "
                      "prompt on screen.")
