"""`xmp write` and captioning with sidecars on, against folders that fight back: read-only mounts,
FIFOs named as sidecars, photos behind links. Real libraries, real processes, a tiny real model."""

import os
import sqlite3
import subprocess
import sys

import pytest
from PIL import Image
from xmp_helpers import readonly_folder

from photocap import cli
from photocap.library import db, photos, xmp


def make_photos(folder, names):
    for i, name in enumerate(names):
        Image.new("RGB", (40, 30), ((i * 70) % 256, 90, 160)).save(folder / name)


def index_and_caption(db_path, folders):
    """A library of `folders` with one auto caption per photo, without a model."""
    assert cli.main(["--db", db_path, "index", "--no-caption", *map(str, folders)]) == 0
    conn = db.connect(db_path)
    for (photo_id, path) in conn.execute("SELECT id, path FROM photos ORDER BY id").fetchall():
        photos.set_auto_captions(conn, photo_id, [f"a photo called {os.path.basename(path)}"],
                                 model="m", tags=["photo"])
    return conn


@pytest.mark.timeout(120)
def test_xmp_write_in_a_read_only_folder_reports_each_photo_and_goes_on(tmp_path, capsys):
    fine = tmp_path / "fine"
    fine.mkdir()
    make_photos(fine, ["c.jpg"])
    with readonly_folder(tmp_path / "ro", lambda d: make_photos(d, ["a.jpg", "b.jpg"])) as ro:
        path = str(tmp_path / "lib.db")
        index_and_caption(path, [ro, fine])              # the read-only photos come first
        capsys.readouterr()
        assert cli.main(["--db", path, "xmp", "write"]) == 1
        out, err = capsys.readouterr()
        assert "wrote XMP for 1 photos, 2 failed" in out
        lines = err.strip().splitlines()
        assert len(lines) == 2 and all("Read-only file system" in line for line in lines), err
        assert sorted(line.split("/")[-1] for line in lines) == ["a.jpg.xmp: Read-only file system",
                                                                 "b.jpg.xmp: Read-only file system"]
        assert "Traceback" not in err
        assert sorted(os.listdir(ro)) == ["a.jpg", "b.jpg"]
    assert xmp.read_sidecar(str(fine / "c.jpg.xmp")).description == "a photo called c.jpg"


@pytest.mark.timeout(60)
def test_xmp_write_with_a_fifo_named_as_a_sidecar_does_not_hang(tmp_path, capsys):
    root = tmp_path / "pics"
    root.mkdir()
    make_photos(root, ["a.jpg", "b.jpg"])
    path = str(tmp_path / "lib.db")
    index_and_caption(path, [root])
    os.mkfifo(root / "a.jpg.xmp")
    capsys.readouterr()
    assert cli.main(["--db", path, "xmp", "write"]) == 1
    out, err = capsys.readouterr()
    assert "wrote XMP for 1 photos, 1 failed" in out
    assert err.count("\n") == 1 and "a.jpg.xmp is not a regular file" in err
    assert xmp.read_sidecar(str(root / "b.jpg.xmp")).description == "a photo called b.jpg"


@pytest.mark.timeout(60)
def test_xmp_write_into_a_symlinked_folder_keeps_links_and_the_library_in_step(tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    make_photos(real, ["a.jpg"])
    os.symlink(real / "a.jpg", real / "link.jpg")
    path = str(tmp_path / "lib.db")
    conn = index_and_caption(path, [real])
    assert cli.main(["--db", path, "xmp", "write", "--into-files"]) == 0
    assert os.path.islink(real / "link.jpg")
    assert b"a photo called" in xmp.embedded_packet((real / "a.jpg").read_bytes())
    assert cli.main(["--db", path, "index", "--no-caption", str(real)]) == 0
    assert {p for (p,) in conn.execute("SELECT status FROM photos")} == {"done"}


@pytest.mark.timeout(300)
def test_captioning_goes_on_when_a_folder_cannot_take_sidecars(tmp_path, tiny_blip_dir):
    """`index` with sidecars on, in a read-only folder: every photo is captioned, the folder is
    reported once, and the writable folder gets its sidecars."""
    fine = tmp_path / "fine"
    fine.mkdir()
    make_photos(fine, ["x.jpg"])
    env = {**os.environ, "PHOTOCAP_XMP_SIDECARS": "true", "PYTHONUNBUFFERED": "1"}
    with readonly_folder(tmp_path / "ro", lambda d: make_photos(d, ["a.jpg", "b.jpg", "c.jpg"])) as ro:
        done = subprocess.run(
            [sys.executable, "-m", "photocap", "--db", str(tmp_path / "lib.db"), "index", str(ro), str(fine),
             "--model", str(tiny_blip_dir), "--batch-size", "1", "--num-beams", "1",
             "--min-new-tokens", "2", "--max-new-tokens", "4"],
            env=env, capture_output=True, text=True, timeout=280)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        assert done.stderr.count("Read-only file system") == 1, done.stderr[-3000:]
        assert os.listdir(ro) and not [n for n in os.listdir(ro) if not n.endswith(".jpg")]
    conn = sqlite3.connect(tmp_path / "lib.db")
    assert [s for (s,) in conn.execute("SELECT status FROM photos")] == ["done"] * 4
    assert os.path.isfile(fine / "x.jpg.xmp")
