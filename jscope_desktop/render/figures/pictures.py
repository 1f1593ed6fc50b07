"""Which picture shows which result: the one choice, made here for the CLI, the app and the
notebook alike (all reach it through ``render.outputs``)."""

from __future__ import annotations

from PySide6.QtGui import QImage

from ...engine.results.multi_result import MultiScopeResult
from ...engine.results.result import AttributionResult, MatrixResult, SeriesResult
from ..core.figure_options import FigureOptions
from .export import Figure
from .formats import PNG_SCALE, ensure_gui_app, paint_to_image
from .matrix import MatrixFigure
from .multi_strip import MultiFigure
from .series_plot import SeriesFigure
from .strip import DARK, LIGHT

AnyFigure = Figure | MatrixFigure | MultiFigure | SeriesFigure


def figure_for(result: AttributionResult | MultiScopeResult,
               options: FigureOptions | None = None) -> AnyFigure:
    """The laid-out picture of ``result``: several scopes' stacked strips, a series' figure, a
    generation matrix (or one of its rows as a strip when ``options.position`` names one), else
    the annotated strip. Creates an offscreen Qt application when none is running (fonts need
    one).

    Returns:
        A figure with ``size()`` (logical px), ``paint(painter)`` and ``doc_title``.
    """
    opt = options or FigureOptions()
    ensure_gui_app()
    if isinstance(result, MultiScopeResult):
        return MultiFigure(result, opt)
    if isinstance(result, SeriesResult):
        return SeriesFigure(result, opt.width or 1000.0, opt.cmap, DARK if opt.dark else LIGHT,
                            exclude=opt.exclude)
    if isinstance(result, MatrixResult) and opt.position is None:
        return MatrixFigure(result, opt.cmap, opt.scale, opt.dark, exclude=opt.exclude)
    return Figure(result, opt)


def render_picture(result: AttributionResult | MultiScopeResult,
                   options: FigureOptions | None = None, scale: float = PNG_SCALE) -> QImage:
    """:func:`figure_for` ``result`` painted into a QImage of ``scale`` × its logical size
    (device pixel ratio set), e.g. for the clipboard."""
    return paint_to_image(figure_for(result, options), scale)
