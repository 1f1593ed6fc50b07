"""How a picture of a result is drawn: the one set of view options every figure takes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FigureOptions:
    """The view options of a picture (every kind's figure reads the fields it has a use for).

    Attributes:
        cmap: colour map name (``render.core.colormaps.COLORMAPS``).
        scale: ``linear`` or ``log`` colours.
        granularity: ``token``, ``word`` or ``line`` units of a strip.
        width: the picture's width in logical px (None: the kind's own default, 900 for a strip,
            1000 for a series).
        dark: dark background.
        font_px: the strip's font size in logical px.
        position: which row of a generation matrix to draw as a strip (None: the matrix itself,
            or a single result's own position).
        exclude: the tokens left out of the colour scale and the ranking
            (``render.core.view_options.ScaleExclusion`` as text: "first", "special",
            "template", "0,3"; "" for none).
    """

    cmap: str = "viridis"
    scale: str = "linear"
    granularity: str = "token"
    width: float | None = None
    dark: bool = False
    font_px: float = 15.0
    position: int | None = None
    exclude: str = ""
