"""Session files: the prompt, the settings and the results, saved and restored as one JSON file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...engine.errors import JScopeError
from ...engine.io import read_user_json, write_json
from ...engine.results.request import AttributionRequest
from ...engine.results.result import AttributionResult
from ...render.core.view_options import ScaleExclusion

SESSION_KIND = "jscope-session"
SESSION_VERSION = 1


@dataclass
class Session:
    """What a session file holds.

    ``request`` is the prompt panel's state (prompt, scope, target, ...), ``view`` the strip's
    view (cmap, scale, granularity, zoom, exclude), ``model`` the model source (None: embedded),
    ``result`` the shown result, ``compare`` the compared results (any number), ``matrix`` the
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


VIEW_KEYS = {"cmap": str, "scale": str, "granularity": str, "zoom": (int, float), "exclude": str}


def is_session(data) -> bool:
    """Whether parsed JSON ``data`` claims to be a session (its ``kind``), not a result."""
    return isinstance(data, dict) and data.get("kind") == SESSION_KIND


def load_session(path: str | Path) -> Session:
    """Read a session file written by :func:`save_session`.

    Everything is checked before anything is returned, so a damaged or hostile file gives one
    sentence and the window keeps what it had (never a half-restored window).
    """
    path = Path(path)
    d = read_user_json(path, "session file", "a Jacobian Scopes session")
    if not is_session(d):
        raise JScopeError(f"{path.name} is not a Jacobian Scopes session file.")
    version = d.get("version", SESSION_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version > SESSION_VERSION:
        raise JScopeError(f"{path.name} was saved by a newer Jacobian Scopes (session version "
                          f"{version!r:.20}); this version reads sessions up to version "
                          f"{SESSION_VERSION}.")
    request = d.get("request") or {}
    view = d.get("view") or {}
    if not isinstance(request, dict) or not isinstance(view, dict):
        raise JScopeError(f"{path.name} is a damaged session file (its request or view is not a table).")
    AttributionRequest.from_dict({k: v for k, v in request.items() if k != "generate_n"})
    n = request.get("generate_n", 8)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
        raise JScopeError(f"The saved setting 'generate_n' has the value {n!r:.40}, which is not valid.")
    for key, value in view.items():
        if key not in VIEW_KEYS or isinstance(value, bool) or not isinstance(value, VIEW_KEYS[key]):
            raise JScopeError(f"The saved view setting '{key:.40}' has the value {value!r:.40}, "
                              "which is not valid.")
    try:
        ScaleExclusion.parse(view.get("exclude", ""))
    except ValueError as exc:
        raise JScopeError(f"The saved view setting 'exclude' is not valid: {exc}") from exc
    model = d.get("model")
    if model is not None and not isinstance(model, str):
        raise JScopeError(f"{path.name} is a damaged session file (its model is not a path).")
    try:
        return Session(
            request=dict(request), view=dict(view), model=model,
            result=AttributionResult.from_dict(d["result"]) if d.get("result") else None,
            compare=[AttributionResult.from_dict(r) for r in d.get("compare") or []],
            matrix=AttributionResult.from_dict(d["matrix"]) if d.get("matrix") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JScopeError(f"{path.name} is a damaged session file ({type(exc).__name__}).") from exc
