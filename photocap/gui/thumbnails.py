"""Thumbnails and previews, made off the GUI thread.

Thumbnails are cached on disk under cache_dir()/thumbnails/<size>/, keyed by the photo's content
hash (so a moved photo keeps its thumbnail and an edited one gets a new one), and in memory as
pixmaps ready to paint. Requests are served newest first: while the user scrolls, the rows now on
screen are made before the ones scrolled past, and stale requests beyond a bound are dropped (they
are asked for again if they come back into view).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from photocap import config
from photocap.gui import priority

log = logging.getLogger(__name__)

DISK_SIZE = 256            # pixels on the long side of a cached thumbnail
MEMORY_PIXMAPS = 800       # about 80 MB of ready-to-paint thumbnails
MAX_WAITING = 400          # requests kept while scrolling; older ones are dropped


def thumbnail_key(path: str, content_hash: str | None) -> str:
    if content_hash:
        return content_hash
    return hashlib.blake2b(os.fsencode(path), digest_size=16).hexdigest()


def cache_file(key: str, size: int = DISK_SIZE) -> Path:
    return config.cache_dir() / "thumbnails" / str(size) / key[:2] / f"{key}.jpg"


def pil_to_qimage(image) -> QImage:
    """A PIL RGB image as a QImage that owns its pixels."""
    rgb = image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    return QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888).copy()


def load_thumbnail(path: str, key: str, size: int = DISK_SIZE) -> QImage:
    """The cached thumbnail, made and cached first if needed. Raises ImageError or OSError."""
    target = cache_file(key, size)
    if target.is_file():
        image = QImage(str(target))
        if not image.isNull():
            return image
    from photocap.library.images import make_thumbnail
    thumb = make_thumbnail(path, size)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name, then renamed: a crash never leaves half a JPEG in the cache.
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            thumb.save(f, "JPEG", quality=85)
        os.replace(tmp, target)
    except OSError:
        os.unlink(tmp)
        log.debug("cannot cache the thumbnail of %s", path, exc_info=True)
    return pil_to_qimage(thumb)


def load_preview(path: str, max_side: int) -> QImage:
    """A large view of a photo, upright (EXIF orientation applied). Raises ImageError or OSError."""
    from photocap.library.images import open_image
    return pil_to_qimage(open_image(path, max_side=max_side))


def _reason(exc: Exception) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class ThumbnailLoader(QObject):
    """Ready pixmaps on request; a request not ready yet is made in the pool and announced by `ready`."""

    ready = Signal(str)                    # key: its pixmap is now available
    _made = Signal(str, QImage)
    _failed = Signal(str, str)

    def __init__(self, display: QSize, device_ratio: float = 1.0, parent: QObject | None = None,
                 pool: QThreadPool | None = None):
        super().__init__(parent)
        self._display = display
        self._ratio = device_ratio
        self._pool = pool or QThreadPool.globalInstance()
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self.failures: dict[str, str] = {}            # key -> why there is no thumbnail
        self._lock = threading.Lock()
        self._waiting: OrderedDict[str, str] = OrderedDict()   # key -> path, newest last
        self._asked: set[str] = set()                 # waiting or being made
        self._drainers = 0
        self._made.connect(self._store)
        self._failed.connect(self._store_failure)

    def pixmap(self, path: str, key: str) -> QPixmap | None:
        """The thumbnail if it is in memory; else None, and it is made in the background."""
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        if key not in self.failures:
            self._ask(path, key)
        return None

    def forget_waiting(self) -> None:
        """Drop every request not started yet (shutting down)."""
        with self._lock:
            self._waiting.clear()

    def _ask(self, path: str, key: str) -> None:
        with self._lock:
            if key in self._asked:
                if key in self._waiting:
                    self._waiting.move_to_end(key)    # wanted again: serve it sooner
                return
            self._asked.add(key)
            self._waiting[key] = path
            while len(self._waiting) > MAX_WAITING:
                dropped, _ = self._waiting.popitem(last=False)
                self._asked.discard(dropped)
            start = self._drainers < max(1, self._pool.maxThreadCount())
            if start:
                self._drainers += 1
        if start:
            self._pool.start(self._drain)

    def _drain(self) -> None:                         # on a pool thread
        priority.lower_this_thread()
        while True:
            with self._lock:
                if not self._waiting:
                    self._drainers -= 1
                    return
                key, path = self._waiting.popitem(last=True)
            try:
                image = load_thumbnail(path, key)
                target = self._display * self._ratio
                if image.width() > target.width() or image.height() > target.height():
                    image = image.scaled(target, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation)
                image.setDevicePixelRatio(self._ratio)
                self._made.emit(key, image)
            except Exception as exc:  # noqa: BLE001 - any unreadable file gets a placeholder
                self._failed.emit(key, _reason(exc))

    def _store(self, key: str, image: QImage) -> None:
        self._asked.discard(key)
        self._pixmaps[key] = QPixmap.fromImage(image)
        while len(self._pixmaps) > MEMORY_PIXMAPS:
            self._pixmaps.popitem(last=False)
        self.ready.emit(key)

    def _store_failure(self, key: str, reason: str) -> None:
        self._asked.discard(key)
        self.failures[key] = reason
        self.ready.emit(key)


class PreviewLoader(QObject):
    """Large previews for the details pane and the preview window, one photo at a time."""

    loaded = Signal(int, QImage)           # photo id, image
    failed = Signal(int, str)              # photo id, reason

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()

    def load(self, photo_id: int, path: str, max_side: int) -> None:
        def job() -> None:
            priority.lower_this_thread()
            try:
                self.loaded.emit(photo_id, load_preview(path, max_side))
            except Exception as exc:  # noqa: BLE001 - shown in place of the picture
                self.failed.emit(photo_id, _reason(exc))
        self._pool.start(job, priority=1)          # before thumbnails waiting in the same pool
