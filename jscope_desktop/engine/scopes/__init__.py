"""The Jacobian Scopes, each described once in one registry (:data:`SCOPES`); see :mod:`.base`
for what a scope is, :mod:`.registry` for the registry, :mod:`.builtin` for the six built in and
:mod:`.plugins` for scopes from other packages.

    from jscope_desktop.engine.scopes import DirectionScope
"""

from . import builtin  # noqa: F401  (registers the built-in scopes)
from .base import DIRECTION_UNIT, USES, DirectionScope, Prediction, Scope, ScopeCall, ScopeOutput
from .plugins import GROUP
from .registry import (
    SCOPES,
    all_scopes,
    get_scope,
    load_plugins,
    plugin_problems,
    register,
    scope_label,
    scope_names,
    scope_unit,
)

__all__ = [
    "DIRECTION_UNIT", "GROUP", "SCOPES", "USES", "DirectionScope", "Prediction", "Scope",
    "ScopeCall", "ScopeOutput", "all_scopes", "get_scope", "load_plugins", "plugin_problems",
    "register", "scope_label", "scope_names", "scope_unit",
]
