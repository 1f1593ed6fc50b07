"""pyqtgraph, imported once with the Qt binding pinned to PySide6 and our default look."""

from __future__ import annotations

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg  # noqa: E402

pg.setConfigOptions(antialias=True, background=None)  # transparent: follows the palette

__all__ = ["pg"]
