"""Resumable runs over a prompts file: the sidecar both the faithfulness benchmark and the
sanity check write as they go.

Every finished prompt is appended as one JSON line to a sidecar file whose first line is a
header (the model and every setting that changes the numbers). A stopped run started again with
the same header skips the prompts already there (a prompt whose text changed is measured again),
so its final answer equals an uninterrupted run's: prompts are measured independently and seeded
by their index, and floats round-trip exactly through JSON. (The header records the model and
dtype but not the device: resume on the device the run started on, or the numbers mix devices.)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from ..compute.forward import CancelCheck
from ..errors import JScopeError
from ..io import read_user_text

PromptProgressFn = Callable[[int, int, str], None]  # (prompts done, prompts total, message)
Todo = list[tuple[int, str, str]]  # (index, text, text_sha) of the prompts still to measure


class PerPrompt(Protocol):
    """What a resumable run keeps per prompt: its index, its text's fingerprint, and a dict."""

    index: int
    text_sha: str

    def to_dict(self) -> dict: ...


R = TypeVar("R", bound=PerPrompt)
# measure(todo, cancel) -> each prompt's result, in any order (the sequential one: in order)
MeasureFn = Callable[[Todo, "CancelCheck | None"], Iterator[R]]


def sidecar_path(out: Path) -> Path:
    """The sidecar of a run whose report goes to ``out``: ``out`` + ``.partial.jsonl``."""
    return out.with_name(out.name + ".partial.jsonl")


def text_sha(text: str) -> str:
    """A short fingerprint of a prompt (checks that a resumed prompt is the same text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_sidecar(path: Path, header: dict, parse: Callable[[dict], R]) -> dict[int, R]:
    """Prompt results already in the sidecar ``path`` (empty if it does not exist), each read
    back with ``parse``.

    A truncated last line (a run killed mid-write) or a line ``parse`` cannot read is ignored
    (that prompt runs again); a sidecar written with another header is an error rather than
    silently mixed in.
    """
    if not path.exists():
        return {}
    lines = read_user_text(path, "partial results file", whole=True).splitlines()  # our own
    try:
        first = json.loads(lines[0]) if lines else None
    except (ValueError, RecursionError):
        first = None
    if first != header:
        raise JScopeError(f"{path} holds a run with other settings or another model; delete it "
                          "to start over, or choose another --json file.")
    done = {}
    for line in lines[1:]:
        try:
            r = parse(json.loads(line))
            if isinstance(r.index, bool) or not isinstance(r.index, int):
                continue
        except (ValueError, RecursionError, KeyError, TypeError, AttributeError, OverflowError):
            continue  # not a line this run wrote (a huge integer overflows a float)
        done[r.index] = r
    return done


def append_line(path: Path, obj: dict) -> None:
    """Append ``obj`` as one JSON line to ``path``, on disk before this returns."""
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_resumable(prompts: list[str], header: dict, partial: str | Path | None,
                  parse: Callable[[dict], R], measure: MeasureFn,
                  progress: PromptProgressFn | None = None,
                  cancel: CancelCheck | None = None) -> list[R]:
    """Measure every prompt not already in the sidecar ``partial`` (None: no sidecar).

    Args:
        header: the sidecar's first line; a sidecar with another one is refused.
        parse: reads one of ``measure``'s results back from its ``to_dict()``.
        measure: ``measure(todo, cancel)`` yields the result of each prompt of ``todo`` as it
            finishes, in any order.
        progress: ``progress(done, total, message)`` after each prompt and at the end.

    Returns:
        The results of all prompts, in input order; each new one was appended to ``partial``
        as it arrived.
    """
    path = Path(partial) if partial else None
    done = read_sidecar(path, header, parse) if path else {}
    if path and not path.exists():
        append_line(path, header)
    results: dict[int, R] = {}
    todo: Todo = []
    for i, text in enumerate(prompts):
        sha = text_sha(text)
        r = done.get(i)
        if r is None or r.text_sha != sha:
            todo.append((i, text, sha))
        else:
            results[i] = r
    for r in measure(todo, cancel):
        if path:
            append_line(path, r.to_dict())
        results[r.index] = r
        if progress:  # (prompts done, total, the prompt just finished)
            progress(len(results), len(prompts), f"prompt {r.index + 1}")
    if progress:
        progress(len(results), len(prompts), "done")
    return [results[i] for i in range(len(prompts))]
