"""A user's messiest folder, all at once: every hostile thing issue 9 lists, in one library.

Real files, real FIFOs and links, a real read-only mount (as root), real `photocap` processes with
a tiny real model. Each step runs under a timeout (nothing may hang), and afterwards: every good
photo is captioned once, every bad file failed alone with a reason, and the database is intact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from PIL import Image

pytestmark = [pytest.mark.timeout(600), pytest.mark.skipif(os.name != "posix", reason="POSIX files")]

STEP_TIMEOUT = 180
HOSTILE_QUERIES = ['::::' * 2000, '"unclosed', 'NEAR(a b', 'tag:', '-', '*', 'a OR OR b', '\x1b[2J']


def _photo(path, shade, size=(48, 36)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (shade % 256, (shade * 7) % 256, (shade * 13) % 256)).save(path, "JPEG")


def _run(env, *args, timeout=STEP_TIMEOUT):
    result = subprocess.run([sys.executable, "-m", "photocap", *args], env=env, capture_output=True,
                            timeout=timeout)
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    return result


def _age(root, seconds=3600):
    then = time.time() - seconds
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.utime(os.path.join(folder, name), (then, then), follow_symlinks=False)


def _mount_read_only_folder(folder, shade):
    """A real read-only file system holding two good photos (an SD card with the lock switch on)."""
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "none", str(folder)], check=True)
    for i in range(2):
        _photo(folder / f"locked{i}.jpg", shade + i)
    _age(folder)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


@pytest.fixture
def mess(tmp_path):
    root = tmp_path / "Pictures"
    good: list[str] = []

    def add_good(rel, shade):
        _photo(root / rel, shade)
        good.append(os.path.join(str(root), rel))

    for i in range(3):
        add_good(f"Trip/t{i}.jpg", 10 + i)
    for i in range(4):
        add_good(f"a/p{i}.jpg", 40 + i)
    # Strange names: a newline, an escape sequence, bytes that are not UTF-8.
    add_good("names/new\nline.jpg", 80)
    add_good("names/esc\x1b[31mred.jpg", 81)
    odd = os.path.join(os.fsencode(root / "names"), b"caf\xe9.jpg")
    _photo(root / "names" / "tmp-odd.jpg", 82)
    os.rename(root / "names" / "tmp-odd.jpg", odd)
    good.append(os.fsdecode(odd))
    # An EXIF description full of control characters and a spreadsheet formula.
    exif = Image.Exif()
    exif[0x010E] = "\x1b]0;pwned\x07\x00\x08=HYPERLINK(\"http://x\")\r\nforged line"
    (root / "exif").mkdir()
    Image.new("RGB", (48, 36), (1, 2, 3)).save(root / "exif" / "ctrl.jpg", "JPEG", exif=exif)
    good.append(str(root / "exif" / "ctrl.jpg"))

    # Hostile neighbours of good photos: sidecars that are a FIFO, /dev/zero, an entity bomb.
    os.mkfifo(root / "a" / "p0.jpg.xmp")
    os.symlink("/dev/zero", root / "a" / "p1.jpg.xmp")
    lol = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10 if i else "lol"}">' for i in range(9))
    (root / "a" / "p2.jpg.xmp").write_text(
        f'<?xml version="1.0"?><!DOCTYPE x [{lol}]><x:xmpmeta xmlns:x="adobe:ns:meta/">&l8;</x:xmpmeta>')

    # Files that are not photos, or not readable ones.
    os.mkfifo(root / "a" / "fifo.jpg")
    (root / "bad").mkdir()
    (root / "bad" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4000))
    Image.new("1", (13_000, 13_000)).save(root / "bad" / "bomb.png")     # 169 MP in a few hundred KB
    (root / "bad" / "text.jpg").write_text("not an image")
    (root / "bad" / "empty.jpg").write_bytes(b"")
    os.symlink("/proc", root / "proc")                                 # a link out of the folder

    # Files nobody has touched for an hour: a truncated one is damaged, not still being copied.
    _age(root)
    mounted = None
    if os.geteuid() == 0:
        mounted = root / "locked"
        _mount_read_only_folder(mounted, 120)
        good += [str(mounted / "locked0.jpg"), str(mounted / "locked1.jpg")]
    yield root, good, [str(root / "bad" / "corrupt.jpg"), str(root / "bad" / "bomb.png")]
    if mounted is not None:
        subprocess.run(["umount", str(mounted)], check=False)


def _rows(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        photos = {os.fsdecode(p) if isinstance(p, bytes) else p: (status, error, n)
                  for p, status, error, n in conn.execute(
                      "SELECT p.path, p.status, p.error,"
                      " (SELECT count(*) FROM captions c WHERE c.photo_id = p.id AND c.source = 'auto')"
                      " FROM photos p")}
    finally:
        conn.close()
    return photos


def test_the_messiest_folder_is_captioned_with_nothing_lost_and_nothing_hung(tmp_path, mess, tiny_blip_dir):
    root, good, bad = mess
    db = tmp_path / "lib.db"
    env = {**os.environ, "PHOTOCAP_DB": str(db), "PHOTOCAP_MODEL": str(tiny_blip_dir),
           "PHOTOCAP_NUM_BEAMS": "1", "PHOTOCAP_MIN_NEW_TOKENS": "2", "PHOTOCAP_MAX_NEW_TOKENS": "4",
           "PHOTOCAP_BATCH_SIZE": "4", "PHOTOCAP_XMP_SIDECARS": "1", "PYTHONUNBUFFERED": "1"}

    # A folder inside, then the folder around it: one library, no photo twice.
    assert _run(env, "index", "--no-caption", str(root / "Trip")).returncode == 0
    assert _run(env, "index", "--no-caption", str(root)).returncode == 0
    # Two scans of the same library at once both succeed.
    procs = [subprocess.Popen([sys.executable, "-m", "photocap", "index", "--no-caption", str(root)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=STEP_TIMEOUT)
        assert p.returncode == 0, err.decode("utf-8", "replace")

    # Caption everything, sidecars on: the read-only folder and the hostile sidecars fail alone.
    result = _run(env, "index", str(root))
    assert result.returncode == 0, result.stderr

    photos = _rows(db)
    assert sorted(photos) == sorted(good + bad), "exactly the good and the bad photos are recorded"
    for path in good:
        status, error, n = photos[path]
        assert (status, n) == ("done", 1), (path, status, error, n)
    for path in bad:
        status, error, n = photos[path]
        assert status == "failed" and error and "\n" not in error, (path, status, error)
    assert not any(p.startswith("/proc") for p in photos)

    # Writing sidecars again reports per photo and goes on: nothing hangs on the FIFO or /dev/zero.
    _run(env, "xmp", "write")
    assert (root / "a" / "p3.jpg.xmp").is_file()

    # Hostile queries and hostile text: one line per result line, no escape sequences printed.
    for query in HOSTILE_QUERIES:
        out = _run(env, "search", query).stdout
        assert b"\x1b" not in out and b"\x07" not in out
    listing = _run(env, "search", "--limit", "100", "status:done").stdout.decode("utf-8", "replace")
    assert b"\x1b" not in listing.encode()
    # Two lines per hit: the path and its detail; a newline in a name cannot forge a third.
    assert len(listing.splitlines()) == 2 * len(good)

    # The CSV that export writes imports back, formulas defused, odd names intact.
    csv_file = tmp_path / "out.csv"
    assert _run(env, "export", "--format", "csv", "--output", str(csv_file)).returncode == 0
    assert b"\n=HYPERLINK" not in csv_file.read_bytes() and b",=HYPERLINK" not in csv_file.read_bytes()
    imported = _run(env, "import", str(csv_file))
    assert imported.returncode == 0, imported.stderr

    assert _run(env, "status", "--json").returncode == 0
    after = _rows(db)
    assert {p: s for p, (s, _, _) in after.items()} == {p: s for p, (s, _, _) in photos.items()}
    leftovers = [n for _, _, files in os.walk(root) for n in files if n.startswith(".photocap-")]
    assert leftovers == []
    json.loads(_run(env, "status", "--json").stdout)
