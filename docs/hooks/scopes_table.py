"""MkDocs hook: the table of built-in scopes on "The scopes" page, read from the scope registry.

The marker ``<!-- scope-registry -->`` on ``how-it-works/scopes.md`` becomes one row per scope
registered in :data:`jscope_desktop.engine.scopes.SCOPES` (name, label, unit, what it needs,
where it works, its explanation): the same text the CLI's ``--scope`` help, the app's About box
and the captions read, so the page lists exactly the scopes the product has.
"""

from __future__ import annotations

from mkdocs.exceptions import PluginError

MARKER = "<!-- scope-registry -->"
PAGE = "how-it-works/scopes.md"


def registry_table() -> str:
    """The Markdown table of the registered built-in scopes (plugins are not loaded here)."""
    from jscope_desktop.engine.scopes import SCOPES

    rows = ["| `--scope` | scope | unit | needs | generation matrix · series · faithfulness | "
            "what it measures | cost |", "|---|---|---|---|---|---|---|"]
    for scope in SCOPES.values():
        if scope.plugin is not None:
            continue
        needs = ", ".join(n for n, on in (("target", scope.needs_target),
                                          ("foil", scope.needs_foil)) if on) or "–"
        where = " · ".join("yes" if scope.supports(use) else "no"
                           for use in ("matrix", "series", "faithfulness"))
        rows.append(f"| `{scope.name}` | {scope.label} | `{scope.unit}` | {needs} | {where} | "
                    f"{scope.explanation.replace('|', '&#124;')} | {scope.cost} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the marker on the scopes page with the registry's table."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} lost its {MARKER} marker")
    return markdown.replace(MARKER, registry_table())
