"""A scripted user trial at a laptop's 1,280 × 720 and a desktop's 1,920 × 1,080: type, run,
switch scope, compare, save an image, save and reopen a session, open a saved result as
`jscope-desktop FILE` does. After every step, every control on screen is inside the window and
whole (not cut by the window's edge or a scroll area)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from jscope_desktop.app.window.accessibility import CONTROLS


def _cut_controls(window) -> list[str]:
    """The controls shown on screen that are not wholly visible inside the window."""
    bad = []
    for w in window.findChildren(QWidget):
        if (not isinstance(w, CONTROLS) or not w.isVisible() or w.window() is not window
                or isinstance(w.parentWidget(), CONTROLS)):  # (a spin box's own line edit)
            continue
        if w.visibleRegion().boundingRect().size() != w.rect().size():
            bad.append(f"{type(w).__name__} {w.accessibleName()!r}")
    return bad


def _choose(monkeypatch, path) -> None:
    """The next file dialogs answer ``path``."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_a_user_trial_keeps_every_control_whole(qtbot, make_window, tiny_llama, tmp_path,
                                                monkeypatch, size):
    from jscope_desktop.app.window.palette import apply_palette

    apply_palette(QApplication.instance(), False)
    window = make_window(tiny_llama)
    window.resize(*size)
    qtbot.wait(50)
    assert _cut_controls(window) == [], "at start"
    prompt = window.prompt_panel.prompt
    prompt.clear()
    qtbot.keyClicks(prompt, "12,34,56,78,")  # type
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        qtbot.keyClick(prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Enter
    assert _cut_controls(window) == [], "after a run"
    scope = window.prompt_panel.scope  # switch scope and run with the button
    scope.setCurrentIndex(scope.findData("semantic"))
    with qtbot.waitSignal(window.result_shown, timeout=60000) as shown:
        qtbot.mouseClick(window.prompt_panel.run_button, Qt.MouseButton.LeftButton)
    assert shown.args[0].scope == "semantic"
    assert _cut_controls(window) == [], "after switching scope"
    for name in ("fisher", "contrast", "semantic"):  # the longest descriptions and most rows
        scope.setCurrentIndex(scope.findData(name))
        qtbot.wait(20)
        assert _cut_controls(window) == [], f"with the {name} scope chosen"
    window.tabs.setCurrentWidget(window.compare_view)  # compare two scopes
    for name in ("temperature", "semantic"):
        item = window.compare_view.item(name)
        item.setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(window.multi_shown, timeout=60000) as multi:
        qtbot.mouseClick(window.compare_view.run_button, Qt.MouseButton.LeftButton)
    assert set(multi.args[0].scopes) >= {"temperature", "semantic"}
    assert _cut_controls(window) == [], "after compare"
    window.tabs.setCurrentIndex(0)
    _choose(monkeypatch, tmp_path / "picture")  # save an image: the suffix is added
    window.act_save_image.trigger()
    assert (tmp_path / "picture.png").stat().st_size > 1000
    _choose(monkeypatch, tmp_path / "trial.jscope.json")  # save a session, change, reopen it
    window.save_session()
    prompt.setPlainText("something else")
    window.act_open.trigger()
    assert prompt.toPlainText() == "12,34,56,78,"
    assert window.result is not None and window.result.scope == "semantic"
    assert _cut_controls(window) == [], "after reopening the session"
    saved = tmp_path / "result.json"  # a result JSON, as `jscope-desktop FILE` opens it
    saved.write_text(json.dumps(window.result.to_dict()), encoding="utf-8")
    window.result = None
    assert window.open_file(str(saved))
    assert window.result is not None and window.result.to_dict() == json.loads(saved.read_text())
    assert _cut_controls(window) == [], "after opening a file"
    assert (window.width(), window.height()) == size  # no step widened the window
