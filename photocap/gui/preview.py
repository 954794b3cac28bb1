"""The large preview (Enter on a photo): the picture as big as the window, loaded off the GUI thread."""

from __future__ import annotations

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QVBoxLayout

from photocap.gui.details import PreviewLabel
from photocap.gui.thumbnails import PreviewLoader
from photocap.library import paths

PREVIEW_SIDE = 2048


class PreviewDialog(QDialog):
    def __init__(self, previews: PreviewLoader, photo_id: int, path: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(paths.display(path))
        self.photo_id = photo_id
        self.picture = PreviewLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture)
        self.picture.set_image(None, "Loading…")
        previews.loaded.connect(self._loaded)
        previews.failed.connect(self._failed)
        previews.load(photo_id, path, PREVIEW_SIDE)
        if parent is not None:
            self.resize(parent.size() * 0.9)

    def _loaded(self, photo_id: int, image: QImage) -> None:
        if photo_id == self.photo_id:
            self.picture.set_image(image)

    def _failed(self, photo_id: int, reason: str) -> None:
        if photo_id == self.photo_id:
            self.picture.set_image(None, f"Cannot show this photo: {reason}")
