"""The one registry of scopes: the built-in ones register here at import, plugin scopes
(:mod:`.plugins`) the first time the registry is read. Every list of scopes (the CLI's choices,
the app's boxes, captions, the About text) is read from :data:`SCOPES`.

No torch at import time (the app reads the registry before torch loads).
"""

from __future__ import annotations

from ..errors import JScopeError
from .base import Scope
from .plugins import discover

_plugins: dict = {"loaded": False, "problems": []}


SCOPES: dict[str, Scope] = {}


def register(scope: Scope) -> Scope:
    """Add ``scope`` to :data:`SCOPES` under its name; returns it."""
    SCOPES[scope.name] = scope
    return scope


def load_plugins(force: bool = False) -> list[str]:
    """Register every installed plugin scope once (again with ``force``); returns the problems,
    one sentence each."""
    if _plugins["loaded"] and not force:
        return list(_plugins["problems"])
    _plugins["loaded"] = True
    builtin = {n for n, s in SCOPES.items() if not getattr(s, "plugin", None)}
    scopes, problems = discover(builtin)
    for scope in scopes:
        SCOPES[scope.name] = scope
    _plugins["problems"] = problems
    return list(problems)


def plugin_problems() -> list[str]:
    """Sentences about plugins that could not be loaded (empty when all loaded)."""
    load_plugins()
    return list(_plugins["problems"])


def _ensure_plugins() -> None:
    load_plugins()


def get_scope(name: str) -> Scope:
    """The scope called ``name``, or a one-sentence error listing the choices."""
    _ensure_plugins()
    if name not in SCOPES:
        raise JScopeError(f"Unknown scope '{name}'; choose one of {', '.join(SCOPES)}.")
    return SCOPES[name]


def scope_names(use: str | None = None) -> list[str]:
    """Registered scope names in registration order (built-ins first, then plugins); with
    ``use`` (one of :data:`USES`) only those that support it."""
    _ensure_plugins()
    return [n for n, s in SCOPES.items() if use is None or s.supports(use)]


def all_scopes() -> list[Scope]:
    """Every registered scope, in registration order."""
    _ensure_plugins()
    return list(SCOPES.values())


def scope_label(name: str) -> str:
    """Display label of a scope name; a name no registered scope has (a result from a plugin
    that is not installed here) is shown as it is."""
    # no plugin import here: views call this on the GUI thread; plugins are loaded by the CLI
    # at start and by the app's engine job, before any result of theirs exists
    return SCOPES[name].label if name in SCOPES else name


def scope_unit(name: str) -> str:
    """What a score of scope ``name`` measures (e.g. ``‖Jᵀu‖``, ``tr(JᵀFJ)``)."""
    return SCOPES[name].unit if name in SCOPES else "score"
