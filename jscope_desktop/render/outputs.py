"""The one door to a result's picture and web page, for the CLI, the app and the notebook.

``page_for`` / ``save_page`` are Qt-free (a page is text); ``save_picture`` paints through the
QPainter figures (``render.figures.pictures.figure_for`` picks the picture for the result's
kind) and turns every failure into one sentence: Qt missing on this machine, a suffix that is
not an image format, a file that cannot be written.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from ..engine.errors import JScopeError
from ..engine.io import could_not_write, user_path, write_text
from ..engine.results.multi_result import MultiScopeResult
from ..engine.results.result import AttributionResult
from .core.figure_options import FigureOptions
from .core.view_options import ScaleExclusion
from .figures.formats import image_format, write_figure  # Qt is imported only when painting

AnyResult = AttributionResult | MultiScopeResult


def page_for(result: AnyResult, cmap: str = "viridis",
             exclude: ScaleExclusion | str | None = None) -> str:
    """The self-contained web page of ``result`` (any kind), as text; ``exclude`` is the
    attention-sink control it opens with (the embedded result keeps every score)."""
    if isinstance(result, MultiScopeResult):
        from .core.html_multi import multi_page

        return multi_page(result, cmap, exclude)
    from .core.html import result_page

    return result_page(result, cmap, exclude)


def save_page(result: AnyResult, path: str | os.PathLike, cmap: str = "viridis",
              exclude: ScaleExclusion | str | None = None) -> Path:
    """Write :func:`page_for` to ``path`` atomically; returns the path written.

    Raises:
        JScopeError: the file cannot be written (one sentence).
    """
    return write_text(path, page_for(result, cmap, exclude))


def figures():
    """The QPainter pictures module (``render.figures.pictures``), imported on first use.

    Raises:
        JScopeError: Qt cannot be loaded here (e.g. a server without its system libraries).
    """
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # nothing to show a window on
    try:
        return importlib.import_module("jscope_desktop.render.figures.pictures")
    except ImportError as exc:
        raise JScopeError(f"Image export is not available here: {exc}.") from exc


def save_picture(result: AnyResult, path: str | os.PathLike,
                 options: FigureOptions | None = None, **fields) -> Path:
    """Write the picture of ``result`` to ``path``; the suffix picks PNG (2× scale), SVG or PDF.

    Args:
        result: any kind of result (``render.figures.pictures.figure_for`` picks the picture).
        path: the file to write (replaced atomically).
        options: the view options (``FigureOptions``).
        **fields: instead of ``options``, its fields as keywords (``cmap="magma"``, ...).

    Returns:
        The path written.

    Raises:
        JScopeError: Qt is missing here, the suffix is not an image format, or the file cannot
            be written (one sentence).
    """
    options = options or FigureOptions(**fields)
    try:
        image_format(path)  # a wrong suffix is refused before Qt is loaded or anything painted
    except ValueError as exc:
        raise JScopeError(str(exc)) from None
    pictures = figures()
    try:
        return write_figure(pictures.figure_for(result, options), user_path(path))
    except ValueError as exc:
        raise JScopeError(str(exc).rstrip(".") + ".") from exc
    except OSError as exc:
        raise could_not_write(path, exc) from exc


def faithfulness_page_for(report: dict, sanity: dict | None = None) -> str:
    """The self-contained web page of a faithfulness report (one filler; the JSON of
    ``jscope faithfulness``), with the curves of a ``jscope sanity`` report when given."""
    from .core.faithfulness_page import faithfulness_page

    return faithfulness_page(report, sanity)


def save_faithfulness_page(report: dict, path: str | os.PathLike,
                           sanity: dict | None = None) -> Path:
    """Write :func:`faithfulness_page_for` to ``path`` atomically; returns the path written.

    Raises:
        JScopeError: the file cannot be written (one sentence).
    """
    return write_text(path, faithfulness_page_for(report, sanity))


def save_faithfulness_picture(report: dict, path: str | os.PathLike,
                              sanity: dict | None = None) -> Path:
    """Write the report's picture (AOPC with intervals, the paired differences, the sanity
    curves when given) to ``path``; the suffix picks PNG (2× scale), SVG or PDF.

    Raises:
        JScopeError: Qt is missing here, the suffix is not an image format, or the file cannot
            be written (one sentence).
    """
    try:
        image_format(path)
    except ValueError as exc:
        raise JScopeError(str(exc)) from None
    figures()  # Qt loadable here (one sentence if not)
    from .figures.faithfulness_figure import FaithfulnessFigure

    try:
        return write_figure(FaithfulnessFigure(report, sanity), user_path(path))
    except OSError as exc:
        raise could_not_write(path, exc) from exc
