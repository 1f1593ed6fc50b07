"""The window's menus and keyboard shortcuts (Ctrl+Enter run, Esc cancel, Ctrl+O open,
Ctrl+S save image); Help ▸ Examples runs the paper's case studies (app/examples_action.py)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from ..actions.examples_action import add_examples_menu
from .palette import apply_palette


def _action(window, menu, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
    act = QAction(text, window)
    if shortcuts:
        act.setShortcuts([QKeySequence(s) for s in shortcuts])
    act.setStatusTip(tip or text.replace("&", "").rstrip("…"))
    act.triggered.connect(lambda *_: slot())
    menu.addAction(act)
    window.addAction(act)  # shortcuts work whichever panel has focus
    return act


def build_menus(window) -> None:
    """Create File, Run, View and Help menus on ``window`` (a MainWindow)."""
    bar = window.menuBar()
    f = bar.addMenu("&File")
    mp = window.model_panel
    window.act_open = _action(window, f, "&Open…", window.open_file, ["Ctrl+O"],
                              "Open a saved session, result (JSON) or web page")
    window.recent_menu = f.addMenu("Open &recent")
    window.refresh_recent_menu()
    f.addSeparator()
    _action(window, f, "Open &model file (.gguf)…", mp.choose_file, ["Ctrl+M"])
    _action(window, f, "Open model &folder…", mp.choose_folder, ["Ctrl+Shift+O"])
    f.addSeparator()
    window.act_save_image = _action(window, f, "&Save image…", window.save_image, ["Ctrl+S"],
                                    "Save the annotated strip as PNG (2×), SVG or PDF")
    _action(window, f, "&Copy image", window.copy_image, ["Ctrl+Shift+C"])
    _action(window, f, "Export &CSV…", window.export_csv)
    _action(window, f, "Export &JSON…", window.export_json)
    _action(window, f, "Save as &web page…", window.save_web_page, [],
            "One self-contained HTML file: hover a token for its score; the JSON is inside")
    f.addSeparator()
    _action(window, f, "Save se&ssion…", window.save_session, ["Ctrl+Shift+S"])
    f.addSeparator()
    _action(window, f, "&Quit", window.close, [QKeySequence.StandardKey.Quit])
    r = bar.addMenu("&Run")
    window.act_run = _action(window, r, "&Run", window.run, ["Ctrl+Return", "Ctrl+Enter"])
    window.act_cancel = _action(window, r, "&Cancel", window.cancel, ["Esc"])
    _action(window, r, "&Compare the ticked scopes", window.compare)
    _action(window, r, "&Measure costs", window.measure)
    _action(window, r, "Run Fisher &exact", window.run_exact)
    _action(window, r, "&Generate and attribute", window.generate)
    v = bar.addMenu("&View")
    vc = window.view_controls
    _action(window, v, "Zoom &in", lambda: vc.set_zoom(vc.zoom * 1.25), ["Ctrl++", "Ctrl+="])
    _action(window, v, "Zoom &out", lambda: vc.set_zoom(vc.zoom / 1.25), ["Ctrl+-"])
    _action(window, v, "&Reset zoom", lambda: vc.set_zoom(1.0), ["Ctrl+0"])
    _action(window, v, "Reset &layout", window.reset_layout, [],
            "Put the panels back to their first widths and the window to its first size")
    _action(window, v, "Ask before &long runs…", lambda: window.estimates.ask_threshold(), [],
            "The predicted time above which a run asks before it starts")
    live = QAction("&Live attribution", window, checkable=True)
    live.setStatusTip("Explain the prompt as you type, while a run is predicted to take under "
                      "half a second")
    live.setChecked(bool(window.settings.get("live")))
    live.toggled.connect(lambda on: window.live.set_enabled(on))
    v.addAction(live)
    window.act_live = live
    dark = QAction("&Dark palette", window, checkable=True)
    dark.setChecked(window.settings.get("dark"))
    dark.toggled.connect(lambda on: set_dark(window, on))
    v.addAction(dark)
    window.act_dark = dark
    h = bar.addMenu("&Help")
    add_examples_menu(window, h)
    h.addSeparator()
    _action(window, h, "&About Jacobian Scopes Desktop", window.about)


def set_dark(window, on: bool) -> None:
    """Switch the application palette and remember the choice."""
    apply_palette(QApplication.instance(), on)
    window.settings.set("dark", on)
    window.strip.update()
