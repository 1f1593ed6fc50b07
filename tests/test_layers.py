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
    # all five contracts ran (a config that lost its contracts would also exit 0)
    assert "5 kept, 0 broken" in report, report


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


def test_the_engine_rooms_contract_catches_an_upward_import(tmp_path):
    """The real contract, on a copy of the real package with one import from a lower room
    (model) up to a higher one (planning), inside a function as the knots used to be."""
    shutil.copytree(REPO / "jscope_desktop", tmp_path / "jscope_desktop",
                    ignore=shutil.ignore_patterns("__pycache__", "resources"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shape = tmp_path / "jscope_desktop" / "engine" / "model" / "shape.py"
    shape.write_text(shape.read_text(encoding="utf-8") + textwrap.dedent("""

        def _upward():
            from ..planning import cost_model  # noqa: F401
        """), encoding="utf-8")
    out = _lint_imports(tmp_path / "pyproject.toml", cwd=tmp_path)
    report = out.stdout + out.stderr
    assert out.returncode != 0, report
    assert "Engine rooms by job, in layers BROKEN" in report, report
    assert "jscope_desktop.engine.model.shape -> jscope_desktop.engine.planning.cost_model" in report


def import_cycles(package: str) -> list[set[str]]:
    """The import cycles among ``package``'s modules (imports inside functions included; a
    package importing its own children is layout, not a cycle): Tarjan's strongly connected
    components of grimp's import graph, those of two or more modules."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    edges = {m: {d for d in graph.find_modules_directly_imported_by(m)
                 if d in graph.modules and not d.startswith(m + ".")} for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles():
    assert import_cycles("jscope_desktop") == []


def test_an_import_cycle_inside_a_function_is_found(tmp_path, monkeypatch):
    pkg = tmp_path / "knotted"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import a  # a package importing its child: no cycle\n")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def later():\n    from . import c\n")
    (pkg / "c.py").write_text("def later():\n    from .a import later\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("knotted") == [{"knotted.a", "knotted.b", "knotted.c"}]
