"""Writing a result: CSV, JSON (the contract), the annotated image, the clipboard."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from ..engine.errors import JScopeError
from ..engine.result import AttributionResult
from ..render.export import FigureOptions, render_image, save_image
from ..render.units import make_units


def write_csv(result: AttributionResult, path: str | Path) -> Path:
    """Write one line per token: index, token id, text, special flag, score(s), rank.

    A multi-position result gets one score column per explained position (``score@P``).
    Returns the path written.
    """
    path = Path(path)
    special = result.special or [False] * len(result.tokens)
    rows = result.scores if result.positions is not None else [result.scores]
    names = ([f"score@{p}" for p in result.positions] if result.positions is not None
             else ["score"])
    ranks = {u.start: u.rank for u in make_units(result, "token")}
    with _open(path) as f:
        w = csv.writer(f)
        w.writerow(["index", "token_id", "token", "special", *names, "rank"])
        for i, (tid, tok) in enumerate(zip(result.token_ids, result.tokens)):
            scores = ["" if row[i] is None else repr(float(row[i])) for row in rows]
            w.writerow([i, tid, tok, int(bool(special[i])), *scores, ranks.get(i) or ""])
    return path


def write_json(result: AttributionResult, path: str | Path) -> Path:
    """Write the result's JSON contract (``AttributionResult.load`` reads it back equal)."""
    path = Path(path)
    try:
        result.save(path)
    except OSError as exc:
        raise JScopeError(f"Could not write {path.name}: {exc.strerror or exc}.") from exc
    return path


def write_image(result: AttributionResult, path: str | Path, options: FigureOptions) -> Path:
    """Write the annotated image (PNG 2×, SVG or PDF by suffix) through the render layer."""
    try:
        return save_image(result, path, **vars(options))
    except ValueError as exc:
        raise JScopeError(str(exc)) from exc
    except OSError as exc:
        raise JScopeError(f"Could not write {Path(path).name}: {exc}") from exc


def copy_image(result: AttributionResult, options: FigureOptions) -> None:
    """Put the annotated image (2× scale) on the clipboard."""
    QGuiApplication.clipboard().setImage(render_image(result, options))


def _open(path: Path):
    try:
        return path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        raise JScopeError(f"Could not write {path.name}: {exc.strerror or exc}.") from exc
