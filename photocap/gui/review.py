"""Review mode: the photos of a search one at a time, large, with their candidate captions and tags.

Keyboard first: Enter accepts the selected caption and goes on, 1-9 pick, E edits the caption, T the
tags, M asks the worker for more candidates (the review goes on meanwhile), Space skips, Backspace
goes back, Ctrl+Z undoes, Escape leaves. Each decision is its own committed write on the edit lane
(a crash loses nothing); pictures are decoded ahead on a pool (review_images), so moving on shows
a picture already in memory. One photo's reads (a few indexed rows) run on the GUI thread.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from photocap.gui.details import parse_tags
from photocap.gui.lanes import DbLane
from photocap.gui.review_images import PhotoView, Preloader
from photocap.gui.review_panel import EDIT_HELP, FIXED_QUEUE, GROWING_QUEUE, HELP, STYLE, SidePanel, named
from photocap.gui.review_session import Decision, Decisions, Write
from photocap.library import review
from photocap.library.search import fusion, query

log = logging.getLogger(__name__)

AHEAD = 4                       # photos decoded ahead of the one shown (and one behind)
MIN_RATE_SECONDS = 10.0         # the rate is not guessed from the first few seconds


def grows(search: str | None) -> bool:
    """Whether photos captioned during a review of `search` can join it: a search of filters alone has an
    exact test for one photo; words are matched by meaning too, which has none (None: not a search)."""
    return search is not None and not fusion.semantic_text(search).strip()


def progress_text(left: int, total: int, decisions: int, seconds: float) -> str:
    """"312 of 5,000 left, 41 per minute" (the rate once there is one to tell)."""
    text = f"{left:,} of {total:,} left"
    if decisions:
        text += f", {round(decisions * 60 / max(seconds, MIN_RATE_SECONDS)):,} per minute"
    return text


class ReviewMode(QWidget):
    left_review = Signal()                  # Escape: the window goes back to the grid
    decided = Signal(int, str)              # photo id, accept | edit | tags: committed to the library
    failed = Signal(str)                    # one line for the user

    def __init__(self, conn: sqlite3.Connection, edits: DbLane, ids: list[int], *, worker: Any = None,
                 title: str = "", search: str | None = None, ahead: int = AHEAD, parent: QWidget | None = None):
        """`ids` are the photos of `search` (None: not a search, e.g. similar photos): with a worker, the
        photos it captions meanwhile that a search of filters finds are added at the end."""
        super().__init__(parent)
        self._conn, self._edits, self._ids, self._worker, self._ahead = conn, edits, list(ids), worker, ahead
        self._search = search if worker is not None and grows(search) else None
        self._known = set(self._ids)                      # every photo ever in the queue
        self._pos = 0
        self._item: review.Item | None = None
        self._items: dict[int, review.Item] = {}          # read once, dropped when the photo changes
        self._selected = 0
        self.decisions = Decisions(edits, self)
        self._asking: set[int] = set()                    # photos whose more captions are on the way
        self._note_for: int | None = None                 # the photo the note below speaks of
        self._started = time.monotonic()
        self._title = title
        self._stopped = False
        self.images = Preloader(self)
        self.decisions.saved.connect(self._saved)
        self.decisions.not_saved.connect(self._not_saved)
        self.decisions.undone.connect(self._undone)
        self.decisions.not_undone.connect(self._say)
        self._build()
        self.images.decoded.connect(self._image_ready)
        self.images.failed.connect(self._image_failed)
        if worker is not None:
            worker.more_captions_ready.connect(self._more_ready)
            worker.more_captions_failed.connect(self._more_failed)
            worker.captioned.connect(self._captioned)     # a photo of the queue captioned meanwhile
        self._resized = QTimer(self, singleShot=True, interval=120)
        self._resized.timeout.connect(self._refit)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # A full garbage collection walks every object the app holds (18 to 36 ms measured with no model
        # loaded, more with one) on whichever thread allocates: the GUI thread stalled while a photo
        # waited. What exists now lives as long as the app; frozen, collections leave it alone.
        gc.freeze()
        self._show()
        if worker is not None:
            self.heading.setToolTip(GROWING_QUEUE if self._search is not None else FIXED_QUEUE)
            if self._search is None:
                self._note(FIXED_QUEUE)

    # ---- layout ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.setAccessibleName("Review mode")
        self.setStyleSheet(STYLE)
        self.heading = named(QLabel(f"Reviewing “{self._title}”" if self._title else "Reviewing"),
                             "Review of", "title")
        self.progress = named(QLabel(), "Review progress", "progress")
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name = named(QLabel(), "Photo name")
        self.name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.view = PhotoView()
        self.view.installEventFilter(self)
        self.panel = SidePanel()
        self.candidates, self.tags, self.note = self.panel.candidates, self.panel.tags, self.panel.note
        self.caption_edit, self.tags_edit = self.panel.caption_edit, self.panel.tags_edit
        self.candidates.itemClicked.connect(lambda it: self._pick(self.candidates.row(it)))
        self.footer = named(QLabel(HELP), "Review keys", "footer")
        self.footer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for editor, save in ((self.caption_edit, self._save_caption), (self.tags_edit, self._save_tags)):
            editor.hide()
            editor.submitted.connect(save)
            editor.cancelled.connect(self._end_editing)

        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.progress, 1)
        top.addWidget(self.name, 1)
        body = QHBoxLayout()
        body.addWidget(self.view, 3)
        body.addWidget(self.panel, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        layout.addWidget(self.footer)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Resize:
            self._resized.start()                         # decode again at the new size, once it settles
        return False

    # ---- what is shown --------------------------------------------------------------------------

    def queue(self) -> list[int]:
        """The photos of this review, in their order."""
        return list(self._ids)

    def current_id(self) -> int | None:
        return self._ids[self._pos] if self._pos < len(self._ids) else None

    def _read(self, photo_id: int) -> review.Item | None:
        found = self._items.get(photo_id)
        if found is None:
            found = review.item(self._conn, photo_id)
            if found is not None:
                self._items[photo_id] = found
        return found

    def _show(self, selected: int | None = None) -> None:
        if self._stopped:
            return
        self._end_editing()
        self._show_progress()
        photo_id = self.current_id()
        if photo_id is None:
            self._item = None
            self.name.setText("")
            self.view.show_image(-1, None, "All photos of this review are done.\n\n"
                                 "Backspace goes back to the last one; Escape leaves.")
            self.candidates.clear()
            self.tags.setText("")
            return
        item = self._read(photo_id)
        if item is None:                                  # removed from the library meanwhile
            del self._ids[self._pos]
            self._show()
            return
        self._item = item
        self._show_name()
        self._show_candidates(item.chosen() if selected is None else selected)
        self.tags.setText(", ".join(item.tags) or "no tags")
        if photo_id in self._asking:
            self._note("Asking for more captions…")
        elif photo_id != self._note_for:                  # a note stays while its photo is shown
            self._note("")
        box = self.view.box()
        image = self.images.image(photo_id, box)
        if image is not None:
            self.view.show_image(photo_id, image)
        elif photo_id in self.images.errors:
            self.view.show_image(photo_id, None, f"Cannot show this photo: {self.images.errors[photo_id]}")
        else:
            self.view.show_image(photo_id, None, "Loading…")
            self.images.request(photo_id, item.path, box, urgent=True)
        self._preload(box)

    def _show_name(self) -> None:
        if self._item is not None:
            self.name.setText(f"{self._item.name}   ({self._pos + 1:,} of {len(self._ids):,})")

    def _refit(self) -> None:
        """The view changed size: pictures are decoded again for it (an edit under way stays open)."""
        if self._stopped or not self.isVisible():
            return
        if self._editing():
            photo_id = self.current_id()
            if self._item is not None and photo_id is not None:
                self.images.request(photo_id, self._item.path, self.view.box(), urgent=True)
        else:
            self._show(self._selected)

    def _preload(self, box) -> None:
        wanted = [self._pos + i for i in range(1, self._ahead + 1)] + ([self._pos - 1] if self._ahead else [])
        for pos in wanted:
            if 0 <= pos < len(self._ids):
                item = self._read(self._ids[pos])
                if item is not None:
                    self.images.request(item.photo_id, item.path, box)

    def _show_candidates(self, selected: int) -> None:
        assert self._item is not None
        self.panel.show_candidates(self._item)
        self._pick(selected)

    def _pick(self, index: int) -> None:
        if self._item is None or not 0 <= index < len(self._item.candidates):
            return
        self._selected = index
        self.candidates.setCurrentRow(index)

    def _show_progress(self) -> None:
        left = len(self._ids) - self.decisions.decided()
        text = progress_text(left, len(self._ids), self.decisions.count(), time.monotonic() - self._started)
        self.progress.setText(text)

    def _image_ready(self, photo_id: int, _image: QImage) -> None:
        if photo_id == self.current_id():
            image = self.images.image(photo_id, self.view.box())      # None: made for another size
            if image is not None:
                self.view.show_image(photo_id, image)

    def _image_failed(self, photo_id: int, reason: str) -> None:
        if photo_id == self.current_id():
            self.view.show_image(photo_id, None, f"Cannot show this photo: {reason}")

    # ---- keys -----------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, text = event.key(), event.text()
        if self._stopped:
            super().keyPressEvent(event)
        elif event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept()
        elif text in tuple("123456789") and text:
            self._pick(int(text) - 1)
        elif key == Qt.Key.Key_E:
            self._start_editing(self.caption_edit, self._selected_text())
        elif key == Qt.Key.Key_T:
            self._start_editing(self.tags_edit, ", ".join(self._item.tags) if self._item else "")
        elif key == Qt.Key.Key_M:
            self.ask_more()
        elif key == Qt.Key.Key_Space:
            self._go(self._pos + 1)
        elif key == Qt.Key.Key_Backspace:
            self._go(self._pos - 1)
        elif key == Qt.Key.Key_Escape:
            self.left_review.emit()
        else:
            super().keyPressEvent(event)

    def _go(self, pos: int) -> None:
        self._pos = max(0, min(pos, len(self._ids)))
        self._show()

    def _selected_text(self) -> str:
        if self._item is None or not self._item.candidates:
            return ""
        return self._item.candidates[self._selected].text

    def _start_editing(self, editor: QLineEdit, text: str) -> None:
        if self._item is None:
            return
        self.footer.setText(EDIT_HELP)
        editor.setText(text)
        editor.show()
        editor.setFocus()
        editor.selectAll()

    def _end_editing(self) -> None:
        for editor in (self.caption_edit, self.tags_edit):
            editor.hide()
        self.footer.setText(HELP)
        self.setFocus()

    # ---- decisions (each its own write on the edit lane) ------------------------------------------

    def accept(self) -> None:
        item = self._item
        if item is None:
            return
        if not item.candidates:
            self._say("No caption to accept yet: E writes one, M asks the model for some.")
            return
        caption_id = item.candidates[self._selected].id
        self._save(item.photo_id, review.ACCEPT, lambda conn: review.accept(conn, item.photo_id, caption_id))
        self._go(self._pos + 1)

    def _save_caption(self) -> None:
        item, text = self._item, self.caption_edit.text()
        if item is None:
            return
        if not text.strip():
            self._note("A caption cannot be empty: type one, or Esc to cancel.")
            return
        self._save(item.photo_id, review.EDIT, lambda conn: review.edit(conn, item.photo_id, text))
        self._go(self._pos + 1)

    def _save_tags(self) -> None:
        item, text = self._item, self.tags_edit.text()
        if item is None:
            return
        self._save(item.photo_id, review.TAGS, lambda conn: review.set_tags(conn, item.photo_id, parse_tags(text)))
        self._end_editing()

    def _save(self, photo_id: int, kind: str, write: Write) -> None:
        self.decisions.save(photo_id, kind, write)
        self._show_progress()

    def _saved(self, decision: Decision) -> None:
        self._items.pop(decision.photo_id, None)
        if decision.photo_id == self.current_id() and not self._editing():
            self._show(self._selected)
        self.decided.emit(decision.photo_id, decision.kind)

    def _not_saved(self, decision: Decision, why: str) -> None:
        self._items.pop(decision.photo_id, None)
        self._show_progress()
        self._say(why)

    def undo(self) -> None:
        """Take back the last decision of this session and go back to its photo."""
        decision = self.decisions.undo()
        if decision is None:
            self._say("Nothing to undo in this review.")
            return
        if decision.photo_id in self._ids:
            self._pos = self._ids.index(decision.photo_id)
        self._show()

    def _undone(self, photo_id: int) -> None:
        self._items.pop(photo_id, None)
        if photo_id == self.current_id() and not self._editing():
            self._show()

    def _editing(self) -> bool:
        return self.caption_edit.isVisible() or self.tags_edit.isVisible()

    def _note(self, text: str) -> None:
        self.note.setText(text)
        self._note_for = self.current_id()

    def _say(self, text: str) -> None:
        self._note(text)
        self.failed.emit(text)

    # ---- more candidates (the worker captions again; the review goes on) --------------------------

    def ask_more(self) -> None:
        photo_id = self.current_id()
        if photo_id is None:
            return
        if self._worker is None:
            self._say("More captions need the captioning worker, which is not running.")
            return
        self._asking.add(photo_id)
        self._note("Asking for more captions…")
        self._worker.more_captions(photo_id)

    def _more_ready(self, photo_id: int, _texts: list) -> None:
        self._asking.discard(photo_id)
        self._items.pop(photo_id, None)
        if photo_id == self.current_id() and not self._editing():
            self._show(self._selected)
            self._note("More captions arrived.")

    def _captioned(self, photo_id: int, _captions: list, _tags: list) -> None:
        self._items.pop(photo_id, None)
        if photo_id == self.current_id() and not self._editing():
            self._show(self._selected)
        elif photo_id not in self._known and self._search is not None and not self._stopped:
            self._add_if_found(photo_id, self._search)

    def _add_if_found(self, photo_id: int, search: str) -> None:
        """A photo captioned meanwhile joins the end of the queue if the review's search finds it (one
        photo's indexed reads, as the search's filters test it)."""
        try:
            allowed = fusion.Allowed(self._conn, query.parse(search))
            found = not allowed.empty and photo_id in allowed.check([photo_id])
        except sqlite3.Error:                             # the queue stays as it is
            log.debug("could not test photo %s against %r", photo_id, search, exc_info=True)
            return
        if not found:
            return
        self._ids.append(photo_id)
        self._known.add(photo_id)
        if self._pos == len(self._ids) - 1 and not self._editing():
            self._show()                                  # the review had reached its end: show it
        else:
            self._show_progress()
            self._show_name()

    def _more_failed(self, photo_id: int, reason: str) -> None:
        self._asking.discard(photo_id)
        if photo_id == self.current_id():
            self._say(f"No more captions: {reason}")

    def stop(self) -> None:
        """Leave: decodes waiting are dropped (the saved decisions are in the library already), and
        nothing reads the library any more (its connection may close next)."""
        self._stopped = True
        self._resized.stop()
        self.images.stop()
