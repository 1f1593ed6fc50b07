"""Scopes from other packages: the entry-point group ``jscope_desktop.scopes``.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."jscope_desktop.scopes"]
    twice = "my_package:SCOPE"        # a Scope object, or a callable returning one

and its scope appears everywhere a built-in one does. A plugin that fails to load is skipped and
reported in one sentence (:func:`.registry.plugin_problems`); it never stops the CLI or the app.
"""

from __future__ import annotations

import re
from importlib.metadata import entry_points

from .base import Scope

GROUP = "jscope_desktop.scopes"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def discover(builtin: set[str]) -> tuple[list[Scope], list[str]]:
    """The installed plugin scopes that pass the checks, each marked with its entry point, and
    the problems of those that do not (one sentence each); ``builtin``: the built-in names no
    plugin may replace. Registering them is :func:`.registry.load_plugins`'s job."""
    scopes: list[Scope] = []
    problems: list[str] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            scope = obj() if callable(obj) and not isinstance(obj, Scope) else obj
        except Exception as exc:  # any error in someone else's code: report, go on
            problems.append(f"The scope plugin '{ep.name}' ({ep.value}) could not be loaded: "
                            f"{type(exc).__name__}: {exc}.")
            continue
        problem = _check(scope, ep.name, builtin)
        if problem:
            problems.append(problem)
            continue
        scope.plugin = ep.value
        scopes.append(scope)
    return scopes, problems


def _check(scope, ep_name: str, builtin: set[str]) -> str | None:
    if not isinstance(scope, Scope):
        return (f"The scope plugin '{ep_name}' gave a {type(scope).__name__}, not a Scope; "
                "it was skipped.")
    if not isinstance(scope.name, str) or not _NAME.match(scope.name):
        return (f"The scope plugin '{ep_name}' has the name {scope.name!r}; a scope name is "
                "lower-case letters, digits and _ (at most 40); it was skipped.")
    if scope.name in builtin:
        return (f"The scope plugin '{ep_name}' would replace the built-in scope "
                f"'{scope.name}'; it was skipped.")
    if not all(isinstance(getattr(scope, a), str) and getattr(scope, a).strip()
               for a in ("label", "explanation", "unit")):
        return f"The scope plugin '{ep_name}' lacks a label, explanation or unit; it was skipped."
    return None
