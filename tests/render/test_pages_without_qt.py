"""The web pages and a result's notebook display need no Qt: with PySide6, shiboken6 and
pyqtgraph made unimportable (a meta-path finder refuses them, as on a Jupyter server without
libGL), a single-scope and a several-scope result load, write their pages and show themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.explain.multi import attribute_many
from jscope_desktop.render.core.html import read_embedded

ROOT = Path(__file__).resolve().parents[2]

NO_QT = """
import json, sys
class NoQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"):
            raise ImportError(f"{name} is blocked for this test")
        return None
sys.meta_path.insert(0, NoQt())
import jscope_desktop as js
from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.render.outputs import save_page, save_picture
single, multi = js.load_result(sys.argv[1]), js.load_result(sys.argv[2])
save_page(single, sys.argv[3])
save_page(multi, sys.argv[4])
shown = [single._repr_html_(), multi._repr_html_()]
try:
    save_picture(single, sys.argv[3] + ".png")
    picture = "written"
except JScopeError as exc:
    picture = str(exc)
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"))
print(json.dumps({"shown": shown, "qt": qt, "picture": picture}))
"""


def test_pages_and_notebook_display_without_qt(tiny_llama, tmp_path):
    single = tmp_path / "single.json"
    attribute(tiny_llama, AttributionRequest(prompt="12,34,56,", scope="semantic")).save(single)
    multi = tmp_path / "multi.json"
    attribute_many(tiny_llama, AttributionRequest(prompt="12,34,56,"),
                   ["temperature", "semantic"]).save(multi)
    pages = [tmp_path / "single.html", tmp_path / "multi.html"]
    run = subprocess.run([sys.executable, "-c", NO_QT, str(single), str(multi), *map(str, pages)],
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["qt"] == []
    # a picture needs Qt: one sentence, no traceback, and nothing written
    assert out["picture"].startswith("Image export is not available here: ")
    assert not Path(str(pages[0]) + ".png").exists()
    for shown in out["shown"]:
        assert shown and shown.startswith('<iframe class="jscope-result" srcdoc=')
    for page, source in zip(pages, (single, multi)):
        text = page.read_text(encoding="utf-8")
        # the page carries the result it was written from, verbatim
        assert text.startswith("<!DOCTYPE html>")
        assert read_embedded(text) == json.loads(source.read_text(encoding="utf-8"))
