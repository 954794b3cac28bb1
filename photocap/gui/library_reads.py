"""What the app reads from the library, as plain data, through library functions. No Qt, no SQL here.

Every function takes a connection, so it runs on whichever thread owns that connection: the grid's
pages on the GUI thread (one small query), everything that may touch many rows on a background lane.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from photocap.library import browse, jobs, photos, search
from photocap.library.browse import FolderStats


@dataclass(frozen=True)
class PhotoDetails:
    photo: photos.Photo
    captions: list[photos.Caption]
    tags: list[tuple[str, str]]
    questions: list[tuple[str, str]]


def matching_ids(conn: sqlite3.Connection, query: str) -> list[int]:
    """Ids of every photo `query` finds, in the order `photocap search` lists them."""
    return [photo_id for photo_id, _ in search.ranked_ids(conn, query, limit=-1)]


def details(conn: sqlite3.Connection, photo_id: int) -> PhotoDetails | None:
    photo = photos.get(conn, photo_id)
    if photo is None:
        return None
    return PhotoDetails(photo, photos.captions(conn, photo_id), photos.tags(conn, photo_id),
                        photos.questions(conn, photo_id))


@dataclass(frozen=True)
class LibrarySnapshot:
    """The sidebar's and the status bar's view of the whole library."""
    folders: list[FolderStats]
    tags: list[tuple[str, int]]
    counts: dict[str, int]
    paused: bool


def snapshot(conn: sqlite3.Connection) -> LibrarySnapshot:
    return LibrarySnapshot(browse.folder_stats(conn), browse.tag_counts(conn), photos.counts(conn),
                           jobs.paused(conn))


def query_result(conn: sqlite3.Connection, query: str) -> tuple[str, list[int], dict[int, int]]:
    """A query's ids and the row of each id, both built off the GUI thread."""
    ids = matching_ids(conn, query)
    return query, ids, {photo_id: row for row, photo_id in enumerate(ids)}
