"""Folder watching for the app: the librarian's thread, started, restarted and stopped from here."""

from __future__ import annotations

import threading
from pathlib import Path

from photocap.config import Settings
from photocap.librarian import Librarian


class FolderWatching:
    def __init__(self, db_path: Path, settings: Settings, wake: threading.Event):
        self._db_path = db_path
        self._wake = wake
        self._librarian = Librarian(db_path, settings, wake=wake)
        self._changing: threading.Thread | None = None

    def start(self) -> None:
        self._librarian.start()

    def state(self, folder: str) -> str:
        """online, offline, or scanning (not looked at since the app or the folder was added)."""
        online = self._librarian.online.get(folder)
        return "scanning" if online is None else ("online" if online else "offline")

    def restart(self, settings: Settings) -> None:
        """New watching settings. The old librarian may be mid-scan: it is stopped, and the new one
        started, on a helper thread, one after the other (two scanning one folder would collide)."""
        old, previous = self._librarian, self._changing
        new = self._librarian = Librarian(self._db_path, settings, wake=self._wake)

        def swap() -> None:
            if previous is not None:
                previous.join()
            old.stop()
            new.start()

        self._changing = threading.Thread(target=swap, name="photocap-librarian-restart", daemon=True)
        self._changing.start()

    def stop(self) -> None:
        if self._changing is not None:
            self._changing.join()
        self._librarian.stop()
