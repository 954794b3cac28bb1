"""Metadata read from image files: EXIF date taken, camera and orientation."""

from __future__ import annotations

from datetime import datetime

from PIL import Image

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132
_MAKE = 0x010F
_MODEL = 0x0110


def exif_facts(image: Image.Image) -> tuple[str | None, str | None]:
    """(taken_at as ISO 8601, camera "Make Model") from EXIF; (None, None) when absent or broken."""
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - malformed EXIF must never stop a scan
        return None, None
    if not exif:
        return None, None
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # noqa: BLE001
        sub = {}
    taken = None
    for raw in (sub.get(_DATETIME_ORIGINAL), sub.get(_DATETIME_DIGITIZED), exif.get(_DATETIME)):
        taken = parse_exif_date(raw)
        if taken:
            break
    return taken, camera_name(exif.get(_MAKE), exif.get(_MODEL))


def parse_exif_date(raw: object) -> str | None:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "ignore")
    if not isinstance(raw, str):
        return None
    text = raw.strip().strip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M", "%Y:%m:%d"):
        try:
            parsed = datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
        if parsed.year < 1900:
            return None
        return parsed.isoformat(timespec="seconds")
    return None


def camera_name(make: object, model: object) -> str | None:
    make_s = _text(make)
    model_s = _text(model)
    if make_s and model_s.lower().startswith(make_s.split()[0].lower()):
        return model_s or None          # "Canon Canon EOS 5D" reads badly
    return " ".join(p for p in (make_s, model_s) if p) or None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip().strip("\x00").strip() if value else ""


# Descriptions cameras write on their own: not a person's caption.
CAMERA_BOILERPLATE = {"olympus digital camera", "sony dsc", "digital camera", "default", "image",
                      "samsung", "lg digital camera", "minolta dsc", "kodak digital still camera"}


def human_text(image: Image.Image, path: str) -> tuple[str | None, list[str]]:
    """A caption and keywords people wrote: XMP sidecar, embedded XMP, IPTC, then EXIF."""
    from photocap.library import xmp

    description: str | None = None
    keywords: list[str] = []
    sources = []
    sidecar = xmp.find_sidecar(path)
    if sidecar:
        sources.append(lambda: xmp.read_sidecar(sidecar))
    packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(packet, str):
        packet = packet.encode("utf-8", "replace")
    if isinstance(packet, bytes) and packet:
        sources.append(lambda: xmp.parse(packet))       # capped and hardened like sidecars
    for read in sources:
        try:
            data = read()
        except xmp.XmpError:
            continue
        if data.written_by_photocap:
            # Our own packet: only a caption the user wrote counts; the tags are ours already.
            if data.caption_source == "user":
                description = description or data.description
            continue
        description = description or data.description
        keywords = keywords or data.subjects
    iptc_caption, iptc_keywords = _iptc(image)
    description = description or iptc_caption
    keywords = keywords or iptc_keywords
    if not description:
        try:
            raw = _text(image.getexif().get(0x010E))
        except Exception:  # noqa: BLE001 - broken EXIF: no description
            raw = ""
        if raw and raw.lower() not in CAMERA_BOILERPLATE:
            description = raw
    # EXIF and IPTC strings carry NULs and escape codes: keep them out of captions and XMP.
    description = xmp.xml_text(description).strip() if description else None
    keywords = [k for k in (xmp.xml_text(k).strip() for k in keywords) if k]
    return description or None, keywords


def _iptc(image: Image.Image) -> tuple[str | None, list[str]]:
    from PIL import ImageFile, IptcImagePlugin
    if not isinstance(image, ImageFile.ImageFile):
        return None, []                     # only images read from a file carry IPTC
    try:
        info = IptcImagePlugin.getiptcinfo(image) or {}
    except Exception:  # noqa: BLE001 - malformed IPTC
        return None, []

    def values(key):
        value = info.get(key)
        items = value if isinstance(value, list) else [value] if value else []
        return [_text(v) for v in items if _text(v)]

    captions = values((2, 120))
    return (captions[0] if captions else None), values((2, 25))
