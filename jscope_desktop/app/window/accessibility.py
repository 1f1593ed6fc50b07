"""Names a screen reader says for every control, given once after the window is built: a
control's own words (a button's text), else the label its form row shows, else its tooltip or
placeholder. Controls that already have a name keep it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTableWidget,
    QWidget,
)

CONTROLS = (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit, QAbstractSpinBox,
            QAbstractSlider, QTableWidget, QTabBar)  # what a person operates


def spoken_name(widget: QWidget) -> str:
    """The words that describe ``widget`` to a person who cannot see it ("" if none)."""
    if isinstance(widget, QAbstractButton) and widget.text():
        return widget.text().replace("&", "")
    parent = widget.parentWidget()
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
                or not isinstance(w, CONTROLS) or isinstance(w.parentWidget(), QAbstractSpinBox)):
            continue
        name = spoken_name(w)
        if name:
            w.setAccessibleName(name)
        else:
            unnamed.append(w)
    return unnamed
