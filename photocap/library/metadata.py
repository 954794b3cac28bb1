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
