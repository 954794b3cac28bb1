"""Bulk review in the grid: approve the captions of the selected photos, or send them back to review.

The selection is the grid's (ctrl and shift clicks, Ctrl+A for every photo of the search, not only the
rows on screen). The writes run on the app's edit lane in chunks of CHUNK photos, one transaction
each, submitted one after the other: the GUI thread never waits, and the caption worker and the
user's own edits get the library between chunks. The status bar says how many changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from photocap.gui import library_writes
from photocap.gui.grid import GridView
from photocap.gui.lanes import DbLane

CHUNK = 2000                    # photos per write transaction (~15 ms each, measured at 10,000 photos)
APPROVE_KEYS = "Ctrl+Shift+A"
RESET_KEYS = "Ctrl+Shift+U"
MESSAGE_MS = 10_000


@dataclass
class _Run:
    """One bulk action in progress."""
    done_word: str                              # "approved" / "reset"
    busy_word: str                              # "Approving" / "Resetting"
    write: Callable[..., int]                   # a library_writes function: (conn, ids) -> changed
    ids: list[int]
    position: int = 0                           # photos written so far
    changed: int = 0


class BulkReview(QObject):
    """The grid's bulk review actions (Select all, Approve captions, Reset review) and their writes."""

    changed = Signal(list)                      # photo ids just written (their cells and details)
    message = Signal(str, int)                  # for the status bar: text, how long (ms)
    failed = Signal(str)                        # one line

    def __init__(self, grid: GridView, lane: DbLane, parent: QObject | None = None):
        super().__init__(parent)
        self._grid = grid
        self._lane = lane
        self._run: _Run | None = None
        self.select_all_action = self._action("Select &all", QKeySequence(QKeySequence.StandardKey.SelectAll),
                                              "Select every photo of this search", grid.selectAll)
        self.approve_action = self._action(
            "&Approve captions", QKeySequence(APPROVE_KEYS),
            "Approve the first machine caption of each selected photo still to review", self.approve_selection)
        self.reset_action = self._action(
            "&Reset review", QKeySequence(RESET_KEYS),
            "Send the selected photos back to review (a caption you wrote stays)", self.reset_selection)
        grid.add_selection_actions([self.approve_action, self.reset_action])
        grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self._selection_changed()

    def _action(self, text: str, keys: QKeySequence, tip: str, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self)
        action.setShortcut(keys)
        action.setStatusTip(tip)
        # Only while the grid has the focus: typing in the search box, or keys in review mode (the grid
        # hidden), never act on a selection the user cannot see.
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self._grid.addAction(action)
        return action

    def menu(self, parent: QWidget | None = None) -> QMenu:
        """A "Photos" menu for the menu bar with the three actions and their shortcuts."""
        menu = QMenu("&Photos", parent)
        menu.addAction(self.select_all_action)
        menu.addSeparator()
        menu.addAction(self.approve_action)
        menu.addAction(self.reset_action)
        return menu

    # ---- the actions ----------------------------------------------------------------------------

    def approve_selection(self) -> None:
        self.start(_Run("approved", "Approving", library_writes.approve_photos, self._grid.selected_ids()))

    def reset_selection(self) -> None:
        self.start(_Run("reset", "Resetting", library_writes.reset_review, self._grid.selected_ids()))

    def start(self, run: _Run) -> None:
        if not self._grid.isVisible():
            # From the menu while the grid is hidden (review mode): the selection is not on screen.
            self.message.emit("Approve or reset from the photo grid: its selection is not shown now", MESSAGE_MS)
            return
        if not run.ids:
            self.message.emit("Select photos first (Ctrl+A selects every photo of the search)", MESSAGE_MS)
            return
        if self._run is not None:
            self.message.emit(f"{self._run.busy_word} photos: wait until it is done", MESSAGE_MS)
            return
        self._run = run
        if len(run.ids) > CHUNK:
            self.message.emit(f"{run.busy_word} {len(run.ids):,} photos…", 0)
        self._next_chunk()

    @property
    def busy(self) -> bool:
        return self._run is not None

    # ---- chunks on the edit lane ----------------------------------------------------------------

    def _next_chunk(self) -> None:
        run = self._run
        assert run is not None
        chunk = run.ids[run.position:run.position + CHUNK]
        write = run.write
        self._lane.submit(lambda conn: write(conn, chunk), lambda n: self._chunk_done(chunk, n),
                          self._chunk_failed)

    def _chunk_done(self, chunk: list[int], changed: int) -> None:
        run = self._run
        if run is None:
            return
        run.position += len(chunk)
        run.changed += changed
        if changed:
            self.changed.emit(chunk)
        if run.position < len(run.ids):
            self.message.emit(f"{run.busy_word} photos: {run.position:,} of {len(run.ids):,}…", 0)
            self._next_chunk()
            return
        self._run = None
        self.message.emit(f"{run.changed:,} photo{'' if run.changed == 1 else 's'} {run.done_word}", MESSAGE_MS)

    def _chunk_failed(self, exc: Exception) -> None:
        from photocap.library.errors import describe
        run, self._run = self._run, None
        if run is None:
            return
        self.message.emit("", 0)
        # Each chunk is its own transaction: what was written before stays, the failed chunk left nothing.
        self.failed.emit(f"{run.busy_word} photos stopped after {run.changed:,} changed: {describe(exc)}")

    def _selection_changed(self, *_args) -> None:
        selected = self._grid.selectionModel().hasSelection()
        self.approve_action.setEnabled(selected)
        self.reset_action.setEnabled(selected)
