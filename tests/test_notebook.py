"""examples/quickstart.ipynb runs in a real Jupyter kernel (nbclient + ipykernel) on the
embedded model, and what it shows is what it saved: the page embedded in each result's HTML
output holds the saved JSON, and every number it prints is finite and matches the file."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from jscope_desktop.render.core.html import read_embedded

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.embedded
REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
CELL_TIMEOUT_S = 900  # a cell on a loaded 2-core machine: the model load and a Fisher run
SRCDOC = re.compile(r'<iframe class="jscope-result" srcdoc="([^"]*)"')


def test_the_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def _pages(outputs) -> list[dict]:
    """The result contracts embedded in a cell's text/html outputs."""
    found = []
    for out in outputs:
        fragment = out.get("data", {}).get("text/html")
        if fragment:
            m = SRCDOC.search(fragment)
            assert m, fragment[:200]
            found.append(read_embedded(html.unescape(m.group(1))))
    return found


def _text(outputs) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")


def test_the_quickstart_runs_in_a_kernel_and_shows_what_it_saved(tmp_path, monkeypatch):
    # the kernel is this venv's python (ipykernel's "python3" spec says `python`, which
    # jupyter_client replaces by sys.executable) running this checkout's code, offline
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    saved = json.loads((tmp_path / "quickstart_fisher.json").read_text(encoding="utf-8"))

    fisher_page, = _pages(cells[1].outputs)
    semantic_page, = _pages(cells[2].outputs)
    back_page, = _pages(cells[4].outputs)
    assert fisher_page == saved and back_page == saved  # the page is the data, before and after
    assert semantic_page["scope"] == "semantic" and semantic_page["target"] == " Paris"
    assert saved["scope"] == "fisher" and "".join(saved["tokens"]) == "The capital of France is"

    printed = _text(cells[3].outputs)
    numbers = [float(x) for x in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", printed)]
    assert numbers and all(math.isfinite(x) for x in numbers), printed
    ranked = sorted((s, i) for i, s in enumerate(saved["scores"]) if s is not None)[::-1]
    first = f"  {saved['tokens'][ranked[0][1]]!r}: {ranked[0][0]:.4f}"
    assert first in printed.splitlines(), printed
    rho = float(re.search(r"Spearman rho .*: (-?\d\.\d+)", printed).group(1))
    expected = spearmanr(saved["scores"], semantic_page["scores"]).statistic
    assert rho == pytest.approx(expected, abs=6e-5)
    assert "loaded back equal: True" in _text(cells[4].outputs)
    assert "largest score difference: 0.0" in _text(cells[4].outputs)
