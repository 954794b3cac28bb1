"""Review mode's pictures: decoded at the view's size ahead of the user, and painted.

A 12 MP JPEG is decoded with PIL's draft mode (1/2, 1/4 or 1/8 scale, almost free) and resized to
fit the view, never at full resolution and never on the GUI thread, so moving on shows a picture
that is already in memory. The decoding runs in helper processes (review_decode), each driven by
one thread of a small pool that waits on its pipe; a frozen app, or one whose helper failed,
decodes on the pool's threads instead.
"""

from __future__ import annotations

import logging
import queue
from collections import OrderedDict

from PySide6.QtCore import QObject, QRect, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from photocap.gui.review_decode import Helper, HelperGone, can_start_helpers, decode_rgb, reason

log = logging.getLogger(__name__)

KEPT = 24                       # decoded pictures kept (the ones ahead and a few behind)
THREADS = 2


def rgb_image(width: int, height: int, data: bytes) -> QImage:
    """A QImage that owns its pixels, from RGB bytes."""
    return QImage(data, width, height, width * 3, QImage.Format.Format_RGB888).copy()


def decode_to_fit(path: str, box: QSize) -> QImage:
    """The photo upright, fitted into `box` (pixels), on this thread. Raises ImageError or OSError."""
    return rgb_image(*decode_rgb(path, box.width(), box.height()))


Key = tuple[int, int, int]              # photo id, width, height


class Preloader(QObject):
    """Decoded pictures by (photo id, size): `request` starts a decode unless it is kept or on its way;
    `decoded` or `failed` say (on the GUI thread) when it is done.

    Its threads and helpers keep the normal priority: the user is waiting for them."""

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
        self._helpers: queue.SimpleQueue[Helper] = queue.SimpleQueue()   # idle ones
        self._all_helpers: list[Helper] = []
        self._use_helpers = can_start_helpers()
        for _ in range(THREADS if self._use_helpers else 0):
            self._start_helper()                   # they import while the window is built

    def _start_helper(self) -> None:
        try:
            helper = Helper()
        except OSError:
            log.info("cannot start a picture helper: decoding on threads", exc_info=True)
            self._use_helpers = False
            return
        self._all_helpers.append(helper)
        self._helpers.put(helper)

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
                self._made.emit(key, rgb_image(*self._decode(path, box)))
            except Exception as exc:  # noqa: BLE001 - any unreadable file is shown with its reason
                self._refused.emit(key, reason(exc))
        self._pool.start(job, priority=2 if urgent else 0)

    def helper_pids(self) -> list[int]:
        """The helper processes' ids (none in a frozen app)."""
        return [helper.pid for helper in self._all_helpers]

    def _decode(self, path: str, box: QSize) -> tuple[int, int, bytes]:   # on a pool thread
        helper = self._idle_helper()
        if helper is None:
            return decode_rgb(path, box.width(), box.height())
        try:
            found = helper.decode(path, box.width(), box.height())
        except HelperGone:
            log.info("a picture helper ended: decoding on threads from now on", exc_info=True)
            self._use_helpers = False
            return decode_rgb(path, box.width(), box.height())
        except ValueError:                 # the photo's own failure: the helper goes on serving
            self._helpers.put(helper)
            raise
        self._helpers.put(helper)
        return found

    def _idle_helper(self) -> Helper | None:
        if not self._use_helpers:
            return None
        try:
            return self._helpers.get_nowait()
        except queue.Empty:                # the pool has as many threads as helpers: only when one failed
            return None

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
        for helper in self._all_helpers:
            helper.close()
        self._all_helpers.clear()


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
