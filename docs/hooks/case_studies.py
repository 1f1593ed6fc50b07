"""MkDocs hook: one page per case study of the paper, from the examples registry.

Each entry of :data:`jscope_desktop.engine.examples.EXAMPLES` gets a page
``tutorials/case-studies/ID.md``: its title, figure, note and prompt (read from the registry, so
they match ``jscope examples`` and Help ▸ Examples), the picture(s) the product made of it and
what ``jscope examples ID`` printed (committed under ``runs/`` by ``make docs-figures``, which
runs the real command line; running all of them takes minutes, too long for every build). An
example without a committed run fails the build. The pages join the navigation under the
case-study index, whose marker ``<!-- case-study-list -->`` becomes a table of them.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
FOLDER = "tutorials/case-studies"
INDEX = f"{FOLDER}/index.md"
RUNS = ROOT / "docs" / "content" / FOLDER / "runs"
MARKER = "<!-- case-study-list -->"


def _examples():
    from jscope_desktop.engine.examples import EXAMPLES

    return EXAMPLES


def run_files(example) -> list[tuple[str, str]]:
    """``(scope, stem)`` per picture of ``example``: ``ID`` for one result, ``ID-SCOPE`` for each
    scope of a comparison (the names ``jscope examples ID --png ID.png`` writes).

    Raises:
        PluginError: a picture, its JSON or the printed summary is missing (run
            ``make docs-figures``).
    """
    scopes = example.scopes()
    stems = [example.id] if len(scopes) == 1 else [f"{example.id}-{s}" for s in scopes]
    needed = [RUNS / f"{example.id}.txt"]
    needed += [RUNS / f"{stem}{suffix}" for stem in stems for suffix in (".png", ".json")]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise PluginError(f"case study {example.id} has no committed run ({', '.join(missing)}); "
                          "run `make docs-figures`")
    return list(zip(scopes, stems))


def _setting_lines(example) -> list[str]:
    """The prompt or series and the settings of ``example``, as Markdown lines."""
    from jscope_desktop.engine.scopes import scope_label

    if example.series is not None:
        settings = ", ".join(f"`{k}={v}`" for k, v in example.series.items())
        return [f"**Series:** {settings}.", ""]
    lines = ["**Prompt:**", "", "```text", example.prompt, "```", ""]
    for request in example.requests:
        extra = [f"target `{request.target!r}`" if request.target else "",
                 f"position {request.position}" if request.position is not None else "",
                 f"{request.ig_steps} steps" if request.scope == "integrated" else ""]
        extra = ", ".join(e for e in extra if e)
        lines.append(f"- {scope_label(request.scope)} Scope" + (f" ({extra})" if extra else ""))
    return [*lines, ""]


def page_markdown(example) -> str:
    """The page of one case study."""
    from jscope_desktop.engine.scopes import scope_label

    pictures = run_files(example)  # first: a missing run is named, not a missing file
    printed = (RUNS / f"{example.id}.txt").read_text(encoding="utf-8").splitlines()
    numbers = "\n".join(line.removeprefix("  ") for line in printed[2:])  # after title and note
    lines = [f"# {example.title}", "", f"*{example.figure} of the paper* · "
             f"`jscope examples {example.id}` · Help ▸ Examples in the app", "",
             example.note, "", *_setting_lines(example)]
    for scope, stem in pictures:
        lines += [f"## {scope_label(scope)} Scope" if len(example.scopes()) > 1 else "## Picture",
                  "", f"![{example.title}: {scope_label(scope)} Scope](runs/{stem}.png)", "",
                  f"The result: [`{stem}.json`](runs/{stem}.json) (the JSON contract).", ""]
    lines += ["## Key numbers", "", "What `jscope examples` printed for this run (embedded model, "
              "CPU, float32):", "", "```text", numbers, "```", "",
              "Reproduce (any model with `--model PATH`):", "", "```sh",
              f"jscope examples {example.id} --json {example.id}.json --png {example.id}.png",
              "```", ""]
    return "\n".join(lines)


def on_config(config):
    """Put every case-study page into the navigation, after the index."""
    pages = [{e.title: f"{FOLDER}/{e.id}.md"} for e in _examples()]

    def expand(items):
        for n, item in enumerate(items):
            if isinstance(item, dict):
                (title, value), = item.items()
                if value == INDEX:
                    items[n] = {title: [INDEX, *pages]}
                    return True
                if isinstance(value, list) and expand(value):
                    return True
        return False

    if not expand(config["nav"]):
        raise PluginError(f"the navigation has no {INDEX}")
    return config


def on_files(files, config):
    """Generate one page per case study."""
    for example in _examples():
        files.append(File.generated(config, f"{FOLDER}/{example.id}.md",
                                    content=page_markdown(example)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the marker on the index with a table of the case studies."""
    if page.file.src_uri != INDEX:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{INDEX} lost its {MARKER} marker")
    from jscope_desktop.engine.scopes import scope_label

    rows = ["| case study | paper | scope(s) |", "|---|---|---|"]
    rows += [f"| [{e.title}]({e.id}.md) (`{e.id}`) | {e.figure} | "
             f"{', '.join(scope_label(s) for s in e.scopes())} |" for e in _examples()]
    return markdown.replace(MARKER, "\n".join(rows))
