"""The duplicates view: groups of near-duplicate photos with their thumbnails; keep one copy of a group.

Nothing is ever deleted: the other copies of a group go to the system trash (QFile.moveToTrash),
and only after the user confirms. The groups are computed on a lane and arrive as plain data.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from photocap.gui.thumbnails import ThumbnailLoader, thumbnail_key
from photocap.library import paths
from photocap.library.browse import PhotoSummary

ICON = QSize(112, 112)


def move_to_trash(path: str) -> str | None:
    """Move one file to the system trash; None when done, else why not (one line)."""
    from PySide6.QtCore import QFile
    file = QFile(path)
    if not file.exists():
        return "the file is gone"
    if file.moveToTrash():
        return None
    return f"the system trash refused it ({file.errorString()})"


class GroupView(QGroupBox):
    """One group: its photos side by side, the largest first and selected."""

    keep_requested = Signal(object, int)         # this view, the row to keep

    def __init__(self, number: int, group: list[PhotoSummary], thumbnails: ThumbnailLoader, parent=None):
        super().__init__(f"Group {number}: {len(group)} photos", parent)
        self.group = group
        self._thumbnails = thumbnails
        self.photos = QListWidget()
        self.photos.setViewMode(QListView.ViewMode.IconMode)
        self.photos.setFlow(QListView.Flow.LeftToRight)
        self.photos.setWrapping(False)
        self.photos.setIconSize(ICON)
        self.photos.setMovement(QListView.Movement.Static)
        self.photos.setFixedHeight(ICON.height() + 56)
        self._keys: dict[str, QListWidgetItem] = {}
        for i, summary in enumerate(group):
            name = paths.display(summary.name)
            item = QListWidgetItem(f"{name}\n(largest)" if i == 0 else name)
            item.setToolTip(paths.display(summary.path))
            item.setData(Qt.ItemDataRole.UserRole, summary.id)
            self._keys[thumbnail_key(summary.path, summary.hash)] = item
            self.photos.addItem(item)
            self._set_icon(summary, item)
        self.photos.setCurrentRow(0)
        thumbnails.ready.connect(self._thumbnail_ready)
        self.keep_button = QPushButton("Keep this one")
        self.keep_button.setToolTip("Keep the selected photo and move the other copies of this group to the "
                                    "system trash (you are asked first)")
        self.keep_button.clicked.connect(lambda: self.keep_requested.emit(self, self.photos.currentRow()))
        layout = QVBoxLayout(self)
        layout.addWidget(self.photos)
        layout.addWidget(self.keep_button, 0, Qt.AlignmentFlag.AlignLeft)

    def _set_icon(self, summary: PhotoSummary, item: QListWidgetItem) -> None:
        pixmap = self._thumbnails.pixmap(summary.path, thumbnail_key(summary.path, summary.hash))
        if pixmap is not None:
            item.setIcon(QIcon(pixmap))

    def _thumbnail_ready(self, key: str) -> None:
        item = self._keys.get(key)
        if item is not None:
            summary = next(s for s in self.group if s.id == item.data(Qt.ItemDataRole.UserRole))
            self._set_icon(summary, item)


class DuplicatesDialog(QDialog):
    trashed = Signal(list)                       # photo ids whose files went to the trash

    def __init__(self, groups: list[list[PhotoSummary]], thumbnails: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Near-duplicates")
        self.resize(760, 560)
        self.summary = QLabel()
        self.groups: list[GroupView] = []
        inner = QWidget()
        self._list = QVBoxLayout(inner)
        for number, group in enumerate(groups, 1):
            view = GroupView(number, group, thumbnails)
            view.keep_requested.connect(self.keep)
            self.groups.append(view)
            self._list.addWidget(view)
        self._list.addStretch(1)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(inner)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(area, 1)
        layout.addWidget(buttons)
        self._show_summary()

    def keep(self, view: GroupView, row: int) -> None:
        """Keep the photo at `row` of a group; the others go to the trash once the user agrees."""
        if not 0 <= row < len(view.group):
            return
        kept = view.group[row]
        others = [s for i, s in enumerate(view.group) if i != row]
        n = len(others)
        if not self.confirm("Move to trash",
                            f"Keep {paths.display(kept.name)} and move {n} other cop{'ies' if n != 1 else 'y'} "
                            "to the system trash? You can restore them from the trash."):
            return
        moved, problems = [], []
        for summary in others:
            why = move_to_trash(summary.path)
            if why is None:
                moved.append(summary.id)
            else:
                problems.append(f"{paths.display(summary.name)}: {why}")
        if moved:
            self.trashed.emit(moved)
        if problems:
            QMessageBox.warning(self, "Not moved", "These stay where they are:\n" + "\n".join(problems))
            return
        self.groups.remove(view)
        view.hide()
        view.deleteLater()
        self._show_summary()

    def confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes

    def _show_summary(self) -> None:
        n = len(self.groups)
        self.summary.setText(f"{n} group{'s' if n != 1 else ''} of near-duplicates. Pick the copy to keep in "
                             "each; the others go to the system trash." if n else "No near-duplicates left.")
