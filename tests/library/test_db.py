"""The library database: migrations, WAL, transactions, concurrent readers, the file itself."""

import os
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


def test_an_empty_existing_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(db.LibraryError) as err:
        db.connect(path)
    assert str(err.value).startswith(f"{path} is empty (0 bytes)") and "\n" not in str(err.value)
    assert path.read_bytes() == b"" and sorted(os.listdir(tmp_path)) == ["empty.db"]


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


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    text = "these are not the tables you are looking for" * 100
    path.write_text(text)
    with pytest.raises(db.LibraryError, match="is not a photocap library: not an SQLite database"):
        db.connect(path)
    assert path.read_text() == text and sorted(os.listdir(tmp_path)) == ["notes.db"]


def test_another_programs_database_is_not_migrated(tmp_path):
    path = tmp_path / "places.sqlite"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    other.commit()
    other.close()
    with pytest.raises(db.LibraryError, match="database of another program"):
        db.connect(path)
    other = sqlite3.connect(path)
    assert [r[0] for r in other.execute("SELECT name FROM sqlite_master")] == ["moz_places"]


@pytest.mark.timeout(10)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_a_fifo_or_folder_as_the_library_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe.db")
    with pytest.raises(db.LibraryError, match="is not a photocap library: it is a named pipe"):
        db.connect(tmp_path / "pipe.db")
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(db.LibraryError, match="is not a photocap library: it is a folder"):
        db.connect(tmp_path / "folder.db")


def test_connect_says_whether_it_created_the_library(tmp_path):
    path = tmp_path / "new" / "lib.db"
    first = db.connect(path)
    assert first.created and path.stat().st_size > 0
    assert not db.connect(path).created
    assert sorted(os.listdir(path.parent)) in (["lib.db"], ["lib.db", "lib.db-shm", "lib.db-wal"])


def _connect_many(path, n, out):
    for _ in range(n):
        out.append(db.connect(path).created)


def test_libraries_created_at_once_by_two_threads_are_one_library(tmp_path):
    created: list[bool] = []
    path = tmp_path / "lib.db"
    threads = [threading.Thread(target=_connect_many, args=(path, 5, created)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert created.count(True) == 1 and len(created) == 20


def test_a_deleted_library_file_is_noticed_before_the_next_write(tmp_path):
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    db.set_setting(conn, "a", "1")
    for name in os.listdir(tmp_path):
        os.unlink(tmp_path / name)
    with pytest.raises(db.LibraryError) as err:
        db.set_setting(conn, "a", "2")
    assert str(err.value).startswith(f"the library file {path} was deleted while photocap was running")
    assert not path.exists()                      # nothing re-created it


def test_a_replaced_or_emptied_library_file_is_noticed(tmp_path):
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    db.connect(tmp_path / "other.db").close()
    os.replace(tmp_path / "other.db", path)
    with pytest.raises(db.LibraryError, match="was replaced by another file"):
        db.check_file(conn)
    fresh = db.connect(path)
    os.truncate(path, 0)
    with pytest.raises(db.LibraryError, match="was emptied"):
        with db.write(fresh):
            pass


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


def test_a_second_connection_in_one_process_keeps_writes_visible_to_other_processes(tmp_path):
    # A connection in a process that has the library open already must not drop that process's
    # file locks (closing any descriptor of the file does): another process would then take the
    # library for unused, check it point and delete the WAL the first one is still writing to.
    import subprocess
    import sys

    path = tmp_path / "lib.db"
    first = db.connect(path)
    photos.add(first, "/x/0.jpg", photos.FileInfo(1, 1.0, "h0"), None)
    second = db.connect(path)                    # the watcher's connection beside the caption loop's
    count = ("import sys; from photocap.library import db, photos; c = db.connect(sys.argv[1]);"
             " print(photos.counts(c)['photos']); c.close()")
    seen = []
    for i in range(1, 4):
        photos.add(first, f"/x/{i}.jpg", photos.FileInfo(1, 1.0, f"h{i}"), None)
        out = subprocess.run([sys.executable, "-c", count, str(path)], check=True, timeout=60,
                             capture_output=True, text=True).stdout    # `photocap status` meanwhile
        seen.append(int(out))
    assert seen == [2, 3, 4] and photos.counts(second)["photos"] == 4
