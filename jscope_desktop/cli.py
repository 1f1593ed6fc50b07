"""`jscope`, the command-line twin of the app: one subcommand module per job.

Exit status: 0 on success, 2 on a usage error, 1 on any other error, with one clear line on
stderr (never a traceback) for anything the user can cause.
"""

from __future__ import annotations

import argparse
import sys

from .engine.errors import Cancelled, JScopeError

SUBCOMMANDS = ("attribute", "series", "faithfulness")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as for every usage error
        self.exit(2, f"jscope: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    import importlib

    parser = _Parser(prog="jscope", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.commands.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``jscope``; returns the exit status (0 ok, 1 error, 2 usage error)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except JScopeError as exc:
        print(f"jscope: {exc}", file=sys.stderr)
        return 1
    except Cancelled:
        print("jscope: cancelled.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jscope: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
