"""A data set to attribute item by item: reading its items, and what an output file already holds.

An item is ``{"id": str|int (optional), "prompt": str, "target": str?, "foil": str?,
"position": int?, "chat": bool?}``, read from JSON Lines (``.jsonl``), a JSON list (``.json``)
or CSV with a header row (``.csv``). Reading is total: any bytes give the items or one sentence.
A file that cannot be read as a whole (missing, not UTF-8, not a JSON list, a CSV without a
``prompt`` column, two items with one id) is one sentence; an item that cannot be run (a
malformed JSON line, a field of the wrong type) is an item whose ``error`` says why, so that the
rest of the data set still runs.

An item's number is its place in the file: the line of a ``.jsonl`` file, the entry of a
``.json`` list, the data row of a ``.csv`` file (header not counted); blank lines and rows are
skipped but keep their numbers. An item without an id takes its number as id. Ids are compared
as text (``7`` and ``"7"`` are the same id). Keys other than the six above are ignored (data sets
carry their own columns).

The output (one JSON line per item, see :mod:`jscope_desktop.commands.batch`) is read back by
:func:`read_out` to resume a stopped run: results are done, error lines are retried, and a
truncated last line (a run killed mid-write) is dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EMPTY_PROMPT, JScopeError
from ..io import csv_rows, read_user_json, read_user_text, user_path, write_text

FIELDS = ("prompt", "target", "foil", "position", "chat")
OVERRIDES = ("target", "foil", "position", "chat")  # the fields that override the options
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
# The most items one data set may hold: far above any benchmark (LAMBADA has 5,153), and a bound
# on the memory a file of tiny items costs (a 256 MB file of '{"prompt":"a"}' lines is 17 M).
MAX_ITEMS = 1_000_000
_OBJECT = 'one JSON object with a "prompt"'
_LIST_SHAPE = 'a JSON list of objects, each with a "prompt"'
_CHAT_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")


@dataclass
class BatchItem:
    """One item of a data set.

    Attributes:
        number: its 1-based place in the file (see the module's docstring).
        id: its id as given, or ``number`` when it has none (or none that can be read).
        fields: the fields it gives (prompt, and those of target, foil, position, chat it sets).
        error: why it cannot be run (one sentence), or None.
    """

    number: int
    id: str | int
    fields: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def key(self) -> str:
        """The id as text: what duplicates and resumed lines are matched by."""
        return id_key(self.id)

    @property
    def overrides(self) -> dict:
        """The fields that override the command's options (target, foil, position, chat)."""
        return {k: v for k, v in self.fields.items() if k in OVERRIDES}


def id_key(item_id: str | int) -> str:
    """An id as text (ids are compared this way)."""
    return str(item_id)


def show_id(item_id) -> str:
    """An id as a sentence shows it: text quoted, a number as it is, at most 40 characters."""
    text = f"'{item_id}'" if isinstance(item_id, str) else str(item_id)
    return text if len(text) <= 40 else text[:37] + "..."


def read_items(path: str | Path) -> list[BatchItem]:
    """The items of the data set ``path`` (JSON Lines, a JSON list or CSV, by its suffix).

    Returns:
        The items in file order; those that cannot be run carry their ``error``.

    Raises:
        JScopeError: one sentence for a file that cannot be read as a whole: an unknown suffix,
            a missing, unreadable or undecodable file, a ``.json`` file that is not a list, a
            CSV file without a ``prompt`` column, no items, or one id used twice.
    """
    p = user_path(path)
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise JScopeError(f"The input file {p} must end in .jsonl (JSON Lines), .json (a JSON "
                          "list) or .csv, so that its format is known.")
    if kind == "json":
        data = read_user_json(p, "input file", _LIST_SHAPE)
        if not isinstance(data, list):
            raise JScopeError(f"The input file {p} must be {_LIST_SHAPE}.")
        _check_count(len(data), p)
        items = [check_item(raw, n) for n, raw in enumerate(data, 1)]
    else:
        text = read_user_text(p, "input file", encoding="utf-8-sig")
        items = _jsonl_items(text, p) if kind == "jsonl" else _csv_items(text, p)
    if not items:
        raise JScopeError(f"The input file {p} holds no items.")
    _check_unique(items, p)
    return items


def _check_count(n: int, path: Path) -> None:
    """One sentence for a data set of more than :data:`MAX_ITEMS` items (or lines)."""
    if n > MAX_ITEMS:
        raise JScopeError(f"The input file {path} holds more than {MAX_ITEMS:,} items ({n:,}); "
                          "split it into several files.")


def _jsonl_items(text: str, path: Path) -> list[BatchItem]:
    lines = text.split("\n")  # not splitlines: JSON text may hold U+2028
    _check_count(sum(1 for line in lines if line.strip()), path)  # before any line is parsed
    items = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            items.append(BatchItem(n, n, error=f"Line {n} is not valid JSON ({exc.msg}, column "
                                                f"{exc.colno}); each line must be {_OBJECT}."))
            continue
        except (RecursionError, ValueError):  # too deep, or a number too long to read
            items.append(BatchItem(n, n, error=f"Line {n} cannot be read as JSON (nested too "
                                                f"deeply or too long a number); each line must "
                                                f"be {_OBJECT}."))
            continue
        items.append(check_item(raw, n))
    return items


def _csv_items(text: str, path: Path) -> list[BatchItem]:
    rows = csv_rows(text, "input file", path)
    _check_count(sum(1 for row in rows[1:] if any(row)), path)  # rows, not lines: quoted newlines
    while rows and not any(rows[0]):
        rows.pop(0)
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    if "prompt" not in header:
        names = ", ".join(repr(h) for h in header)
        raise JScopeError(f"The input file {path} has no 'prompt' column in its header row "
                          f"(its columns: {names[:120]}); name the columns id, prompt, target, "
                          "foil, position, chat.")
    for name in ("id", *FIELDS):
        if header.count(name) > 1:
            raise JScopeError(f"The input file {path} has the column '{name}' twice; keep one.")
    columns = {name: header.index(name) for name in ("id", *FIELDS) if name in header}
    items = []
    for n, row in enumerate(rows[1:], 1):
        if not any(row):
            continue
        cells = {name: row[i] for name, i in columns.items() if i < len(row) and row[i] != ""}
        if "id" in cells:
            cells["id"] = cells["id"].strip() or None
        if "position" in cells:
            text_value = cells["position"].strip()
            cells["position"] = int(text_value) if _INTEGER.fullmatch(text_value) else text_value
        if "chat" in cells:
            cells["chat"] = _CHAT_WORDS.get(cells["chat"].strip().lower(), cells["chat"])
        items.append(check_item(cells, n))
    return items


def check_item(raw, number: int) -> BatchItem:
    """The item ``raw`` (a parsed JSON value or CSV row) at place ``number``, its fields checked.

    Never raises: a value that is not an object or a field of the wrong type gives an item with
    the one-sentence ``error`` (its id is ``number`` when the id itself cannot be used).
    """
    if not isinstance(raw, dict):
        return BatchItem(number, number, error=f"The item is {_kind(raw)}, not {_OBJECT}.")
    item_id = raw.get("id")
    if item_id is None:
        item_id = number
    else:
        problem = _id_problem(item_id)
        if problem:
            return BatchItem(number, number, error=problem)
    fields = {k: raw[k] for k in FIELDS if raw.get(k) is not None}
    return BatchItem(number, item_id, fields, _field_problem(fields))


def _id_problem(item_id) -> str | None:
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
        return f"The id must be text or a whole number, not {_kind(item_id)}."
    if isinstance(item_id, str) and not item_id.strip():
        return "The id is empty; give text or a whole number, or leave it out."
    if isinstance(item_id, str) and not _is_utf8(item_id):
        return "The id holds characters that are not valid Unicode text."
    return None


def _field_problem(fields: dict) -> str | None:
    prompt = fields.get("prompt")
    if prompt is None:
        return 'The item has no "prompt"; give the text to explain.'
    if not isinstance(prompt, str):
        return f"The prompt must be text, not {_kind(prompt)}."
    if not prompt.strip():
        return EMPTY_PROMPT
    for name in ("target", "foil"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            return f"The {name} must be the text of one token, not {_kind(value)}."
    for name in ("prompt", "target", "foil"):
        if name in fields and not _is_utf8(fields[name]):
            return f"The {name} holds characters that are not valid Unicode text."
    position = fields.get("position")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
        return f"The position must be a whole number, not {_kind(position)}."
    chat = fields.get("chat")
    if chat is not None and not isinstance(chat, bool):
        return f"chat must be true or false, not {_kind(chat)}."
    return None


def _kind(value) -> str:
    """A value as an error sentence names it: its text for a short scalar, else its type."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = json.dumps(value, ensure_ascii=True) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape
        return False
    return True


def _check_unique(items: list[BatchItem], path: Path) -> None:
    first: dict[str, BatchItem] = {}
    for item in items:
        seen = first.setdefault(item.key, item)
        if seen is not item:
            raise JScopeError(f"The id {show_id(item.id)} appears twice in {path.name} (items "
                              f"{seen.number} and {item.number}); give every item its own id.")


@dataclass
class OutState:
    """What an output file already holds, for ``--resume``.

    Attributes:
        done: the ids (as text, see :func:`id_key`) that have a result line.
        kept: the result lines, exactly as they are in the file (each without its newline).
        retried: how many error lines were dropped (their items run again).
        truncated: True when a truncated last line (a killed run) was dropped.
        blank: how many blank lines were dropped.
        settings: the distinct (scope, model name, parameters, width, vocabulary, dtype) of the
            results, so that a resume with other settings can be refused.
    """

    done: set[str] = field(default_factory=set)
    kept: list[str] = field(default_factory=list)
    retried: int = 0
    truncated: bool = False
    blank: int = 0
    settings: set[tuple] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        """True when the file holds lines that are to be dropped before appending."""
        return self.truncated or self.retried > 0 or self.blank > 0

    def rewrite(self, path: str | Path) -> None:
        """Replace ``path`` atomically by its kept lines (a no-op when nothing is dropped)."""
        if not self.changed:
            return
        if self.kept:
            write_text(path, "".join(line + "\n" for line in self.kept))
        else:  # nothing to keep: an empty file (the atomic writer refuses to write nothing)
            user_path(path).open("w").close()


def result_settings(result: dict) -> tuple:
    """The settings of a result line that must agree within one output file."""
    model = result.get("model")
    model = model if isinstance(model, dict) else {}
    return (result.get("scope"), model.get("name"), model.get("n_params"), model.get("d_model"),
            model.get("vocab_size"), result.get("dtype"))


def read_out(path: str | Path, keys: set[str]) -> OutState:
    """What the output file ``path`` holds (nothing when it does not exist); reads only.

    Args:
        path: the output of an earlier run of the same data set.
        keys: the ids (as text) of the data set's items.

    Raises:
        JScopeError: one sentence when ``path`` cannot be read, holds a line that is not a line
            of a batch output, holds an id twice, or holds an id that is not in the data set.
    """
    p = user_path(path)
    if not p.exists():
        return OutState()
    text = read_user_text(p, "output file", whole=True)  # written by batch itself, any size
    lines = text.split("\n")
    state = OutState(truncated=lines[-1] != "")  # no newline after it: a killed run's last line
    seen: set[str] = set()
    for n, line in enumerate(lines[:-1], 1):
        if not line.strip():
            state.blank += 1
            continue
        try:
            d = json.loads(line)
        except (ValueError, RecursionError):
            d = None
        item_id = d.get("id") if isinstance(d, dict) else None
        if item_id is None or _id_problem(item_id):
            raise JScopeError(f"Line {n} of {p} is not a line that jscope batch writes; resume "
                              "only into its own output, or choose another output file.")
        key = id_key(item_id)
        if key in seen:
            raise JScopeError(f"{p} holds the id {show_id(item_id)} twice; it was not written by "
                              "one batch run: choose another output file.")
        if key not in keys:
            raise JScopeError(f"{p} holds the id {show_id(item_id)}, which is not in the input: "
                              "it is the output of another data set; choose another output file.")
        seen.add(key)
        if "error" in d:
            state.retried += 1
            continue
        state.done.add(key)
        state.kept.append(line)
        state.settings.add(result_settings(d))
    return state
