"""Subcommands of `jscope`: each module has ``add_parser(subparsers)`` setting ``run``."""

from __future__ import annotations
