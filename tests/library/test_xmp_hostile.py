"""XMP against hostile or unusual files: FIFOs, devices, entity bombs, control characters, read-only
folders, name collisions, links, owners and modes. Everything here is a real file on a real disk."""

import os
import stat
import subprocess
import sys
import textwrap

import pytest
from helpers import jpeg
from PIL import Image
from xmp_helpers import readonly_folder

from photocap.library import db, photos, scan, xmp

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX files (FIFOs, owners, modes)")
root_only = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="changing owners needs root")


def entity_sidecar(refs: int = 2000, width: int = 500) -> bytes:
    """Entities that expand a few KB into a MB: under expat's own amplification guard, but the
    same shape that turns a 15 MB sidecar into gigabytes."""
    return (b'<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [<!ENTITY w "' + b"w" * width + b'">]>\n'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt>'
            b'<rdf:li xml:lang="x-default">' + b"&w;" * refs + b"</rdf:li></rdf:Alt></dc:description>"
            b"</rdf:Description></rdf:RDF></x:xmpmeta>")


# ---- only regular files are opened --------------------------------------------------------------

@posix_only
@pytest.mark.timeout(30)
def test_a_fifo_named_as_a_sidecar_is_refused_without_blocking(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    os.mkfifo(tmp_path / "a.jpg.xmp")
    with pytest.raises(xmp.XmpError, match="not a regular file"):
        xmp.write_sidecar(photo, "a caption", ["tag"])
    with pytest.raises(xmp.XmpError, match="not a regular file"):
        xmp.read_sidecar(str(tmp_path / "a.jpg.xmp"))
    assert stat.S_ISFIFO(os.lstat(tmp_path / "a.jpg.xmp").st_mode)      # left as it was


@posix_only
@pytest.mark.timeout(30)
def test_a_dev_zero_link_named_as_a_sidecar_is_refused(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    os.symlink("/dev/zero", tmp_path / "a.jpg.xmp")
    with pytest.raises(xmp.XmpError, match="not a regular file"):
        xmp.read_sidecar(str(tmp_path / "a.jpg.xmp"))
    with pytest.raises(xmp.XmpError, match="not a regular file"):
        xmp.write_sidecar(photo, "a caption", [])
    assert os.readlink(tmp_path / "a.jpg.xmp") == "/dev/zero"


@posix_only
@pytest.mark.timeout(30)
def test_into_files_refuses_a_fifo_named_as_a_photo(tmp_path):
    os.mkfifo(tmp_path / "p.jpg")
    with pytest.raises(xmp.XmpError, match="not a regular file"):
        xmp.write_into_jpeg(str(tmp_path / "p.jpg"), "x", [])


def test_a_sidecar_over_the_cap_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "a.jpg.xmp"
    with open(big, "wb") as f:
        f.truncate(xmp.MAX_SIDECAR_BYTES + 1)                  # sparse: nothing to read anyway
    with pytest.raises(xmp.XmpError, match="too large"):
        xmp.read_sidecar(str(big))
    with pytest.raises(xmp.XmpError, match="too large"):
        xmp.parse(b" " * (xmp.MAX_SIDECAR_BYTES + 1))


# ---- hardened parser ----------------------------------------------------------------------------

def test_entity_expansion_is_refused(tmp_path):
    (tmp_path / "a.jpg.xmp").write_bytes(entity_sidecar())
    with pytest.raises(xmp.XmpError, match="DTD"):
        xmp.read_sidecar(str(tmp_path / "a.jpg.xmp"))
    with pytest.raises(xmp.XmpError, match="DTD"):
        xmp.write_sidecar(jpeg(tmp_path / "a.jpg"), "x", [])
    assert (tmp_path / "a.jpg.xmp").read_bytes() == entity_sidecar()          # not overwritten


def test_a_hostile_sidecar_fails_its_photo_alone_in_a_scan(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    jpeg(root / "bomb.jpg")
    (root / "bomb.jpg.xmp").write_bytes(entity_sidecar())
    jpeg(root / "fine.jpg", "blue")
    (root / "fine.jpg.xmp").write_bytes(xmp.merge(None, "a person's caption", ["kept"], "user"))
    png = root / "embedded.png"
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", entity_sidecar().decode())
    Image.new("RGB", (8, 8)).save(png, pnginfo=info)
    conn = db.connect(tmp_path / "lib.db")
    report = scan.scan_root(conn, str(root))
    assert report.files == 3 and report.added == 3
    fine = photos.by_path(conn, str(root / "fine.jpg"))
    assert [c.text for c in photos.captions(conn, fine.id)] == ["a person's caption"]
    for name in ("bomb.jpg", "embedded.png"):
        assert photos.captions(conn, photos.by_path(conn, str(root / name)).id) == []


@pytest.mark.timeout(120)
def test_a_15_mb_entity_sidecar_does_not_take_gigabytes(tmp_path):
    """The issue's file: a 15 MB sidecar under expat's limits. The scan runs in a child held to 1 GB
    of address space (expanding the entities would need several) and must stay small."""
    root = tmp_path / "pics"
    root.mkdir()
    jpeg(root / "a.jpg")
    jpeg(root / "b.jpg", "green")
    (root / "a.jpg.xmp").write_bytes(entity_sidecar(refs=(15 << 20) // 3, width=240))
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from photocap.library import db, scan
        report = scan.scan_root(db.connect({str(tmp_path / 'lib.db')!r}), {str(root)!r})
        # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
        peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
        print(report.added, peak_kb // 1024)
    """)
    if sys.platform != "linux":
        pytest.skip("RLIMIT_AS is a Linux limit")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
    added, peak_mb = map(int, done.stdout.split())
    assert added == 2 and peak_mb < 400, f"peak {peak_mb} MB"


def test_a_deeply_nested_sidecar_is_refused_not_crashed(tmp_path):
    depth = 100_000
    body = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + b"<a>" * depth + b"</a>" * depth + b"</x:xmpmeta>"
    (tmp_path / "a.jpg.xmp").write_bytes(body)
    with pytest.raises(xmp.XmpError, match="nested"):
        xmp.write_sidecar(jpeg(tmp_path / "a.jpg"), "x", [])


# ---- text XML 1.0 forbids -----------------------------------------------------------------------

def test_control_characters_never_make_a_broken_sidecar(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    path = xmp.write_sidecar(photo, "Grandma's\x00 birthday\x07\x1b", ["cake\x01", "tab\tok"])
    got = xmp.read_sidecar(path)
    assert (got.description, got.subjects) == ("Grandma's birthday", ["cake", "tab\tok"])
    xmp.write_sidecar(photo, "a second write\x0c", ["cake"])                # the next write works
    assert xmp.read_sidecar(path).description == "a second write"


def test_a_sidecar_broken_by_control_characters_is_repaired_keeping_other_fields(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    broken = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf'
              b'-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="5" '
              b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt><rdf:li xml:lang='
              b'"x-default">old\x00 \x07words</rdf:li></rdf:Alt></dc:description></rdf:Description>'
              b"</rdf:RDF></x:xmpmeta>")
    (tmp_path / "a.jpg.xmp").write_bytes(broken)
    assert xmp.read_sidecar(str(tmp_path / "a.jpg.xmp")).description == "old words"
    xmp.write_sidecar(photo, "new words", [])
    text = (tmp_path / "a.jpg.xmp").read_bytes()
    assert b'xmp:Rating="5"' in text and b"new words" in text and b"\x00" not in text


# ---- Lightroom names ----------------------------------------------------------------------------

def test_lightroom_names_fall_back_to_full_names_when_two_photos_share_a_stem(tmp_path):
    jpg = jpeg(tmp_path / "IMG_1.jpg")
    png = tmp_path / "IMG_1.png"
    Image.new("RGB", (8, 8), "blue").save(png)
    single = jpeg(tmp_path / "IMG_2.jpg")
    a = xmp.write_sidecar(jpg, "the jpeg", [], naming="lightroom")
    b = xmp.write_sidecar(str(png), "the png", [], naming="lightroom")
    c = xmp.write_sidecar(single, "alone", [], naming="lightroom")
    assert [os.path.basename(p) for p in (a, b, c)] == ["IMG_1.jpg.xmp", "IMG_1.png.xmp", "IMG_2.xmp"]
    assert not (tmp_path / "IMG_1.xmp").exists()
    assert xmp.read_sidecar(a).description == "the jpeg"
    assert xmp.read_sidecar(b).description == "the png"


def test_a_shared_lightroom_sidecar_is_not_adopted_by_either_photo(tmp_path):
    jpeg(tmp_path / "IMG_1.jpg")
    Image.new("RGB", (8, 8), "blue").save(tmp_path / "IMG_1.png")
    (tmp_path / "IMG_1.xmp").write_bytes(xmp.merge(None, "which one?", [], "user"))
    assert xmp.find_sidecar(str(tmp_path / "IMG_1.jpg")) is None
    assert xmp.find_sidecar(str(tmp_path / "IMG_1.png")) is None
    jpeg(tmp_path / "IMG_2.jpg")
    (tmp_path / "IMG_2.xmp").write_bytes(xmp.merge(None, "mine", [], "user"))
    assert xmp.find_sidecar(str(tmp_path / "IMG_2.jpg")) == str(tmp_path / "IMG_2.xmp")


# ---- modes, owners, links -----------------------------------------------------------------------

@posix_only
def test_sidecars_keep_the_mode_they_had_and_new_ones_are_0644(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    os.chmod(photo, 0o644)
    new = xmp.write_sidecar(photo, "first", [])
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o644
    os.chmod(new, 0o640)
    xmp.write_sidecar(photo, "second", [])
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o640
    private = jpeg(tmp_path / "private.jpg")
    os.chmod(private, 0o600)                      # a private photo does not get a readable sidecar
    assert stat.S_IMODE(os.stat(xmp.write_sidecar(private, "x", [])).st_mode) == 0o600


@root_only
def test_sidecars_and_files_keep_their_owner(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    side = xmp.write_sidecar(photo, "first", [])
    for path in (photo, side):
        os.chown(path, 4321, 4322)
        os.chmod(path, 0o640)
    xmp.write_sidecar(photo, "second", [])
    xmp.write_into_jpeg(photo, "second", [])
    for path in (photo, side):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4321, 4322, 0o640), path
    assert b"second" in xmp.embedded_packet(open(photo, "rb").read())


@posix_only
def test_writing_into_a_symlinked_jpeg_writes_the_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = jpeg(tmp_path / "real" / "p.jpg")
    link = tmp_path / "p.jpg"
    os.symlink(target, link)
    xmp.write_into_jpeg(str(link), "through the link", ["linked"])
    assert os.path.islink(link) and os.readlink(link) == target
    assert b"through the link" in xmp.embedded_packet(open(target, "rb").read())
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


@posix_only
def test_writing_into_a_hard_linked_jpeg_changes_it_for_every_link(tmp_path):
    a = jpeg(tmp_path / "a.jpg")
    os.link(a, tmp_path / "b.jpg")
    pixels = Image.open(a).tobytes()
    xmp.write_into_jpeg(a, "seen by both", [])
    assert os.path.samefile(a, tmp_path / "b.jpg") and os.stat(a).st_nlink == 2
    assert b"seen by both" in xmp.embedded_packet((tmp_path / "b.jpg").read_bytes())
    assert Image.open(tmp_path / "b.jpg").tobytes() == pixels
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


@posix_only
def test_a_dangling_sidecar_link_is_refused(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    os.symlink(tmp_path / "elsewhere" / "x.xmp", tmp_path / "a.jpg.xmp")
    with pytest.raises(xmp.XmpError):
        xmp.write_sidecar(photo, "x", [])
    assert not (tmp_path / "elsewhere").exists()


# ---- read-only folders --------------------------------------------------------------------------

def test_a_read_only_folder_is_one_clear_error_and_leaves_nothing(tmp_path):
    with readonly_folder(tmp_path / "ro", lambda d: jpeg(d / "a.jpg")) as ro:
        with pytest.raises(xmp.FolderNotWritable, match="Read-only file system") as caught:
            xmp.write_sidecar(str(ro / "a.jpg"), "x", [])
        assert caught.value.folder == str(ro) and "\n" not in str(caught.value)
        with pytest.raises(xmp.XmpError, match="Read-only"):
            xmp.write_into_jpeg(str(ro / "a.jpg"), "x", [])
        assert os.listdir(ro) == ["a.jpg"]


def test_control_characters_from_exif_stay_out_of_the_library(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    exif = Image.Exif()
    exif[0x010E] = "Grandma's\x07 birthday\x1b[0m"
    Image.new("RGB", (8, 8)).save(root / "exif.jpg", exif=exif)
    conn = db.connect(tmp_path / "lib.db")
    scan.scan_root(conn, str(root))
    p = photos.by_path(conn, str(root / "exif.jpg"))
    assert [c.text for c in photos.captions(conn, p.id)] == ["Grandma's birthday[0m"]
