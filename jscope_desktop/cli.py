"""`jscope`, the command-line twin of the app: one subcommand module per job.

Exit status: 0 on success, 2 on a usage error, 1 on any other error, with one clear line on
stderr (never a traceback) for anything the user can cause.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .engine.errors import Cancelled, JScopeError, is_out_of_memory

SUBCOMMANDS = ("attribute", "generate", "series", "faithfulness", "sanity", "batch", "examples")



class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as for every usage error
        self.exit(2, f"jscope: {message}\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: only the subcommand ``argv`` starts with, when it names one (the
    other modules are never imported, so a run refused before loading a model is refused in
    about a second), else every subcommand."""
    parser = _Parser(prog="jscope", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    chosen = [argv[0]] if argv and argv[0] in SUBCOMMANDS else SUBCOMMANDS
    for name in chosen:
        importlib.import_module(f".commands.{name}", __package__).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``jscope``; returns the exit status (0 ok, 1 error, 2 usage error)."""
    from .engine.scopes import plugin_problems

    for problem in plugin_problems():  # a broken plugin never stops the command
        print(f"jscope: warning: {problem}", file=sys.stderr)
    argv = sys.argv[1:] if argv is None else argv
    for n, arg in enumerate(argv, 1):  # undecodable bytes arrive as lone surrogates
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            print(f"jscope: argument {n} is not UTF-8 text; pass text as UTF-8.", file=sys.stderr)
            return 2
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:  # the reader of our output went away (`jscope ... | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush fails quietly
        print("jscope: the output pipe was closed before everything was written.", file=sys.stderr)
        return 1
    except JScopeError as exc:
        print(f"jscope: {exc}", file=sys.stderr)
        return 1
    except Cancelled:
        print("jscope: cancelled.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jscope: interrupted.", file=sys.stderr)
        return 130
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        from .commands.options import oom_sentence

        print(f"jscope: {oom_sentence(args)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
