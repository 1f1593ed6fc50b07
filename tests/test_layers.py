"""The layering rule: cli/commands -> app -> render -> engine, and the engine imports no Qt.

The rule is written as import-linter contracts in pyproject.toml ([tool.importlinter]); these tests
run them, prove they can fail, and check at run time that importing the engine pulls in no Qt.
"""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jscope_desktop.engine as engine

REPO = Path(__file__).resolve().parents[1]


def _lint_imports(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "lint-imports not found next to the interpreter: pip install -e '.[test]'"
    # --no-cache: leave no .import_linter_cache behind in the checkout
    return subprocess.run(
        [exe, "--no-cache", "--no-logo", str(config)], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _raise(name: str) -> None:
    raise ImportError(f"cannot import the sub-package {name}")


def test_engine_imports_no_qt_render_or_app():
    # walk_packages imports each sub-package to list it; onerror: a broken one fails, not shrinks the list
    walk = pkgutil.walk_packages(engine.__path__, prefix="jscope_desktop.engine.", onerror=_raise)
    modules = [m.name for m in walk]
    assert len(modules) >= 10
    # the sub-packages' modules are walked too, not only the top level
    assert any(m.startswith("jscope_desktop.engine.series.") for m in modules), modules
    assert any(m.startswith("jscope_desktop.engine.faithfulness.") for m in modules), modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph')\n"
        "       or m.startswith(('jscope_desktop.app', 'jscope_desktop.render',\n"
        "                        'jscope_desktop.commands', 'jscope_desktop.cli'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"importing the engine modules failed:\n{out.stderr}"
    assert out.stdout.strip() == "", f"the engine pulled in: {out.stdout.strip()}"


def test_import_linter_contracts_are_kept():
    out = _lint_imports(REPO / "pyproject.toml", cwd=REPO)
    report = out.stdout + out.stderr
    assert out.returncode == 0, f"import-linter contracts broken:\n{report}"
    # all three contracts ran (a config that lost its contracts would also exit 0)
    assert "3 kept, 0 broken" in report, report


_FAKE_CONFIG = """\
[tool.importlinter]
root_package = "fakepkg"
include_external_packages = true

[[tool.importlinter.contracts]]
name = "engine imports no Qt or app"
type = "forbidden"
source_modules = ["fakepkg.engine"]
forbidden_modules = ["PySide6", "fakepkg.app"]
"""


@pytest.mark.parametrize(
    ("engine_source", "chain"),
    [
        # an indirect import: engine -> util -> app
        ("from fakepkg import util\n", "fakepkg.util -> fakepkg.app"),
        # an external one; the linter reads the source, it does not import it
        ("from PySide6 import QtCore\n", "fakepkg.engine -> PySide6"),
    ],
    ids=["internal-indirect", "external-qt"],
)
def test_import_linter_catches_a_violation(tmp_path, engine_source, chain):
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text("X = 1\n")
    (pkg / "util.py").write_text("from fakepkg import app\n")
    (pkg / "engine.py").write_text(textwrap.dedent(engine_source))
    config = tmp_path / "pyproject.toml"
    config.write_text(_FAKE_CONFIG)
    out = _lint_imports(config, cwd=tmp_path)
    report = out.stdout + out.stderr
    assert out.returncode != 0, f"the linter missed a violation:\n{report}"
    assert "0 kept, 1 broken" in report, report
    assert chain in report, report
