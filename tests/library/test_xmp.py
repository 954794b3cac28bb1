"""XMP sidecars and embedded XMP: merged, atomic, and read back by exiftool like other apps do."""

import io
import json
import os
import shutil
import subprocess

import pytest
from helpers import jpeg
from PIL import Image

from photocap.library import db, photos, scan, xmp

exiftool = pytest.mark.skipif(shutil.which("exiftool") is None and not os.environ.get("CI"),
                              reason="exiftool not installed (apt install libimage-exiftool-perl)")


def read_with_exiftool(path):
    out = subprocess.run(["exiftool", "-j", "-XMP-dc:Description", "-XMP-dc:Subject", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]


@exiftool
@pytest.mark.parametrize("naming,suffix", [("digikam", "IMG_1.jpg.xmp"), ("lightroom", "IMG_1.xmp")])
def test_sidecar_is_read_by_exiftool(tmp_path, naming, suffix):
    photo = jpeg(tmp_path / "IMG_1.jpg")
    path = xmp.write_sidecar(photo, "a dog on the beach, \"happy\" & <free>", ["dog", "beach", "été"],
                             naming=naming)
    assert os.path.basename(path) == suffix
    got = read_with_exiftool(path)
    assert got["Description"] == "a dog on the beach, \"happy\" & <free>"
    assert got["Subject"] == ["dog", "beach", "été"]


EXISTING = b"""<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Rating="4"
     xmlns:lr="http://ns.adobe.com/lightroom/1.0/">
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">old words</rdf:li></rdf:Alt></dc:description>
   <dc:creator><rdf:Seq><rdf:li>Ansel</rdf:li></rdf:Seq></dc:creator>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|Beach</rdf:li></rdf:Bag></lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


@exiftool
def test_merge_keeps_every_other_field(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    (tmp_path / "a.jpg.xmp").write_bytes(EXISTING)
    xmp.write_sidecar(photo, "new words", ["sea"])
    out = subprocess.run(["exiftool", "-j", "-XMP:all", str(tmp_path / "a.jpg.xmp")],
                         capture_output=True, text=True, check=True).stdout
    got = json.loads(out)[0]
    assert got["Description"] == "new words" and got["Subject"] == "sea"
    assert got["Rating"] == 4 and got["Creator"] == "Ansel" and got["HierarchicalSubject"] == "Places|Beach"
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_a_broken_sidecar_is_not_overwritten(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    (tmp_path / "a.jpg.xmp").write_bytes(b"<x:xmpmeta><unclosed>")
    with pytest.raises(xmp.XmpError, match="not well-formed"):
        xmp.write_sidecar(photo, "x", [])
    assert (tmp_path / "a.jpg.xmp").read_bytes() == b"<x:xmpmeta><unclosed>"


@exiftool
def test_embedding_into_a_jpeg_keeps_the_pixels(tmp_path):
    photo = tmp_path / "p.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    Image.effect_noise((120, 90), 50).convert("RGB").save(photo, "JPEG", exif=exif)
    before = Image.open(photo).tobytes()
    xmp.write_into_jpeg(str(photo), "a noisy square", ["noise"])
    xmp.write_into_jpeg(str(photo), "a noisy square, again", ["noise", "grey"])   # replaces, not adds
    assert Image.open(photo).tobytes() == before
    assert read_with_exiftool(photo)["Description"] == "a noisy square, again"
    assert xmp.embedded_packet(photo.read_bytes()).count(b"<dc:description") == 1
    assert Image.open(photo).getexif()[0x010F] == "Canon"


def test_embedding_refuses_non_jpeg_and_keeps_the_original(tmp_path):
    photo = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(photo)
    data = photo.read_bytes()
    with pytest.raises(xmp.XmpError, match="JPEG"):
        xmp.write_into_jpeg(str(photo), "x", [])
    assert photo.read_bytes() == data


def test_scan_adopts_people_s_captions_and_keywords_but_not_our_own(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    (root / "sidecar.jpg.xmp").write_bytes(EXISTING.replace(b"</rdf:Description>",
        b"<dc:subject><rdf:Bag><rdf:li>Holiday</rdf:li></rdf:Bag></dc:subject></rdf:Description>"))
    jpeg(root / "sidecar.jpg")
    exif = Image.Exif()
    exif[0x010E] = "Grandma's birthday"
    Image.new("RGB", (8, 8)).save(root / "exif.jpg", exif=exif)
    exif[0x010E] = "OLYMPUS DIGITAL CAMERA"
    Image.new("RGB", (8, 8), "blue").save(root / "boiler.jpg", exif=exif)
    jpeg(root / "ours.jpg", "green")
    xmp.write_sidecar(str(root / "ours.jpg"), "an auto caption", ["auto-tag"])
    conn = db.connect(tmp_path / "lib.db")
    scan.scan_root(conn, str(root))

    def user_caps(name):
        p = photos.by_path(conn, str(root / name))
        return [c.text for c in photos.captions(conn, p.id) if c.source == "user"], photos.tags(conn, p.id)

    assert user_caps("sidecar.jpg") == (["old words"], [("holiday", "user")])
    assert user_caps("exif.jpg") == (["Grandma's birthday"], [])
    assert user_caps("boiler.jpg") == ([], [])
    assert user_caps("ours.jpg") == ([], [])


def test_iptc_caption_and_keywords(tmp_path):
    from PIL import IptcImagePlugin  # noqa: F401 - the reader used by scan
    root = tmp_path / "pics"
    root.mkdir()

    def dataset(number, text):
        data = text.encode()
        return b"\x1c\x02" + bytes([number]) + len(data).to_bytes(2, "big") + data

    iptc = dataset(120, "Sunset at the pier") + dataset(25, "sunset") + dataset(25, "pier")
    resource = b"8BIM\x04\x04\x00\x00" + len(iptc).to_bytes(4, "big") + iptc + (b"\x00" if len(iptc) % 2 else b"")
    app13 = b"Photoshop 3.0\x00" + resource
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    data = buf.getvalue()
    segment = b"\xff\xed" + (len(app13) + 2).to_bytes(2, "big") + app13
    (root / "iptc.jpg").write_bytes(data[:2] + segment + data[2:])
    conn = db.connect(tmp_path / "lib.db")
    scan.scan_root(conn, str(root))
    p = photos.by_path(conn, str(root / "iptc.jpg"))
    assert [c.text for c in photos.captions(conn, p.id)] == ["Sunset at the pier"]
    assert sorted(t for t, _ in photos.tags(conn, p.id)) == ["pier", "sunset"]
