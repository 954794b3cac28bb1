"""The library database: one SQLite file, WAL, versioned migrations.

Readers (GUI, CLI search) run concurrently with the one writer thanks to WAL; writes use
BEGIN IMMEDIATE so two processes never deadlock half-way through a transaction.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BUSY_TIMEOUT_MS = 30_000

# The search document of a photo lives in `photo_fts` under a rowid that starts with an estimate of
# its bm25 rank for a typical word of it (see `photos.fts_key`): FTS5 walks matches in rowid order,
# so the documents bm25 ranks first come first. search.py relies on this to rank only a bounded set
# of candidates.
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
    -- tagkeys: each tag as one token (db.tag_key), so tag:X is an exact FTS5 phrase.
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
]


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and migrate) the library at `path`; parent folders are created."""
    path = Path(path)
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
    uri = f"{path.resolve().as_uri()}?mode=ro" if readonly else str(path)
    conn = sqlite3.connect(uri, uri=readonly, timeout=BUSY_TIMEOUT_MS / 1000,
                           isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
    conn.execute(f"PRAGMA cache_size = -{CACHE_SIZE_KIB}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    return conn


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
    """A write transaction (BEGIN IMMEDIATE); nested uses join the outer one."""
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


_TAKEN = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
UNDATED_TOKEN = "ynone"


def taken_tokens(taken_at: str | None) -> str:
    """The `taken` column of a search document: 'y2019 m201907 d20190704' ('ynone' without a full
    date, so that a date range can also be matched as NOT its complement)."""
    m = _TAKEN.match(taken_at or "")
    if not m:
        return UNDATED_TOKEN
    y, mo, d = m.groups()
    return f"y{y} m{y}{mo} d{y}{mo}{d}"


def tag_key(tag: str) -> str:
    """The `tagkeys` token of a (cleaned) tag: 't' and its UTF-8 in hex, one FTS5 token, injective."""
    return "t" + tag.encode("utf-8", "surrogatepass").hex()


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
