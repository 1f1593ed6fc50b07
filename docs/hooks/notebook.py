"""MkDocs hook: ``examples/quickstart.ipynb``, executed at build time and rendered with outputs.

The notebook runs in a real Jupyter kernel (nbclient + ipykernel, this environment's Python and
this checkout's code) on the embedded model, offline, in a temporary folder (what it saves does
not land in the checkout). A cell that raises fails the build. The outputs become the page
``tutorials/quickstart.md``: code cells as Python blocks, printed text as text blocks, the
results' interactive pages (their ``<iframe srcdoc>``) as they are.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
PAGE = "tutorials/quickstart.md"
CELL_TIMEOUT_S = 900  # a cell on a loaded 2-core machine: the model load and a Fisher run


def execute(path: Path):
    """Execute the notebook at ``path`` and return it with its outputs.

    Raises:
        PluginError: a cell failed (its error is in the message) or the kernel did not start.
    """
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "QT_QPA_PLATFORM": "offscreen"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        with tempfile.TemporaryDirectory(prefix="jscope-docs-nb-") as cwd:
            client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                             resources={"metadata": {"path": cwd}})
            client.execute()
    except Exception as exc:  # CellExecutionError, a dead kernel, a timeout: the build fails
        raise PluginError(f"{path.name} failed while building the site: {exc}") from exc
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb


def _output_markdown(output: dict) -> str:
    """One cell output as Markdown (or raw HTML); errors never reach here (they fail the run)."""
    kind = output.get("output_type")
    if kind == "stream":  # stderr (library warnings naming this machine's paths) is not shown
        return f"```text\n{output['text'].rstrip()}\n```" if output.get("name") == "stdout" else ""
    data = output.get("data", {})
    if "text/html" in data:
        return f'<div class="nb-output" markdown="0">\n{data["text/html"].strip()}\n</div>'
    if "image/png" in data:
        png = data["image/png"].replace("\n", "")
        base64.b64decode(png, validate=True)  # a malformed image fails here, not in a browser
        return f'<img class="nb-output" alt="cell output" src="data:image/png;base64,{png}">'
    if "text/plain" in data:
        return f"```text\n{data['text/plain'].rstrip()}\n```"
    raise PluginError(f"{NOTEBOOK.name}: an output of a kind the page cannot show: {sorted(data)}")


def notebook_markdown(nb, seconds: float) -> str:
    """The executed notebook ``nb`` as one Markdown page."""
    note = [
        '!!! note "Executed when this site was built"',
        f"    This is [`examples/quickstart.ipynb`](quickstart.ipynb) run top to bottom in a "
        f"Jupyter kernel on the embedded model, offline ({seconds:.0f} s here); the pages "
        "below are the live results (hover a token for its score and rank).",
    ]
    parts = []
    for n, cell in enumerate(nb.cells):
        source = cell.source.rstrip()
        if cell.cell_type == "markdown":
            parts.append(source)
        elif cell.cell_type == "code":
            parts.append(f"```python\n{source}\n```")
            parts += [m for m in map(_output_markdown, cell.get("outputs", [])) if m]
        if n == 0:  # after the notebook's title
            parts.append("\n".join(note))
    return "\n\n".join(parts)


def on_files(files, config):
    """Execute the notebook and add its page and a copy of the notebook file to the site."""
    t0 = time.perf_counter()
    nb = execute(NOTEBOOK)
    page = notebook_markdown(nb, time.perf_counter() - t0)
    files.append(File.generated(config, PAGE, content=page))
    files.append(File.generated(config, "tutorials/quickstart.ipynb", abs_src_path=str(NOTEBOOK)))
    return files
