"""What the app's Save/Export/Copy actions write: a result as CSV, JSON (the contract) or its
picture, to a file or the clipboard. Used by the window's file actions and the series tab.

Every failure is one :class:`JScopeError` sentence naming the file. Pictures are written by the
render layer (``render.figures.formats.write_figure``); text files through :func:`_open` here.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from ...engine.errors import JScopeError
from ...engine.io import could_not_write, write_text
from ...engine.results.result import AttributionResult
from ...render.core.series_data import series_csv
from ...render.core.units import make_units
from ...render.figures.export import FigureOptions, render_image, save_image
from ...render.figures.formats import IMAGE_FORMATS

CSV_FILTER, JSON_FILTER = "CSV (*.csv)", "JSON (*.json)"  # the save dialogs' filters


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
    """Write the annotated strip image (PNG 2×, SVG or PDF by suffix) through the render layer."""
    return _image(lambda: save_image(result, path, **vars(options)), path)


def write_series_image(result: AttributionResult, path: str | Path, **options) -> Path:
    """Write the series figure (PNG 2×, SVG or PDF by suffix); ``options`` as
    ``render.figures.series_plot.save_series_image`` takes them (cmap, dark, width). Returns the path."""
    from ...render.figures.series_plot import save_series_image

    return _image(lambda: save_series_image(result, path, **options), path)


def copy_image(result: AttributionResult, options: FigureOptions) -> None:
    """Put the annotated strip image (2× scale) on the clipboard."""
    QGuiApplication.clipboard().setImage(render_image(result, options))


def copy_series_image(result: AttributionResult, **options) -> None:
    """Put the series figure (2× scale, header and footer included) on the clipboard."""
    from ...render.figures.series_plot import render_series_image

    QGuiApplication.clipboard().setImage(render_series_image(result, **options))


def write_series(result: AttributionResult, path: str | Path, **image_options) -> Path:
    """Write a series result by the suffix of ``path``: the figure for an image suffix (with
    ``image_options`` as :func:`write_series_image` takes them), ``.csv`` or ``.json``.

    Returns:
        The path written.

    Raises:
        JScopeError: for another suffix, or when the file cannot be written (one sentence).
    """
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_FORMATS:
        return write_series_image(result, path, **image_options)
    if suffix == ".csv":
        return write_series_csv(result, path)
    if suffix == ".json":
        return write_json(result, path)
    raster = ", ".join(f.suffix for f in IMAGE_FORMATS.values() if not f.vector)
    vector = " or ".join(f.suffix for f in IMAGE_FORMATS.values() if f.vector)
    raise JScopeError(f"Cannot export {Path(path).name}: use {raster}, .csv or .json "
                      f"(or {vector} for a vector picture).")


def _image(write, path: str | Path) -> Path:
    try:
        return write()
    except ValueError as exc:
        raise JScopeError(str(exc)) from exc
    except OSError as exc:
        raise could_not_write(Path(path).name, exc) from exc
