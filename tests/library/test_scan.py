"""Scanning real folders: content sniffing, EXIF, incremental rescans, moves, offline roots, odd names."""

import os
import shutil
import subprocess

import pytest
from helpers import jpeg
from PIL import Image

from photocap.library import db, photos, roots, scan


@pytest.fixture
def conn(tmp_path):
    return db.connect(tmp_path / "lib.db")


def statuses(conn):
    return {photos.Photo.from_row(r).path: r["status"] for r in conn.execute("SELECT * FROM photos")}


def test_images_are_recognised_by_content_not_extension(tmp_path, conn):
    root = tmp_path / "pics"
    jpeg(str(root / "real.jpg"))
    jpeg(str(root / "no_extension"))
    Image.new("RGB", (8, 8)).save(root / "pic.png")
    Image.new("P", (8, 8)).save(root / "anim.gif")
    Image.new("RGB", (8, 8)).save(root / "pic.webp")
    Image.new("RGB", (8, 8)).save(root / "pic.tiff")
    Image.new("RGB", (8, 8)).save(root / "pic.bmp")
    (root / "fake.jpg").write_text("not a photo at all")
    (root / "empty.jpg").write_bytes(b"")
    (root / "sidecar.xmp").write_text("<x/>")
    report = scan.scan_root(conn, str(root))
    names = sorted(os.path.basename(p) for p in statuses(conn))
    assert names == ["anim.gif", "no_extension", "pic.bmp", "pic.png", "pic.tiff", "pic.webp", "real.jpg"]
    assert report.added == 7 and report.errors == []


def test_facts_from_exif_and_header(tmp_path, conn):
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:14 18:30:05"
    path = jpeg(str(tmp_path / "pics" / "a.jpg"), size=(120, 80), exif=exif)
    scan.scan_root(conn, str(tmp_path / "pics"))
    p = photos.by_path(conn, path)
    assert (p.width, p.height, p.taken_at, p.camera) == (120, 80, "2021-07-14T18:30:05", "Canon EOS 5D")
    assert p.size == os.path.getsize(path) and len(p.hash) == 32


def test_rescan_of_unchanged_tree_reads_nothing(tmp_path, conn, monkeypatch):
    for i in range(20):
        jpeg(str(tmp_path / "pics" / f"d{i % 3}" / f"{i}.jpg"))
    first = scan.scan_root(conn, str(tmp_path / "pics"))
    assert first.added == 20
    opened = []
    monkeypatch.setattr(scan, "read_file", lambda *a: opened.append(a))
    second = scan.scan_root(conn, str(tmp_path / "pics"))
    assert opened == [] and second.unchanged == 20 and second.added == 0


def test_changed_file_is_reread(tmp_path, conn):
    path = jpeg(str(tmp_path / "pics" / "a.jpg"))
    scan.scan_root(conn, str(tmp_path / "pics"))
    pid = photos.by_path(conn, path).id
    photos.set_auto_captions(conn, pid, ["red"], model="m")
    jpeg(path, color="blue", size=(30, 30))
    os.utime(path, (1, 1))
    report = scan.scan_root(conn, str(tmp_path / "pics"))
    assert report.updated == 1
    p = photos.get(conn, pid)
    assert (p.width, p.status) == (30, "pending")


def test_rename_and_move_keep_captions(tmp_path, conn):
    root = tmp_path / "pics"
    path = jpeg(str(root / "a" / "IMG_1.jpg"))
    scan.scan_root(conn, str(root))
    pid = photos.by_path(conn, path).id
    photos.set_auto_captions(conn, pid, ["a red square"], model="m", tags=["square"])
    photos.add_user_tags(conn, pid, ["favourite"])
    os.makedirs(root / "b")
    os.rename(path, root / "b" / "renamed.jpg")
    report = scan.scan_root(conn, str(root))
    assert report.moved == 1 and report.missing == 0 and report.added == 0
    p = photos.get(conn, pid)
    assert p.path == str(root / "b" / "renamed.jpg") and p.status == "done"
    assert [c.text for c in photos.captions(conn, pid)] == ["a red square"]
    assert dict(photos.tags(conn, pid))["favourite"] == "user"


def test_move_across_roots_keeps_captions(tmp_path, conn):
    path = jpeg(str(tmp_path / "one" / "x.jpg"))
    os.makedirs(tmp_path / "two")
    scan.scan(conn, [str(tmp_path / "one"), str(tmp_path / "two")])
    pid = photos.by_path(conn, path).id
    photos.set_auto_captions(conn, pid, ["a red square"], model="m")
    shutil.move(path, tmp_path / "two" / "x.jpg")
    scan.scan(conn, [str(tmp_path / "two"), str(tmp_path / "one")])
    p = photos.get(conn, pid)
    assert p.path == str(tmp_path / "two" / "x.jpg") and p.status == "done"
    assert p.root_id == roots.by_path(conn, str(tmp_path / "two")).id
    assert photos.counts(conn)["photos"] == 1


def test_deleted_file_is_missing_and_restored_when_back(tmp_path, conn):
    root = tmp_path / "pics"
    keep = jpeg(str(root / "keep.jpg"), color="green")
    gone = jpeg(str(root / "gone.jpg"))
    scan.scan_root(conn, str(root))
    data = open(gone, "rb").read()
    os.remove(gone)
    report = scan.scan_root(conn, str(root))
    assert report.missing == 1 and statuses(conn) == {keep: "pending", gone: "missing"}
    open(gone, "wb").write(data)
    st = photos.by_path(conn, gone)
    os.utime(gone, (st.mtime, st.mtime))
    scan.scan_root(conn, str(root))
    assert statuses(conn)[gone] == "pending"


def test_offline_root_marks_nothing_missing(tmp_path, conn):
    root = tmp_path / "usb"
    jpeg(str(root / "a.jpg"))
    jpeg(str(root / "sub" / "b.jpg"))
    scan.scan_root(conn, str(root))
    shutil.rmtree(root)
    report = scan.scan_root(conn, str(root))
    assert not report.online and report.missing == 0
    assert set(statuses(conn).values()) == {"pending"}
    assert roots.by_path(conn, str(root)).online is False
    assert report.errors and "nothing" in report.errors[0]


def test_deleting_every_photo_of_a_folder_marks_them_missing(tmp_path, conn):
    root = tmp_path / "pics"
    a = jpeg(str(root / "a.jpg"))
    b = jpeg(str(root / "sub" / "b.jpg"), color="blue")
    scan.scan_root(conn, str(root))
    os.remove(a)
    shutil.rmtree(root / "sub")
    report = scan.scan_root(conn, str(root))
    assert report.online and report.errors == [] and report.missing == 2
    assert statuses(conn) == {a: "missing", b: "missing"}


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mounting needs root")
def test_unmounted_drive_marks_nothing_missing(tmp_path, conn):
    root = tmp_path / "usb"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "none", str(root)], check=True)
    try:
        jpeg(str(root / "a.jpg"))
        scan.scan_root(conn, str(root))
    finally:
        subprocess.run(["umount", str(root)], check=True)
    report = scan.scan_root(conn, str(root))           # the empty mount point is left
    assert not report.online and report.missing == 0
    assert set(statuses(conn).values()) == {"pending"}
    assert report.errors and "nothing" in report.errors[0]


@pytest.mark.timeout(30)
def test_a_fifo_named_like_a_photo_is_never_opened(tmp_path, conn):
    root = tmp_path / "pics"
    good = jpeg(str(root / "good.jpg"))
    os.mkfifo(root / "pipe.jpg")
    report = scan.scan_root(conn, str(root))
    assert report.added == 1 and set(statuses(conn)) == {good}
    ingested = scan.ingest(conn, [str(root / "pipe.jpg")])       # as the watcher hands it on
    assert ingested.files == 0 and set(statuses(conn)) == {good}
    with pytest.raises(OSError, match="not a file"):
        scan.read_file(str(root / "pipe.jpg"), os.stat(good))     # a file swapped for a FIFO after stat


def test_links_out_of_the_folder_are_not_followed_unless_asked(tmp_path, conn):
    root = tmp_path / "pics"
    inside = jpeg(str(root / "a" / "x.jpg"))
    outside = jpeg(str(tmp_path / "elsewhere" / "y.jpg"), color="blue")
    os.symlink(tmp_path / "elsewhere", root / "linked_folder")
    os.symlink(outside, root / "linked.jpg")
    os.symlink("/proc", root / "proc")
    os.symlink(root / "a", root / "alias")          # stays inside the folder: fine
    report = scan.scan_root(conn, str(root))
    assert report.errors == [] and report.added == 1 and set(statuses(conn)) == {inside}
    assert scan.ingest(conn, [str(root / "linked.jpg")]).files == 0
    os.remove(root / "proc")
    asked = scan.scan_root(conn, str(root), follow_links=True)
    assert asked.added == 2 and asked.errors == []
    assert set(statuses(conn)) == {inside, str(root / "linked_folder" / "y.jpg"), str(root / "linked.jpg")}


def test_symlink_loops_and_dangling_links_are_harmless(tmp_path, conn):
    root = tmp_path / "pics"
    jpeg(str(root / "a" / "x.jpg"))
    os.symlink(root, root / "a" / "loop")
    os.symlink(root / "nowhere.jpg", root / "dangling.jpg")
    report = scan.scan_root(conn, str(root))
    assert report.added == 1


def test_hidden_folders_and_files_are_skipped(tmp_path, conn):
    root = tmp_path / "pics"
    jpeg(str(root / ".thumbnails" / "t.jpg"))
    jpeg(str(root / "._x.jpg"))
    jpeg(str(root / "x.jpg"))
    assert scan.scan_root(conn, str(root)).added == 1


def test_odd_file_names(tmp_path, conn):
    root = tmp_path / "pics"
    names = ["with space.jpg", "new\nline.jpg", "emoji \U0001F4F7.jpg", "quote'\"; DROP TABLE photos;.jpg",
             "caf\udce9.jpg", "-dash.jpg", "ünïcödé.JPG"]
    for i, name in enumerate(names):
        jpeg(os.path.join(str(root), name), color=(i * 30, 0, 0))
    report = scan.scan_root(conn, str(root))
    assert report.added == len(names) and report.errors == []
    found = {os.path.basename(p) for p in statuses(conn)}
    assert found == set(names)
    assert scan.scan_root(conn, str(root)).unchanged == len(names)


def test_indexing_a_folder_then_its_parent_works_every_time(tmp_path, conn):
    trip = jpeg(str(tmp_path / "pics" / "trip" / "a.jpg"))
    scan.scan_root(conn, str(tmp_path / "pics" / "trip"))
    for _ in range(2):
        report = scan.scan_root(conn, str(tmp_path / "pics"))
        assert report.errors == [] and report.files == 1
    assert [r.path for r in roots.all_roots(conn)] == [str(tmp_path / "pics")]
    assert statuses(conn) == {trip: "pending"}


def test_nested_root_folds_into_its_parent(tmp_path, conn):
    jpeg(str(tmp_path / "pics" / "sub" / "a.jpg"))
    scan.scan_root(conn, str(tmp_path / "pics"))
    scan.scan_root(conn, str(tmp_path / "pics" / "sub"))
    assert [r.path for r in roots.all_roots(conn)] == [str(tmp_path / "pics")]
    assert photos.counts(conn)["photos"] == 1


def test_remove_root_with_forget_forgets_its_photos_not_files(tmp_path, conn):
    path = jpeg(str(tmp_path / "pics" / "a.jpg"))
    scan.scan_root(conn, str(tmp_path / "pics"))
    assert roots.remove(conn, str(tmp_path / "pics"), forget=True) == 1
    assert photos.counts(conn)["photos"] == 0 and os.path.exists(path)


def test_sniff_table():
    assert scan.sniff(b"\xff\xd8\xff\xe0") == "jpeg"
    assert scan.sniff(b"\x89PNG\r\n\x1a\n") == "png"
    assert scan.sniff(b"RIFF\x00\x00\x00\x00WEBP") == "webp"
    assert scan.sniff(b"GIF89a") == "gif"
    assert scan.sniff(b"II*\x00") == "tiff" and scan.sniff(b"MM\x00*") == "tiff"
    assert scan.sniff(b"BM" + b"\x00" * 14) == "bmp"
    assert scan.sniff(b"%PDF-1.4") is None and scan.sniff(b"") is None


def test_a_folder_removed_while_it_is_scanned_keeps_none_of_its_photos(tmp_path, conn):
    """The app's remove button while the watcher's scan walks the folder: the scan records nothing more."""
    root = tmp_path / "pics"
    for i in range(450):                              # three chunks: one recorded before the removal
        jpeg(str(root / f"p{i:03d}.jpg"))
    other = db.connect(tmp_path / "lib.db")           # the app's edit lane

    def remove_midway(count: int, _path: str) -> None:
        if count == 250:
            assert roots.remove(other, str(root), forget=True) == 200
    report = scan.scan_root(conn, str(root), remove_midway)
    other.close()
    assert statuses(conn) == {} and roots.all_roots(conn) == []
    assert report.removed and report.added <= 200


def test_a_rescan_of_a_removed_folder_does_not_add_it_back(tmp_path, conn):
    """The watcher rescans the folders it knows; one removed meanwhile stays removed."""
    root = tmp_path / "pics"
    jpeg(str(root / "a.jpg"))
    scan.scan_root(conn, str(root))
    roots.remove(conn, str(root), forget=True)
    report = scan.scan_root(conn, str(root), add=False)
    assert report.removed and statuses(conn) == {} and roots.all_roots(conn) == []
