"""MkDocs hook: the sections of the site generated from the product, so they cannot drift.

- ``reference/cli.md``: the marker ``<!-- cli-reference -->`` becomes one section per
  subcommand of ``jscope`` (usage line, description, a table of its arguments), read from
  :func:`jscope_desktop.cli.build_parser`: an option added to a subcommand appears at the next
  build.
- ``how-it-works/scopes.md``: the marker ``<!-- scope-registry -->`` becomes one row per scope
  registered in :data:`jscope_desktop.engine.scopes.SCOPES` (name, label, unit, what it needs,
  where it works, its explanation): the same text the CLI's ``--scope`` help, the app's About
  box and the captions read.

A page that lost its marker fails the build.
"""

from __future__ import annotations

import argparse
import html

from mkdocs.exceptions import PluginError


def subcommand_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` in the order they were added, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise PluginError("the jscope parser has no subcommands")


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (no pipes, no line breaks, HTML escaped)."""
    return html.escape(" ".join(text.split())).replace("|", "&#124;")


def _default(action: argparse.Action) -> str:
    """The default worth showing: plain values only (not None, False or a suppressed one)."""
    value = action.default
    if value is None or value is False or value == argparse.SUPPRESS or isinstance(value, list):
        return ""
    if isinstance(value, (str, int, float)):
        return f"`{value}`"
    return ""


def _names(action: argparse.Action) -> str:
    """The option strings (or the positional's name) with the metavar or choices."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    takes_value = action.nargs != 0
    value = ""
    if takes_value:
        if action.choices is not None and not isinstance(action.choices, dict):
            value = " {" + ",".join(str(c) for c in action.choices) + "}"
        else:
            value = f" {action.metavar or action.dest.upper()}"
    return ", ".join(f"`{opt}{value}`" for opt in action.option_strings)


def argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    """One Markdown table row per argument of ``parser`` (help excluded)."""
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        text = formatter._expand_help(action) if action.help else ""
        rows.append(f"| {_names(action)} | {_cell(text)} | {_default(action)} |")
    return rows


def subcommand_section(name: str, parser: argparse.ArgumentParser) -> str:
    """The Markdown section of one subcommand: heading, usage, description, arguments."""
    usage = parser.format_usage().removeprefix("usage: ").strip()
    lines = [f"## jscope {name}", "", "```text", usage, "```", ""]
    if parser.description:
        lines += [parser.description, ""]
    lines += ["| argument | what it does | default |", "|---|---|---|", *argument_rows(parser), ""]
    return "\n".join(lines)


def reference_markdown() -> str:
    """The generated reference: the subcommand list, then one section per subcommand."""
    from jscope_desktop.cli import build_parser

    parser = build_parser()
    subs = subcommand_parsers(parser)
    helps = {a.dest: a.help for a in parser._subparsers._group_actions[0]._choices_actions}
    listing = ["| subcommand | what it does |", "|---|---|"]
    listing += [f"| [`jscope {n}`](#jscope-{n}) | {_cell(helps.get(n) or '')} |" for n in subs]
    return "\n".join([*listing, "", *(subcommand_section(n, p) for n, p in subs.items())])


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


# page -> (marker, the Markdown that replaces it)
SECTIONS = {
    "reference/cli.md": ("<!-- cli-reference -->", reference_markdown),
    "how-it-works/scopes.md": ("<!-- scope-registry -->", registry_table),
}


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace a generated page's marker with its section."""
    section = SECTIONS.get(page.file.src_uri)
    if section is None:
        return markdown
    marker, make = section
    if marker not in markdown:
        raise PluginError(f"{page.file.src_uri} lost its {marker} marker")
    return markdown.replace(marker, make())
