"""The library database: one SQLite file, WAL, versioned migrations.

Readers (GUI, CLI search) run concurrently with the one writer thanks to WAL; writes use
BEGIN IMMEDIATE so two processes never deadlock half-way through a transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from photocap.library.files import kind_of

BUSY_TIMEOUT_MS = 30_000

# The search document of a photo lives in `photo_fts` under a rowid that starts with an estimate of
# its bm25 rank for a typical word of it (see `search.document.fts_key`): FTS5 walks matches in rowid
# order, so the documents bm25 ranks first come first. search/keyword.py relies on this to rank only
# a bounded set of candidates.
FTS_ID_BITS = 32
FTS_ID_MASK = (1 << FTS_ID_BITS) - 1

# Read performance: the FTS5 index and the photos B-tree are read at random by search; a memory map
# and a larger page cache roughly halve the cost of a join over tens of thousands of rows.
MMAP_SIZE = 1 << 30
CACHE_SIZE_KIB = 65_536
# A scan that added more photos than this ends with a full FTS5 optimize (one segment per word);
# smaller changes get an incremental merge.
OPTIMIZE_AFTER = 1_000

MIGRATIONS: list[str] = [
    # 1: the foundation
    """
    CREATE TABLE roots (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        added_at REAL NOT NULL,
        online INTEGER NOT NULL DEFAULT 1,
        last_scan REAL
    );
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,          -- absolute; BLOB when the name is not valid UTF-8
        root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL,
        folder TEXT NOT NULL DEFAULT '',    -- display form of the parent folder
        name TEXT NOT NULL DEFAULT '',      -- display form of the file name
        size INTEGER,
        mtime REAL,
        hash TEXT,
        width INTEGER,
        height INTEGER,
        taken_at TEXT,                      -- ISO 8601, from EXIF, else NULL
        camera TEXT,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'done', 'failed', 'missing')),
        error TEXT,
        fts_rowid INTEGER,
        added_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX photos_hash ON photos(hash);
    CREATE INDEX photos_status ON photos(status, taken_at);   -- few missing photos, newest first
    CREATE INDEX photos_taken ON photos(taken_at);
    CREATE INDEX photos_root ON photos(root_id);
    CREATE INDEX photos_folder ON photos(folder);
    CREATE TABLE captions (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        model TEXT,
        options TEXT,                       -- JSON of the generation options
        source TEXT NOT NULL CHECK (source IN ('auto', 'user')),
        approved INTEGER NOT NULL DEFAULT 0,
        position INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX captions_photo ON captions(photo_id);
    CREATE TABLE tags (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('auto', 'user')),
        PRIMARY KEY (photo_id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX tags_tag ON tags(tag);
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        model TEXT,
        asked_at REAL NOT NULL
    );
    CREATE INDEX questions_photo ON questions(photo_id);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
    -- taken: the date as tokens y2019 m201907 d20190704 (date filters are FTS5 phrases);
    -- tagkeys: each tag as one token (search.document.tag_key), so tag:X is an exact FTS5 phrase.
    -- Both are machine tokens: weight 0 in the rank, so filters on them never change a score.
    CREATE VIRTUAL TABLE photo_fts USING fts5(
        caption, tags, name, folder, taken, tagkeys,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO photo_fts(photo_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 1.0, 1.0, 0.0, 0.0)');
    """,
    # 2: the persistent caption queue. A pending photo always has exactly one job (triggers keep
    # that true whoever changes the status); a claim is a lease, so a killed process's jobs return.
    """
    CREATE TABLE jobs (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'claimed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0,
        claimed_by TEXT,
        lease_until REAL,
        last_error TEXT
    );
    CREATE INDEX jobs_ready ON jobs(state, not_before);
    CREATE TRIGGER jobs_on_new_photo AFTER INSERT ON photos WHEN NEW.status = 'pending'
    BEGIN
        INSERT OR IGNORE INTO jobs (photo_id) VALUES (NEW.id);
    END;
    CREATE TRIGGER jobs_on_status AFTER UPDATE OF status ON photos
    BEGIN
        INSERT OR IGNORE INTO jobs (photo_id) SELECT NEW.id WHERE NEW.status = 'pending';
        DELETE FROM jobs WHERE photo_id = NEW.id AND NEW.status != 'pending';
    END;
    INSERT OR IGNORE INTO jobs (photo_id) SELECT id FROM photos WHERE status = 'pending';
    """,
    # 3: the device a root folder was on (st_dev), to tell an unmounted drive from an emptied folder
    """
    ALTER TABLE roots ADD COLUMN dev INTEGER;
    """,
    # 4: image embeddings, one per photo (the current embedding model's), the source of truth for
    # vector search (any ANN index beside the library is a cache of it: photocap.library.search.vectors).
    # vector: float16 little-endian of the L2-normalised vector. created_at only grows in commit
    # order within a model (vectors.put), so "created_at > the index's newest" is what an index lacks.
    """
    CREATE TABLE embeddings (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX embeddings_model ON embeddings(model, created_at);
    """,
    # 5: when a caption was reviewed (approved, or written by the user); NULL: never reviewed
    """
    ALTER TABLE captions ADD COLUMN reviewed_at REAL;
    """,
]


SQLITE_NOTADB = 26           # SQLite's result code for a file that is not a database


class Library(sqlite3.Connection):
    """A connection to a library file that remembers which file it opened (see check_file)."""

    path: str = ""
    identity: tuple[int, int] | None = None    # (st_dev, st_ino) of the file when it was opened
    created: bool = False                      # this connect() made the library


def connect(path: str | Path, *, readonly: bool = False) -> Library:
    """Open (and migrate) the library at `path`; where no file exists, a new library is made there.

    An existing file that is not a photocap library (empty, not SQLite, another program's
    database, a FIFO or folder) is refused with a LibraryError and left as it is.
    """
    path = Path(os.path.abspath(path))
    created = False if readonly else _create_if_missing(path)
    _check_existing(path)
    conn = _open(path, readonly)
    conn.created = created
    try:
        _refuse_foreign(conn)
        if not readonly:
            migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def check_file(conn: sqlite3.Connection) -> None:
    """Raise LibraryError when the file `conn` opened was deleted, replaced or emptied since.

    SQLite would go on writing into a deleted file (the data is lost when the process ends), so
    every write transaction checks first; front ends stop on the error and say it.
    """
    identity, path = getattr(conn, "identity", None), getattr(conn, "path", "")
    if identity is None:
        return
    where = f"the library file {path}"
    then = "nothing more is written to it: restore it, or start photocap again to make a new library"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise LibraryError(f"{where} was deleted while photocap was running; {then}") from None
    except OSError as exc:
        raise LibraryError(f"{where} cannot be reached ({exc.strerror or exc}); nothing more is written "
                           "to it until photocap is started again") from None
    if (st.st_dev, st.st_ino) != identity:
        raise LibraryError(f"{where} was replaced by another file while photocap was running; "
                           "nothing more is written to the old one: start photocap again to use the new one")
    if st.st_size == 0:
        raise LibraryError(f"{where} was emptied while photocap was running; {then}")


def _open(path: Path, readonly: bool) -> Library:
    before = os.stat(path) if path.exists() else None
    uri = f"{path.as_uri()}?mode=ro" if readonly else str(path)
    conn = sqlite3.connect(uri, uri=readonly, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False, factory=Library)
    st = os.stat(path)
    if before is not None and (before.st_dev, before.st_ino) != (st.st_dev, st.st_ino):
        conn.close()
        raise LibraryError(f"the library file {path} was replaced while it was being opened; try again")
    conn.path, conn.identity = str(path), (st.st_dev, st.st_ino)
    try:
        conn.execute("PRAGMA schema_version").fetchone()     # reads the header before any write
    except sqlite3.DatabaseError as exc:
        conn.close()
        if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == SQLITE_NOTADB:
            raise LibraryFileError(f"{path} is not a photocap library: not an SQLite database") from None
        raise
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
    conn.execute(f"PRAGMA cache_size = -{CACHE_SIZE_KIB}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _create_if_missing(path: Path) -> bool:
    """Make a new library at `path` if nothing is there; True when this call made it.

    The library is built under a temporary name and linked into place, so another process never
    sees a half-made (0-byte) library, and two processes starting at once agree on one file.
    """
    if os.path.lexists(path):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.new")   # SQLite creates it: usual mode
    try:
        conn = _open(Path(tmp), readonly=False)
        try:
            migrate(conn)
        finally:
            conn.close()                       # checkpoints: the file alone is the whole library
        return _link_into_place(tmp, path)
    finally:
        for leftover in (tmp, f"{tmp}-wal", f"{tmp}-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _link_into_place(tmp: str, path: Path) -> bool:
    try:
        os.link(tmp, path)                     # fails if the name exists: never replaces a library
        return True
    except FileExistsError:
        return False                           # another process made it first: use theirs
    except OSError:
        # No hard links here (some network and FAT drives): rename, after a last look.
        if os.path.lexists(path):
            return False
        os.replace(tmp, path)
        return True


def _check_existing(path: Path) -> None:
    """Refuse what is at `path` unless it is a non-empty regular file.

    Only stat() here: opening and closing a descriptor of the file would drop every SQLite lock
    this process holds on it (POSIX locks belong to the process), and another process could then
    delete the WAL our other connections are writing to. SQLite itself reads the header (_open).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise LibraryError(f"there is no library at {path}") from None
    except OSError as exc:
        raise LibraryError(f"cannot open the library {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise LibraryFileError(f"{path} is not a photocap library: it is {kind_of(st.st_mode)}")
    if st.st_size == 0:
        raise LibraryFileError(f"{path} is empty (0 bytes), not a photocap library: move it away and "
                           "photocap makes a new library there, or choose another library file")


def _refuse_foreign(conn: Library) -> None:
    """A database with tables but no photocap schema belongs to another program: never migrate it."""
    if schema_version(conn):
        return
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' LIMIT 1").fetchone():
        raise LibraryFileError(f"{conn.path} is an SQLite database of another program, "
                               "not a photocap library")


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this file has not seen yet, each in its own transaction."""
    if schema_version(conn) == len(MIGRATIONS):
        return len(MIGRATIONS)          # up to date: no write lock just for opening the library
    with write(conn):
        version = schema_version(conn)
        if version > len(MIGRATIONS):
            raise LibraryError(
                f"this library was made by a newer photocap (schema {version}); upgrade photocap")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
    return schema_version(conn)


def _statements(script: str) -> Iterator[str]:
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf.strip()
            buf = ""


_local = threading.local()


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction (BEGIN IMMEDIATE); nested uses join the outer one.

    Raises LibraryError, before writing anything, when the library file was deleted or replaced.
    """
    depth = getattr(_local, "depth", {})
    _local.depth = depth
    key = id(conn)
    if depth.get(key):
        depth[key] += 1
        try:
            yield conn
        finally:
            depth[key] -= 1
        return
    check_file(conn)
    conn.execute("BEGIN IMMEDIATE")
    depth[key] = 1
    try:
        yield conn
    except BaseException:
        depth[key] = 0
        conn.execute("ROLLBACK")
        raise
    depth[key] = 0
    conn.execute("COMMIT")


def optimize_search(conn: sqlite3.Connection, changed: int | None = None) -> None:
    """Merge the FTS5 index after many changes (a word's matches then live in one segment).

    `changed` is how many documents were added or rewritten: above OPTIMIZE_AFTER (or None) the
    whole index is optimized (seconds at 1M photos), else an incremental merge does a bounded amount
    of work.
    """
    with write(conn):
        if changed is None or changed > OPTIMIZE_AFTER:
            conn.execute("INSERT INTO photo_fts(photo_fts) VALUES ('optimize')")
        elif changed > 0:
            conn.execute("INSERT INTO photo_fts(photo_fts, rank) VALUES ('merge', 500)")


def now() -> float:
    return time.time()


def get_setting(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_setting(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    with write(conn):
        conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


class LibraryError(Exception):
    """A problem with the library a user can act on; its text is shown as one line."""


class LibraryFileError(LibraryError):
    """The library file itself cannot be used (empty, not SQLite, another program's, damaged).

    Front ends add `photocap doctor` as the next step: it looks at the file without changing it.
    """
