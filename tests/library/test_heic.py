"""HEIC/HEIF photos (iPhone) through the optional pillow-heif: found by scans, oriented once."""

import pytest
from PIL import Image

pillow_heif = pytest.importorskip("pillow_heif")

from photocap.library import db, images, photos, scan  # noqa: E402


def make_heic(path):
    """64x32: blue left half, red right half, stored with EXIF orientation 6 (rotate 90 CW)."""
    pillow_heif.register_heif_opener()
    img = Image.new("RGB", (64, 32), "red")
    img.paste((0, 0, 255), (0, 0, 32, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(path, format="HEIF", exif=exif.tobytes())
    return str(path)


def test_heic_is_scanned_and_shown_upright_without_double_rotation(tmp_path):
    root = tmp_path / "iphone"
    root.mkdir()
    path = make_heic(root / "IMG_0001.HEIC")
    conn = db.connect(tmp_path / "lib.db")
    report = scan.scan_root(conn, str(root))
    assert report.added == 1 and report.errors == []
    assert photos.by_path(conn, path).hash
    img = images.open_image(path)
    assert img.size == (32, 64)                       # turned once: portrait
    top, bottom = img.getpixel((16, 8)), img.getpixel((16, 56))
    assert top[2] > 200 and top[0] < 60               # the blue half is on top
    assert bottom[0] > 200 and bottom[2] < 60
