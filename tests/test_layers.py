"""The layering rule (STYLE.md): the engine imports no Qt, no pyqtgraph, no render or app code."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import jscope_desktop.engine as engine


def test_engine_imports_no_qt_render_or_app():
    modules = [f"jscope_desktop.engine.{m.name}" for m in pkgutil.iter_modules(engine.__path__)]
    assert len(modules) >= 10
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')\n"
        "       or m.startswith(('jscope_desktop.app', 'jscope_desktop.render'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the engine pulled in: {out.stdout.strip()}"
