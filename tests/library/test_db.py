"""The library database: migrations, WAL, transactions, concurrent readers."""

import sqlite3
import threading

import pytest

from photocap.library import db, photos


def test_new_file_is_migrated_to_the_latest_schema(tmp_path):
    conn = db.connect(tmp_path / "sub" / "lib.db")
    assert db.schema_version(conn) == len(db.MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table')")}
    assert {"photos", "captions", "tags", "questions", "roots", "photo_fts"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == db.BUSY_TIMEOUT_MS


def test_an_empty_existing_file_is_migrated(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    conn = db.connect(path)
    assert db.schema_version(conn) == len(db.MIGRATIONS)


def test_reopening_does_not_migrate_twice(tmp_path):
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    photos.add(conn, "/x/a.jpg", photos.FileInfo(1, 1.0, "h"), None)
    conn.close()
    conn = db.connect(path)
    assert photos.counts(conn)["photos"] == 1


def test_a_library_from_a_newer_photocap_is_refused(tmp_path):
    path = tmp_path / "lib.db"
    db.connect(path).execute("PRAGMA user_version = 999")
    with pytest.raises(db.LibraryError, match="newer photocap"):
        db.connect(path)


def test_a_file_that_is_not_a_database_raises_database_error(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        db.connect(path)


def test_write_rolls_back_on_error_and_nests(tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    with pytest.raises(RuntimeError):
        with db.write(conn):
            db.set_setting(conn, "a", "1")          # nested write joins the outer transaction
            raise RuntimeError("boom")
    assert db.get_setting(conn, "a") is None
    db.set_setting(conn, "a", "2")
    assert db.get_setting(conn, "a") == "2"


def test_reader_in_another_thread_is_not_blocked_by_a_writer(tmp_path):
    path = tmp_path / "lib.db"
    writer = db.connect(path)
    errors: list[Exception] = []
    counts: list[int] = []
    stop = threading.Event()

    def read():
        reader = db.connect(path)
        while not stop.is_set():
            try:
                counts.append(reader.execute("SELECT count(*) FROM photos").fetchone()[0])
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
                return

    t = threading.Thread(target=read)
    t.start()
    for i in range(300):
        photos.add(writer, f"/x/{i}.jpg", photos.FileInfo(1, 1.0, f"h{i}"), None)
    stop.set()
    t.join()
    assert not errors
    assert counts == sorted(counts)        # readers see committed states only, in order
    assert photos.counts(writer)["photos"] == 300
