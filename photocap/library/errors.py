"""One readable line for an exception, for every face (CLI, app, daemon): no Qt, no CLI here.

Library errors say what happened (read-only, disk full, damaged, busy) and name the library.
"""

from __future__ import annotations

import sqlite3

from photocap import config
from photocap.library import paths
from photocap.library.db import LibraryError, LibraryFileError

DOCTOR_HINT = "; `photocap doctor` shows what is wrong with it"

SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26

# SQLite's primary result codes (the low byte of sqlite_errorcode) and what they mean to a user.
_SQLITE_LINES = {
    3: "the library {db} cannot be used: permission denied",                          # SQLITE_PERM
    5: "the library {db} is busy: another program kept it locked; try again in a moment",  # BUSY
    6: "the library {db} is busy: another program kept it locked; try again in a moment",  # LOCKED
    8: "the library {db} is read-only: photocap cannot save anything in it (check the file's permissions)",
    10: "a disk error while using the library {db} ({msg}); check the drive",       # SQLITE_IOERR
    11: "the library {db} is damaged ({msg}): restore it from a backup, or move it away and "
        "photocap makes a new one",                                                    # SQLITE_CORRUPT
    13: "the disk holding the library {db} is full: free some space and try again (nothing was lost)",
    14: "cannot open the library {db}: its folder is missing or cannot be written",   # CANTOPEN
    26: "{db} is not a photocap library: not an SQLite database",                      # SQLITE_NOTADB
}


def describe(exc: BaseException, *, db: object = None) -> str:
    """One readable line for an exception; `db` (the library's path) makes library errors specific."""
    if isinstance(exc, LibraryFileError):
        return f"{exc}{DOCTOR_HINT}"
    if isinstance(exc, (LibraryError, config.ConfigError)):
        return str(exc)
    if isinstance(exc, sqlite3.DatabaseError):
        return _describe_sqlite(exc, db)
    reason, path = getattr(exc, "reason", None), getattr(exc, "path", None)
    if isinstance(reason, str) and isinstance(path, str):         # images.ImageError: name the file
        return f"{paths.display(path)}: {reason}"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _describe_sqlite(exc: sqlite3.DatabaseError, db: object) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    where = str(db) if db is not None else "database"
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    line = _SQLITE_LINES.get(code)
    if line is None:
        return f"the library {where} cannot be used: {msg}"
    return line.format(db=where, msg=msg) + (DOCTOR_HINT if code in (SQLITE_CORRUPT, SQLITE_NOTADB) else "")
