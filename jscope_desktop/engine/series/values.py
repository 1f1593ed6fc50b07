"""Series values from the user: pasted text or a file (one value a line, or a CSV column), and
the checks every series must pass. Torch-free, so the app can parse input on its GUI thread."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import JScopeError
from ..io import csv_rows, read_user_text

MAX_VALUES = 4096  # 3–4 tokens a value: beyond this no supported context holds the series


def check_values(values: list[float]) -> None:
    """Raise a one-sentence error for a series that cannot be explained."""
    if len(values) < 3:
        raise JScopeError(f"A series needs at least 3 values; this one has {len(values)}.")
    if len(values) > MAX_VALUES:
        raise JScopeError(f"A series may have at most {MAX_VALUES:,} values (each takes 3–4 "
                          f"tokens of the model's context); this one has {len(values):,}.")
    if not all(math.isfinite(v) for v in values):
        raise JScopeError("The series holds a value that is not a finite number (NaN or infinity).")
    if max(values) == min(values):
        raise JScopeError("The series is constant; there is nothing to rescale or predict.")


def parse_values(text: str, source: str = "The text") -> list[float]:
    """Numbers separated by commas, semicolons, whitespace or newlines, in order."""
    fields = [f for f in text.replace(";", " ").replace(",", " ").split()]
    values = []
    for f in fields:
        try:
            values.append(float(f))
        except ValueError:
            raise JScopeError(f"{source} holds '{f[:20]}', which is not a number.") from None
    return values


def read_values(path: str | Path, column: str | None = None) -> list[float]:
    """Values from a file: one value a line, or a CSV column (``column``: header name or 1-based
    number; default the last column). A first row that is not numeric is taken as a header."""
    path = Path(path)
    text = read_user_text(path, "file", encoding="utf-8-sig")
    rows = [r for r in csv_rows(text, "file", path) if any(c.strip() for c in r)]
    if not rows:
        raise JScopeError(f"The file {path} holds no values.")
    index = _column_index(rows[0], column, path)
    cells = [(n, r[index].strip() if index < len(r) else "") for n, r in enumerate(rows, 1)]
    if cells and not _is_number(cells[0][1]):
        cells = cells[1:]  # a header
    values = []
    for line, cell in cells:
        if not _is_number(cell):
            raise JScopeError(f"Row {line} of {path.name} holds '{cell[:20]}', which is not a number.")
        values.append(float(cell))
    return values


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_index(header: list[str], column: str | None, path: Path) -> int:
    if column is None:
        return len(header) - 1
    names = [h.strip() for h in header]
    if column in names:
        return names.index(column)
    if column.isdigit() and 1 <= int(column) <= len(header):
        return int(column) - 1
    raise JScopeError(f"{path.name} has no column '{column}'; its columns are {', '.join(names)}.")
