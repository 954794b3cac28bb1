"""Questions about the selected photo: the conversation so far, a question field, and the answer.

The question runs on the caption worker's thread (between two caption batches); a busy bar shows
meanwhile, and an error is shown where the answer would have been.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)


def conversation_html(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<p><b>{html.escape(q)}</b><br>{html.escape(a)}</p>" for q, a in pairs)


class AskPanel(QWidget):
    ask_requested = Signal(int, str)             # photo id, question

    def __init__(self, parent=None):
        super().__init__(parent)
        self._photo_id: int | None = None
        self._history: list[tuple[str, str]] = []
        self._waiting: dict[int, str] = {}       # photo id -> question being answered
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Ask about this photo</b>"))
        self.conversation = QTextBrowser()
        self.conversation.setPlaceholderText("Your questions about this photo, and the answers, appear here.")
        layout.addWidget(self.conversation, 1)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)                  # no percentage: just "working"
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(self.fontMetrics().height() // 2 + 2)
        self.busy.setToolTip("The model is thinking (after the caption batch in progress)")
        layout.addWidget(self.busy)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(self.error)
        row = QHBoxLayout()
        self.question = QLineEdit()
        self.question.setPlaceholderText("e.g. what colour is the car? (Ctrl+Enter)")
        self.question.returnPressed.connect(self.ask)
        row.addWidget(self.question, 1)
        self.ask_button = QPushButton("Ask")
        self.ask_button.clicked.connect(self.ask)
        row.addWidget(self.ask_button)
        layout.addLayout(row)
        self.set_photo(None, [])

    def set_photo(self, photo_id: int | None, history: list[tuple[str, str]]) -> None:
        self._photo_id = photo_id
        self._history = list(history)
        self.conversation.setHtml(conversation_html(self._history))
        self.error.hide()
        self.question.setEnabled(photo_id is not None)
        self._show_busy()

    def ask(self) -> None:
        question = " ".join(self.question.text().split())
        if self._photo_id is None or not question or self._photo_id in self._waiting:
            return
        self._waiting[self._photo_id] = question
        self.question.clear()
        self.error.hide()
        self.conversation.setHtml(conversation_html(self._history)
                                  + f"<p><b>{html.escape(question)}</b><br>…</p>")
        self._show_busy()
        self.ask_requested.emit(self._photo_id, question)

    def show_answer(self, photo_id: int, question: str, answer: str) -> None:
        self._waiting.pop(photo_id, None)
        if photo_id == self._photo_id:
            self._history.append((question, answer))
            self.conversation.setHtml(conversation_html(self._history))
            self._show_busy()

    def show_error(self, photo_id: int, question: str, reason: str) -> None:
        self._waiting.pop(photo_id, None)
        if photo_id == self._photo_id:
            self.conversation.setHtml(conversation_html(self._history))
            self.error.setText(f"Could not answer “{question}”: {reason}")
            self.error.show()
            if not self.question.text():
                self.question.setText(question)           # ready to try again
            self._show_busy()

    def _show_busy(self) -> None:
        waiting = self._photo_id in self._waiting
        self.busy.setVisible(waiting)
        self.ask_button.setEnabled(self._photo_id is not None and not waiting)
