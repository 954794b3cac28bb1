"""The one service the GUI, the daemon and the CLI share. No Qt here.

An Engine owns a connection to one library and knows the user's settings. Front ends call its
methods and show what comes back; they never talk to SQLite or the models themselves.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from photocap import config
from photocap.library import db, photos, roots, scan, search


class Engine:
    def __init__(self, settings: config.Settings | None = None):
        self.settings = settings or config.load()
        self.db_path: Path = self.settings.db_path()
        self.conn: sqlite3.Connection = db.connect(self.db_path)

    # ---- library --------------------------------------------------------------------------------

    def index(self, folders: list[str], progress: scan.Progress | None = None) -> list[scan.ScanReport]:
        """Add folders to the library (if new) and bring it in line with what is on disk."""
        return scan.scan(self.conn, folders, progress)

    def rescan(self, progress: scan.Progress | None = None) -> list[scan.ScanReport]:
        return scan.scan(self.conn, [r.path for r in roots.all_roots(self.conn)], progress)

    def search(self, query: str, *, limit: int = 50, offset: int = 0) -> list[search.Hit]:
        return search.search(self.conn, query, limit=limit, offset=offset)

    def status(self) -> dict:
        return {
            "db": str(self.db_path),
            "roots": [{"path": r.path, "online": r.online, "last_scan": r.last_scan}
                      for r in roots.all_roots(self.conn)],
            **photos.counts(self.conn),
        }

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
