"""The thumbnail grid: a QListView laid out as wrapping rows of cells, and the cell painter.

ListMode with left-to-right flow and wrapping looks like IconMode with static movement, but lays
out 100,000 uniform cells in batches without computing a free position for each: IconMode took
0.5-2 s per layout of 100,000 rows here, which would freeze the window on every search.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QRegion,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from photocap.gui.library_model import CellRole, LibraryModel, PhotoIdRole

THUMB_BOX = QSize(160, 160)
CELL = QSize(176, 216)          # thumbnail, then two lines: file name and caption
MARGIN = 8
STATUS_LINE = {"pending": "waiting for a caption…", "failed": "could not be captioned"}
MARK = 22                       # the review mark's diameter: readable over any photo, small on a cell
MARK_INSET = 4


def thumbnail_rect(cell: QRect, size: QSize) -> QRect:
    """Where a thumbnail of `size` (device-independent) is drawn in the cell `cell`: centred in its box."""
    return QRect(cell.left() + MARGIN + (THUMB_BOX.width() - size.width()) // 2,
                 cell.top() + MARGIN + (THUMB_BOX.height() - size.height()) // 2, size.width(), size.height())


def paint_review_mark(painter: QPainter, picture: QRect, state: str | None, palette: QPalette) -> None:
    """A check mark (approved) or a pencil (edited) in a disc on the picture's top right corner; todo
    photos, most of a fresh library, get none. Highlight colours: they contrast in light and dark
    themes alike, and a ring of the base colour keeps the disc apart from the photo."""
    if state not in ("approved", "edited"):
        return
    disc = QRect(picture.right() - MARK_INSET - MARK + 1, picture.top() + MARK_INSET, MARK, MARK)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(palette.color(QPalette.ColorRole.Base), 1.5))
    painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
    painter.drawEllipse(disc)
    ink = palette.color(QPalette.ColorRole.HighlightedText)
    x, y, u = disc.left(), disc.top(), MARK / 22
    path = QPainterPath()
    if state == "approved":
        path.moveTo(x + 6 * u, y + 11.5 * u)
        path.lineTo(x + 9.5 * u, y + 15 * u)
        path.lineTo(x + 16 * u, y + 7.5 * u)
        painter.setPen(QPen(ink, 2.4 * u, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        painter.setBrush(Qt.BrushStyle.NoBrush)
    else:                                        # a pencil, point down to the left
        path.moveTo(x + 5.5 * u, y + 16.5 * u)   # the point
        path.lineTo(x + 6.5 * u, y + 12.5 * u)
        path.lineTo(x + 13.5 * u, y + 5.5 * u)
        path.lineTo(x + 16.5 * u, y + 8.5 * u)
        path.lineTo(x + 9.5 * u, y + 15.5 * u)
        path.closeSubpath()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(ink)
    painter.drawPath(path)
    painter.restore()


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a cell from its CellRole, in the palette's colours (light or dark alike)."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        cell = index.data(CellRole)
        widget = option.widget
        if widget is not None:
            widget.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        if cell is None:
            return
        summary, pixmap, failure = cell
        palette = option.palette
        box = QRect(option.rect.left() + MARGIN, option.rect.top() + MARGIN,
                    THUMB_BOX.width(), THUMB_BOX.height())
        painter.save()
        if pixmap is not None:
            picture = thumbnail_rect(option.rect, pixmap.deviceIndependentSize().toSize())
            painter.drawPixmap(picture, pixmap)
            paint_review_mark(painter, picture, summary.review, palette)
        else:
            inner = box.adjusted(16, 16, -16, -16)
            painter.fillRect(inner, palette.color(QPalette.ColorRole.AlternateBase))
            painter.setPen(palette.color(QPalette.ColorRole.Mid))
            painter.drawRect(inner)
            if failure:
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(inner, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                                 "cannot show this photo")
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        metrics = option.fontMetrics
        line = QRect(option.rect.left() + 4, box.bottom() + 4, option.rect.width() - 8, metrics.height())
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(text_role))
        painter.drawText(line, Qt.AlignmentFlag.AlignHCenter,
                         metrics.elidedText(summary.name, Qt.TextElideMode.ElideMiddle, line.width()))
        caption = summary.caption or STATUS_LINE.get(summary.status, "")
        if not selected:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(line.translated(0, line.height()), Qt.AlignmentFlag.AlignHCenter,
                         metrics.elidedText(caption, Qt.TextElideMode.ElideRight, line.width()))
        painter.restore()


_ACTION = QAbstractItemView.CursorAction
# The keys that move the current cell; with Shift they extend the selection in grid order.
_MOVES: dict[int, QAbstractItemView.CursorAction] = {key.value: action for key, action in (
    (Qt.Key.Key_Left, _ACTION.MoveLeft), (Qt.Key.Key_Right, _ACTION.MoveRight), (Qt.Key.Key_Up, _ACTION.MoveUp),
    (Qt.Key.Key_Down, _ACTION.MoveDown), (Qt.Key.Key_Home, _ACTION.MoveHome), (Qt.Key.Key_End, _ACTION.MoveEnd),
    (Qt.Key.Key_PageUp, _ACTION.MovePageUp), (Qt.Key.Key_PageDown, _ACTION.MovePageDown))}


class GridView(QListView):
    open_requested = Signal(int)                 # photo id: Enter or a double click
    remove_requested = Signal(list)              # photo ids: Delete
    similar_requested = Signal(int)              # photo id: "Similar photos" in the context menu

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(1000)
        self.setSpacing(2)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(CELL.height() // 4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(False)
        self.setItemDelegate(ThumbnailDelegate(self))
        self.doubleClicked.connect(self._open)
        self._empty_message = ""
        self._selection_actions: list[QAction] = []   # on the context menu, for the selected photos
        self._anchor: int | None = None               # photo id of the last click without Shift

    def set_empty_message(self, text: str) -> None:
        """Shown in the middle of the grid while it has no rows (e.g. a query with no results)."""
        self._empty_message = text
        self.viewport().update()

    def selected_ids(self) -> list[int]:
        """The selected photos, in grid order. Read from the selection's ranges: Ctrl+A over 100,000
        photos is one range, and makes no index per row."""
        model = self.model()
        rows = sorted({row for part in self.selectionModel().selection().toList()
                       for row in range(part.top(), part.bottom() + 1)})
        if isinstance(model, LibraryModel):
            return [i for i in map(model.photo_id, rows) if i is not None]
        return [model.index(row, 0).data(PhotoIdRole) for row in rows]

    def selectAll(self) -> None:
        """Every photo of the search (all rows, not only the pages read so far), as one range: QListView's
        own walks each row and held the window 0.35 s at 100,000 photos."""
        model = self.model()
        rows = model.rowCount() if model is not None else 0
        if rows:
            self.selectionModel().select(QItemSelection(model.index(0, 0), model.index(rows - 1, 0)),
                                         QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        # Qt unites one rectangle per selected row (0.2 s for Ctrl+A at 100,000 photos); cells are small
        # and many, so repainting what is on screen is as good and costs nothing.
        return QRegion(self.viewport().rect())

    def add_selection_actions(self, actions: list[QAction]) -> None:
        """Actions on the selected photos (bulk review), offered on the context menu."""
        self._selection_actions += actions

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = not modifiers
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and plain:
            self._open(self.currentIndex())
        elif key == Qt.Key.Key_Delete and plain:
            ids = self.selected_ids()
            if ids:
                self.remove_requested.emit(ids)
        elif key in _MOVES and modifiers & Qt.KeyboardModifier.ShiftModifier:
            self._extend(_MOVES[key], modifiers)
        else:
            super().keyPressEvent(event)
            if key in _MOVES and self.currentIndex().isValid():
                self._anchor = self.currentIndex().data(PhotoIdRole)   # a plain move: a new anchor

    def _extend(self, move: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier) -> None:
        """Shift+arrow (Home, End, Page Up/Down): the photos from the anchor to the new current one, in
        grid order, as Shift+click selects them (Qt's list mode would select a rectangle)."""
        current = self.currentIndex()
        anchor = self._anchor_row()
        if anchor is None:
            if not current.isValid():
                return
            anchor, self._anchor = current.row(), current.data(PhotoIdRole)
        target = self.moveCursor(move, modifiers)
        if target.isValid():
            self._select_rows(anchor, target.row(), add=bool(modifiers & Qt.KeyboardModifier.ControlModifier))
            self.scrollTo(target)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Shift+click selects the photos from the last click to this one, in grid order (Ctrl+Shift
        adds them). Qt's list mode selects the rectangle between the two cells, which in wrapping
        rows takes in photos before the first one clicked."""
        index = self.indexAt(event.position().toPoint())
        anchor = self._anchor_row()
        super().mousePressEvent(event)
        if event.button() != Qt.MouseButton.LeftButton or not index.isValid():
            return
        modifiers = event.modifiers()
        if modifiers & Qt.KeyboardModifier.ShiftModifier and anchor is not None:
            self._select_rows(anchor, index.row(), add=bool(modifiers & Qt.KeyboardModifier.ControlModifier))
        else:
            self._anchor = index.data(PhotoIdRole)

    def _anchor_row(self) -> int | None:
        model = self.model()
        if self._anchor is None or not isinstance(model, LibraryModel):
            return None
        return model.row_of(self._anchor)            # None once a new search left it out

    def _select_rows(self, anchor: int, row: int, *, add: bool) -> None:
        model = self.model()
        first, last = sorted((anchor, row))
        flag = QItemSelectionModel.SelectionFlag
        self.selectionModel().select(QItemSelection(model.index(first, 0), model.index(last, 0)),
                                     flag.Select if add else flag.ClearAndSelect)
        self.selectionModel().setCurrentIndex(model.index(row, 0), flag.NoUpdate)

    def context_menu(self, index: QModelIndex) -> QMenu | None:
        """The menu of the photo at `index` (None outside the photos)."""
        if not index.isValid():
            return None
        photo_id = index.data(PhotoIdRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_requested.emit(photo_id))
        menu.addAction("Similar photos", lambda: self.similar_requested.emit(photo_id))
        menu.addSeparator()
        if self._selection_actions:
            for action in self._selection_actions:
                menu.addAction(action)
            menu.addSeparator()
        ids = self.selected_ids() or [photo_id]
        menu.addAction("Remove from library…", lambda: self.remove_requested.emit(ids))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        index = self.indexAt(event.pos())
        if index.isValid() and not self.selectionModel().isSelected(index):
            self.setCurrentIndex(index)
        menu = self.context_menu(index)
        if menu is not None:
            menu.exec(event.globalPos())

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,
                    bottom_right: QModelIndex | QPersistentModelIndex, roles=()) -> None:
        # All cells have one size, so new data never moves a cell: repaint it. QListView's list
        # mode would lay out every row again (a thumbnail arriving cost 1 ms per 1,000 rows).
        if top_left == bottom_right:
            self.viewport().update(self.visualRect(top_left))
        else:
            self.viewport().update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self._empty_message and self.model() is not None and self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(24, 24, -24, -24),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._empty_message)

    def _open(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_requested.emit(index.data(PhotoIdRole))
