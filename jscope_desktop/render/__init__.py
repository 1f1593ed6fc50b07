"""Pictures of results for the app and the command line: QPainter on any paint device, no widgets.

Layers: this package may import ``jscope_desktop.engine`` (data only) and ``PySide6.QtGui`` /
``PySide6.QtSvg``, never ``jscope_desktop.app``. ``export.save_image`` is the one entry point the
CLI needs.
"""

from __future__ import annotations
