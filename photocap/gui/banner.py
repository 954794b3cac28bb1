"""A message across the top of the window (no model, a failed action), in the palette's tooltip colours."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStyle, QToolButton


class Banner(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.setForegroundRole(QPalette.ColorRole.ToolTipText)
        layout = QHBoxLayout(self)
        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation).pixmap(size))
        layout.addWidget(icon)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setForegroundRole(QPalette.ColorRole.ToolTipText)
        layout.addWidget(self.text, 1)
        self.action = QPushButton()
        layout.addWidget(self.action)
        close = QToolButton()
        close.setAutoRaise(True)
        close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        layout.addWidget(close)
        self._on_action: Callable[[], None] | None = None
        self.kind = ""
        self.action.clicked.connect(lambda: self._on_action and self._on_action())
        self.hide()

    def show_message(self, text: str, action_text: str = "",
                     on_action: Callable[[], None] | None = None, *, kind: str = "") -> None:
        """Show a message; `kind` lets the one situation that raised it take it back (dismiss)."""
        self.kind = kind
        self.text.setText(text)
        self._on_action = on_action
        self.action.setText(action_text)
        self.action.setVisible(bool(action_text))
        self.show()

    def dismiss(self, kind: str) -> None:
        """Hide the message if it is of this kind (a newer, other message stays)."""
        if self.kind == kind:
            self.hide()
