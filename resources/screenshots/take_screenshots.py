"""Take the README screenshots at a laptop's 1,366 × 768 (or ``--size WxH``): run under
``xvfb-run -a -s "-screen 0 1920x1080x24"``.

Loads the embedded model, drives the real window (a run, a comparison, a generation, the
time-series example) and
captures the X screen with ImageMagick's ``import`` after each step, plus an exported PNG.
Usage: ``xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python
resources/screenshots/take_screenshots.py resources/screenshots [--size=1366x768]``
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from jscope_desktop.app.window.main_window import MainWindow
from jscope_desktop.app.window.palette import apply_palette

PROMPT = "The Eiffel Tower is in the city of Paris. The Colosseum is in the city of"


def main(out: Path, size: str = "1366x768") -> int:
    width, height = (int(v) for v in size.lower().split("x"))
    app = QApplication(sys.argv[:1])
    apply_palette(app, False)
    window = MainWindow()
    window.setGeometry(0, 0, width, height)
    window.reset_layout()
    window.setGeometry(0, 0, width, height)
    window.prompt_panel.prompt.setPlainText(PROMPT)
    steps = []

    def snap(name: str, then) -> None:
        def go():
            app.processEvents()
            subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+0+0",
                            str(out / name)], check=True)
            print("wrote", out / name, flush=True)
            then()
        QTimer.singleShot(600, go)

    def after_run(result):
        window.result_shown.disconnect(after_run)
        window.save_image(str(out / "exported_annotated.png"))
        snap("main_window.png", window.compare)

    def after_compare(rho):
        snap("compare_view.png", lambda: window.generate(8))

    def after_matrix(result):
        window.matrix_view.select_row(len(result.positions) - 1)
        snap("matrix_view.png", series_example)

    def series_example():
        (act,) = [a for a in window.examples_menu.actions() if a.data() == "fig5-brownian"]
        act.trigger()

    def after_series(result):
        snap("series_tab.png", app.quit)

    window.model_ready.connect(lambda info: window.run())
    window.result_shown.connect(after_run)
    window.compare_shown.connect(after_compare)
    window.matrix_shown.connect(after_matrix)
    window.series_tab.result_shown.connect(after_series)
    window.run_failed.connect(lambda m: (print("failed:", m), app.exit(1)))
    window.show()
    status = app.exec()
    window.close()
    return status or (0 if steps == [] else 1)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--size")]
    sizes = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--size=")]
    sys.exit(main(Path(args[0] if args else "."), *(sizes[:1] or [])))
