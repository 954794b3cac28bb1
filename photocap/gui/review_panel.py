"""Review mode's parts: the side panel (candidates, caption and tag editors, tags, messages), its
editors, the key help and the style."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from photocap.library import review

HELP = ("Enter accept · 1–9 pick · E edit caption · T tags · M more captions · Space skip · "
        "Backspace back · Ctrl+Z undo · Esc leave")
EDIT_HELP = "Enter saves · Esc cancels"
GROWING_QUEUE = "Photos captioned meanwhile that this search finds join the end of the review."
FIXED_QUEUE = ("This review keeps the photos it started with: only a search of filters alone (review:todo, "
               "folder:2023) takes in photos captioned meanwhile; words are matched by meaning too.")
STYLE = """
QListWidget#candidates { font-size: 15px; border: none; background: transparent; }
QListWidget#candidates::item { padding: 8px 6px; border-radius: 4px; }
QListWidget#candidates::item:selected { background: palette(highlight); color: palette(highlighted-text); }
QLabel#progress { font-size: 15px; font-weight: 600; }
QLineEdit { font-size: 15px; padding: 4px; }
QLabel#tags { font-size: 14px; }
QLabel#title { color: palette(text); }
QLabel#footer { color: palette(text); padding: 4px; border-top: 1px solid palette(mid); }
QLabel#heading { color: palette(text); font-size: 12px; font-weight: 600; padding-top: 10px; }
"""


W = TypeVar("W", bound=QWidget)


def named(widget: W, accessible: str, object_name: str = "") -> W:
    """The widget with its accessible name (screen readers) and its style sheet name."""
    if accessible:
        widget.setAccessibleName(accessible)
    if object_name:
        widget.setObjectName(object_name)
    return widget


class EscapableLineEdit(QLineEdit):
    """An editor whose Enter saves and Escape cancels; neither reaches the review (QLineEdit lets
    Enter through to its parent, where it would accept the caption too)."""
    submitted = Signal()
    cancelled = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            self.submitted.emit()
        elif event.key() == Qt.Key.Key_Escape:
            event.accept()
            self.cancelled.emit()
        else:
            super().keyPressEvent(event)


def candidate_label(number: int, candidate: review.Candidate, state: str | None) -> str:
    """"2.  a small red box  ✓": numbered up to 9 (the keys), the user's own and the reviewed marked."""
    reviewed = candidate.approved or (candidate.source == "user" and state == "edited")
    text = candidate.text + ("  (yours)" if candidate.source == "user" else "") + ("  ✓" if reviewed else "")
    return f"{number}.  {text}" if number <= 9 else f"     {text}"


class SidePanel(QWidget):
    """The right of review mode: the candidates (as tall as they are), the editors, the tags."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.candidates = named(QListWidget(), "Caption candidates", "candidates")
        self.candidates.setFocusPolicy(Qt.FocusPolicy.NoFocus)     # the keys belong to the review
        self.candidates.setWordWrap(True)
        # As tall as its captions: the editor and the tags follow right under them.
        self.candidates.setSizeAdjustPolicy(QListWidget.SizeAdjustPolicy.AdjustToContents)
        self.caption_edit = named(EscapableLineEdit(), "Edit caption")
        self.caption_edit.setPlaceholderText("Your caption (Enter saves, Esc cancels)")
        self.tags = named(QLabel(), "Tags", "tags")
        self.tags.setWordWrap(True)
        self.tags_edit = named(EscapableLineEdit(), "Edit tags")
        self.tags_edit.setPlaceholderText("Tags, comma separated (Enter saves, Esc cancels)")
        self.note = named(QLabel(), "Review message")
        self.note.setWordWrap(True)
        self.caption_edit.hide()
        self.tags_edit.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(named(QLabel("Captions"), "", "heading"))
        layout.addWidget(self.candidates)
        layout.addWidget(self.caption_edit)
        layout.addWidget(named(QLabel("Tags"), "", "heading"))
        layout.addWidget(self.tags)
        layout.addWidget(self.tags_edit)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.setMinimumWidth(300)

    def show_candidates(self, item: review.Item) -> None:
        self.candidates.clear()
        for number, candidate in enumerate(item.candidates, start=1):
            self.candidates.addItem(QListWidgetItem(candidate_label(number, candidate, item.state)))
        if not item.candidates:
            self.candidates.addItem("No caption yet: E writes one, M asks the model.")
