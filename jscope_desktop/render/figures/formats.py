"""The image formats a figure can be saved in, and the one place that writes a figure to a file.

``IMAGE_FORMATS`` maps a file suffix to its description and writer; the command line's
``--png/--svg/--pdf`` options (:func:`image_formats`), the save dialogs' filters
(:func:`file_filter`) and the error sentence for another suffix all come from it.

A *figure* is anything with ``size()`` (logical px, a QSize or QSizeF), ``style.background``,
``paint(painter)`` drawing it with its top-left corner at (0, 0), and optionally ``doc_title``.

This module imports Qt only inside its functions, so the command line can list the formats
before (or without) loading Qt.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...engine.io import atomic_path, user_path

PNG_SCALE = 2.0  # a PNG holds 2 device px per logical px: sharp on high-DPI screens and in print
DOC_TITLE = "Jacobian Scopes"


@dataclass(frozen=True)
class ImageFormat:
    """One image format: its suffix (".png"), a description for dialogs, whether it is a vector
    format, and ``write(figure, path)`` (raises OSError when the file cannot be written)."""

    suffix: str
    description: str
    vector: bool
    write: Callable[[object, Path], None]

    @property
    def name(self) -> str:
        """The suffix without its dot ("png"), as in the command line's ``--png``."""
        return self.suffix.lstrip(".")

    @property
    def filter(self) -> str:
        """The save dialog filter, e.g. ``"PNG image (*.png)"``."""
        return f"{self.description} (*{self.suffix})"


def ensure_gui_app():
    """The running Qt application, or a new offscreen one (fonts need one; no display needed).

    Returns:
        The QGuiApplication instance (a QApplication when this function created it).
    """
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        # A QApplication (not a bare QGuiApplication), so widgets created later in the same
        # process (tests, the app) do not abort Qt.
        from PySide6.QtWidgets import QApplication

        app = QApplication(["jscope"])
    return app


def paint_to_image(fig, scale: float = PNG_SCALE):
    """Paint a figure into a QImage.

    Args:
        fig: the figure (see the module docstring).
        scale: device px per logical px.

    Returns:
        A QImage of ``scale`` × the figure's logical size (ARGB32 premultiplied), its device
        pixel ratio set to ``scale``.
    """
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QImage, QPainter

    ensure_gui_app()
    size = fig.size()
    image = QImage(QSize(round(size.width() * scale), round(size.height() * scale)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(scale)
    image.fill(fig.style.background)
    painter = QPainter(image)
    fig.paint(painter)
    painter.end()
    return image


def _write_png(fig, path: Path) -> None:
    if not paint_to_image(fig, PNG_SCALE).save(str(path), "PNG"):
        raise OSError("Qt could not write the image")


def _write_svg(fig, path: Path) -> None:
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    size = fig.size()
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QSize(round(size.width()), round(size.height())))
    gen.setViewBox(QRectF(0, 0, size.width(), size.height()))
    gen.setResolution(96)
    gen.setTitle(getattr(fig, "doc_title", DOC_TITLE))
    painter = QPainter(gen)
    fig.paint(painter)
    if not painter.end() or not path.exists():
        raise OSError("Qt could not write the image")
    _add_generic_family(path)


def _add_generic_family(path: Path) -> None:
    """Give every font family of an SVG a generic fallback (``'DejaVu Sans', sans-serif``), so a
    viewer without the font still shows the text as text, in a sans-serif face."""
    import re

    text = path.read_text(encoding="utf-8")
    text = re.sub(r'font-family="([^"]+)"', lambda m: f'font-family="{_with_generic(m[1])}"',
                  text)
    path.write_text(text, encoding="utf-8")


def _with_generic(family: str) -> str:
    names = [f.strip().strip("'&quot;") for f in family.split(",") if f.strip()]
    generic = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui"}
    quoted = [n if n in generic else f"'{n}'" for n in names]
    if not any(n in generic for n in names):
        quoted.append("sans-serif")
    return ", ".join(quoted)


def _write_pdf(fig, path: Path) -> None:
    from PySide6.QtCore import QMarginsF, QSizeF
    from PySide6.QtGui import QPageSize, QPainter, QPdfWriter

    size = fig.size()
    writer = QPdfWriter(str(path))
    writer.setResolution(96)  # one logical px = 1/96 in, as on screen
    points = QSizeF(size.width() * 72 / 96, size.height() * 72 / 96)
    writer.setPageSize(QPageSize(points, QPageSize.Unit.Point, "figure"))
    writer.setPageMargins(QMarginsF(0, 0, 0, 0))
    writer.setTitle(getattr(fig, "doc_title", DOC_TITLE))
    painter = QPainter(writer)
    if not painter.isActive():
        raise OSError("Qt could not write the image")
    fig.paint(painter)
    painter.end()


IMAGE_FORMATS: dict[str, ImageFormat] = {
    f.suffix: f for f in (
        ImageFormat(".png", "PNG image", False, _write_png),
        ImageFormat(".svg", "SVG image", True, _write_svg),
        ImageFormat(".pdf", "PDF document", True, _write_pdf),
    )
}


def image_formats() -> tuple[str, ...]:
    """The names of the image formats, without dots, first the default: ("png", "svg", "pdf")."""
    return tuple(f.name for f in IMAGE_FORMATS.values())


def file_filter() -> str:
    """The save dialog filter string of every image format, the default first.

    Returns:
        e.g. ``"PNG image (*.png);;SVG image (*.svg);;PDF document (*.pdf)"``.
    """
    return ";;".join(f.filter for f in IMAGE_FORMATS.values())


def formats_sentence() -> str:
    """The raster and vector suffixes as words: "a .png file name, or .svg or .pdf for a vector
    picture" (completes "use ...")."""
    raster = [f.suffix for f in IMAGE_FORMATS.values() if not f.vector]
    vector = [f.suffix for f in IMAGE_FORMATS.values() if f.vector]
    return (f"a {' or '.join(raster)} file name, or {' or '.join(vector)} for a vector picture")


def image_format(path: str | os.PathLike) -> ImageFormat:
    """The format of ``path`` by its suffix (case-insensitive).

    Raises:
        ValueError: the suffix is not an image format (one sentence naming the choices).
    """
    path = Path(path)
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"Cannot save {path.name}: use {formats_sentence()}.")
    return fmt


def write_figure(fig, path: str | os.PathLike) -> Path:
    """Write a figure to ``path`` in the format its suffix names (PNG at 2×, SVG, PDF).

    Every image file the app and the command line write goes through here.

    Returns:
        The path written.

    Raises:
        ValueError: for a suffix that is not an image format.
        OSError: when the file cannot be written.
    """
    path = user_path(path)
    fmt = image_format(path)
    ensure_gui_app()
    with atomic_path(path) as tmp:  # a failed paint never truncates the file that was there
        fmt.write(fig, tmp)
    return path


def with_suffix_of(path: str | os.PathLike, fmt: str) -> Path:
    """``path`` ending in the suffix of format ``fmt`` ("png"): unchanged when it already does
    (any case), else with the suffix appended ("a.jpg" → "a.jpg.png")."""
    path = Path(path)
    return path if path.suffix.lower() == f".{fmt}" else path.with_name(path.name + f".{fmt}")
