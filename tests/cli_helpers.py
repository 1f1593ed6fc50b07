"""Helpers for tests that run `jscope` in-process and check its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from jscope_desktop import cli


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``jscope`` in-process; returns (exit status, stdout, stderr)."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(result, *needles: str, code: int = 1) -> str:
    """The command failed with ``code`` and exactly one line on stderr holding ``needles``."""
    status, out, err = result
    assert status == code, (status, err)
    assert err.startswith("jscope: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def write_prompts(tmp_path: Path, prompts: list[str]) -> Path:
    """``prompts`` as a JSON list in ``tmp_path/prompts.json``; returns its path."""
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(prompts), encoding="utf-8")
    return path
