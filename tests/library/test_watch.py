"""Watching real folders with real watchdog observers: settling, moves, deletes, offline roots.

Settling logic runs on a fake clock (milliseconds, no flakes); the librarian runs with real
observers on a clock that follows real time, which a test moves ahead instead of sleeping.
"""

import os
import shutil
import subprocess
import time

import pytest
from helpers import FakeClock, jpeg_bytes, wait_for

from photocap import config
from photocap.librarian import ROOT_CHECK_SECONDS, Librarian
from photocap.library import db, photos, roots, scan
from photocap.library.watch import GIVE_UP_SECONDS, Settler, Watcher


def test_settler_waits_for_a_slow_write_to_finish(tmp_path):
    path = tmp_path / "slow.jpg"
    data = jpeg_bytes("noise")
    clock = FakeClock()
    settler = Settler(settle_seconds=0.25, clock=clock)     # binary fractions: exact on the clock
    step = len(data) // 6
    with open(path, "wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            settler.touch(str(path))
            clock.advance(0.125)
            assert settler.ready() == []
    settler.touch(str(path))
    clock.advance(0.1875)
    assert settler.ready() == []                     # quiet, but not yet for settle_seconds
    assert settler.next_due() == 0.0625
    clock.advance(0.0625)
    assert settler.ready() == [str(path)]
    assert len(settler) == 0 and settler.next_due() is None


def test_settler_waits_again_when_the_file_grew_while_it_was_quiet(tmp_path):
    path = tmp_path / "grows.jpg"
    data = jpeg_bytes("noise")
    clock = FakeClock()
    settler = Settler(settle_seconds=1.0, clock=clock)
    path.write_bytes(data[:100])
    settler.touch(str(path))
    path.write_bytes(data)                           # a write no event reported
    clock.advance(1.0)
    assert settler.ready() == []                     # the size changed: a new quiet period starts
    clock.advance(0.875)
    assert settler.ready() == []
    clock.advance(0.125)
    assert settler.ready() == [str(path)]


def test_settler_keeps_waiting_for_a_truncated_image(tmp_path):
    path = tmp_path / "half.jpg"
    data = jpeg_bytes("noise")
    path.write_bytes(data[: len(data) // 2])
    clock = FakeClock()
    settler = Settler(settle_seconds=0.125, clock=clock)
    settler.touch(str(path))
    clock.advance(0.5)
    assert settler.ready() == [] and len(settler) == 1
    path.write_bytes(data)
    settler.touch(str(path))
    clock.advance(0.125)
    assert settler.ready() == [str(path)]


def test_an_image_that_never_decodes_is_handed_on_after_the_give_up_time(tmp_path):
    path = tmp_path / "broken.jpg"
    data = jpeg_bytes("noise")
    path.write_bytes(data[: len(data) // 2])
    clock = FakeClock()
    settler = Settler(settle_seconds=1.0, clock=clock)
    settler.touch(str(path))
    for _ in range(int(GIVE_UP_SECONDS)):           # looked at every second, still truncated
        clock.advance(1.0)
        assert settler.ready() == []
    clock.advance(1.0)
    assert settler.ready() == [str(path)]            # handed on, to fail with a reason
    assert len(settler) == 0


def test_a_vanished_file_is_dropped_without_being_handed_on(tmp_path):
    path = tmp_path / "gone.jpg"
    path.write_bytes(jpeg_bytes())
    clock = FakeClock()
    settler = Settler(settle_seconds=0.5, clock=clock)
    settler.touch(str(path))
    path.unlink()
    clock.advance(0.5)
    assert settler.ready() == [] and len(settler) == 0


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
def clock():
    """Real time that a test can skip ahead (to the next root check) instead of sleeping."""
    return FakeClock(0.0, real=True)


@pytest.fixture
def library(tmp_path, clock):
    root = tmp_path / "pics"
    root.mkdir()
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    roots.add(conn, str(root))
    settings = config.Settings(settle_seconds=0.3, reconcile_minutes=60)
    librarian = Librarian(path, settings, clock=clock)
    librarian.start()
    assert librarian.ready.wait(10)
    yield root, conn, librarian
    librarian.stop()


def next_root_check(librarian, clock) -> bool:
    """Skip the clock to the librarian's root checks and wait until one has run that began after
    this call: two more, since one already under way may have looked before the test's change."""
    target = librarian.root_checks + 2

    def checked() -> bool:
        if librarian.root_checks < target:
            clock.advance(ROOT_CHECK_SECONDS)
        return librarian.root_checks >= target
    return wait_for(checked, timeout=10)


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


def test_root_removed_and_restored(library, tmp_path, clock):
    root, conn, librarian = library
    for i in range(3):
        (root / f"{i}.jpg").write_bytes(jpeg_bytes((i * 80, 0, 0)))
    assert wait_for(lambda: len(by_name(conn)) == 3)
    shutil.move(str(root), str(tmp_path / "unplugged"))        # the drive goes away
    assert next_root_check(librarian, clock)
    assert roots.by_path(conn, str(root)).online is False
    assert next_root_check(librarian, clock)                      # and stays away a while
    assert set(by_name(conn).values()) == {"pending"}             # nothing marked missing
    shutil.move(str(tmp_path / "unplugged"), str(root))          # and comes back
    assert next_root_check(librarian, clock)
    assert roots.by_path(conn, str(root)).online is True
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
    clock = FakeClock()
    settler = Settler(settle_seconds=5.0, closed_seconds=0.125, clock=clock)
    settler.touch(str(path), closed=True)
    assert settler.next_due() == 0.125
    clock.advance(0.125)
    assert settler.ready() == [str(path)]


def test_a_closed_but_truncated_file_still_waits(tmp_path):
    path = tmp_path / "half.jpg"
    data = jpeg_bytes("noise")
    path.write_bytes(data[: len(data) // 2])
    clock = FakeClock()
    settler = Settler(settle_seconds=5.0, closed_seconds=0.125, clock=clock)
    settler.touch(str(path), closed=True)
    clock.advance(0.25)
    assert settler.ready() == [] and len(settler) == 1
    assert settler.next_due() == 5.0  # no longer "closed": the full quiet applies


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


def test_deleting_the_last_photo_of_a_folder_is_noticed(library, clock):
    root, conn, librarian = library
    (root / "only.jpg").write_bytes(jpeg_bytes())
    assert wait_for(lambda: by_name(conn) == {"only.jpg": "pending"})
    os.remove(root / "only.jpg")
    assert wait_for(lambda: by_name(conn) == {"only.jpg": "missing"})
    assert next_root_check(librarian, clock)     # which must not take it for an unplugged drive
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
        clock = FakeClock(0.0, real=True)
        librarian = Librarian(tmp_path / "lib.db", config.Settings(settle_seconds=0.3, reconcile_minutes=60),
                              clock=clock)
        librarian.start()
        try:
            assert librarian.ready.wait(10) and wait_for(lambda: len(by_name(conn)) == 2)
            subprocess.run(["umount", str(usb)], check=True)
            mounted = False
            assert next_root_check(librarian, clock)
            assert roots.by_path(conn, str(usb)).online is False
            scan.scan_root(conn, str(usb))   # a full scan of the empty mount point changes nothing either
            assert set(by_name(conn).values()) == {"pending"}
        finally:
            librarian.stop()
    finally:
        if mounted:
            subprocess.run(["umount", str(usb)], check=False)


def test_adding_the_parent_of_a_watched_folder_while_watching(tmp_path, clock):
    parent = tmp_path / "Pictures"
    trip = parent / "Trip"
    trip.mkdir(parents=True)
    (trip / "a.jpg").write_bytes(jpeg_bytes("blue"))
    conn = db.connect(tmp_path / "lib.db")
    roots.add(conn, str(trip))
    librarian = Librarian(tmp_path / "lib.db", config.Settings(settle_seconds=0.3, reconcile_minutes=60),
                          clock=clock)
    librarian.start()
    try:
        assert librarian.ready.wait(10) and wait_for(lambda: by_name(conn) == {"a.jpg": "pending"})
        roots.add(conn, str(parent))        # as the app's "add folder" does
        assert next_root_check(librarian, clock)            # another process's folder is picked up
        assert set(librarian.online) == {str(parent)}
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
