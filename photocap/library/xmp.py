"""XMP metadata: captions as dc:description and tags as dc:subject, where other photo apps look.

Sidecars use digiKam/darktable naming (IMG_1.jpg.xmp) or Lightroom's (IMG_1.xmp). Writing merges
into what is there, keeping every other field, and replaces the file atomically. JPEGs can also
carry the packet inside (an APP1 segment): the pixels are never re-encoded.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xml": "http://www.w3.org/XML/1998/namespace",
    "photocap": "https://photocap.invalid/ns/1.0/",   # marks what photocap wrote itself
}
for _prefix, _uri in NS.items():
    if _prefix != "xml":
        ET.register_namespace(_prefix, _uri)
XMP_APP1_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
MAX_SIDECAR_BYTES = 16 * 1024 * 1024


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


@dataclass
class XmpData:
    description: str | None = None
    subjects: list[str] = field(default_factory=list)
    written_by_photocap: bool = False
    caption_source: str | None = None      # "auto" or "user" when photocap wrote the description


class XmpError(Exception):
    """An XMP file or packet that cannot be read or written; one line."""


def sidecar_path(photo_path: str, naming: str = "digikam") -> str:
    if naming == "lightroom":
        return os.path.splitext(photo_path)[0] + ".xmp"
    return photo_path + ".xmp"


def find_sidecar(photo_path: str) -> str | None:
    for naming in ("digikam", "lightroom"):
        candidate = sidecar_path(photo_path, naming)
        if os.path.isfile(candidate):
            return candidate
    return None


# ---- reading ------------------------------------------------------------------------------------

def parse(packet: bytes) -> XmpData:
    try:
        root = ET.fromstring(packet)
    except ET.ParseError as exc:
        raise XmpError(f"XMP is not well-formed XML ({exc})") from None
    data = XmpData()
    for desc in root.iter(_q("rdf", "Description")):
        source = desc.get(_q("photocap", "captionSource"))
        if source:
            data.written_by_photocap, data.caption_source = True, source
        attr = desc.get(_q("dc", "description"))
        if attr and not data.description:
            data.description = attr.strip()
        for el in desc.findall("dc:description", NS):
            items = el.findall("rdf:Alt/rdf:li", NS)
            chosen = next((li for li in items if li.get(_q("xml", "lang")) == "x-default"),
                          items[0] if items else None)
            text = (chosen.text if chosen is not None else el.text) or ""
            if text.strip() and not data.description:
                data.description = text.strip()
        for el in desc.findall("dc:subject", NS):
            for li in el.iter(_q("rdf", "li")):
                if li.text and li.text.strip() and li.text.strip() not in data.subjects:
                    data.subjects.append(li.text.strip())
    return data


def read_sidecar(path: str) -> XmpData:
    try:
        if os.path.getsize(path) > MAX_SIDECAR_BYTES:
            raise XmpError(f"{path} is too large for an XMP sidecar")
        with open(path, "rb") as f:
            return parse(f.read())
    except OSError as exc:
        raise XmpError(f"cannot read {path}: {exc.strerror or exc}") from None


def embedded_packet(jpeg: bytes) -> bytes | None:
    """The XMP packet inside a JPEG's APP1 segment, if any."""
    for marker, start, end in _segments(jpeg):
        if marker == 0xE1 and jpeg[start:start + len(XMP_APP1_HEADER)] == XMP_APP1_HEADER:
            return jpeg[start + len(XMP_APP1_HEADER):end]
    return None


# ---- writing ------------------------------------------------------------------------------------

def merge(packet: bytes | None, description: str | None, subjects: list[str],
          caption_source: str = "auto") -> bytes:
    """A packet with our description and subjects, every other field of `packet` kept."""
    if packet:
        try:
            root = ET.fromstring(packet)
        except ET.ParseError as exc:
            raise XmpError(f"existing XMP is not well-formed XML ({exc}); not overwriting it") from None
    else:
        root = ET.Element(_q("x", "xmpmeta"))
    if root.tag == _q("rdf", "RDF"):
        wrapper = ET.Element(_q("x", "xmpmeta"))
        wrapper.append(root)
        root = wrapper
    rdf = root if root.tag == _q("rdf", "RDF") else root.find("rdf:RDF", NS)
    if rdf is None:
        rdf = ET.SubElement(root, _q("rdf", "RDF"))
    descs = rdf.findall("rdf:Description", NS)
    desc = descs[0] if descs else ET.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""})
    for d in descs:                      # one place for each property: drop older copies
        d.attrib.pop(_q("dc", "description"), None)
        for tag in ("dc:description", "dc:subject") if d is not desc else ():
            for el in d.findall(tag, NS):
                d.remove(el)
    desc.set(_q("photocap", "captionSource"), caption_source)
    if description is not None:
        for el in desc.findall("dc:description", NS):
            desc.remove(el)
        alt = ET.SubElement(ET.SubElement(desc, _q("dc", "description")), _q("rdf", "Alt"))
        li = ET.SubElement(alt, _q("rdf", "li"), {_q("xml", "lang"): "x-default"})
        li.text = description
    for el in desc.findall("dc:subject", NS):
        desc.remove(el)
    if subjects:
        bag = ET.SubElement(ET.SubElement(desc, _q("dc", "subject")), _q("rdf", "Bag"))
        for subject in subjects:
            ET.SubElement(bag, _q("rdf", "li")).text = subject
    body = ET.tostring(root, encoding="unicode")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + body +
            '\n<?xpacket end="w"?>').encode("utf-8")


def write_sidecar(photo_path: str, description: str | None, subjects: list[str], *,
                  naming: str = "digikam", caption_source: str = "auto") -> str:
    """Write (or merge into) the photo's sidecar atomically; returns its path."""
    path = find_sidecar(photo_path) if naming == "auto" else sidecar_path(photo_path, naming)
    path = path or sidecar_path(photo_path)
    existing = None
    if os.path.exists(path):
        try:
            with open(path, "rb") as f:
                existing = f.read()
        except OSError as exc:
            raise XmpError(f"cannot read {path}: {exc.strerror or exc}") from None
    atomic_write(path, merge(existing, description, subjects, caption_source))
    return path


def write_into_jpeg(photo_path: str, description: str | None, subjects: list[str],
                    caption_source: str = "auto") -> None:
    """Put the packet inside the JPEG itself; the image data is copied byte for byte."""
    try:
        with open(photo_path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise XmpError(f"cannot read {photo_path}: {exc.strerror or exc}") from None
    if not data.startswith(b"\xff\xd8"):
        raise XmpError(f"{photo_path} is not a JPEG: metadata is written into JPEG files only")
    packet = merge(embedded_packet(data), description, subjects, caption_source)
    payload = XMP_APP1_HEADER + packet
    if len(payload) + 2 > 0xFFFF:
        raise XmpError("the XMP packet is too large for one JPEG segment")
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    insert_at, cut = 2, None
    for marker, start, end in _segments(data):
        if marker == 0xE1 and data[start:start + len(XMP_APP1_HEADER)] == XMP_APP1_HEADER:
            cut = (start - 4, end)
            break
        if marker in (0xE0, 0xE1):       # after JFIF and EXIF, as other writers do
            insert_at = end
    if cut:
        new = data[:cut[0]] + segment + data[cut[1]:]
    else:
        new = data[:insert_at] + segment + data[insert_at:]
    atomic_write(photo_path, new, keep_mode_of=photo_path)


def _segments(jpeg: bytes):
    """(marker, payload start, payload end) for each header segment before the image data."""
    if not jpeg.startswith(b"\xff\xd8"):
        return
    i = 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF:
        marker = jpeg[i + 1]
        if marker == 0xDA or marker == 0xD9:       # start of scan: header segments are over
            return
        length = int.from_bytes(jpeg[i + 2:i + 4], "big")
        if length < 2 or i + 2 + length > len(jpeg):
            return
        yield marker, i + 4, i + 2 + length
        i += 2 + length


def atomic_write(path: str, data: bytes, *, keep_mode_of: str | None = None) -> None:
    """Write to a temp file beside `path`, then rename: readers never see half a file, and a
    failure leaves the original as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".photocap-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if keep_mode_of and os.path.exists(keep_mode_of):
            st = os.stat(keep_mode_of)
            os.chmod(tmp, st.st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise XmpError(f"cannot write {path}: {exc.strerror or exc}") from None
