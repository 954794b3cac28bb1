"""Everything the window runs besides widgets: connections, lanes, pools, the worker, the librarian.

Started once with the window and stopped once when it closes: the worker finishes its batch in
flight, the librarian its step, and the lanes their jobs.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QSize, Qt, QThread, QThreadPool

from photocap.config import Settings
from photocap.gui.grid import THUMB_BOX
from photocap.gui.lanes import DbLane
from photocap.gui.thumbnails import PreviewLoader, ThumbnailLoader
from photocap.gui.watching import FolderWatching
from photocap.gui.worker import CaptionWorker
from photocap.library import db

IMAGE_THREADS = 2


class AppServices(QObject):
    def __init__(self, settings: Settings, device_ratio: float = 1.0, parent: QObject | None = None):
        super().__init__(parent)
        self.db_path = settings.db_path()
        # The GUI thread's own connection: one page of grid rows or one photo at a time.
        self.conn = db.connect(self.db_path)
        self.queries = DbLane(self.db_path, self)     # searches and library-wide counts
        self.edits = DbLane(self.db_path, self)       # the user's changes
        self.images = QThreadPool(self)
        self.images.setMaxThreadCount(IMAGE_THREADS)
        self.thumbnails = ThumbnailLoader(QSize(THUMB_BOX), device_ratio, self, self.images)
        self.previews = PreviewLoader(self, self.images)
        self.wake = threading.Event()                 # new photos queued: the worker looks now
        self.worker = CaptionWorker(settings, self.wake)
        self.worker_thread = QThread(self)
        self.worker_thread.setObjectName("photocap-caption-worker")
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.started.connect(self.worker.run)
        # Direct: the GUI thread may be blocked in wait() for this very thread to end.
        self.worker.finished.connect(self.worker_thread.quit, Qt.ConnectionType.DirectConnection)
        self.watching = FolderWatching(self.db_path, settings, self.wake)
        self.started = False
        self.stopped = False

    def start(self) -> None:
        if self.started or self.stopped:
            return
        self.started = True
        gc.freeze()                                   # what exists now lives as long as the app
        self.worker_thread.start()
        self.watching.start()

    def apply_settings(self, settings: Settings, *, watching_changed: bool) -> None:
        self.worker.apply_settings(settings)
        if watching_changed and self.started:
            self.watching.restart(settings)
        elif watching_changed:
            self.watching = FolderWatching(self.db_path, settings, self.wake)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.started:
            self.worker.stop()
            self.watching.stop()
            self.worker_thread.wait()
        self.thumbnails.forget_waiting()              # thumbnails nobody will see
        self.images.waitForDone()
        self.queries.close()
        self.edits.close()
        self.conn.close()
