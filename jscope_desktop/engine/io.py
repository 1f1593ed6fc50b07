"""Reading a text file the user named, with one-sentence errors."""

from __future__ import annotations

from pathlib import Path

from .errors import JScopeError


def read_user_text(path: str | Path, what: str = "file", encoding: str = "utf-8") -> str:
    """The whole text of ``path``.

    Raises a one-sentence :class:`JScopeError` naming ``what`` (e.g. "prompts file") for a
    missing, unreadable or undecodable file.
    """
    p = Path(path)
    try:
        return p.read_text(encoding=encoding)
    except FileNotFoundError:
        raise JScopeError(f"The {what} {p} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise JScopeError(f"Could not read the {what} {p}: {reason}.") from None
