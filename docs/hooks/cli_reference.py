"""MkDocs hook: the command-line reference, generated from the real argparse parsers.

``docs/content/reference/cli.md`` holds the hand-written introduction and the marker
``<!-- cli-reference -->``; this hook replaces the marker with one section per subcommand of
``jscope`` (usage line, description, a table of its arguments), read from
:func:`jscope_desktop.cli.build_parser`. The page cannot drift from the parsers: an option added
to a subcommand appears at the next build, and a page without the marker fails the build.
"""

from __future__ import annotations

import argparse
import html

from mkdocs.exceptions import PluginError

MARKER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"


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


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the marker on the CLI page with the generated reference."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} lost its {MARKER} marker")
    return markdown.replace(MARKER, reference_markdown())
