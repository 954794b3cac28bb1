"""Reading what a cluster run left in a library (plain SQLite, as a test reads it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def library_rows(db_path: Path | str) -> dict[str, dict]:
    """What a run recorded, per photo file name: status, error, captions (text, model, options, source),
    tags, and vectors (model, bytes)."""
    conn = sqlite3.connect(db_path)
    try:
        rows = {}
        for photo_id, path, status, error in conn.execute("SELECT id, path, status, error FROM photos"):
            rows[Path(path).name] = {
                "status": status, "error": error,
                "captions": conn.execute("SELECT text, model, options, source, position FROM captions"
                                         " WHERE photo_id = ? ORDER BY position, id", (photo_id,)).fetchall(),
                "tags": sorted(conn.execute("SELECT tag, source FROM tags WHERE photo_id = ?", (photo_id,))),
                "vectors": conn.execute("SELECT model, vector FROM embeddings WHERE photo_id = ?",
                                        (photo_id,)).fetchall(),
            }
        return rows
    finally:
        conn.close()


def claimed_jobs(db_path: Path | str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT count(*) FROM jobs WHERE state = 'claimed'").fetchone()[0]
    finally:
        conn.close()
