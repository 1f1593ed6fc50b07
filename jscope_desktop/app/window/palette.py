"""Light and dark application palettes (Fusion style, so both look the same on every OS), and
the one change to Fusion: a push button reached by the keyboard shows it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle


class FocusStyle(QProxyStyle):
    """Fusion, with a ring inside a push button that has the keyboard focus. Fusion outlines the
    default button (Run) exactly as it outlines a focused one, so Tab onto Run changed nothing
    on screen; the ring is drawn for every push button, so all show focus the same way."""

    def drawControl(self, element, option, painter, widget=None) -> None:  # noqa: N802 (Qt API)
        super().drawControl(element, option, painter, widget)
        focused = QStyle.StateFlag.State_HasFocus | QStyle.StateFlag.State_KeyboardFocusChange
        if element == QStyle.ControlElement.CE_PushButton and (option.state & focused) == focused:
            painter.save()
            pen = QPen(option.palette.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(option.rect.adjusted(4, 4, -5, -5))
            painter.restore()

_DARK = {
    QPalette.ColorRole.Window: "#2b2d30", QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1e1f22", QPalette.ColorRole.AlternateBase: "#2b2d30",
    QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#3c3f41",
    QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d7dd8",
    QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#3c3f41",
    QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8c8c8c",
}


def apply_palette(app: QApplication, dark: bool) -> None:
    """Switch ``app`` to the dark or the light (Fusion standard) palette."""
    if not isinstance(app.style(), FocusStyle):
        app.setStyle(FocusStyle("Fusion"))
    palette = app.style().standardPalette()
    if dark:
        for role, color in _DARK.items():
            palette.setColor(role, QColor(color))
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#777777"))
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText,
                         QColor("#777777"))
    app.setPalette(palette)
