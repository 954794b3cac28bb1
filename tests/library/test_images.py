"""open_image / make_thumbnail on real files of every awkward kind."""

from __future__ import annotations

import io
import os
import random
import struct
import sys
import time
import zlib

import pytest
from helpers import noise_jpeg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, JpegImagePlugin

from photocap.library import images
from photocap.library.images import STILL_WRITING_SECONDS, ImageError, make_thumbnail, open_image

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def near(pixel, colour, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(pixel, colour, strict=True))


def two_halves(size=(40, 20)) -> Image.Image:
    """Left half red, right half blue: orientation mistakes show."""
    im = Image.new("RGB", size, BLUE)
    im.paste(RED, (0, 0, size[0] // 2, size[1]))
    return im


def test_plain_jpeg_is_rgb(tmp_path):
    path = tmp_path / "a.jpg"
    two_halves().save(path, quality=95)
    im = open_image(path)
    assert im.mode == "RGB" and im.size == (40, 20)
    assert near(im.getpixel((5, 10)), RED) and near(im.getpixel((35, 10)), BLUE)


def test_max_side_limits_the_longest_side_and_keeps_the_aspect(tmp_path):
    path = tmp_path / "big.jpg"
    two_halves((4000, 3000)).save(path, quality=90)
    im = open_image(path, max_side=384)
    assert im.size == (384, 288)
    assert near(im.getpixel((10, 100)), RED) and near(im.getpixel((370, 100)), BLUE)


def test_jpeg_is_draft_decoded_at_twice_the_target(tmp_path, monkeypatch):
    path = noise_jpeg(tmp_path / "big.jpg", size=(4000, 3000))
    asked = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        done = original(self, mode, size)
        if done is not None:  # None: too late, the file was already decoded
            asked.append(size)
        return done

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    im = open_image(path, max_side=384)
    assert asked and max(asked[0]) >= 768 and max(asked[0]) < 4000
    assert max(im.size) == 384


def test_draft_decoding_looks_like_a_full_decode(tmp_path):
    path = tmp_path / "grad.jpg"
    grad = Image.linear_gradient("L").resize((2000, 1500)).convert("RGB")
    grad.save(path, quality=90)
    fast = open_image(path, max_side=300)
    slow = Image.open(path).convert("RGB").resize(fast.size, Image.Resampling.BICUBIC)
    diff = sum(abs(a - b) for a, b in zip(fast.tobytes(), slow.tobytes(), strict=True)) / len(fast.tobytes())
    assert diff < 3


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path)
    im = open_image(path)
    assert im.mode == "RGB" and near(im.getpixel((8, 8)), RED)


def test_palette_png_with_transparency_is_on_white(tmp_path):
    path = tmp_path / "pal.png"
    im = Image.new("P", (10, 10), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (5, 0, 10, 10))
    im.info["transparency"] = 0
    im.save(path, transparency=0)
    out = open_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((2, 5)) == WHITE and out.getpixel((7, 5)) == RED


def test_rgba_is_composited_on_white(tmp_path):
    path = tmp_path / "rgba.png"
    im = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (5, 0, 10, 10))
    im.save(path)
    out = open_image(path)
    assert out.getpixel((2, 5)) == WHITE and out.getpixel((7, 5)) == BLUE


def test_la_png(tmp_path):
    path = tmp_path / "la.png"
    im = Image.new("LA", (4, 4), (0, 0))
    im.putpixel((3, 3), (0, 255))
    im.save(path)
    out = open_image(path)
    assert out.getpixel((0, 0)) == WHITE and out.getpixel((3, 3)) == (0, 0, 0)


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    im = Image.new("I;16", (4, 4), 0)
    im.putpixel((1, 1), 32768)
    im.putpixel((2, 2), 65535)
    im.save(path)
    out = open_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (0, 0, 0)
    assert 120 <= out.getpixel((1, 1))[0] <= 135
    assert out.getpixel((2, 2)) == WHITE


def test_16_bit_rgb_png(tmp_path):
    path = tmp_path / "deep-rgb.png"
    # Pillow cannot write 48-bit PNGs; write one by hand: 2x1 pixels, red then blue.
    rows = b"\x00" + struct.pack(">6H", 65535, 0, 0, 0, 0, 65535)
    path.write_bytes(_png(2, 1, bit_depth=16, colour_type=2, raw=rows))
    out = open_image(path)
    assert out.mode == "RGB" and out.getpixel((0, 0)) == RED and out.getpixel((1, 0)) == BLUE


def test_greyscale_jpeg(tmp_path):
    path = tmp_path / "grey.jpg"
    Image.new("L", (8, 8), 128).save(path)
    r, g, b = open_image(path).getpixel((4, 4))
    assert r == g == b and 120 <= r <= 136


def test_animated_gif_gives_the_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 2
    assert near(open_image(path).getpixel((4, 4)), RED)


@pytest.mark.parametrize("max_side", [None, 10])
def test_exif_orientation_is_applied(tmp_path, max_side):
    path = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to show
    two_halves((40, 20)).save(path, exif=exif, quality=95)
    im = open_image(path, max_side=max_side)
    width, height = im.size
    assert height > width
    assert near(im.getpixel((width // 2, 2)), RED) and near(im.getpixel((width // 2, height - 3)), BLUE)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(tmp_path, orientation):
    upright = Image.new("RGB", (40, 20), BLUE)
    upright.paste(RED, (0, 0, 10, 5))  # a red corner at the top left tells all eight apart
    T = Image.Transpose
    undo = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
            6: T.ROTATE_90, 7: T.TRANSVERSE, 8: T.ROTATE_270}  # how a camera stores each orientation
    stored = upright.transpose(undo[orientation]) if orientation in undo else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    stored.save(path, exif=exif)
    im = open_image(path)
    assert im.size == (40, 20) and im.getpixel((2, 1)) == RED and im.getpixel((37, 18)) == BLUE


def test_truncated_jpeg_is_transient(tmp_path):
    path = noise_jpeg(tmp_path / "half.jpg")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as err:
        open_image(path)
    assert err.value.transient and "truncated" in err.value.reason


def test_a_truncated_jpeg_nobody_has_written_for_long_is_damaged_for_good(tmp_path):
    path = noise_jpeg(tmp_path / "half.jpg")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    old = time.time() - 2 * STILL_WRITING_SECONDS
    os.utime(path, (old, old))
    with pytest.raises(ImageError) as err:
        open_image(path)
    assert not err.value.transient and err.value.reason.startswith("truncated or damaged")


def test_random_bytes_named_jpg_is_not_an_image(tmp_path):
    path = tmp_path / "fake.jpg"
    path.write_bytes(random.Random(2).randbytes(5000))
    with pytest.raises(ImageError) as err:
        open_image(path)
    assert err.value.reason == "not an image" and not err.value.transient


def test_zero_byte_file_is_transient(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as err:
        open_image(path)
    assert err.value.transient and "empty" in err.value.reason


def _png(width, height, *, bit_depth=8, colour_type=2, raw=b""):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(100_000, 100_000))
    with pytest.raises(ImageError) as err:
        open_image(path)
    assert err.value.reason.startswith("too large") and not err.value.transient


def test_own_pixel_limit_names_the_size(tmp_path, monkeypatch):
    path = tmp_path / "wide.png"
    Image.new("RGB", (30, 20)).save(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 500)
    with pytest.raises(ImageError) as err:
        open_image(path)
    assert err.value.reason == "too large: 30x20 pixels"


def test_pil_global_limit_is_left_alone():
    assert Image.MAX_IMAGE_PIXELS == 89478485


@pytest.mark.parametrize(
    "name",
    ["with space.jpg", "fötö 📷.jpg", "-starts-with-dash.jpg", "no_extension", "UPPER.JPEG", "a'quote\".jpg"],
)
def test_odd_file_names(tmp_path, name):
    path = tmp_path / name
    two_halves().save(path, format="JPEG")
    assert open_image(path).size == (40, 20)


@pytest.mark.skipif(sys.platform != "linux", reason="Linux file names may be any bytes")
def test_file_name_that_is_not_utf8(tmp_path):
    path = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.jpg")
    two_halves().save(path, format="JPEG")
    assert open_image(path).size == (40, 20)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        open_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="not a file"):
        open_image(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="needs POSIX, and root reads anything")
def test_unreadable_file_is_transient(tmp_path):
    path = tmp_path / "locked.jpg"
    two_halves().save(path)
    path.chmod(0)
    with pytest.raises(ImageError) as err:
        open_image(path)
    assert err.value.transient


def test_make_thumbnail(tmp_path):
    path = tmp_path / "t.png"
    two_halves((300, 100)).save(path)
    thumb = make_thumbnail(path, 64)
    assert thumb.mode == "RGB" and thumb.size == (64, 21)


def _sample_files() -> dict[str, bytes]:
    out = {}
    for fmt in ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"):
        buf = io.BytesIO()
        two_halves((64, 48)).save(buf, format=fmt)
        out[fmt] = buf.getvalue()
    return out


SAMPLES = _sample_files()


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about some damaged TIFF tags
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(sorted(SAMPLES)), cut=st.floats(0, 1),
       flips=st.lists(st.integers(0, 10_000), max_size=4))
def test_damaged_files_only_ever_raise_image_error(tmp_path, fmt, cut, flips):
    data = bytearray(SAMPLES[fmt][: int(len(SAMPLES[fmt]) * cut)])
    for pos in flips:
        if data:
            data[pos % len(data)] ^= 0xFF
    path = tmp_path / f"damaged.{fmt.lower()}"
    path.write_bytes(bytes(data))
    try:
        im = open_image(path, max_side=32)
    except ImageError as err:
        assert err.reason and "\n" not in err.reason
    else:
        assert im.mode == "RGB" and max(im.size) <= 32


def test_images_module_needs_no_torch():
    import subprocess

    code = "import sys, photocap.library.images; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- only regular files are opened; decoding memory is bounded ------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_a_fifo_named_like_a_photo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)                      # nobody writes to it: opening it for reading would block
    with pytest.raises(ImageError) as err:
        open_image(fifo, max_side=64)
    assert err.value.reason == "not a file: a named pipe (FIFO)" and not err.value.transient


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_without_reading_it():
    with pytest.raises(ImageError) as err:
        open_image("/dev/zero")                  # endless: reading it whole would never end
    assert err.value.reason == "not a file: a device"


def test_a_symlink_to_a_photo_is_still_a_photo(tmp_path):
    two_halves().save(tmp_path / "real.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "real.png")
    assert open_image(tmp_path / "link.png").size == (40, 20)


def _blank_png(path, width, height):
    """A blank RGB PNG written row by row: a few hundred KB on disk, never whole in memory here."""
    pack = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)
    with open(path, "wb") as f:
        f.write(_png(width, height, raw=b"")[:33])          # signature and IHDR
        data = b"".join(pack.compress(row) for _ in range(height)) + pack.flush()
        f.write(struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data)))
        f.write(struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_a_169_megapixel_png_is_refused_with_bounded_memory(tmp_path):
    import subprocess

    path = tmp_path / "huge.png"
    _blank_png(path, 13_000, 13_000)
    assert path.stat().st_size < 1_000_000
    code = (
        "import resource, sys\n"
        "from photocap.library.images import ImageError, open_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    open_image(sys.argv[1], max_side=384)\n"
        "    print('decoded')\n"
        "except ImageError as exc:\n"
        "    print(exc.reason)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         check=True, timeout=100).stdout.splitlines()
    reason, grown_mib = out[0], int(out[1])
    assert reason.startswith("too large to decode: 13000x13000 pixels"), reason
    assert grown_mib < 100, f"decoding grew the process by {grown_mib} MiB"


def test_a_jpeg_above_the_decode_limit_is_read_at_a_draft_scale(tmp_path, monkeypatch):
    # 12 MP over a 1 MP limit: JPEG decodes at 1/4 scale for a 384-pixel image, well inside it.
    monkeypatch.setattr(images, "MAX_DECODE_PIXELS", 1_000_000)
    jpeg = noise_jpeg(tmp_path / "big.jpg", size=(4000, 3000))
    assert max(open_image(jpeg, max_side=384).size) == 384
    Image.new("RGB", (4000, 3000)).save(tmp_path / "big.png")    # PNG has no draft mode
    with pytest.raises(ImageError) as err:
        open_image(tmp_path / "big.png", max_side=384)
    assert err.value.reason == "too large to decode: 4000x3000 pixels (12 MP; the limit is 1 MP)"
