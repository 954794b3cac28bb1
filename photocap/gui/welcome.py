"""The first-run page: an empty library asks for a photo folder (a button, or drop one here)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    add_folder_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        title = QLabel("Welcome to photocap")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        text = QLabel("Add a folder of photos to get started. photocap finds every photo in it, "
                      "captions and tags them on this computer, and keeps watching the folder "
                      "for new ones.")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setFixedWidth(480)                   # a wrapped label needs a width to get its height
        layout.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        self.add_button = QPushButton("Add a photo folder…")
        self.add_button.setDefault(True)
        self.add_button.clicked.connect(self.add_folder_requested)
        layout.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignHCenter)
        hint = QLabel("…or drop a folder onto this window.")
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(hint)
        layout.addStretch(2)
