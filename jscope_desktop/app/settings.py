"""Persistent settings behind one small class (QSettings, INI format, per user).

Tests point QSettings' user INI path at a temporary folder (``QSettings.setPath``), so nothing
here ever touches the real user's settings while testing.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QByteArray, QSettings

from ..engine.model.choices import DEVICE_NAMES
from ..engine.model.dtype import DTYPE_CHOICES

ORGANIZATION = "jscope-desktop"
APPLICATION = "jscope-desktop"
MAX_RECENT = 8

DEFAULTS: dict[str, object] = {
    "scope": "temperature",
    "fisher_method": "fast",
    "chat": False,
    "cmap": "viridis",
    "scale": "linear",
    "granularity": "token",
    "exclude": "",  # the attention-sink control (render.core.view_options.ScaleExclusion text)
    "zoom": 1.0,
    "dark": False,
    "device": "auto",
    "dtype": "float32",
    "generate_n": 8,
    "prompt": "The capital of France is",
    "memory_limit": "",  # "" none, else a size such as "8GB" (engine.cost_model.parse_size)
    "last_folder": "",  # where the next file dialog opens ("" the home folder)
    "live": True,  # View ▸ Live attribution: the picture follows the prompt while cheap
    "ask_above_s": 60,  # a run predicted longer than this asks first (View ▸ Ask before…)
}


CHOICES = {"device": DEVICE_NAMES, "dtype": DTYPE_CHOICES}  # a stale or edited value falls back


def _is_exclusion(text: str) -> bool:
    from ..render.core.view_options import ScaleExclusion

    try:
        ScaleExclusion.parse(text)
    except ValueError:
        return False
    return True


def valid_size(text: str) -> bool:
    """True when ``text`` is a memory size the engine accepts (e.g. ``8GB``)."""
    from ..engine.errors import JScopeError
    from ..engine.planning.cost_model import parse_size

    try:
        parse_size(text)
    except JScopeError:
        return False
    return True


class AppSettings:
    """Typed access to the app's settings; values not yet stored come from :data:`DEFAULTS`."""

    def __init__(self, store: QSettings | None = None):
        self.store = store or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
        )

    def get(self, key: str):
        """The stored value of ``key`` converted to its default's type (the default if unset)."""
        default = DEFAULTS[key]
        value = self.store.value(key, default)
        if isinstance(default, bool):
            return value in (True, "true", "True", "1", 1)
        try:  # a hand-edited or corrupted INI file must never stop the app: fall back
            value = type(default)(value)
        except (TypeError, ValueError, OverflowError):
            return default
        if isinstance(value, float) and not (math.isfinite(value) and 0 < value < 1e3):
            return default
        if isinstance(value, int) and not 0 <= value <= 10**6:
            return default
        if isinstance(value, str) and len(value) > 100_000:
            return default
        if key in CHOICES and value not in CHOICES[key]:
            return default
        if key == "exclude" and not _is_exclusion(value):
            return default
        if key == "memory_limit" and value and not valid_size(value):
            return default
        return value

    def set(self, key: str, value) -> None:
        """Store ``value`` under ``key`` (one of :data:`DEFAULTS`)."""
        if key not in DEFAULTS:
            raise KeyError(key)
        if key == "memory_limit" and value and not valid_size(str(value)):
            raise ValueError(f"not a memory size: {value!r:.40}")
        self.store.setValue(key, value)

    def recent_models(self) -> list[str]:
        """Recently opened model paths, most recent first (at most MAX_RECENT)."""
        return self.recent("recent_models")

    def add_recent_model(self, path: str) -> list[str]:
        """Put ``path`` first in the recent models; returns the new list."""
        return self.add_recent(path, "recent_models")

    def recent(self, key: str = "recent_files") -> list[str]:
        """A list of recent paths, most recent first (at most MAX_RECENT): ``recent_files``
        (sessions, results and pages opened or saved) or ``recent_models``."""
        value = self.store.value(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return []
        return [str(v) for v in value if v and isinstance(v, str)][:MAX_RECENT]

    def add_recent(self, path: str, key: str = "recent_files") -> list[str]:
        """Put ``path`` first in the list ``key`` (see :meth:`recent`); returns the new list."""
        items = [path] + [p for p in self.recent(key) if p != path]
        self.store.setValue(key, items[:MAX_RECENT])
        return items[:MAX_RECENT]

    def geometry(self, key: str = "geometry") -> bytes | None:
        """A saved layout blob, if any: the window geometry (``geometry``) or the columns'
        splitter state (``splitter``)."""
        value = self.store.value(key)
        try:
            return bytes(value) if isinstance(value, (bytes, bytearray, QByteArray)) and value else None
        except (TypeError, ValueError):
            return None

    def set_geometry(self, data: bytes, key: str = "geometry") -> None:
        """Remember a layout blob (see :meth:`geometry`)."""
        self.store.setValue(key, data)

    def sync(self) -> None:
        """Write pending changes to disk."""
        self.store.sync()
