"""Photo, caption, tag and question records: the only code that writes them.

Every change to what a photo is found by (captions, tags, name, folder, status) ends in `reindex`,
which keeps the FTS5 document in step inside the same transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from photocap.library import paths
from photocap.library.db import LibraryError, now, write
from photocap.library.search import document
from photocap.library.search.compile import review_clause, review_state_sql
from photocap.library.search.query import REVIEW_STATES, STATUSES


@dataclass
class FileInfo:
    """What a scan learns about a file."""
    size: int
    mtime: float
    hash: str
    width: int | None = None
    height: int | None = None
    taken_at: str | None = None
    camera: str | None = None
    description: str | None = None      # written by a person (XMP, IPTC, EXIF), not a model
    keywords: list[str] = field(default_factory=list)


@dataclass
class Caption:
    id: int
    text: str
    source: str
    model: str | None
    approved: bool
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Photo:
    id: int
    path: str
    root_id: int | None
    folder: str
    name: str
    size: int | None
    mtime: float | None
    hash: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    camera: str | None
    status: str
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Photo":
        return cls(id=row["id"], path=paths.from_db(row["path"]), root_id=row["root_id"],
                   folder=row["folder"], name=row["name"], size=row["size"], mtime=row["mtime"],
                   hash=row["hash"], width=row["width"], height=row["height"],
                   taken_at=row["taken_at"], camera=row["camera"], status=row["status"],
                   error=row["error"])


def _split(path: str) -> tuple[str, str]:
    folder, name = os.path.split(path)
    return paths.display(folder), paths.display(name)


# ---- photos -------------------------------------------------------------------------------------

def get(conn: sqlite3.Connection, photo_id: int) -> Photo | None:
    row = conn.execute("SELECT * FROM photos WHERE id = ?", (photo_id,)).fetchone()
    return Photo.from_row(row) if row else None


def by_path(conn: sqlite3.Connection, path: str) -> Photo | None:
    row = conn.execute("SELECT * FROM photos WHERE path = ?", (paths.to_db(path),)).fetchone()
    return Photo.from_row(row) if row else None


def add(conn: sqlite3.Connection, path: str, info: FileInfo, root_id: int | None) -> int:
    """Record a new photo (pending a caption) and return its id."""
    folder, name = _split(path)
    t = now()
    with write(conn):
        cur = conn.execute(
            "INSERT INTO photos (path, root_id, folder, name, size, mtime, hash, width, height,"
            " taken_at, camera, status, added_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?, 'pending', ?, ?)",
            (paths.to_db(path), root_id, folder, name, info.size, info.mtime, info.hash,
             info.width, info.height, info.taken_at, info.camera, t, t))
        photo_id = _new_id(cur)
        adopt_human_text(conn, photo_id, info)
        reindex(conn, [photo_id])
    return photo_id


def adopt_human_text(conn: sqlite3.Connection, photo_id: int, info: FileInfo) -> None:
    """A caption and keywords found in the file's metadata become the user's own (kept forever)."""
    if info.description and not _has_user(conn, photo_id):
        conn.execute("INSERT INTO captions (photo_id, text, source, approved, created_at)"
                     " VALUES (?,?, 'user', 1, ?)", (photo_id, info.description, now()))
    conn.executemany("INSERT OR IGNORE INTO tags (photo_id, tag, source) VALUES (?,?, 'user')",
                     [(photo_id, clean_tag(k)) for k in info.keywords if clean_tag(k)])


def update_file(conn: sqlite3.Connection, photo_id: int, info: FileInfo) -> None:
    """The file changed in place: new facts; a new content hash means it needs a new caption."""
    with write(conn):
        old = conn.execute("SELECT hash, status FROM photos WHERE id = ?", (photo_id,)).fetchone()
        if old is None:
            raise LibraryError(f"no photo with id {photo_id} in the library")
        changed = old["hash"] != info.hash
        if changed:
            status = "pending"
        elif old["status"] == "missing":
            status = "done" if _has_auto(conn, photo_id) else "pending"
        else:
            status = old["status"]
        conn.execute(
            "UPDATE photos SET size=?, mtime=?, hash=?, width=?, height=?, taken_at=?, camera=?,"
            " status=?, error=CASE WHEN ? THEN NULL ELSE error END, updated_at=? WHERE id=?",
            (info.size, info.mtime, info.hash, info.width, info.height, info.taken_at,
             info.camera, status, changed, now(), photo_id))
        adopt_human_text(conn, photo_id, info)
        reindex(conn, [photo_id])


def refresh_file(conn: sqlite3.Connection, photo_id: int, info: FileInfo) -> None:
    """photocap itself changed the file (metadata written into it): new facts, same photo."""
    with write(conn):
        conn.execute("UPDATE photos SET size=?, mtime=?, hash=?, updated_at=? WHERE id=?",
                     (info.size, info.mtime, info.hash, now(), photo_id))


def move(conn: sqlite3.Connection, photo_id: int, new_path: str, root_id: int | None) -> None:
    """The same content under a new path: captions, tags and questions go with it."""
    folder, name = _split(new_path)
    with write(conn):
        # A stale record may still hold the new path (file replaced by a moved one): it goes.
        conn.execute("DELETE FROM photos WHERE path = ? AND id != ?", (paths.to_db(new_path), photo_id))
        status = "done" if _has_auto(conn, photo_id) or _has_user(conn, photo_id) else "pending"
        conn.execute(
            "UPDATE photos SET path=?, root_id=?, folder=?, name=?, updated_at=?,"
            " status = CASE WHEN status = 'missing' THEN ? ELSE status END WHERE id=?",
            (paths.to_db(new_path), root_id, folder, name, now(), status, photo_id))
        reindex(conn, [photo_id])


def mark_missing(conn: sqlite3.Connection, photo_ids: Iterable[int]) -> None:
    ids = list(photo_ids)
    if not ids:
        return
    with write(conn):
        conn.executemany("UPDATE photos SET status='missing', updated_at=? WHERE id=?",
                         [(now(), i) for i in ids])
        reindex(conn, ids)


def restore(conn: sqlite3.Connection, photo_id: int) -> None:
    """A missing photo is back where it was."""
    with write(conn):
        status = "done" if _has_auto(conn, photo_id) else "pending"
        conn.execute("UPDATE photos SET status=?, updated_at=? WHERE id=? AND status='missing'",
                     (status, now(), photo_id))
        reindex(conn, [photo_id])


def remove(conn: sqlite3.Connection, photo_ids: Iterable[int]) -> None:
    """Forget photos (never touches the files)."""
    ids = list(photo_ids)
    with write(conn):
        for photo_id in ids:
            _drop_document(conn, photo_id)
        conn.executemany("DELETE FROM photos WHERE id=?", [(i,) for i in ids])


def set_status(conn: sqlite3.Connection, photo_id: int, status: str, error: str | None = None) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    with write(conn):
        conn.execute("UPDATE photos SET status=?, error=?, updated_at=? WHERE id=?",
                     (status, error, now(), photo_id))
        reindex(conn, [photo_id])


# ---- captions and tags --------------------------------------------------------------------------

def captions(conn: sqlite3.Connection, photo_id: int) -> list[Caption]:
    # The caption that counts first: the user's, else an approved machine caption, else the first;
    # everything that shows or exports one caption takes the first.
    rows = conn.execute(
        "SELECT * FROM captions WHERE photo_id=? ORDER BY source='auto', approved DESC, position, id", (photo_id,))
    return [Caption(id=r["id"], text=r["text"], source=r["source"], model=r["model"],
                    approved=bool(r["approved"]), options=json.loads(r["options"] or "{}"))
            for r in rows]


def tags(conn: sqlite3.Connection, photo_id: int) -> list[tuple[str, str]]:
    """(tag, source) pairs, user tags first."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT tag, source FROM tags WHERE photo_id=? ORDER BY source='auto', tag", (photo_id,))]


def set_auto_captions(conn: sqlite3.Connection, photo_id: int, texts: Sequence[str], *,
                      model: str | None, options: dict[str, Any] | None = None,
                      tags: Sequence[str] = ()) -> None:
    """Replace the machine's captions and tags; a user's captions and tags are kept as they are,
    and so are approved machine captions (re-captioning never unapproves a reviewed photo)."""
    opts = json.dumps(options or {}, sort_keys=True)
    t = now()
    with write(conn):
        conn.execute("DELETE FROM captions WHERE photo_id=? AND source='auto' AND approved=0", (photo_id,))
        kept = {r[0] for r in conn.execute(
            "SELECT text FROM captions WHERE photo_id=? AND source='auto'", (photo_id,))}
        new = [text for text in dict.fromkeys(texts) if text not in kept]
        conn.executemany(
            "INSERT INTO captions (photo_id, text, model, options, source, position, created_at)"
            " VALUES (?,?,?,?, 'auto', ?, ?)",
            [(photo_id, text, model, opts, len(kept) + i, t) for i, text in enumerate(new)])
        conn.execute("DELETE FROM tags WHERE photo_id=? AND source='auto'", (photo_id,))
        conn.executemany("INSERT OR IGNORE INTO tags (photo_id, tag, source) VALUES (?,?, 'auto')",
                         [(photo_id, clean_tag(tag)) for tag in tags if clean_tag(tag)])
        conn.execute("UPDATE photos SET status='done', error=NULL, updated_at=? WHERE id=?"
                     " AND status != 'missing'", (t, photo_id))
        reindex(conn, [photo_id])


def add_auto_captions(conn: sqlite3.Connection, photo_id: int, texts: Sequence[str], *,
                      model: str | None, options: dict[str, Any] | None,
                      tags: Sequence[str] = ()) -> list[str]:
    """More machine candidates for a photo ("more options"): the new distinct ones are appended after
    the old, whose text, order and approval never change; a user's caption and the review state stay
    as they are. `tags` are added to the machine's tags. A photo without machine captions yet is
    captioned as the first time (set_auto_captions). Returns the photo's machine captions now, in order."""
    with write(conn):
        require(conn, photo_id)
        old = _auto_texts(conn, photo_id)
        if not old:
            set_auto_captions(conn, photo_id, _normalised(texts), model=model, options=options, tags=tags)
            return _auto_texts(conn, photo_id)
        # Beams and samples differ in spacing only now and then: those are the same candidate.
        new = [text for text in _normalised(texts) if text not in {" ".join(o.split()) for o in old}]
        if not new:
            return old
        start = conn.execute("SELECT coalesce(max(position), -1) + 1 FROM captions WHERE photo_id=?"
                             " AND source='auto'", (photo_id,)).fetchone()[0]
        t = now()
        opts = json.dumps(options or {}, sort_keys=True)
        conn.executemany(
            "INSERT INTO captions (photo_id, text, model, options, source, position, created_at)"
            " VALUES (?,?,?,?, 'auto', ?, ?)",
            [(photo_id, text, model, opts, start + i, t) for i, text in enumerate(new)])
        conn.executemany("INSERT OR IGNORE INTO tags (photo_id, tag, source) VALUES (?,?, 'auto')",
                         [(photo_id, clean_tag(tag)) for tag in tags if clean_tag(tag)])
        conn.execute("UPDATE photos SET updated_at=? WHERE id=?", (t, photo_id))
        reindex(conn, [photo_id])
        return _auto_texts(conn, photo_id)


def _auto_texts(conn: sqlite3.Connection, photo_id: int) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT text FROM captions WHERE photo_id=? AND source='auto' ORDER BY position, id", (photo_id,))]


def _normalised(texts: Iterable[str]) -> list[str]:
    """Whitespace folded, blanks dropped, each text once, in order."""
    return list(dict.fromkeys(t for t in (" ".join(text.split()) for text in texts) if t))


def set_user_caption(conn: sqlite3.Connection, photo_id: int, text: str, *,
                     approved: bool = True) -> int | None:
    """The user's own caption (one per photo): it replaces their earlier one, never an auto one.
    Returns its id; None when `text` is blank (the user's caption is then removed)."""
    text = text.strip()
    with write(conn):
        require(conn, photo_id)
        conn.execute("DELETE FROM captions WHERE photo_id=? AND source='user'", (photo_id,))
        caption_id = None
        if text:
            caption_id = _new_id(conn.execute(
                "INSERT INTO captions (photo_id, text, source, approved, created_at, reviewed_at)"
                " VALUES (?,?, 'user', ?, ?, ?)", (photo_id, text, int(approved), now(), now())))
        reindex(conn, [photo_id])
    return caption_id


def approve_caption(conn: sqlite3.Connection, caption_id: int, approved: bool = True, *,
                    at: float | None = None) -> None:
    """Approve (or unapprove) one caption; its text never changes. The review time (`at`, default
    now) is kept."""
    with write(conn):
        conn.execute("UPDATE captions SET approved=?, reviewed_at=? WHERE id=?",
                     (int(approved), (at or now()) if approved else None, caption_id))


# ---- review -------------------------------------------------------------------------------------

def review_state(conn: sqlite3.Connection, photo_id: int) -> tuple[str | None, float | None]:
    """(todo | approved | edited, when it was reviewed); (None, None) for a photo without captions."""
    row = conn.execute(f"SELECT {review_state_sql('p.id')} FROM photos p WHERE p.id = ?", (photo_id,)).fetchone()
    state = row[0] if row else None
    if state is None:
        return None, None
    source = "user" if state == "edited" else "auto"
    at = conn.execute("SELECT max(reviewed_at) FROM captions WHERE photo_id=? AND source=?"
                      " AND (source='user' OR approved=1)", (photo_id, source)).fetchone()[0]
    return state, at


def review_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many photos are in each review state (photos without captions are in none)."""
    return {state: conn.execute(f"SELECT count(*) FROM photos p WHERE {review_clause(state, 'p.id')}"
                                ).fetchone()[0] for state in REVIEW_STATES}


def approve_todo(conn: sqlite3.Connection, photo_ids: Iterable[int], *, dry_run: bool = False) -> int:
    """Approve the first machine caption of each `todo` photo among `photo_ids`; how many changed."""
    ids = list(photo_ids)
    with write(conn):
        todo = [i for i in ids if conn.execute(
            f"SELECT 1 FROM photos p WHERE p.id = ? AND {review_clause('todo', 'p.id')}", (i,)).fetchone()]
        if not dry_run:
            t = now()
            conn.executemany(
                "UPDATE captions SET approved=1, reviewed_at=? WHERE id = (SELECT id FROM captions"
                " WHERE photo_id=? AND source='auto' ORDER BY position, id LIMIT 1)",
                [(t, i) for i in todo])
    return len(todo)


def reset_review(conn: sqlite3.Connection, photo_ids: Iterable[int], *, dry_run: bool = False) -> int:
    """Remove the approvals of machine captions; a user's caption is never touched. How many changed."""
    ids = list(photo_ids)
    with write(conn):
        changed = [i for i in ids if conn.execute(
            "SELECT 1 FROM captions WHERE photo_id=? AND source='auto' AND approved=1 LIMIT 1",
            (i,)).fetchone()]
        if not dry_run:
            conn.executemany("UPDATE captions SET approved=0, reviewed_at=NULL"
                             " WHERE photo_id=? AND source='auto' AND approved=1", [(i,) for i in changed])
    return len(changed)


def add_user_tags(conn: sqlite3.Connection, photo_id: int, new_tags: Iterable[str]) -> None:
    with write(conn):
        require(conn, photo_id)
        conn.executemany(
            "INSERT INTO tags (photo_id, tag, source) VALUES (?,?, 'user')"
            " ON CONFLICT(photo_id, tag) DO UPDATE SET source='user'",
            [(photo_id, clean_tag(t)) for t in new_tags if clean_tag(t)])
        reindex(conn, [photo_id])


def remove_tags(conn: sqlite3.Connection, photo_id: int, old_tags: Iterable[str]) -> None:
    with write(conn):
        conn.executemany("DELETE FROM tags WHERE photo_id=? AND tag=?",
                         [(photo_id, clean_tag(t)) for t in old_tags])
        reindex(conn, [photo_id])


def clean_tag(tag: str) -> str:
    """A tag as stored: lower case, single spaces."""
    return " ".join(tag.lower().split())


# ---- questions ----------------------------------------------------------------------------------

def add_question(conn: sqlite3.Connection, photo_id: int, question: str, answer: str,
                 model: str | None) -> int:
    with write(conn):
        require(conn, photo_id)
        return _new_id(conn.execute(
            "INSERT INTO questions (photo_id, question, answer, model, asked_at) VALUES (?,?,?,?,?)",
            (photo_id, question, answer, model, now())))


def questions(conn: sqlite3.Connection, photo_id: int) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT question, answer FROM questions WHERE photo_id=? ORDER BY asked_at, id", (photo_id,))]


# ---- counts -------------------------------------------------------------------------------------

def count_with_status(conn: sqlite3.Connection, status: str) -> int:
    return conn.execute("SELECT count(*) FROM photos WHERE status = ?", (status,)).fetchone()[0]


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    by_status = dict.fromkeys(STATUSES, 0)
    for status, n in conn.execute("SELECT status, count(*) FROM photos GROUP BY status"):
        by_status[status] = n
    return {"photos": sum(by_status.values()), "captioned": by_status["done"],
            "pending": by_status["pending"], "failed": by_status["failed"],
            "missing": by_status["missing"]}


# ---- the search document ------------------------------------------------------------------------

def reindex(conn: sqlite3.Connection, photo_ids: Iterable[int]) -> None:
    """Rebuild the FTS5 documents of these photos from the tables (call inside a write)."""
    for photo_id in photo_ids:
        _drop_document(conn, photo_id)
        row = conn.execute("SELECT folder, name, status, taken_at FROM photos WHERE id=?",
                           (photo_id,)).fetchone()
        if row is None or row["status"] == "missing":
            continue
        doc = document.search_document(photo_id, row["folder"], row["name"], row["taken_at"],
                                       [c.text for c in captions(conn, photo_id)],
                                       [t for t, _ in tags(conn, photo_id)])
        conn.execute("INSERT INTO photo_fts (rowid, caption, tags, name, folder, taken, tagkeys)"
                     " VALUES (?,?,?,?,?,?,?)", doc)
        conn.execute("UPDATE photos SET fts_rowid=? WHERE id=?", (doc[0], photo_id))


def _drop_document(conn: sqlite3.Connection, photo_id: int) -> None:
    row = conn.execute("SELECT fts_rowid FROM photos WHERE id=?", (photo_id,)).fetchone()
    if row and row[0] is not None:
        conn.execute("DELETE FROM photo_fts WHERE rowid=?", (row[0],))
        conn.execute("UPDATE photos SET fts_rowid=NULL WHERE id=?", (photo_id,))


def _new_id(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made (sqlite3 types it as optional: no row, no id)."""
    if cur.lastrowid is None:
        raise LibraryError("the library did not record the new row")
    return cur.lastrowid


def _has_auto(conn: sqlite3.Connection, photo_id: int) -> bool:
    return conn.execute("SELECT 1 FROM captions WHERE photo_id=? AND source='auto' LIMIT 1",
                        (photo_id,)).fetchone() is not None


def _has_user(conn: sqlite3.Connection, photo_id: int) -> bool:
    return conn.execute("SELECT 1 FROM captions WHERE photo_id=? AND source='user' LIMIT 1",
                        (photo_id,)).fetchone() is not None


def require(conn: sqlite3.Connection, photo_id: int) -> None:
    """LibraryError (one line) unless the photo is in the library."""
    if conn.execute("SELECT 1 FROM photos WHERE id=?", (photo_id,)).fetchone() is None:
        raise LibraryError(f"no photo with id {photo_id} in the library")
