"""The app's review session: what one photo offers to choose from, each decision as its own committed
write, and the undo of each decision. No Qt here; the app runs these on its edit lane.

Every decision returns what the photo was before it (a `Before`): `undo` puts exactly that back
(review state, caption texts, approvals, review times and tags), and leaves machine captions that
arrived meanwhile (more candidates) where they are.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterable

from photocap.library import paths, photos
from photocap.library.db import LibraryError, now, write

ACCEPT, EDIT, TAGS = "accept", "edit", "tags"


@dataclass(frozen=True)
class Candidate:
    """One caption to choose from: the user's own (at most one, listed first) or a machine's."""
    id: int
    text: str
    source: str                 # auto | user
    approved: bool


@dataclass(frozen=True)
class Item:
    """What review mode shows of one photo."""
    photo_id: int
    path: str
    name: str
    candidates: list[Candidate]
    tags: list[str]
    state: str | None           # todo | approved | edited | None (no caption yet)

    def chosen(self) -> int:
        """The candidate selected when the photo is shown: the user's caption (it is what counts),
        else the approved machine caption, else the first."""
        for i, c in enumerate(self.candidates):
            if c.source == "user" or c.approved:
                return i
        return 0


@dataclass(frozen=True)
class Before:
    """A photo's captions and tags as they were before one decision (the undo of that decision)."""
    photo_id: int
    kind: str                   # accept | edit | tags
    captions: tuple[tuple, ...]  # full caption rows, by column
    tags: tuple[tuple[str, str], ...]


_CAPTION_COLUMNS = ("id", "photo_id", "text", "model", "options", "source", "approved", "position",
                    "created_at", "reviewed_at")


def item(conn: sqlite3.Connection, photo_id: int) -> Item | None:
    """One photo's candidates (the user's caption first, then the machine's in their order) and tags.
    A few indexed single-photo reads: quick enough for the GUI thread."""
    photo = photos.get(conn, photo_id)
    if photo is None:
        return None
    rows = conn.execute("SELECT id, text, source, approved FROM captions WHERE photo_id=?"
                        " ORDER BY source='auto', position, id", (photo_id,)).fetchall()
    candidates = [Candidate(r[0], r[1], r[2], bool(r[3])) for r in rows]
    state, _ = photos.review_state(conn, photo_id)
    return Item(photo_id, photo.path, paths.display(photo.name), candidates,
                [t for t, _ in photos.tags(conn, photo_id)], state)


def accept(conn: sqlite3.Connection, photo_id: int, caption_id: int) -> Before:
    """Make `caption_id` the photo's reviewed caption: a machine caption is approved (and no other
    is); choosing it over the user's own caption removes that one. Accepting the user's caption marks
    it reviewed now."""
    with write(conn):
        before = _before(conn, photo_id, ACCEPT)
        row = conn.execute("SELECT source FROM captions WHERE id=? AND photo_id=?", (caption_id, photo_id)).fetchone()
        if row is None:
            raise LibraryError("that caption is no longer in the library (re-captioned meanwhile?)")
        t = now()
        if row[0] == "user":
            conn.execute("UPDATE captions SET approved=1, reviewed_at=? WHERE id=?", (t, caption_id))
        else:
            conn.execute("DELETE FROM captions WHERE photo_id=? AND source='user'", (photo_id,))
            conn.execute("UPDATE captions SET approved=0, reviewed_at=NULL"
                         " WHERE photo_id=? AND source='auto' AND id != ?", (photo_id, caption_id))
            photos.approve_caption(conn, caption_id, at=t)
        photos.reindex(conn, [photo_id])
    return before


def edit(conn: sqlite3.Connection, photo_id: int, text: str) -> Before:
    """The user's own caption for the photo (review state `edited`). Blank text is refused."""
    if not text.strip():
        raise ValueError("a caption cannot be empty")
    with write(conn):
        before = _before(conn, photo_id, EDIT)
        photos.set_user_caption(conn, photo_id, text)
    return before


def set_tags(conn: sqlite3.Connection, photo_id: int, tags: Iterable[str]) -> Before:
    """The photo's tags become exactly `tags`: kept ones keep their source, new ones are the user's."""
    wanted = list(dict.fromkeys(photos.clean_tag(t) for t in tags if t.strip()))
    with write(conn):
        before = _before(conn, photo_id, TAGS)
        gone = [t for t, _ in before.tags if t not in wanted]
        if gone:
            photos.remove_tags(conn, photo_id, gone)
        photos.add_user_tags(conn, photo_id, [t for t in wanted if t not in {t for t, _ in before.tags}])
    return before


def undo(conn: sqlite3.Connection, before: Before) -> None:
    """Put the photo's captions and tags back as they were before that decision."""
    with write(conn):
        if conn.execute("SELECT 1 FROM photos WHERE id=?", (before.photo_id,)).fetchone() is None:
            raise LibraryError("the photo is no longer in the library")
        # The user's caption is put back as it was (or goes); machine captions added since (more
        # candidates) stay, with no approval of their own.
        conn.execute("DELETE FROM captions WHERE photo_id=? AND source='user'", (before.photo_id,))
        conn.execute("UPDATE captions SET approved=0, reviewed_at=NULL WHERE photo_id=?", (before.photo_id,))
        marks = ",".join("?" * len(_CAPTION_COLUMNS))
        conn.executemany(f"INSERT OR REPLACE INTO captions ({', '.join(_CAPTION_COLUMNS)}) VALUES ({marks})",
                         before.captions)
        conn.execute("DELETE FROM tags WHERE photo_id=?", (before.photo_id,))
        conn.executemany("INSERT INTO tags (photo_id, tag, source) VALUES (?,?,?)",
                         [(before.photo_id, tag, source) for tag, source in before.tags])
        photos.reindex(conn, [before.photo_id])


def _before(conn: sqlite3.Connection, photo_id: int, kind: str) -> Before:
    photos.require(conn, photo_id)
    captions = conn.execute(f"SELECT {', '.join(_CAPTION_COLUMNS)} FROM captions WHERE photo_id=? ORDER BY id",
                            (photo_id,)).fetchall()
    tags = conn.execute("SELECT tag, source FROM tags WHERE photo_id=? ORDER BY tag", (photo_id,)).fetchall()
    return Before(photo_id, kind, tuple(tuple(r) for r in captions), tuple((r[0], r[1]) for r in tags))
