"""MkDocs hook: the Results pages, rendered from ``benchmarks/results/*.json`` at build time.

Every page under ``results/`` (and any page whose front matter has ``benchmark_data: true``)
is a Jinja template: its tables and the numbers in its prose are
expressions over the benchmark files (``r.cost``, ``r.faithfulness``, …, one per JSON file), so a
page cannot disagree with the data it describes, and a key that is missing (a benchmark whose
output changed shape) fails the build (``StrictUndefined``). ``measured_on(name)`` states the
machine and date a file records; ``plot(name, alt)`` shows the PNG written beside it (copied into
the site by ``assets.py``) and fails the build if it is missing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jinja2
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
FOLDER = "results/"


def load_results() -> dict[str, dict]:
    """Every benchmark file, by its stem (``fisher_accuracy.json`` → ``fisher_accuracy``)."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(RESULTS.glob("*.json"))}


def _committed_date(path: Path) -> str | None:
    """The date of the last commit that changed ``path`` (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", str(path)], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip() or None


def describe_environment(env: dict) -> str:
    """One sentence: model, device, dtype, threads, torch, Python and date of a run."""
    model = env["model"]
    return (f"{model['name']} ({model['n_params'] / 1e6:,.0f}M parameters), {env['device']}, "
            f"{env['dtype']}, {env['threads']} thread{'s' if env['threads'] != 1 else ''}, "
            f"{env['cpu']}, torch {env['torch']}, Python {env['python']}; measured {env['date']}")


def measured_on(data: dict[str, dict], name: str) -> str:
    """The admonition naming the data file and the machine and date it was measured on."""
    d = data[name]
    envs = [d["environment"]] if "environment" in d else \
        [m["environment"] for m in d.get("models", {}).values() if "environment" in m]
    if envs:
        what = "; ".join(describe_environment(e) for e in envs) + "."
    else:
        date = _committed_date(RESULTS / f"{name}.json")
        machine = (f"{d['model']['name']}, {d['device']}, {d['dtype']}" if "model" in d
                   else "the embedded model and a 1.2B Llama-shaped folder, CPU")
        what = (f"{machine}; the file records no date" +
                (f" (committed {date})." if date else "."))
    return (f'!!! info "Data: `benchmarks/results/{name}.json`"\n'
            f"    {what} This page is generated from the file at every build.")


def plot(name: str, alt: str) -> str:
    """The Markdown image of ``benchmarks/results/NAME.png``.

    Raises:
        PluginError: the plot is missing.
    """
    if not (RESULTS / f"{name}.png").is_file():
        raise PluginError(f"benchmarks/results/{name}.png is missing")
    return f"![{alt}](img/{name}.png)"


def _number(x: float, digits: int = 2) -> str:
    return f"{x:,.{digits}f}"


def _percent(x: float, digits: int = 0) -> str:
    return f"{100 * x:.{digits}f} %"


def _gigabytes(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def _gibibytes(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def environment(data: dict[str, dict]) -> jinja2.Environment:
    """The Jinja environment of the pages: strict, with the helpers as globals and filters."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    env.globals.update(r=data, measured_on=lambda name: measured_on(data, name), plot=plot)
    env.filters.update(num=_number, pct=_percent, gb=_gigabytes, gib=_gibibytes)
    return env


def on_pre_build(config):
    """Read the benchmark files once per build."""
    global _ENV
    _ENV = environment(load_results())


_ENV: jinja2.Environment | None = None


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Render a results page's template (or a page whose front matter says
    ``benchmark_data: true``) over the benchmark data."""
    if not (page.file.src_uri.startswith(FOLDER) or page.meta.get("benchmark_data")):
        return markdown
    try:
        return _ENV.from_string(markdown).render()
    except jinja2.TemplateError as exc:
        raise PluginError(f"{page.file.src_uri}: {exc}") from exc
