"""What the app's Save/Export/Copy actions write: a result as CSV, JSON (the contract) or its
picture, to a file or the clipboard. Used by the window's file actions and the series tab.

Every failure is one :class:`JScopeError` sentence naming the file. Pictures are written by the
render layer's one door (``render.outputs.save_picture``); text files by ``engine.io.write_text``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from ...engine.errors import JScopeError
from ...engine.io import write_text
from ...engine.results.result import AttributionResult, MatrixResult
from ...render.core.figure_options import FigureOptions
from ...render.core.series_data import series_csv
from ...render.core.units import make_units
from ...render.figures.formats import IMAGE_FORMATS
from ...render.figures.pictures import render_picture
from ...render.outputs import save_picture

CSV_FILTER, JSON_FILTER = "CSV (*.csv)", "JSON (*.json)"  # the save dialogs' filters


def write_csv(result: AttributionResult, path: str | Path) -> Path:
    """Write one line per token: index, token id, text, special flag, score(s), rank.

    A multi-position result gets one score column per explained position (``score@P``).
    Returns the path written.
    """
    path = Path(path)
    special = result.special or [False] * len(result.tokens)
    matrix = isinstance(result, MatrixResult)
    rows = result.scores if matrix else [result.scores]
    names = [f"score@{p}" for p in result.positions] if matrix else ["score"]
    ranks = {u.start: u.rank for u in make_units(result, "token")}
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["index", "token_id", "token", "special", *names, "rank"])
    for i, (tid, tok) in enumerate(zip(result.token_ids, result.tokens)):
        scores = ["" if row[i] is None else repr(float(row[i])) for row in rows]
        w.writerow([i, tid, tok, int(bool(special[i])), *scores, ranks.get(i) or ""])
    return write_text(path, buf.getvalue())


def write_series_csv(result: AttributionResult, path: str | Path) -> Path:
    """Write a series result as CSV (one row per value, then one per next-value string; see
    ``render.core.series_data.series_csv``). Returns the path written."""
    return write_text(path, series_csv(result))


def write_json(result: AttributionResult, path: str | Path) -> Path:
    """Write the result's JSON contract (``AttributionResult.load`` reads it back equal)."""
    result.save(path)  # atomic; a failure is already a one-sentence JScopeError
    return Path(path)


def write_image(result: AttributionResult, path: str | Path, options: FigureOptions) -> Path:
    """Write the picture of ``result`` as shown with ``options`` (PNG 2×, SVG or PDF by suffix;
    the render layer picks the picture for the result's kind). Returns the path written."""
    return save_picture(result, path, options)


def copy_image(result: AttributionResult, options: FigureOptions) -> None:
    """Put the picture of ``result`` as shown with ``options`` (2× scale) on the clipboard."""
    QGuiApplication.clipboard().setImage(render_picture(result, options))


def write_series(result: AttributionResult, path: str | Path, **image_options) -> Path:
    """Write a series result by the suffix of ``path``: the figure for an image suffix (with
    ``image_options``: fields of ``FigureOptions``), ``.csv`` or ``.json``.

    Returns:
        The path written.

    Raises:
        JScopeError: for another suffix, or when the file cannot be written (one sentence).
    """
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_FORMATS:
        return write_image(result, path, FigureOptions(**image_options))
    if suffix == ".csv":
        return write_series_csv(result, path)
    if suffix == ".json":
        return write_json(result, path)
    raster = ", ".join(f.suffix for f in IMAGE_FORMATS.values() if not f.vector)
    vector = " or ".join(f.suffix for f in IMAGE_FORMATS.values() if f.vector)
    raise JScopeError(f"Cannot export {Path(path).name}: use {raster}, .csv or .json "
                      f"(or {vector} for a vector picture).")

