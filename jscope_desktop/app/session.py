"""Session files: the prompt, the settings and the results, saved and restored as one JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.errors import JScopeError
from ..engine.io import write_json
from ..engine.result import AttributionResult

SESSION_KIND = "jscope-session"
SESSION_VERSION = 1


@dataclass
class Session:
    """What a session file holds.

    ``request`` is the prompt panel's state (prompt, scope, target, ...), ``view`` the strip's
    view (cmap, scale, granularity, zoom), ``model`` the model source (None: embedded),
    ``result`` the shown result, ``compare`` the two compared results, ``matrix`` the
    generation result.
    """

    request: dict
    view: dict
    model: str | None = None
    result: AttributionResult | None = None
    compare: list[AttributionResult] = field(default_factory=list)
    matrix: AttributionResult | None = None

    def to_dict(self) -> dict:
        """The session as a JSON-ready dict."""
        return {
            "kind": SESSION_KIND, "version": SESSION_VERSION, "model": self.model,
            "request": self.request, "view": self.view,
            "result": self.result.to_dict() if self.result else None,
            "compare": [r.to_dict() for r in self.compare],
            "matrix": self.matrix.to_dict() if self.matrix else None,
        }


def save_session(session: Session, path: str | Path) -> Path:
    """Write ``session`` to ``path`` as JSON; returns the path."""
    return write_json(path, session.to_dict())


def load_session(path: str | Path) -> Session:
    """Read a session file written by :func:`save_session` (one-sentence error otherwise)."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JScopeError(f"Could not read {path.name}: {exc.strerror or exc}.") from exc
    except ValueError as exc:
        raise JScopeError(f"{path.name} is not a session file (it is not valid JSON).") from exc
    if not isinstance(d, dict) or d.get("kind") != SESSION_KIND:
        raise JScopeError(f"{path.name} is not a Jacobian Scopes session file.")
    try:
        return Session(
            request=dict(d.get("request") or {}), view=dict(d.get("view") or {}),
            model=d.get("model"),
            result=AttributionResult.from_dict(d["result"]) if d.get("result") else None,
            compare=[AttributionResult.from_dict(r) for r in d.get("compare") or []],
            matrix=AttributionResult.from_dict(d["matrix"]) if d.get("matrix") else None,
        )
    except (KeyError, TypeError) as exc:
        raise JScopeError(f"{path.name} is a damaged session file ({exc}).") from exc
