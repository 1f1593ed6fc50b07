"""Before Qt starts on Linux: are the system libraries it loads from the system there?

Without them Qt fails with a traceback or aborts with a hard-to-read message, so the app checks
first and names the missing libraries and the packages that hold them. These lists are also
what the bundle leaves out (packaging/jscope-desktop.spec), the .deb's dependencies and what the
tar.gz's install script checks (packaging/build.sh reads them from here).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

# (shared library, Debian/Ubuntu package). QtGui links the OpenGL dispatch libraries on every
# platform; they belong to the system's graphics driver stack, so they are never bundled.
CORE_LIBS: tuple[tuple[str, str], ...] = (
    ("libGL.so.1", "libgl1"),
    ("libEGL.so.1", "libegl1"),
)
# What only Qt's xcb (X11) platform plugin and its GL integrations need. Left out of the bundle
# so that it does not depend on what the build machine happened to have installed.
XCB_LIBS: tuple[tuple[str, str], ...] = (
    ("libxcb.so.1", "libxcb1"),
    ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-render.so.0", "libxcb-render0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-shm.so.0", "libxcb-shm0"),
    ("libxcb-sync.so.1", "libxcb-sync1"),
    ("libxcb-util.so.1", "libxcb-util1"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxcb-glx.so.0", "libxcb-glx0"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
)
SYSTEM_LIBS = CORE_LIBS + XCB_LIBS


def uses_xcb(env: dict[str, str] | None = None) -> bool:
    """Whether Qt will pick its xcb (X11) platform plugin on this machine; True/False."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return False
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0].startswith("xcb")
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland")


def _loadable(soname: str) -> bool:
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled and (Path(bundled) / soname).exists():
        return True
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(xcb: bool = True) -> list[tuple[str, str]]:
    """The (library, package) pairs of :data:`CORE_LIBS` (and :data:`XCB_LIBS` when ``xcb``)
    that cannot be loaded; empty if none."""
    wanted = CORE_LIBS + (XCB_LIBS if xcb else ())
    return [(lib, pkg) for lib, pkg in wanted if not _loadable(lib)]


def missing_message(missing: list[tuple[str, str]]) -> str:
    """The message shown when libraries are missing: what, and the command that installs them."""
    libs = ", ".join(lib for lib, _ in missing)
    packages = " ".join(pkg for _, pkg in missing)
    return (f"Jacobian Scopes Desktop cannot start because system libraries are missing: {libs}. "
            f"Install them and start it again; on Debian or Ubuntu: sudo apt install {packages}")


def _show_dialog(message: str) -> None:
    # Started from a menu, stderr is invisible: use a desktop dialog tool when there is one.
    # xmessage does not wrap lines; the others wrap anyway.
    message = textwrap.fill(message, 72)
    for tool, args in (("zenity", ["--error", "--no-markup", "--text"]),
                       ("kdialog", ["--error"]), ("xmessage", ["-center"])):
        path = shutil.which(tool)
        if path:
            subprocess.run([path, *args, message], check=False, timeout=600)
            return


def check_or_explain(window: bool = True) -> bool:
    """Check the system libraries Qt will load; when some are missing, say so (stderr, and a
    dialog when a dialog tool is installed). ``window=False``: only offscreen rendering is needed
    (``--self-test``), so the xcb libraries are not required.

    Returns:
        True when Qt can start (always on other systems than Linux), False otherwise.
    """
    if not sys.platform.startswith("linux"):
        return True
    missing = missing_libraries(xcb=window and uses_xcb())
    if not missing:
        return True
    message = missing_message(missing)
    print(message, file=sys.stderr)
    try:
        _show_dialog(message)
    except (OSError, subprocess.SubprocessError):
        pass
    return False


