"""What the app reads from the library, as plain data, through library functions. No Qt, no SQL here.

Every function takes a connection, so it runs on whichever thread owns that connection: the grid's
pages on the GUI thread (one small query), everything that may touch many rows on a background lane.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from photocap.library import browse, jobs, photos
from photocap.library.browse import FolderStats, PhotoSummary
from photocap.library.search import fusion, keyword, vectors

RANKED_LIMIT = 5000             # photos a search ranked by meaning (or sorted by date) shows at most
SIMILAR_LIMIT = 200


@dataclass(frozen=True)
class PhotoDetails:
    photo: photos.Photo
    captions: list[photos.Caption]
    tags: list[tuple[str, str]]
    questions: list[tuple[str, str]]


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
    embedded: int = 0           # photos with a vector of the embedding model


def snapshot(conn: sqlite3.Connection, embed_model: str = "") -> LibrarySnapshot:
    return LibrarySnapshot(browse.folder_stats(conn), browse.tag_counts(conn), photos.counts(conn),
                           jobs.paused(conn), vectors.count(conn, embed_model) if embed_model else 0)


def _rows(query: str, ids: list[int]) -> tuple[str, list[int], dict[int, int]]:
    return query, ids, {photo_id: row for row, photo_id in enumerate(ids)}


def query_result(conn: sqlite3.Connection, query: str, *, sort: str = "relevance", vector: Any = None,
                 model: str | None = None) -> tuple[str, list[int], dict[int, int]]:
    """A query's ids and the row of each id, both built off the GUI thread.

    With the query's text vector the search is hybrid (words and meaning); without it, and in
    relevance order, it is the keyword search with every match.
    """
    if vector is None and sort == "relevance":
        return _rows(query, keyword.matching_ids(conn, query))
    mode = "hybrid" if vector is not None else "keyword"
    hits = fusion.search(conn, query, limit=RANKED_LIMIT, mode=mode, sort=sort, text_vector=vector, model=model)
    return _rows(query, [h.photo_id for h in hits])


def similar_result(conn: sqlite3.Connection, label: str, photo_id: int,
                   model: str) -> tuple[str, list[int], dict[int, int]]:
    """The photos most like one photo, as a grid result named `label`."""
    return _rows(label, [h.photo_id for h in fusion.similar(conn, photo_id, model, limit=SIMILAR_LIMIT)])


def duplicate_groups(conn: sqlite3.Connection, query: str, model: str,
                     threshold: float) -> list[list[PhotoSummary]]:
    """Groups of near-duplicates among the photos `query` finds, the largest copy first."""
    groups = fusion.duplicates(conn, query, model, threshold=threshold)
    found = browse.summaries(conn, [h.photo_id for group in groups for h in group])
    return [[found[h.photo_id] for h in group if h.photo_id in found] for group in groups]
