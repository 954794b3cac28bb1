"""Watched folders ("roots"): the top folders a user points photocap at."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from photocap.library import paths, photos
from photocap.library.db import LibraryError, now, write


@dataclass
class Root:
    id: int
    path: str
    online: bool
    last_scan: float | None


def normalize(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def add(conn: sqlite3.Connection, path: str) -> Root:
    """Register a folder (idempotent). A nested root folds into the one that contains it."""
    path = normalize(path)
    for root in all_roots(conn):
        if path == root.path or path.startswith(root.path.rstrip(os.sep) + os.sep):
            return root
    with write(conn):
        conn.execute("INSERT INTO roots (path, added_at) VALUES (?, ?)", (paths.to_db(path), now()))
    return by_path(conn, path)


def by_path(conn: sqlite3.Connection, path: str) -> Root | None:
    row = conn.execute("SELECT * FROM roots WHERE path = ?", (paths.to_db(normalize(path)),)).fetchone()
    return _root(row) if row else None


def all_roots(conn: sqlite3.Connection) -> list[Root]:
    return [_root(r) for r in conn.execute("SELECT * FROM roots ORDER BY path")]


def remove(conn: sqlite3.Connection, path: str) -> int:
    """Stop watching a folder and forget its photos (the files are never touched)."""
    root = by_path(conn, path)
    if root is None:
        raise LibraryError(f"{path} is not a library folder")
    ids = [r[0] for r in conn.execute("SELECT id FROM photos WHERE root_id = ?", (root.id,))]
    with write(conn):
        photos.remove(conn, ids)
        conn.execute("DELETE FROM roots WHERE id = ?", (root.id,))
    return len(ids)


def set_scanned(conn: sqlite3.Connection, root_id: int, *, online: bool) -> None:
    with write(conn):
        conn.execute("UPDATE roots SET online = ?, last_scan = CASE WHEN ? THEN ? ELSE last_scan END"
                     " WHERE id = ?", (int(online), online, now(), root_id))


def _root(row: sqlite3.Row) -> Root:
    return Root(id=row["id"], path=paths.from_db(row["path"]), online=bool(row["online"]),
                last_scan=row["last_scan"])
