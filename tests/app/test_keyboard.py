"""Keyboard use of the window: Tab reaches every control in reading order (the left column top
to bottom, then the middle, then the right) and back, every stop has a name a screen reader
says, and every stop shows that it has the focus."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def _walk(window, first) -> list:
    """The widgets Tab visits from ``first`` until it comes back (at most 200)."""
    first.setFocus(Qt.FocusReason.TabFocusReason)
    QApplication.processEvents()
    stops = [QApplication.focusWidget()]
    for _ in range(200):
        QTest.keyClick(stops[-1], Qt.Key.Key_Tab)
        QApplication.processEvents()
        w = QApplication.focusWidget()
        if w is stops[0]:
            return stops
        stops.append(w)
    raise AssertionError(f"Tab never came back: trapped in {stops[-5:]}")


def _column(window, w) -> int:
    """0, 1 or 2: which of the splitter's columns holds ``w``."""
    return next(i for i in range(window.splitter.count())
                if window.splitter.widget(i).isAncestorOf(w))


@pytest.mark.parametrize("tab", [0, 1, 2, 3])
def test_tab_goes_through_every_control_in_reading_order(qtbot, make_window, tiny_llama, tab):
    from jscope_desktop.app.window.palette import apply_palette

    apply_palette(QApplication.instance(), False)  # the app's style, as main() sets it
    window = make_window(tiny_llama)
    window.resize(1366, 768)
    window.activateWindow()
    window.tabs.setCurrentIndex(tab)
    qtbot.wait(50)
    stops = _walk(window, window.model_panel.source)
    assert len(stops) >= 20
    cols = [_column(window, w) for w in stops]
    assert cols == sorted(cols), [(type(w).__name__, w.accessibleName(), c)
                                  for w, c in zip(stops, cols)]
    left = [w for w, c in zip(stops, cols) if c == 0]
    tops = [w.mapTo(window, w.rect().topLeft()).y() for w in left]
    assert tops == sorted(tops), "the left column is not walked top to bottom"
    assert window.prompt_panel.run_button in stops and window.cost_panel.table in stops
    unnamed = [(type(w).__name__, w.objectName(), type(w.parentWidget()).__name__)
               for w in stops if not w.accessibleName()]
    assert not unnamed, unnamed
    hidden = []
    stops[-1].setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(stops[-1], Qt.Key.Key_Tab)  # by the keyboard, as a person moves the focus
    for w in stops:  # visible focus: each stop looks different with and without it
        QApplication.processEvents()
        assert QApplication.focusWidget() is w
        focused = w.grab().toImage()
        QTest.keyClick(w, Qt.Key.Key_Tab)
        QApplication.processEvents()
        if w.grab().toImage() == focused:
            hidden.append(w.accessibleName())
    assert not hidden, f"no visible focus on {hidden}"
