"""What front ends show of the library, as plain data: grid pages, folder and tag overviews.

Every function takes a connection, so it runs on whichever thread owns that connection: the app's
grid pages on the GUI thread (one small query), anything that may touch many rows on a background
lane.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from photocap.library import paths
from photocap.library.search.compile import review_state_sql


@dataclass(frozen=True)
class PhotoSummary:
    """What one grid cell shows."""
    id: int
    path: str
    name: str
    hash: str | None
    status: str
    caption: str | None
    review: str | None = None       # todo | approved | edited (photos.review_state); None: no caption


@dataclass(frozen=True)
class FolderStats:
    path: str
    online: bool
    photos: int
    captioned: int
    pending: int
    failed: int


def summaries(conn: sqlite3.Connection, ids: list[int]) -> dict[int, PhotoSummary]:
    """One query for a page of grid cells: the user's caption, else the approved automatic one, else the
    first automatic one (as photos.captions orders them), and the review state."""
    rows = conn.execute(
        "SELECT p.id, p.path, p.name, p.hash, p.status,"
        " (SELECT c.text FROM captions c WHERE c.photo_id = p.id"
        "  ORDER BY c.source = 'auto', c.approved DESC, c.position, c.id LIMIT 1),"
        f" {review_state_sql('p.id')}"
        " FROM photos p WHERE p.id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))
    return {r[0]: PhotoSummary(id=r[0], path=paths.from_db(r[1]), name=r[2], hash=r[3],
                               status=r[4], caption=r[5], review=r[6]) for r in rows}


def tag_counts(conn: sqlite3.Connection, limit: int = 300) -> list[tuple[str, int]]:
    """The most used tags of photos that search can find, with how many photos carry each."""
    # NOT IN over the (few) missing photos: a join with photos costs 4x more at 100,000 photos.
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT tag, count(*) AS n FROM tags"
        " WHERE photo_id NOT IN (SELECT id FROM photos WHERE status = 'missing')"
        " GROUP BY tag ORDER BY n DESC, tag LIMIT ?", (limit,))]


def folder_stats(conn: sqlite3.Connection) -> list[FolderStats]:
    rows = conn.execute(
        "SELECT r.path, r.online, count(p.id), coalesce(sum(p.status = 'done'), 0),"
        " coalesce(sum(p.status = 'pending'), 0), coalesce(sum(p.status = 'failed'), 0)"
        " FROM roots r LEFT JOIN photos p ON p.root_id = r.id AND p.status != 'missing'"
        " GROUP BY r.id ORDER BY r.path")
    return [FolderStats(path=paths.from_db(r[0]), online=bool(r[1]), photos=r[2], captioned=r[3],
                        pending=r[4], failed=r[5]) for r in rows]


def has_folders(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM roots LIMIT 1").fetchone() is not None


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes when another connection (thread or process) commits to the library."""
    return conn.execute("PRAGMA data_version").fetchone()[0]
