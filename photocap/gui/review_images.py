"""Review mode's pictures: decoded at the view's size on a small pool, ahead of the user, and painted.

A 12 MP JPEG is decoded with PIL's draft mode (1/2, 1/4 or 1/8 scale, almost free) and resized to
fit the view, never at full resolution and never on the GUI thread, so moving on shows a picture
that is already in memory.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QRect, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from photocap.gui.thumbnails import pil_to_qimage

KEPT = 24                       # decoded pictures kept (the ones ahead and a few behind)
THREADS = 2


def decode_to_fit(path: str, box: QSize) -> QImage:
    """The photo upright, fitted into `box` (pixels). Raises ImageError or OSError."""
    from photocap.library.images import open_image
    image = open_image(path, max_side=max(box.width(), box.height()))
    image.thumbnail((box.width(), box.height()))
    return pil_to_qimage(image)


Key = tuple[int, int, int]              # photo id, width, height


class Preloader(QObject):
    """Decoded pictures by (photo id, size): `request` starts a decode unless it is kept or on its way;
    `decoded` or `failed` say (on the GUI thread) when it is done.

    Its threads keep the normal priority: a lowered thread that holds the GIL when the machine is
    busy keeps the GUI thread waiting until it gets a core again (stalls of 200 ms measured)."""

    decoded = Signal(int, QImage)          # photo id, the picture fitted to the size asked for
    failed = Signal(int, str)              # photo id, why it cannot be shown
    _made = Signal(object, QImage)         # from the pool threads
    _refused = Signal(object, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(THREADS)
        self._images: OrderedDict[Key, QImage] = OrderedDict()
        self._asked: set[Key] = set()
        self.errors: dict[int, str] = {}   # photo id -> why it cannot be shown
        self._made.connect(self._store)
        self._refused.connect(self._store_failure)

    def image(self, photo_id: int, box: QSize) -> QImage | None:
        key = (photo_id, box.width(), box.height())
        found = self._images.get(key)
        if found is not None:
            self._images.move_to_end(key)
        return found

    def request(self, photo_id: int, path: str, box: QSize, *, urgent: bool = False) -> None:
        key = (photo_id, box.width(), box.height())
        if key in self._images or key in self._asked or photo_id in self.errors:
            return
        self._asked.add(key)

        def job() -> None:                 # on a pool thread: no widgets, only signals
            try:
                self._made.emit(key, decode_to_fit(path, box))
            except Exception as exc:  # noqa: BLE001 - any unreadable file is shown with its reason
                self._refused.emit(key, getattr(exc, "reason", None) or str(exc) or type(exc).__name__)
        self._pool.start(job, priority=2 if urgent else 0)

    def _store(self, key: Key, image: QImage) -> None:
        self._asked.discard(key)
        self._images[key] = image
        while len(self._images) > KEPT:
            self._images.popitem(last=False)
        self.decoded.emit(key[0], image)

    def _store_failure(self, key: Key, reason: str) -> None:
        self._asked.discard(key)
        self.errors[key[0]] = reason
        self.failed.emit(key[0], reason)

    def stop(self) -> None:
        self._pool.clear()                 # decodes not started yet are dropped
        self._pool.waitForDone()


class PhotoView(QWidget):
    """The large picture, centred on a dark ground; `painted` says a photo's picture is on screen."""

    painted = Signal(int)                  # photo id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setAccessibleName("Photo")
        self._image: QImage | None = None
        self._photo_id: int | None = None
        self._text = ""

    def box(self) -> QSize:
        """The size in device pixels that a picture is decoded to."""
        ratio = self.devicePixelRatioF()
        return QSize(max(1, int(self.width() * ratio)), max(1, int(self.height() * ratio)))

    def show_image(self, photo_id: int, image: QImage | None, text: str = "") -> None:
        self._photo_id, self._image, self._text = photo_id, image, text
        self.setAccessibleDescription(text or "photo")
        self.update()

    def showing(self) -> int | None:
        return self._photo_id if self._image is not None else None

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 26))
        if self._image is None:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._text)
            return
        # Decoded to fit the view, so this is 1:1 except after a resize (until decoded again) and
        # for photos smaller than the view.
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(self.rect().center())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self._image)
        painter.end()
        if self._photo_id is not None:
            self.painted.emit(self._photo_id)
