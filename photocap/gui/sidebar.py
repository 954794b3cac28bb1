"""The sidebar: watched folders (status and counts) and the tag list (click to filter)."""

from __future__ import annotations

import os
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photocap.library import paths
from photocap.library.browse import FolderStats

ValueRole = Qt.ItemDataRole.UserRole + 1


def quoted_filter(key: str, value: str) -> str:
    """`tag:dog`, or `tag:"hot dog"` when the value has spaces or quotes."""
    if value and not any(c.isspace() or c == '"' for c in value):
        return f"{key}:{value}"
    return f'{key}:"{value.replace(chr(34), "")}"'


def folder_line(stats: FolderStats, state: str) -> str:
    name = os.path.basename(stats.path.rstrip(os.sep)) or stats.path
    counts = f"{stats.photos:,} photos, {stats.captioned:,} captioned"
    if stats.failed:
        counts += f", {stats.failed:,} failed"
    return f"{paths.display(name)}\n{counts} · {state}"


class Sidebar(QWidget):
    add_folder_requested = Signal()
    remove_folder_requested = Signal(str)        # folder path
    filter_requested = Signal(str)               # a query for the search field

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Folders</b>"))
        self.folders = QListWidget()
        self.folders.setToolTip("Click a folder to show its photos")
        self.folders.itemClicked.connect(self._folder_clicked)
        self.folders.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.folders, 1)
        buttons = QHBoxLayout()
        add = QPushButton("Add…")
        add.setToolTip("Add a photo folder to the library and watch it")
        add.clicked.connect(self.add_folder_requested)
        buttons.addWidget(add)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the folder's photos from the library (the files stay)")
        self.remove_button.clicked.connect(self._remove_selected)
        buttons.addWidget(self.remove_button)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("<b>Tags</b>"))
        self.tags = QListWidget()
        self.tags.itemClicked.connect(
            lambda item: self.filter_requested.emit(quoted_filter("tag", item.data(ValueRole))))
        layout.addWidget(self.tags, 2)
        self._shown_tags: list[tuple[str, int]] = []
        self._update_buttons()

    def set_folders(self, folders: list[FolderStats], state_of: Callable[[str], str]) -> None:
        """Update in place, so a refresh keeps the selection and the scroll position."""
        for row, stats in enumerate(folders):
            text = folder_line(stats, state_of(stats.path) if stats.online else "offline")
            item = self.folders.item(row)
            if item is None:
                item = QListWidgetItem()
                self.folders.addItem(item)
            if item.text() != text or item.data(ValueRole) != stats.path:
                item.setText(text)
                item.setData(ValueRole, stats.path)
                item.setToolTip(paths.display(stats.path))
        while self.folders.count() > len(folders):
            self.folders.takeItem(self.folders.count() - 1)

    def set_tags(self, tags: list[tuple[str, int]]) -> None:
        if tags == self._shown_tags:
            return
        self._shown_tags = tags
        self.tags.clear()
        for tag, count in tags:
            item = QListWidgetItem(f"{tag}  ({count:,})")
            item.setData(ValueRole, tag)
            item.setToolTip(f"Show the photos tagged “{tag}”")
            self.tags.addItem(item)

    def _folder_clicked(self, item: QListWidgetItem) -> None:
        # path: with the separator is exactly "inside this folder" (folder: matches words).
        self.filter_requested.emit(quoted_filter("path", item.data(ValueRole).rstrip(os.sep) + os.sep))

    def _remove_selected(self) -> None:
        item = self.folders.currentItem()
        if item is not None:
            self.remove_folder_requested.emit(item.data(ValueRole))

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.folders.currentItem() is not None)
