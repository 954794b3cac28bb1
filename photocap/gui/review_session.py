"""Review mode's decisions: each one its own committed write on the edit lane, in order, and the undo
of each (Ctrl+Z) queued on the same lane, so it always runs after the write it takes back."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, Signal

from photocap.gui.lanes import DbLane
from photocap.library import review
from photocap.library.errors import describe

Write = Callable[[sqlite3.Connection], review.Before]


@dataclass
class Decision:
    """One action of this session; `before` is filled on the lane when its write committed."""
    photo_id: int
    kind: str                               # accept | edit | tags
    before: review.Before | None = None


class Decisions(QObject):
    saved = Signal(object)                  # Decision: committed to the library
    not_saved = Signal(object, str)         # Decision, one line: nothing was written
    undone = Signal(int)                    # photo id: its decision was taken back in the library
    not_undone = Signal(str)                # one line

    def __init__(self, edits: DbLane, parent: QObject | None = None):
        super().__init__(parent)
        self._edits = edits
        self._history: list[Decision] = []
        self._standing: dict[int, int] = {}  # photo id -> its decisions on the caption not undone
        self.committed = 0                   # writes the lane reported saved
        self.undone_ids: list[int] = []      # photos whose decision was taken back, in order

    def decided(self) -> int:
        """Photos with a caption decision (accept or edit) that still stands."""
        return sum(1 for n in self._standing.values() if n)

    def count(self) -> int:
        """Decisions on captions this session (for the rate)."""
        return sum(1 for d in self._history if d.kind != review.TAGS)

    def save(self, photo_id: int, kind: str, write: Write) -> None:
        decision = Decision(photo_id, kind)
        self._history.append(decision)
        self._count(decision, +1)

        def job(conn: sqlite3.Connection) -> Decision:
            decision.before = write(conn)    # on the lane: an undo queued after it finds it
            return decision
        self._edits.submit(job, self._saved, lambda exc: self._failed(decision, exc))

    def undo(self) -> Decision | None:
        """Take back the last decision (None: there is none); its photo is returned at once, the
        library follows on the lane."""
        if not self._history:
            return None
        decision = self._history.pop()
        self._count(decision, -1)

        def job(conn: sqlite3.Connection) -> int:
            if decision.before is not None:  # None: the decision itself was never saved
                review.undo(conn, decision.before)
            return decision.photo_id
        self._edits.submit(job, self._undone, lambda exc: self.not_undone.emit(f"Not undone: {describe(exc)}"))
        return decision

    def _saved(self, decision: Decision) -> None:
        self.committed += 1
        self.saved.emit(decision)

    def _failed(self, decision: Decision, exc: Exception) -> None:
        if decision in self._history:
            self._history.remove(decision)
            self._count(decision, -1)
        self.not_saved.emit(decision, f"Not saved: {describe(exc)}")

    def _undone(self, photo_id: int) -> None:
        self.undone_ids.append(photo_id)
        self.undone.emit(photo_id)

    def _count(self, decision: Decision, step: int) -> None:
        if decision.kind != review.TAGS:
            self._standing[decision.photo_id] = max(0, self._standing.get(decision.photo_id, 0) + step)
