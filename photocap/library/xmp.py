"""XMP metadata: captions as dc:description and tags as dc:subject, where other photo apps look.

Sidecars use digiKam/darktable naming (IMG_1.jpg.xmp) or Lightroom's (IMG_1.xmp). Writing merges
into what is there, keeping every other field, and replaces the file atomically. JPEGs can also
carry the packet inside (an APP1 segment): the pixels are never re-encoded.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from photocap.library import tempfiles

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
MAX_SIDECAR_BYTES = 16 * 1024 * 1024     # Lightroom sidecars with many brush strokes reach a few MB
MAX_PACKET_BYTES = MAX_SIDECAR_BYTES     # embedded packets: the same cap before parsing
MAX_JPEG_BYTES = 1024 * 1024 * 1024      # a JPEG we rewrite is read whole: bigger is not a photo
NEW_FILE_MODE = 0o644                    # a new sidecar, as a normal umask makes files
# Characters XML 1.0 forbids (C0 controls but tab, newline and return; surrogates; U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_XML_BYTES = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Common extensions of photos photocap reads: a Lightroom name shared by two of them is ambiguous.
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp",
                    ".heic", ".heif", ".hif", ".avif")


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


class FolderNotWritable(XmpError):
    """No file can be created in `folder` (read-only, no permission, full): every photo there fails
    the same way, so callers may say it once per folder."""

    def __init__(self, path: str, folder: str, reason: str):
        super().__init__(f"cannot write {path}: {reason}")
        self.folder = folder


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (EXIF strings carry NULs and escapes)."""
    return _NOT_XML.sub("", text)


def sidecar_path(photo_path: str, naming: str = "digikam") -> str:
    """Where the photo's sidecar goes. Lightroom's IMG_1.xmp is used only while no other photo
    shares the stem: IMG_1.jpg and IMG_1.png would otherwise write one file for both."""
    if naming == "lightroom" and not _shares_stem(photo_path):
        return os.path.splitext(photo_path)[0] + ".xmp"
    return photo_path + ".xmp"


def find_sidecar(photo_path: str) -> str | None:
    full, short = photo_path + ".xmp", os.path.splitext(photo_path)[0] + ".xmp"
    if os.path.isfile(full):
        return full
    if os.path.isfile(short) and not _shares_stem(photo_path):   # a shared IMG_1.xmp is neither's
        return short
    return None


def _shares_stem(photo_path: str) -> bool:
    """Whether another photo in the folder has the same name but for the extension.

    Probes a few names instead of listing the folder: this runs for every photo published."""
    stem = os.path.splitext(photo_path)[0]
    others = [stem + ext for e in PHOTO_EXTENSIONS for ext in (e, e.upper())]
    if os.path.splitext(stem)[1].lower() in PHOTO_EXTENSIONS:
        others.append(stem)                          # IMG_1.jpg.png's IMG_1.jpg.xmp is IMG_1.jpg's
    for other in others:
        try:
            if os.path.isfile(other) and not os.path.samefile(other, photo_path):
                return True
        except OSError:
            continue                                 # the photo itself is gone: nothing shares
    return False


# ---- reading ------------------------------------------------------------------------------------

def read_regular(path: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; XmpError otherwise.

    FIFOs, devices and sockets are never opened for reading (a FIFO would block, /dev/zero never
    ends), and the size is checked before anything is read whole."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise XmpError(f"{path} is not a regular file")
        # O_NONBLOCK: if a FIFO replaced the file since the check, open returns instead of waiting.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise XmpError(f"{path} is not a regular file")
            if st.st_size > limit:
                raise XmpError(f"{path} is too large ({st.st_size:,} bytes; the limit is {limit:,})")
            data = f.read(limit + 1)
    except OSError as exc:
        raise XmpError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:                            # it grew while we read
        raise XmpError(f"{path} is too large (over {limit:,} bytes)")
    return data


def _tree(packet: bytes) -> ET.Element:
    """The parsed packet: hardened parser, no DTDs or entities, capped size."""
    if len(packet) > MAX_PACKET_BYTES:
        raise XmpError(f"the XMP packet is too large ({len(packet):,} bytes; the limit is "
                       f"{MAX_PACKET_BYTES:,})")
    try:
        try:
            return SafeET.fromstring(packet, forbid_dtd=True)
        except ET.ParseError:
            # Control characters (older photocap wrote EXIF text as it was) are the one breakage
            # we can mend without guessing; anything else stays an error.
            mended = _NOT_XML_BYTES.sub(b"", packet) if _single_byte_units(packet) else packet
            if mended == packet:
                raise
            return SafeET.fromstring(mended, forbid_dtd=True)
    except ET.ParseError as exc:
        raise XmpError(f"XMP is not well-formed XML ({exc})") from None
    except DefusedXmlException:
        raise XmpError("XMP with a DTD or entities is refused (they can make a small file take "
                       "gigabytes)") from None


def _single_byte_units(packet: bytes) -> bool:
    """True unless the packet looks UTF-16/32, where NUL bytes are part of every character."""
    head = packet[:4]
    return b"\x00" not in head and not head.startswith((b"\xff\xfe", b"\xfe\xff"))


def parse(packet: bytes) -> XmpData:
    root = _tree(packet)
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
    return parse(read_regular(path, MAX_SIDECAR_BYTES))


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
            root = _tree(packet)
        except XmpError as exc:
            raise XmpError(f"existing {exc}; not overwriting it") from None
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
        li.text = xml_text(description)
    for el in desc.findall("dc:subject", NS):
        desc.remove(el)
    subjects = [s for s in (xml_text(s) for s in subjects) if s]
    if subjects:
        bag = ET.SubElement(ET.SubElement(desc, _q("dc", "subject")), _q("rdf", "Bag"))
        for subject in subjects:
            ET.SubElement(bag, _q("rdf", "li")).text = subject
    try:
        body = ET.tostring(root, encoding="unicode")
    except RecursionError:               # the serializer recurses; parsing did not
        raise XmpError("existing XMP is nested too deeply to rewrite; not overwriting it") from None
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + body +
            '\n<?xpacket end="w"?>').encode("utf-8")


def write_sidecar(photo_path: str, description: str | None, subjects: list[str], *,
                  naming: str = "digikam", caption_source: str = "auto") -> str:
    """Write (or merge into) the photo's sidecar atomically; returns its path."""
    path = find_sidecar(photo_path) if naming == "auto" else sidecar_path(photo_path, naming)
    path = path or sidecar_path(photo_path)
    existing = read_regular(path, MAX_SIDECAR_BYTES) if os.path.lexists(path) else None
    atomic_write(path, merge(existing, description, subjects, caption_source),
                 previous=existing, new_mode=_new_sidecar_mode(photo_path))
    return path


def _new_sidecar_mode(photo_path: str) -> int:
    """0644, but no one may read the sidecar who may not read the photo."""
    try:
        return NEW_FILE_MODE & (os.stat(photo_path).st_mode | 0o600)
    except OSError:
        return NEW_FILE_MODE


def write_into_jpeg(photo_path: str, description: str | None, subjects: list[str],
                    caption_source: str = "auto") -> None:
    """Put the packet inside the JPEG itself; the image data is copied byte for byte."""
    data = read_regular(photo_path, MAX_JPEG_BYTES)
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
    atomic_write(photo_path, new, previous=data)


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


def atomic_write(path: str, data: bytes, *, previous: bytes | None = None,
                 new_mode: int = NEW_FILE_MODE) -> None:
    """Replace the file at `path` with `data`, keeping what makes it the user's file.

    A symlink keeps pointing where it did (the target is written). A file that is there keeps its
    mode and owner; a new one gets `new_mode`. The usual way is a temp file beside it, then a
    rename: readers never see half a file and a failure leaves the original as it was. A file with
    other hard links, or whose owner we cannot give the temp file, is rewritten in place instead
    (`previous`, its old bytes, is put back if that fails), so every link sees the change.
    """
    target = os.path.realpath(path)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        if os.path.islink(path):
            raise XmpError(f"{path} is a link to a missing file; not writing through it") from None
        st = None
    except OSError as exc:
        raise XmpError(f"cannot write {path}: {exc.strerror or exc}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise XmpError(f"{path} is not a regular file; not replacing it")
    if st is not None and st.st_nlink > 1:
        _rewrite_in_place(path, target, data, previous)
        return
    folder = os.path.dirname(target)
    try:
        tempfiles.clean_once(folder)                # what a killed writer left here before
        fd, tmp = tempfile.mkstemp(prefix=tempfiles.prefix(), suffix=tempfiles.SUFFIX, dir=folder)
    except OSError as exc:
        if st is not None and exc.errno in (errno.EACCES, errno.EPERM):
            _rewrite_in_place(path, target, data, previous)    # the folder is locked, the file not
            return
        raise FolderNotWritable(path, folder, exc.strerror or str(exc)) from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:           # full disk or quota: the same for every file there
            raise FolderNotWritable(path, folder, exc.strerror or str(exc)) from None
        if not _give_owner_and_mode(tmp, st, new_mode):
            os.unlink(tmp)
            _rewrite_in_place(path, target, data, previous)
            return
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise XmpError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _give_owner_and_mode(tmp: str, st: os.stat_result | None, new_mode: int) -> bool:
    """The replaced file's owner and mode on `tmp` (chown first: it clears set-id bits).
    False when the owner cannot be kept."""
    if st is not None and hasattr(os, "chown"):
        tmp_st = os.stat(tmp)
        if (tmp_st.st_uid, tmp_st.st_gid) != (st.st_uid, st.st_gid):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                return False
    os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else new_mode)
    return True


def _rewrite_in_place(path: str, target: str, data: bytes, previous: bytes | None) -> None:
    """Overwrite the file's own bytes: its inode, links, owner and mode stay. Not atomic, so the
    old bytes go back if writing fails."""
    try:
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise XmpError(f"cannot write {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as f:
        try:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise XmpError(f"{path} is not a regular file; not replacing it")
            _overwrite(f, data)
        except OSError as exc:
            if previous is not None:
                try:
                    _overwrite(f, previous)
                except OSError:
                    pass
            raise XmpError(f"cannot write {path}: {exc.strerror or exc}") from None


def _overwrite(f, data: bytes) -> None:
    f.seek(0)
    f.write(data)
    f.truncate(len(data))
    f.flush()
    os.fsync(f.fileno())
