"""Temp files a killed writer left beside photos are cleaned up; a live writer's never are."""

import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from photocap.library import db, scan, tempfiles, xmp

WRITER = """
import sys, tempfile
from photocap.library import tempfiles
fd, path = tempfile.mkstemp(prefix=tempfiles.prefix(), suffix=tempfiles.SUFFIX, dir=sys.argv[1])
with open(fd, "wb") as f:
    f.write(b"half a photo")
print(path, flush=True)
sys.stdin.read()                      # killed here, before the rename
"""

needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="liveness comes from /proc")


def killed_writers_temp_file(folder) -> str:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    path = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return path


def aged(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    Image.new("RGB", (16, 12), "red").save(folder / "a.jpg")
    return folder


@pytest.mark.timeout(60)
@needs_proc
def test_a_killed_writers_temp_file_goes_when_its_folder_is_scanned(tmp_path, photo_folder):
    leftover = killed_writers_temp_file(photo_folder)
    assert os.path.basename(leftover).startswith(".photocap-") and os.path.exists(leftover)
    conn = db.connect(tmp_path / "lib.db")
    (report,) = scan.scan(conn, [str(photo_folder)])
    assert not os.path.exists(leftover)                        # at once: its writer is dead
    assert report.added == 1 and sorted(os.listdir(photo_folder)) == ["a.jpg"]


def test_an_old_leftover_of_an_unknown_writer_goes_a_fresh_one_stays(tmp_path, photo_folder):
    old = photo_folder / ".photocap-k2j4h5g6.tmp"               # named by an older photocap: no writer
    fresh = photo_folder / ".photocap-elsewhere,0123456789ab,1,1-abcd1234.tmp"   # another machine's
    others = [photo_folder / ".photocap-notes.txt", photo_folder / "holiday.tmp"]
    for path in [old, fresh, *others]:
        path.write_bytes(b"x")
    for path in [old, *others]:
        aged(path, 120)
    (photo_folder / ".photocap-folder.tmp").mkdir()
    aged(photo_folder / ".photocap-folder.tmp", 3600)
    scan.scan(db.connect(tmp_path / "lib.db"), [str(photo_folder)])
    assert not old.exists() and fresh.exists()
    assert all(p.exists() for p in others) and (photo_folder / ".photocap-folder.tmp").is_dir()


@needs_proc
def test_a_live_writers_temp_file_is_kept_however_old(photo_folder):
    import tempfile

    fd, path = tempfile.mkstemp(prefix=tempfiles.prefix(), suffix=tempfiles.SUFFIX, dir=photo_folder)
    os.close(fd)
    aged(path, 7200)                                           # a slow write to a slow drive
    assert tempfiles.clean_stale(str(photo_folder)) == 0 and os.path.exists(path)


@pytest.mark.timeout(60)
@needs_proc
def test_writing_into_a_folder_cleans_up_what_a_killed_writer_left(photo_folder):
    leftover = killed_writers_temp_file(photo_folder)
    sidecar = photo_folder / "a.xmp"
    xmp.atomic_write(str(sidecar), b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    assert sidecar.exists() and not os.path.exists(leftover)
    assert sorted(os.listdir(photo_folder)) == ["a.jpg", "a.xmp"]
