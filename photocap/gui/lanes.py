"""Background lanes: SQLite work off the GUI thread, results back on it.

A lane is one thread with its own connection to the library, running jobs in the order they were
submitted; a job is a plain function of that connection. Its result (or its exception) comes back
to the GUI thread through a queued signal, and there the callback given with the job runs. The app
has two lanes, so a slow search never waits behind an edit waiting for the write lock, nor the
other way round.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from photocap.library import db

log = logging.getLogger(__name__)

Job = Callable[[sqlite3.Connection], Any]


class DbLane(QObject):
    _finished = Signal(int, object, object)         # token, result, exception

    def __init__(self, db_path: Path, parent: QObject | None = None):
        super().__init__(parent)
        self._db_path = db_path
        self._conn: sqlite3.Connection | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)             # one at a time, in order: one connection
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._tokens = itertools.count()
        self._finished.connect(self._deliver)

    def submit(self, job: Job, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[Exception], None] | None = None) -> None:
        token = next(self._tokens)
        self._callbacks[token] = (on_done, on_error)
        self._pool.start(lambda: self._run(token, job))

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the jobs submitted so far (tests and shutdown)."""
        return self._pool.waitForDone(msecs)

    def close(self) -> None:
        self._pool.waitForDone()
        self._callbacks.clear()                     # results still on their way are dropped
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, token: int, job: Job) -> None:        # on the lane's thread
        try:
            if self._conn is None:
                self._conn = db.connect(self._db_path)
            result, error = job(self._conn), None
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which shows it
            log.debug("background job failed", exc_info=True)
            result, error = None, exc
        self._finished.emit(token, result, error)

    def _deliver(self, token: int, result: Any, error: Exception | None) -> None:
        callbacks = self._callbacks.pop(token, None)
        if callbacks is None:
            return                                  # the lane was closed meanwhile
        on_done, on_error = callbacks
        if error is None:
            if on_done is not None:
                on_done(result)
        elif on_error is not None:
            on_error(error)
        else:
            log.warning("background job failed: %s", error)
