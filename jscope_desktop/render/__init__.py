"""Pictures and pages of results for the app, the command line and notebooks, in two parts:
:mod:`.core` (Qt-free: colour maps as numbers, captions, units, view options, the web pages,
the terminal views) and :mod:`.figures` (QPainter pictures on any paint device, and the one table
of image formats). Layers: this package imports ``jscope_desktop.engine`` (data only), never
``jscope_desktop.app``; the core imports no Qt and no figure.
"""

from __future__ import annotations
