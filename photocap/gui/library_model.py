"""The grid's model: the photos a query finds, paged so 100,000 rows cost no more than 200.

The ordered ids come from a background lane (the search may rank many matches); the cells' details
are read on demand, one page of PAGE_SIZE rows per SQL query, and a few pages are kept (LRU).
Thumbnails are asked of the ThumbnailLoader and painted when ready.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from photocap.gui.thumbnails import ThumbnailLoader, thumbnail_key
from photocap.library import browse
from photocap.library.browse import PhotoSummary

PAGE_SIZE = 200
PAGES_KEPT = 24

PhotoIdRole = Qt.ItemDataRole.UserRole + 1
# Everything a cell paints, in one call: (PhotoSummary, thumbnail QPixmap or None, why there is
# no thumbnail or ""). Each data() call costs more than the rest of the cell's painting.
CellRole = Qt.ItemDataRole.UserRole + 2

_NO_PARENT = QModelIndex()      # a list has no parent: the invalid index, made once
REVIEW_WORDS = {"approved": "approved", "edited": "edited by you"}     # a cell's tooltip; todo says nothing

class LibraryModel(QAbstractListModel):
    """Rows are photo ids in query order; the GUI-thread connection reads one page at a time."""

    query_applied = Signal(str, int)                  # the query now shown, its number of photos

    def __init__(self, conn: sqlite3.Connection, thumbnails: ThumbnailLoader,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._conn = conn
        self._thumbnails = thumbnails
        self._ids: list[int] = []
        self._rows: dict[int, int] = {}               # photo id -> row
        self._pages: OrderedDict[int, dict[int, PhotoSummary]] = OrderedDict()
        self._rows_by_key: dict[str, set[int]] = {}   # thumbnail key -> photo ids on screen
        self.query = ""
        thumbnails.ready.connect(self._thumbnail_ready)

    # ---- Qt model API ---------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        photo_id = self._ids[index.row()]
        if role == PhotoIdRole:
            return photo_id
        summary = self._summary(index.row())
        if summary is None:                           # removed since the query ran
            return None
        if role == CellRole:
            key = thumbnail_key(summary.path, summary.hash)
            return summary, self._thumbnail(photo_id, summary, key), self._thumbnails.failures.get(key, "")
        if role == Qt.ItemDataRole.DisplayRole:
            return summary.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(photo_id, summary, thumbnail_key(summary.path, summary.hash))
        if role == Qt.ItemDataRole.ToolTipRole:
            text = summary.caption or {"pending": "waiting for a caption",
                                       "failed": "could not be captioned"}.get(summary.status, "")
            return "\n".join(line for line in (summary.name, text, REVIEW_WORDS.get(summary.review or ""))
                             if line)
        return None

    # ---- what the app asks of it ----------------------------------------------------------------

    def photo_id(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, photo_id: int) -> int | None:
        return self._rows.get(photo_id)

    def set_ids(self, query: str, ids: list[int], rows: dict[int, int]) -> None:
        """Show a query's result (computed on a lane). Selection and scrolling are the view's affair.

        The same query again is a refresh after the library changed: the cells are read again when next
        painted (review decisions, bulk approvals and other processes' writes keep the photos in place)."""
        if query == self.query and ids == self._ids:
            self._reread()
            self.query_applied.emit(query, len(ids))
            return
        same_query = query == self.query
        if same_query and ids[:len(self._ids)] == self._ids:
            # Only new photos at the end: insert them, the rest of the grid does not move.
            self._reread()
            self.beginInsertRows(QModelIndex(), len(self._ids), len(ids) - 1)
            self._ids, self._rows = ids, rows
            self.endInsertRows()
        else:
            self.beginResetModel()
            self._ids, self._rows = ids, rows
            self._pages.clear()
            self._rows_by_key.clear()
            self.endResetModel()
        self.query = query
        self.query_applied.emit(query, len(ids))

    def refresh_photos(self, photo_ids: list[int]) -> None:
        """These photos changed (caption, status): read them again when next painted."""
        rows = sorted(r for r in (self._rows.get(i) for i in photo_ids) if r is not None)
        for page in {row // PAGE_SIZE for row in rows}:
            self._pages.pop(page, None)
        for row in rows:
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def _reread(self) -> None:
        """Every cell is read again when next painted: one query per page on screen."""
        self._pages.clear()
        if self._ids:
            self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1))

    # ---- pages ----------------------------------------------------------------------------------

    def _summary(self, row: int) -> PhotoSummary | None:
        page_no = row // PAGE_SIZE
        page = self._pages.get(page_no)
        if page is None:
            start = page_no * PAGE_SIZE
            page = browse.summaries(self._conn, self._ids[start:start + PAGE_SIZE])
            self._pages[page_no] = page
            while len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        return page.get(self._ids[row])

    def _thumbnail(self, photo_id: int, summary: PhotoSummary, key: str):
        pixmap = self._thumbnails.pixmap(summary.path, key)
        if pixmap is None:
            self._rows_by_key.setdefault(key, set()).add(photo_id)    # repaint it when ready
        return pixmap

    def _thumbnail_ready(self, key: str) -> None:
        for photo_id in self._rows_by_key.pop(key, ()):
            row = self._rows.get(photo_id)
            if row is not None:
                index = self.index(row)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
