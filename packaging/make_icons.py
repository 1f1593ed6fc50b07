"""Render the app icon from its one source image (packaging/icons/jscope-desktop.svg).

Writes, next to the source: ``png/<n>x<n>.png`` (the hicolor theme sizes for Linux),
``jscope-desktop.ico`` (Windows, PNG-compressed entries 16-256 px) and ``jscope-desktop.icns``
(macOS, PNG entries 16-1024 px); and the 256 px PNG as the window icon,
jscope_desktop/resources/jscope-desktop.png.
ICO and ICNS are written by hand: both are a small header plus PNG payloads, so no
image library beyond Qt is needed. Run: ``.venv/bin/python packaging/make_icons.py``.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent / "icons"
APP_ICON = HERE.parent.parent / "jscope_desktop" / "resources" / "jscope-desktop.png"  # window icon
SOURCE = HERE / "jscope-desktop.svg"
HICOLOR = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS type codes holding PNG data, by pixel size (the @2x codes share a size with a 1x one).
ICNS_TYPES = (("icp4", 16), ("icp5", 32), ("icp6", 64), ("ic07", 128), ("ic08", 256),
              ("ic09", 512), ("ic10", 1024), ("ic11", 32), ("ic12", 64), ("ic13", 256),
              ("ic14", 512))


def render_png(renderer: QSvgRenderer, size: int) -> bytes:
    """The icon rendered at ``size``×``size`` px with antialiasing; returns PNG bytes."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico whose entries are the given PNGs (size -> bytes); returns the file bytes."""
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, payload = b"", b""
    for s in sizes:
        png = pngs[s]
        dim = 0 if s >= 256 else s  # 0 means 256 in the ICO directory
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset + len(payload))
        payload += png
    return header + entries + payload


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns whose elements are the given PNGs (size -> bytes); returns the file bytes."""
    body = b"".join(code.encode() + struct.pack(">I", 8 + len(pngs[s])) + pngs[s]
                    for code, s in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    """Write every icon file; returns 0."""
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (Qt needs one)
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SOURCE}")
    pngs = {s: render_png(renderer, s) for s in {*HICOLOR, *ICO_SIZES, 1024}}
    (HERE / "png").mkdir(exist_ok=True)
    for s in HICOLOR:
        (HERE / "png" / f"{s}x{s}.png").write_bytes(pngs[s])
    APP_ICON.parent.mkdir(exist_ok=True)
    APP_ICON.write_bytes(pngs[256])
    (HERE / "jscope-desktop.ico").write_bytes(ico_bytes(pngs))
    (HERE / "jscope-desktop.icns").write_bytes(icns_bytes(pngs))
    print(f"icons written to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
