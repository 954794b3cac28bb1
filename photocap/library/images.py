"""Safe image opening: draft decoding, EXIF orientation, a pixel-count guard, RGB out.

Every bad file becomes an ImageError with a one-line reason; nothing else escapes for bad input.
No torch here: the library layer must stay importable without it.
"""

from __future__ import annotations

import os
import re
import time
import warnings

from PIL import ExifTags, Image, UnidentifiedImageError

from photocap.library.files import NotRegularFile, open_regular

try:  # HEIC/HEIF (iPhone) only where the optional pillow-heif is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:
    HEIF = False

MAX_PIXELS = 200_000_000  # more than any camera makes; a bigger header is a decompression bomb
# What is decoded at once (after JPEG's draft scaling) is capped lower: Pillow holds most modes at
# 4 bytes a pixel, so a 169 MP PNG of a few hundred KB would take 0.7-1.2 GB. 120 MP lets the
# biggest camera files (102 MP medium format TIFF/HEIF) through; JPEGs of any size up to
# MAX_PIXELS decode at a draft scale well inside it when a smaller image is asked for.
MAX_DECODE_PIXELS = 120_000_000
# Modes that shrink correctly before colour conversion, so the conversion copies stay small.
_SHRINK_FIRST = {"RGB", "RGBA", "L", "LA", "CMYK"}

# We check the size ourselves (MAX_PIXELS), so PIL's warning for 90-180 MP photos is noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_ORIENT = {  # EXIF orientation -> the transpose that makes the picture upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


# A truncated file changed this recently may still be being written: retry it, else it is damaged.
STILL_WRITING_SECONDS = 120.0

class ImageError(Exception):
    """A file that cannot be used as a photo. `transient`: worth retrying later (being written, locked)."""

    def __init__(self, reason: str, *, transient: bool = False, path: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.path = path           # set by open_image, for messages that must name the file


def open_image(path: str | os.PathLike, *, max_side: int | None = None) -> Image.Image:
    """The image at `path` as RGB, upright, its longest side at most `max_side` (if given).

    Only regular files are opened (a FIFO or device named like a photo is refused at once).
    """
    try:
        return _open_image(path, max_side)
    except ImageError as exc:
        exc.path = os.fspath(path)
        raise


def _open_image(path: str | os.PathLike, max_side: int | None) -> Image.Image:
    modified = time.time()
    try:
        with open_regular(path) as fh:
            st = os.fstat(fh.fileno())
            modified = st.st_mtime
            if st.st_size == 0:
                raise ImageError("empty file (still being written?)", transient=True)
            return _decode(fh, max_side)
    except ImageError:
        raise
    except NotRegularFile as exc:
        raise ImageError(f"not a file: {exc.kind}") from None
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except IsADirectoryError:
        raise ImageError("not a file") from None
    except PermissionError:
        raise ImageError("cannot read: permission denied or locked", transient=True) from None
    except UnidentifiedImageError:
        raise ImageError("not an image") from None
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageError(f"too large: {size}") from None
    except (OSError, EOFError) as exc:
        if "truncated" in str(exc).lower() or "broken data stream" in str(exc):
            if time.time() - modified < STILL_WRITING_SECONDS:
                raise ImageError("truncated (still being written?)", transient=True) from None
            # Nobody has written it for a while: it is damaged, and retrying will not mend it.
            raise ImageError(f"truncated or damaged: {_one_line(exc)}") from None
        raise ImageError(f"cannot decode: {_one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001  decoders of odd files raise all sorts; one bad file must not stop a scan
        raise ImageError(f"cannot decode: {_one_line(exc)}") from None


def make_thumbnail(path: str | os.PathLike, size: int) -> Image.Image:
    """An RGB, upright thumbnail whose longest side is at most `size` (for the GUI grid)."""
    return open_image(path, max_side=size)


def _decode(fh, max_side: int | None) -> Image.Image:
    im: Image.Image = Image.open(fh)
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"too large: {width}x{height} pixels")
    if max_side:
        # JPEG can decode at 1/2, 1/4 or 1/8 scale for almost free; keep 2x headroom for a clean resize.
        scale = 2 * max_side / max(width, height)
        if scale < 1:
            im.draft(None, (max(1, int(width * scale)), max(1, int(height * scale))))
    _check_decode_size(im.size, (width, height))
    orientation = _orientation(im)      # after the check: PNG's getexif() decodes the whole image
    im.load()  # animated files: this is the first frame
    if max_side and im.mode in _SHRINK_FIRST:
        im.thumbnail((max_side, max_side))
    im = _to_rgb(im)
    if max_side:
        im.thumbnail((max_side, max_side))
    return im.transpose(_ORIENT[orientation]) if orientation in _ORIENT else im


def _check_decode_size(decoded: tuple[int, int], full: tuple[int, int]) -> None:
    """Refuse before decoding what would not fit MAX_DECODE_PIXELS (`decoded`: after draft)."""
    if decoded[0] * decoded[1] > MAX_DECODE_PIXELS:
        width, height = full
        size, limit = _megapixels(width * height), _megapixels(MAX_DECODE_PIXELS)
        raise ImageError(f"too large to decode: {width}x{height} pixels ({size} MP; the limit is {limit} MP)")


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.0f}" if pixels >= 1e6 else f"{pixels / 1e6:.2g}"


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # noqa: BLE001  a broken EXIF block must not make the photo unreadable
        return 1


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode.startswith("I") or im.mode == "F":
        # 16-bit and float greys: scale to 8 bits instead of clipping everything to white.
        high = im.getextrema()[1]            # a single band: (low, high)
        im = im.convert("F")
        if isinstance(high, (int, float)) and high > 255:
            im = im.point(lambda v: v * (255.0 / 65535.0))
        return im.convert("L").convert("RGB")
    if im.mode in _ALPHA_MODES or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")  # CMYK, palette, greyscale, bilevel, YCbCr, LAB, HSV


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
