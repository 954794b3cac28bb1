"""The details pane: a large preview, the captions (editable), tags, facts, and re-captioning."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QKeySequence, QPalette, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from photocap.gui.library_reads import PhotoDetails
from photocap.gui.library_writes import CaptionEdit
from photocap.gui.thumbnails import PreviewLoader
from photocap.library import paths, photos

PREVIEW_SIDE = 1024
STATUS_TEXT = {"pending": "waiting for a caption", "done": "captioned", "failed": "could not be captioned",
               "missing": "the file is missing"}


def parse_tags(text: str) -> list[str]:
    seen: list[str] = []
    for part in text.split(","):
        tag = " ".join(part.lower().split())
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def shown_caption(captions: list[photos.Caption]) -> photos.Caption | None:
    """The caption the editor shows: the user's own, else the model's first."""
    return next((c for c in captions if c.source == "user"), captions[0] if captions else None)


def size_text(photo: photos.Photo) -> str:
    parts = []
    if photo.width and photo.height:
        parts.append(f"{photo.width} × {photo.height}")
    if photo.size:
        parts.append(f"{photo.size / 1e6:.1f} MB" if photo.size >= 100_000 else f"{photo.size / 1e3:.0f} kB")
    return ", ".join(parts) or "unknown"


class ElidedLabel(QLabel):
    """One line, shortened with … to fit, the whole text in the tooltip. Wrapped labels would make
    the pane's height depend on its width, which a scroll area does not account for."""

    def __init__(self, mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight, parent=None):
        super().__init__(parent)
        self._mode = mode
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._fit()

    def clear(self) -> None:
        self.setText("")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        super().setText(self.fontMetrics().elidedText(self._full, self._mode, max(0, self.width())))


class PreviewLabel(QLabel):
    """A picture scaled to fit, keeping its aspect ratio, rescaled when the pane is resized."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(160, 160))
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._pixmap: QPixmap | None = None

    def set_image(self, image: QImage | None, text: str = "") -> None:
        self._pixmap = QPixmap.fromImage(image) if image is not None else None
        self.setText(text)
        self._rescale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is None:
            self.setPixmap(QPixmap())
            return
        self.setPixmap(self._pixmap.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))


class DetailsPane(QWidget):
    save_requested = Signal(object)              # CaptionEdit
    recaption_requested = Signal(int)            # photo id
    similar_requested = Signal(int)              # photo id
    options_requested = Signal()

    def __init__(self, previews: PreviewLoader, parent=None):
        super().__init__(parent)
        self._previews = previews
        self._details: PhotoDetails | None = None
        previews.loaded.connect(self._preview_loaded)
        previews.failed.connect(self._preview_failed)

        layout = QVBoxLayout(self)
        self.preview = PreviewLabel()
        layout.addWidget(self.preview, 3)
        self.name = QLabel()
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.name)

        layout.addWidget(QLabel("Caption"))
        self.caption_edit = QPlainTextEdit()
        self.caption_edit.setPlaceholderText("No caption yet: write your own, or wait for the model")
        self.caption_edit.setTabChangesFocus(True)
        self.caption_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        layout.addWidget(self.caption_edit)
        self.model_captions = ElidedLabel()
        self.model_captions.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(self.model_captions)
        self.approved = QCheckBox("Approved")
        self.approved.setToolTip("Mark the caption as checked by you")
        layout.addWidget(self.approved)

        layout.addWidget(QLabel("Tags"))
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("tags, separated by commas")
        layout.addWidget(self.tags_edit)

        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Save the caption and tags (Ctrl+S); re-captioning never replaces them")
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.save_button)
        self.recaption_button = QPushButton("Re-caption")
        self.recaption_button.setToolTip("Caption this photo again with the current caption options")
        self.recaption_button.clicked.connect(self._recaption)
        buttons.addWidget(self.recaption_button)
        self.similar_button = QPushButton("Similar photos")
        self.similar_button.setToolTip("Show the photos that look most like this one in the grid")
        self.similar_button.clicked.connect(self._similar)
        buttons.addWidget(self.similar_button)
        options = QPushButton("Options…")
        options.setToolTip("Caption options: prompt, beams or sampling, length, number of captions")
        options.clicked.connect(self.options_requested)
        buttons.addWidget(options)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        QShortcut(QKeySequence.StandardKey.Save, self, self.save,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

        facts = QFormLayout()
        self.taken = QLabel()
        self.camera = QLabel()
        self.size_label = QLabel()
        self.status = ElidedLabel()
        self.path = ElidedLabel(Qt.TextElideMode.ElideMiddle)
        for label, widget in (("Taken", self.taken), ("Camera", self.camera), ("Size", self.size_label),
                              ("Status", self.status), ("File", self.path)):
            facts.addRow(label, widget)
        layout.addLayout(facts)
        self.show_folder_button = QPushButton("Show in folder")
        self.show_folder_button.clicked.connect(self.show_in_folder)
        layout.addWidget(self.show_folder_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.show_photo(None)

    @property
    def photo_id(self) -> int | None:
        return self._details.photo.id if self._details else None

    def show_photo(self, details: PhotoDetails | None) -> None:
        same_photo = details is not None and details.photo.id == self.photo_id
        self._details = details
        for widget in (self.caption_edit, self.approved, self.tags_edit, self.save_button,
                       self.recaption_button, self.similar_button, self.show_folder_button):
            widget.setEnabled(details is not None)
        if details is None:
            self.preview.set_image(None, "Select a photo to see it here")
            for label in (self.name, self.model_captions, self.taken, self.camera, self.size_label,
                          self.status, self.path):
                label.clear()
            self.caption_edit.clear()
            self.tags_edit.clear()
            return
        photo = details.photo
        if not same_photo:
            self.preview.set_image(None, "Loading…")
            self._previews.load(photo.id, photo.path, PREVIEW_SIDE)
        self.name.setText(f"<b>{html.escape(paths.display(photo.name))}</b>")
        shown = shown_caption(details.captions)
        self.caption_edit.setPlainText(shown.text if shown else "")
        self.approved.setChecked(bool(shown and shown.approved))
        auto = [c for c in details.captions if c.source == "auto"]
        self.model_captions.setText(
            f"Model ({auto[0].model}): " + " · ".join(c.text for c in auto) if auto else "")
        self.tags_edit.setText(", ".join(t for t, _ in details.tags))
        self.taken.setText(photo.taken_at.replace("T", " ") if photo.taken_at else "unknown")
        self.camera.setText(photo.camera or "unknown")
        self.size_label.setText(size_text(photo))
        status = STATUS_TEXT.get(photo.status, photo.status)
        self.status.setText(f"{status}: {photo.error}" if photo.error else status)
        self.path.setText(paths.display(photo.path))

    def is_dirty(self) -> bool:
        """Unsaved edits: a new caption arriving must not wipe them."""
        edit = self._edit()
        return edit is not None and (edit.caption is not None or edit.approve_caption_id is not None
                                     or bool(edit.added_tags or edit.removed_tags))

    def save(self) -> None:
        if self.is_dirty():
            self.save_requested.emit(self._edit())

    def show_in_folder(self) -> None:
        if self._details is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(self._details.photo.path)))

    def _recaption(self) -> None:
        if self._details is not None:
            self.recaption_requested.emit(self._details.photo.id)

    def _similar(self) -> None:
        if self._details is not None:
            self.similar_requested.emit(self._details.photo.id)

    def _edit(self) -> CaptionEdit | None:
        if self._details is None:
            return None
        shown = shown_caption(self._details.captions)
        text = self.caption_edit.toPlainText().strip()
        approved = self.approved.isChecked()
        caption, approve_id = None, None
        if text != (shown.text if shown else ""):
            caption = text
        elif shown is not None and approved != shown.approved:
            if shown.source == "user":
                caption = text
            else:
                approve_id = shown.id
        old_tags = [t for t, _ in self._details.tags]
        new_tags = parse_tags(self.tags_edit.text())
        return CaptionEdit(self._details.photo.id, caption=caption, approved=approved,
                           approve_caption_id=approve_id,
                           added_tags=[t for t in new_tags if t not in old_tags],
                           removed_tags=[t for t in old_tags if t not in new_tags])

    def _preview_loaded(self, photo_id: int, image: QImage) -> None:
        if photo_id == self.photo_id:
            self.preview.set_image(image)

    def _preview_failed(self, photo_id: int, reason: str) -> None:
        if photo_id == self.photo_id:
            self.preview.set_image(None, f"Cannot show this photo: {reason}")
