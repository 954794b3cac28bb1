"""Watching real folders with real watchdog observers: settling, moves, deletes, offline roots."""

import os
import shutil
import subprocess
import time

import pytest
from PIL import Image

from photocap import config
from photocap.librarian import Librarian
from photocap.library import db, photos, roots, scan
from photocap.library.watch import Settler, Watcher


def jpeg_bytes(color="red", size=(320, 240)):
    import io
    buf = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(buf, "JPEG") if color == "noise" else \
        Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def wait_for(predicate, timeout=15.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def test_settler_waits_for_a_slow_write_to_finish(tmp_path):
    path = tmp_path / "slow.jpg"
    data = jpeg_bytes("noise")
    settler = Settler(settle_seconds=0.3)
    with open(path, "wb") as f:
        for i in range(0, len(data), len(data) // 6):
            f.write(data[i:i + len(data) // 6])
            f.flush()
            settler.touch(str(path))
            time.sleep(0.1)
            assert settler.ready() == []
    settler.touch(str(path))
    assert wait_for(lambda: settler.ready() == [str(path)], timeout=5)
    assert len(settler) == 0


def test_settler_keeps_waiting_for_a_truncated_image(tmp_path):
    path = tmp_path / "half.jpg"
    data = jpeg_bytes("noise")
    path.write_bytes(data[: len(data) // 2])
    settler = Settler(settle_seconds=0.05)
    settler.touch(str(path))
    time.sleep(0.2)
    assert settler.ready() == [] and len(settler) == 1
    path.write_bytes(data)
    assert wait_for(lambda: settler.ready() == [str(path)], timeout=5)


def test_watcher_reports_changes_from_a_real_observer(tmp_path):
    watcher = Watcher()
    try:
        assert watcher.watch(str(tmp_path))
        assert watcher.modes[str(tmp_path)] == "native"
        (tmp_path / "a.jpg").write_bytes(b"x")
        os.rename(tmp_path / "a.jpg", tmp_path / "b.jpg")
        os.remove(tmp_path / "b.jpg")
        seen = []
        assert wait_for(lambda: seen.extend(watcher.drain()) or
                        {c.kind for c in seen} >= {"file", "moved", "deleted"})
    finally:
        watcher.stop()


def test_polling_fallback_says_why(tmp_path, caplog):
    watcher = Watcher(force_polling=True, poll_interval=0.2)
    try:
        with caplog.at_level("WARNING"):
            assert watcher.watch(str(tmp_path))
        assert watcher.modes[str(tmp_path)] == "polling"
        assert "polling" in caplog.text and "asked" in caplog.text
        (tmp_path / "a.jpg").write_bytes(b"x")
        seen = []
        assert wait_for(lambda: seen.extend(watcher.drain()) or any(c.kind == "file" for c in seen))
    finally:
        watcher.stop()


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    roots.add(conn, str(root))
    settings = config.Settings(settle_seconds=0.3, reconcile_minutes=60)
    librarian = Librarian(path, settings)
    librarian.start()
    assert librarian.ready.wait(10)
    yield root, conn, librarian
    librarian.stop()


def by_name(conn):
    return {os.path.basename(photos.Photo.from_row(r).path): r["status"]
            for r in conn.execute("SELECT * FROM photos")}


def test_new_photo_is_recorded_once_settled_and_wakes_the_captioner(library):
    root, conn, librarian = library
    librarian.wake.clear()
    (root / "new.jpg").write_bytes(jpeg_bytes())
    assert wait_for(lambda: by_name(conn) == {"new.jpg": "pending"})
    assert librarian.wake.is_set()


def test_slow_copy_is_recorded_once_complete(library):
    root, conn, _ = library
    data = jpeg_bytes("noise")
    with open(root / "slow.jpg", "wb") as f:
        for i in range(0, len(data), 4096):
            f.write(data[i:i + 4096])
            f.flush()
            time.sleep(0.02)
    assert wait_for(lambda: "slow.jpg" in by_name(conn))
    p = photos.by_path(conn, str(root / "slow.jpg"))
    assert p.size == len(data) and p.width == 320
    assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 1


def test_rename_move_and_delete(library):
    root, conn, _ = library
    (root / "a.jpg").write_bytes(jpeg_bytes("blue"))
    assert wait_for(lambda: "a.jpg" in by_name(conn))
    pid = photos.by_path(conn, str(root / "a.jpg")).id
    photos.set_auto_captions(conn, pid, ["a blue square"], model="m")
    (root / "sub").mkdir()
    os.rename(root / "a.jpg", root / "sub" / "b.jpg")
    assert wait_for(lambda: photos.get(conn, pid).path == str(root / "sub" / "b.jpg"))
    os.rename(root / "sub", root / "renamed")
    assert wait_for(lambda: photos.get(conn, pid).path == str(root / "renamed" / "b.jpg"))
    assert photos.get(conn, pid).status == "done"
    (root / "keep.jpg").write_bytes(jpeg_bytes("green"))
    assert wait_for(lambda: "keep.jpg" in by_name(conn))
    os.remove(root / "renamed" / "b.jpg")
    assert wait_for(lambda: photos.get(conn, pid).status == "missing")
    assert [c.text for c in photos.captions(conn, pid)] == ["a blue square"]   # kept


def test_temp_file_renamed_into_place_is_taken(library):
    root, conn, _ = library
    (root / "photo.jpg.part").write_bytes(jpeg_bytes())
    os.rename(root / "photo.jpg.part", root / "photo.jpg")
    assert wait_for(lambda: by_name(conn) == {"photo.jpg": "pending"})


def test_root_removed_and_restored(library, tmp_path):
    root, conn, librarian = library
    for i in range(3):
        (root / f"{i}.jpg").write_bytes(jpeg_bytes((i * 80, 0, 0)))
    assert wait_for(lambda: len(by_name(conn)) == 3)
    shutil.move(str(root), str(tmp_path / "unplugged"))        # the drive goes away
    assert wait_for(lambda: roots.by_path(conn, str(root)).online is False)
    time.sleep(0.5)
    assert set(by_name(conn).values()) == {"pending"}             # nothing marked missing
    shutil.move(str(tmp_path / "unplugged"), str(root))          # and comes back
    assert wait_for(lambda: roots.by_path(conn, str(root)).online is True)
    (root / "after.jpg").write_bytes(jpeg_bytes("white"))         # watched again
    assert wait_for(lambda: len(by_name(conn)) == 4)
    assert set(by_name(conn).values()) == {"pending"}


def test_burst_of_files_is_recorded_completely(library):
    root, conn, _ = library
    data = jpeg_bytes("noise", (64, 48))
    for i in range(200):
        (root / f"burst_{i:03d}.jpg").write_bytes(data + i.to_bytes(4, "little"))
    assert wait_for(lambda: len(by_name(conn)) == 200, timeout=60)


def test_a_file_closed_by_its_writer_settles_without_the_full_wait(tmp_path):
    path = tmp_path / "done.jpg"
    path.write_bytes(jpeg_bytes())
    settler = Settler(settle_seconds=5.0, closed_seconds=0.05)
    settler.touch(str(path), closed=True)
    assert wait_for(lambda: settler.ready() == [str(path)], timeout=2)


def test_a_closed_but_truncated_file_still_waits(tmp_path):
    path = tmp_path / "half.jpg"
    data = jpeg_bytes("noise")
    path.write_bytes(data[: len(data) // 2])
    settler = Settler(settle_seconds=5.0, closed_seconds=0.05)
    settler.touch(str(path), closed=True)
    time.sleep(0.3)
    assert settler.ready() == [] and len(settler) == 1


@pytest.mark.timeout(60)
def test_a_fifo_named_like_a_photo_does_not_hang_the_watcher(library):
    root, conn, librarian = library
    os.mkfifo(root / "pipe.jpg")
    (root / "after.jpg").write_bytes(jpeg_bytes("blue"))
    assert wait_for(lambda: by_name(conn) == {"after.jpg": "pending"})
    assert wait_for(lambda: len(librarian.settler) == 0)              # the FIFO was dropped, not opened
    (root / "later.jpg").write_bytes(jpeg_bytes("green"))          # and the watcher goes on
    assert wait_for(lambda: "later.jpg" in by_name(conn))
    assert "pipe.jpg" not in by_name(conn)


def test_deleting_the_last_photo_of_a_folder_is_noticed(library):
    root, conn, librarian = library
    (root / "only.jpg").write_bytes(jpeg_bytes())
    assert wait_for(lambda: by_name(conn) == {"only.jpg": "pending"})
    os.remove(root / "only.jpg")
    assert wait_for(lambda: by_name(conn) == {"only.jpg": "missing"})
    time.sleep(2.5)                      # a root check (every 2 s) must not take it for an unplugged drive
    assert roots.by_path(conn, str(root)).online is True and librarian.online[str(root)] is True
    (root / "new.jpg").write_bytes(jpeg_bytes("white"))              # still watched
    assert wait_for(lambda: by_name(conn).get("new.jpg") == "pending")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mounting needs root")
def test_an_unmounted_drive_marks_nothing_missing_while_watched(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "none", str(usb)], check=True)
    mounted = True
    try:
        for i in range(2):
            (usb / f"{i}.jpg").write_bytes(jpeg_bytes((i * 90, 0, 0)))
        conn = db.connect(tmp_path / "lib.db")
        roots.add(conn, str(usb))
        librarian = Librarian(tmp_path / "lib.db", config.Settings(settle_seconds=0.3, reconcile_minutes=60))
        librarian.start()
        try:
            assert librarian.ready.wait(10) and wait_for(lambda: len(by_name(conn)) == 2)
            subprocess.run(["umount", str(usb)], check=True)
            mounted = False
            assert wait_for(lambda: roots.by_path(conn, str(usb)).online is False)
            scan.scan_root(conn, str(usb))   # a full scan of the empty mount point changes nothing either
            assert set(by_name(conn).values()) == {"pending"}
        finally:
            librarian.stop()
    finally:
        if mounted:
            subprocess.run(["umount", str(usb)], check=False)


def test_adding_the_parent_of_a_watched_folder_while_watching(tmp_path):
    parent = tmp_path / "Pictures"
    trip = parent / "Trip"
    trip.mkdir(parents=True)
    (trip / "a.jpg").write_bytes(jpeg_bytes("blue"))
    conn = db.connect(tmp_path / "lib.db")
    roots.add(conn, str(trip))
    librarian = Librarian(tmp_path / "lib.db", config.Settings(settle_seconds=0.3, reconcile_minutes=60))
    librarian.start()
    try:
        assert librarian.ready.wait(10) and wait_for(lambda: by_name(conn) == {"a.jpg": "pending"})
        roots.add(conn, str(parent))        # as the app's "add folder" does
        assert wait_for(lambda: set(librarian.online) == {str(parent)})
        assert librarian.watcher.modes.keys() == {str(parent)}
        (trip / "b.jpg").write_bytes(jpeg_bytes("green"))
        (parent / "c.jpg").write_bytes(jpeg_bytes("white"))
        assert wait_for(lambda: by_name(conn) == {"a.jpg": "pending", "b.jpg": "pending", "c.jpg": "pending"})
        assert librarian._thread.is_alive()
    finally:
        librarian.stop()


def test_a_link_out_of_the_folder_is_not_taken(library, tmp_path):
    root, conn, _ = library
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg_bytes("blue"))
    os.symlink(outside, root / "link.jpg")
    (root / "real.jpg").write_bytes(jpeg_bytes("green"))
    assert wait_for(lambda: "real.jpg" in by_name(conn))
    scan.scan_root(conn, str(root))
    assert by_name(conn) == {"real.jpg": "pending"}
