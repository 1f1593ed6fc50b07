"""``jscope-desktop``: start the window, or run a scripted session from the command line.

Usage (DESIGN.md): ``jscope-desktop [FILE] [--model --device --prompt --scope --run
--screenshot PNG --export FILE --quit --self-test]``; FILE is a saved session, result JSON or
web page, opened as File ▸ Open would. The window appears before torch is imported; the engine and the model
load on the worker thread with visible progress.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

_T0 = time.perf_counter()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; scope names are checked once the engine has started (it is lazy)."""
    p = argparse.ArgumentParser(prog="jscope-desktop", description=__doc__.splitlines()[0])
    p.add_argument("file", nargs="?", help="a saved session (.jscope.json), result (.json) or "
                   "web page (.html) to open, as File ▸ Open would")
    p.add_argument("--model", help="model folder or .gguf file (default: the embedded model)")
    p.add_argument("--device", help="auto, cpu, cuda or mps")
    p.add_argument("--prompt", help="the prompt to explain")
    p.add_argument("--scope", help="scope to select (semantic, contrast, temperature, ...)")
    p.add_argument("--run", action="store_true", help="run as soon as the model is loaded")
    p.add_argument("--screenshot", metavar="FILE", help="after the run (or after opening FILE), "
                   "save the window as PNG")
    p.add_argument("--export", metavar="FILE", help="after the run, write the result JSON")
    p.add_argument("--quit", action="store_true", help="exit when done")
    p.add_argument("--self-test", action="store_true",
                   help="load the embedded model, run every scope, render a PNG; exit 0 if ok")
    p.add_argument("--timings", action="store_true",
                   help="print window-up and model-load times to stderr")
    return p.parse_args(argv)


class Script:
    """Drives the window for ``--run/--screenshot/--export/--quit`` and reports failures."""

    def __init__(self, app, window, args: argparse.Namespace):
        self.app, self.window, self.args = app, window, args
        self.status = 0
        window.engine_ready.connect(self._engine_ready)
        window.model_ready.connect(self._model_ready)
        window.result_shown.connect(self._result)
        window.run_failed.connect(self._failed)

    def _engine_ready(self, info) -> None:
        if self.args.file:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self._open_file)
        if self.args.scope:
            names = [s.name for s in info.scopes]
            if self.args.scope not in names:
                self._failed(f"Unknown scope '{self.args.scope}'; choose one of "
                             f"{', '.join(names)}.", status=2)
                return
            self.window.prompt_panel.set_scope(self.args.scope)

    def _open_file(self) -> None:
        if not self.window.open_file(self.args.file):
            self._failed(self.window.message.text())
        elif not self.args.run:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(300, lambda: self._after_run(None))  # let the views paint first

    def _model_ready(self, info) -> None:
        if self.args.timings:
            print(f"model ready after {time.perf_counter() - _T0:.2f} s", file=sys.stderr)
        if self.args.run:
            self.window.run()
        elif self.args.quit and not self.args.file:
            self._finish(0)

    def _result(self, result) -> None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(200, lambda: self._after_run(result))  # let the views paint first

    def _after_run(self, result) -> None:
        if self.args.screenshot:
            from ...engine.errors import JScopeError
            from ...engine.io import atomic_path

            try:
                with atomic_path(self.args.screenshot) as tmp:
                    if not self.window.grab().save(str(tmp), "PNG"):
                        raise OSError("Qt could not write the image")
            except JScopeError as exc:
                self._failed(str(exc))
                return
        if self.args.export:
            if not self.window.export_json(self.args.export):
                self._failed(self.window.message.text())
                return
        if self.args.quit:
            self._finish(0)

    def _failed(self, message: str, status: int = 1) -> None:
        print(f"jscope-desktop: {message}", file=sys.stderr)
        self.status = status
        if self.args.quit:
            self._finish(status)

    def _finish(self, status: int) -> None:
        self.status = status
        # Closing the last window would also post a Quit event; Qt 6 handles it in the next
        # event loop by closing every window, so a later window in the same process (tests,
        # an embedding notebook) would be shut. Exit directly instead.
        self.app.setQuitOnLastWindowClosed(False)
        self.window.ask_before_closing = False  # a script that says --quit has its answer
        self.window.close()
        self.app.exit(status)


def _guard_streams() -> None:
    # A windowed Windows/macOS bundle starts with sys.stdout/stderr = None; progress and
    # warnings written there must not raise.
    import os

    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def _window_icon():
    from importlib.resources import files

    from PySide6.QtGui import QIcon

    return QIcon(str(files("jscope_desktop") / "resources" / "jscope-desktop.png"))


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the exit status (0 ok, 1 error, 2 usage error)."""
    _guard_streams()
    args = parse_args(argv)
    from .syslibs import check_or_explain

    if not check_or_explain(window=not args.self_test):  # Qt would abort or raise without them
        return 1
    if args.self_test:
        from .selftest import run_self_test

        return run_self_test()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ..settings import APPLICATION, ORGANIZATION, AppSettings
    from ..window.main_window import MainWindow
    from ..window.palette import apply_palette

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Python's cyclic collector runs in whichever thread allocates; collecting a Qt object from
    # the worker's thread crashes Qt (seen: a segfault while a series job ran). pyqtgraph's
    # collector turns automatic collection off and collects on a timer in the GUI thread.
    from pyqtgraph.util.garbage_collector import GarbageCollector

    from ..widgets import plotting  # noqa: F401 (pins pyqtgraph to PySide6 before it picks one)

    app.gui_thread_gc = GarbageCollector(interval=1.0)
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANIZATION)
    app.setDesktopFileName("jscope-desktop")
    app.setWindowIcon(_window_icon())
    settings = AppSettings()
    apply_palette(app, settings.get("dark"))
    window = MainWindow(settings=settings, source=args.model, device=args.device)
    if args.model:
        window.model_panel.select_source(args.model)
    if args.prompt is not None:
        window.prompt_panel.prompt.setPlainText(args.prompt)
    script = Script(app, window, args)
    window.show()
    if args.timings:
        QTimer.singleShot(0, lambda: print(f"window up after {time.perf_counter() - _T0:.2f} s",
                                           file=sys.stderr))
    status = app.exec()
    app.setQuitOnLastWindowClosed(True)
    from ..background.worker import still_running, wait_for_all

    if still_running():
        # a step that cannot be interrupted (a model's first conversion, written to a temporary
        # folder that the next conversion removes) holds nothing of the user's: the window is
        # gone and the settings are saved, so the process ends now instead of lingering ~20 s
        settings.sync()
        measured = sys.modules.get("jscope_desktop.engine.planning.cache")
        if measured is not None:  # the runs' timings (written at exit, which _exit skips)
            measured.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(script.status or status)
    wait_for_all()
    return script.status or status


if __name__ == "__main__":
    sys.exit(main())
