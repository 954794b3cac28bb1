"""The grid's model reads one page of rows at a time, whatever the library's size."""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import QSize, Qt

from photocap.gui import library_reads
from photocap.gui.library_model import PAGE_SIZE, CellRole, LibraryModel
from photocap.gui.thumbnails import ThumbnailLoader
from photocap.library import db, photos


def fill(conn: sqlite3.Connection, count: int) -> list[int]:
    with db.write(conn):
        ids = [photos.add(conn, f"/photos/IMG_{i:05d}.jpg", photos.FileInfo(size=1000 + i, mtime=0.0,
                                                                            hash=f"{i:032x}"), None)
               for i in range(count)]
    photos.set_user_caption(conn, ids[-1], "the last one")
    return ids


class CountingConnection:
    """The real connection, counting the queries the model makes."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn, self.queries = conn, 0

    def execute(self, *args):
        self.queries += 1
        return self.conn.execute(*args)


def test_rows_are_read_a_page_at_a_time(qtbot, tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    made = fill(conn, 3 * PAGE_SIZE + 10)
    counting = CountingConnection(conn)
    thumbnails = ThumbnailLoader(QSize(64, 64))
    model = LibraryModel(counting, thumbnails)
    query, ids, rows = library_reads.query_result(conn, "")
    model.set_ids(query, ids, rows)
    assert model.rowCount() == 3 * PAGE_SIZE + 10
    assert counting.queries == 0                       # nothing read before something is shown

    for row in range(PAGE_SIZE):
        model.data(model.index(row), Qt.ItemDataRole.DisplayRole)
    assert counting.queries == 1
    last = model.data(model.index(model.rowCount() - 1), CellRole)[0]
    assert counting.queries == 2
    # The page read for the last row is the right one: that photo, with its own caption.
    assert last.id == ids[-1] and last.path == f"/photos/IMG_{made.index(ids[-1]):05d}.jpg"
    assert last.caption == ("the last one" if ids[-1] == made[-1] else None)
    assert model.data(model.index(0), CellRole)[0].id == ids[0]

    newest = model.row_of(ids[0])
    assert model.photo_id(newest) == ids[0]
    conn.close()


def test_a_refresh_that_only_adds_photos_inserts_rows(qtbot, tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    ids = fill(conn, 5)
    model = LibraryModel(conn, ThumbnailLoader(QSize(64, 64)))
    model.set_ids("", ids[:3], {i: r for r, i in enumerate(ids[:3])})
    with qtbot.waitSignal(model.rowsInserted), qtbot.assertNotEmitted(model.modelReset):
        model.set_ids("", ids, {i: r for r, i in enumerate(ids)})
    with qtbot.waitSignal(model.modelReset):
        model.set_ids("other", ids[:1], {ids[0]: 0})
    conn.close()


def test_changed_photos_are_read_again(qtbot, tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    ids = fill(conn, 3)
    model = LibraryModel(conn, ThumbnailLoader(QSize(64, 64)))
    model.set_ids("", ids, {i: r for r, i in enumerate(ids)})
    row = model.row_of(ids[0])
    assert model.data(model.index(row), CellRole)[0].caption is None
    photos.set_user_caption(conn, ids[0], "now with a caption")
    with qtbot.waitSignal(model.dataChanged):
        model.refresh_photos([ids[0]])
    assert model.data(model.index(row), CellRole)[0].caption == "now with a caption"
    conn.close()
