"""Watched folders ("roots"): the top folders a user points photocap at.

Roots never nest: a folder inside a root is already part of it, and a folder that contains roots
takes them (and their photos) in, so no photo is ever recorded under two roots. A root remembers
the device it was on (st_dev): an empty folder on another device is a mount point whose drive is
away (offline), while an empty folder on the same device is one whose photos were deleted.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass, field

from photocap.library import paths, photos
from photocap.library.db import LibraryError, now, write


@dataclass
class Root:
    id: int
    path: str
    online: bool
    last_scan: float | None
    dev: int | None = None          # st_dev of the folder when last seen with its photos


@dataclass
class Added:
    """What `register` did: the root that now covers the folder, and what it took in."""
    root: Root
    created: bool                   # False: the folder was (inside) a root already
    merged: list[str] = field(default_factory=list)     # roots that were inside it, now part of it


def normalize(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def inside(path: str, folder: str) -> bool:
    """True when path lies strictly under folder."""
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def add(conn: sqlite3.Connection, path: str) -> Root:
    """Register a folder (idempotent); see `register`."""
    return register(conn, path).root


def register(conn: sqlite3.Connection, path: str) -> Added:
    """Register a folder. One inside a root is that root; one holding roots takes them in.

    A new folder must exist and be a folder (LibraryError otherwise, one line); a known root is
    accepted while offline. Safe against another process registering at the same time.
    """
    path = normalize(path)
    _require_folder_unless_known(conn, path)
    try:
        dev = os.stat(path).st_dev
    except OSError:
        dev = None
    with write(conn):          # the check and the insert in one transaction: no duplicate roots
        outer = _covering(conn, path)
        created = outer is None
        if outer is None:
            new_id = conn.execute("INSERT INTO roots (path, added_at, dev) VALUES (?, ?, ?)",
                                  (paths.to_db(path), now(), dev)).lastrowid
            outer = _root(conn.execute("SELECT * FROM roots WHERE id = ?", (new_id,)).fetchone())
        merged = _take_in(conn, outer)
    return Added(root=outer, created=created, merged=merged)


def _require_folder_unless_known(conn: sqlite3.Connection, path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise LibraryError(f"cannot use {paths.display(path)} as a library folder: "
                           f"{exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        return
    if mode is not None:
        raise LibraryError(f"{paths.display(path)} is not a folder: name the folder that holds the photos")
    if by_path(conn, path) is None:      # a known root may be offline (an unplugged drive)
        raise LibraryError(f"{paths.display(path)} does not exist")


def _covering(conn: sqlite3.Connection, path: str) -> Root | None:
    """The root that is path or contains it."""
    for root in all_roots(conn):
        if path == root.path or inside(path, root.path):
            return root
    return None


def _take_in(conn: sqlite3.Connection, outer: Root) -> list[str]:
    """Fold roots inside `outer` into it, and adopt removed-but-kept photos under it (call in a write)."""
    merged = [r for r in all_roots(conn) if inside(r.path, outer.path)]
    for root in merged:
        conn.execute("UPDATE photos SET root_id = ? WHERE root_id = ?", (outer.id, root.id))
        conn.execute("DELETE FROM roots WHERE id = ?", (root.id,))
    detached = [r["id"] for r in conn.execute("SELECT id, path FROM photos WHERE root_id IS NULL")
                if inside(paths.from_db(r["path"]), outer.path)]
    conn.executemany("UPDATE photos SET root_id = ? WHERE id = ?", [(outer.id, i) for i in detached])
    return [r.path for r in merged]


def by_path(conn: sqlite3.Connection, path: str) -> Root | None:
    row = conn.execute("SELECT * FROM roots WHERE path = ?", (paths.to_db(normalize(path)),)).fetchone()
    return _root(row) if row else None


def all_roots(conn: sqlite3.Connection) -> list[Root]:
    return [_root(r) for r in conn.execute("SELECT * FROM roots ORDER BY path")]


def photo_counts(conn: sqlite3.Connection) -> dict[int, tuple[int, int]]:
    """root id -> (photos, of which missing)."""
    return {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT root_id, count(*), sum(status = 'missing') FROM photos"
        " WHERE root_id IS NOT NULL GROUP BY root_id")}


def remove(conn: sqlite3.Connection, path: str, *, forget: bool = False) -> int:
    """Stop watching a folder; returns how many photos it held. The files are never touched.

    Its photos leave search but keep their captions, tags and questions (status missing, no root),
    so adding the folder again brings them back as they were; `forget` deletes their records.
    """
    root = by_path(conn, path)
    if root is None:
        outer = _covering(conn, normalize(path))
        where = f" (it is inside the library folder {paths.display(outer.path)})" if outer else ""
        raise LibraryError(f"{paths.display(normalize(path))} is not a library folder{where}")
    with write(conn):
        # Read in the write transaction: a scan of this folder may record photos until it starts.
        ids = [r[0] for r in conn.execute("SELECT id FROM photos WHERE root_id = ?", (root.id,))]
        if forget:
            photos.remove(conn, ids)
        else:
            photos.mark_missing(conn, ids)
            conn.execute("UPDATE photos SET root_id = NULL WHERE root_id = ?", (root.id,))
        conn.execute("DELETE FROM roots WHERE id = ?", (root.id,))
    return len(ids)


def set_scanned(conn: sqlite3.Connection, root_id: int, *, online: bool) -> None:
    with write(conn):
        conn.execute("UPDATE roots SET online = ?, last_scan = CASE WHEN ? THEN ? ELSE last_scan END"
                     " WHERE id = ?", (int(online), online, now(), root_id))


def present(conn: sqlite3.Connection, root: Root) -> bool:
    """Is the root's folder there, readable and on its drive? Judged by what changed, not by emptiness.

    Gone or unreadable: offline. Same device as recorded: there (even when empty: its photos were
    deleted). Another device (or none recorded) and empty where photos were: a mount point without
    its drive, offline. Another device with files in it: the drive is back under a new device
    number (another port, a reboot), which is recorded.
    """
    try:
        st = os.stat(root.path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or not os.access(root.path, os.R_OK | os.X_OK):
        return False
    if root.dev == st.st_dev:
        return True
    if not has_entries(root.path) and _has_photos(conn, root.id):
        return False
    with write(conn):
        conn.execute("UPDATE roots SET dev = ? WHERE id = ?", (st.st_dev, root.id))
    root.dev = st.st_dev
    return True


def has_entries(folder: str) -> bool:
    """False for an empty (or unreadable) folder."""
    try:
        with os.scandir(folder) as it:
            return next(it, None) is not None
    except OSError:
        return False


def _has_photos(conn: sqlite3.Connection, root_id: int) -> bool:
    return conn.execute("SELECT 1 FROM photos WHERE root_id = ? AND status != 'missing' LIMIT 1",
                        (root_id,)).fetchone() is not None


def _root(row: sqlite3.Row) -> Root:
    return Root(id=row["id"], path=paths.from_db(row["path"]), online=bool(row["online"]),
                last_scan=row["last_scan"], dev=row["dev"])
