"""Names a screen reader says for every control, given once after the window is built: a
control's own words (a button's text), else the label its form row shows, else its tooltip or
placeholder. Controls that already have a name keep it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QWidget,
)

CONTROLS = (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit, QAbstractSpinBox,
            QAbstractSlider, QAbstractItemView, QTabBar)  # what a person operates


def spoken_name(widget: QWidget) -> str:
    """The words that describe ``widget`` to a person who cannot see it ("" if none)."""
    if isinstance(widget, QAbstractButton) and any(c.isalnum() for c in widget.text()):
        return widget.text().replace("&", "")  # (not "−" or "+": their tooltip says more)
    parent = widget.parentWidget()
    for label in parent.findChildren(QLabel) if parent is not None else []:
        if label.buddy() is widget and label.text():
            return label.text().replace("&", "")
    forms = parent.findChildren(QFormLayout) if parent is not None else []
    for form in forms:
        label = form.labelForField(widget)
        if isinstance(label, QLabel) and label.text():
            return label.text().replace("&", "")
    for text in (widget.toolTip(), getattr(widget, "placeholderText", lambda: "")()):
        if text:
            return text.split("\n")[0][:80]
    return ""


def name_controls(root: QWidget) -> list[QWidget]:
    """Give every focusable control under ``root`` an accessible name (see module text).

    Returns:
        The controls left without a name (nothing describes them).
    """
    unnamed = []
    for w in root.findChildren(QWidget):
        if (w.focusPolicy() == Qt.FocusPolicy.NoFocus or w.accessibleName()
                or not isinstance(w, CONTROLS) or isinstance(w.parentWidget(), QAbstractSpinBox)
                or w.window() is not root.window()):  # (a combo box's own pop-up list)
            continue
        name = spoken_name(w)
        if name:
            w.setAccessibleName(name)
        else:
            unnamed.append(w)
    return unnamed


def tab_stops(root: QWidget) -> list[QWidget]:
    """The widgets under ``root`` that Tab reaches, in the order of its focus chain."""
    stops, w = [], root.nextInFocusChain()
    while w is not root and len(stops) < 10_000:
        if (w.focusPolicy() & Qt.FocusPolicy.TabFocus) == Qt.FocusPolicy.TabFocus and \
                root.isAncestorOf(w):
            stops.append(w)
        w = w.nextInFocusChain()
    return stops


def order_tab_chain(columns: list[QWidget]) -> None:
    """Chain Tab through ``columns`` (the window's left, middle and right columns) one after
    another, each in its own order (top to bottom as built), and back to the first."""
    chain = [w for column in columns for w in tab_stops(column)]
    for a, b in zip(chain, chain[1:]):
        QWidget.setTabOrder(a, b)
