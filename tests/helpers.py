"""Helpers shared by the test modules: clocks, waiting, real photos, running photocap as users do.

Tests import it as `from helpers import ...` (tests/ is on sys.path, as for tiny_models).
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from PIL import Image

Color = str | tuple[int, int, int]


# ---- time ---------------------------------------------------------------------------------------

class FakeClock:
    """A monotonic clock that tests move by hand (`advance`), for code that takes `clock=`.

    With `real=True` it follows time.monotonic() and `advance` jumps ahead of it: threads that
    also wait on real events (watchdog observers) keep working, and a test skips a fixed pause
    (a root check every 2 s) instead of sleeping through it. Advance by binary fractions (0.125,
    0.25) where a test checks an exact boundary: they add up without rounding.
    """

    def __init__(self, start: float = 1024.0, *, real: bool = False):
        self.real = real
        self.offset = start

    def __call__(self) -> float:
        return (time.monotonic() if self.real else 0.0) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> bool:
    """Poll predicate until it is true or timeout passes; the last answer is returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


# ---- photos -------------------------------------------------------------------------------------

def shade_color(shade: int) -> tuple[int, int, int]:
    """A colour per number, different for neighbouring numbers (so no two photos are alike)."""
    return (shade * 37) % 256, (shade * 91) % 256, (shade * 13) % 256


def jpeg(path: Path | str, color: Color = "red", size: tuple[int, int] = (64, 48), *, quality: int = 90,
         **save: Any) -> str:
    """One real JPEG of one colour at path (its folder is made); returns the path as a string.

    `save` goes to PIL (exif=...); options given as None are left out.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    options = {k: v for k, v in save.items() if v is not None}
    Image.new("RGB", size, color).save(path, "JPEG", quality=quality, **options)
    return str(path)


def jpeg_bytes(color: Color = "red", size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG in memory; color "noise" makes one that compresses badly (large, slow to write)."""
    buf = io.BytesIO()
    image = Image.effect_noise(size, 40).convert("RGB") if color == "noise" else Image.new("RGB", size, color)
    image.save(buf, "JPEG")
    return buf.getvalue()


def noise_jpeg(path: Path, size: tuple[int, int] = (1200, 900), quality: int = 90) -> Path:
    """A large JPEG of seeded random pixels (the same bytes every run)."""
    rnd = random.Random(1)
    Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3)).save(path, quality=quality)
    return path


def make_photos(folder: Path, n: int, *, start: int = 0, shade: int = 0, size: tuple[int, int] = (48, 36),
                name: str = "p{:04d}.jpg") -> list[Path]:
    """n different JPEGs in folder (made if needed), named by `name`.format(i) for i from start."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(start, start + n):
        r, g, b = shade_color(i)
        made.append(Path(jpeg(folder / name.format(i), ((r + shade) % 256, g, (b + shade) % 256), size)))
    return made


# ---- photocap as a process ----------------------------------------------------------------------

def tiny_model_env(db: Path | str, model_dir: Path | str, **settings: str) -> dict[str, str]:
    """The environment of a photocap process on a tiny real model, fast options, unbuffered logs.

    Keyword arguments are more settings, without the prefix: tiny_model_env(db, m, BATCH_SIZE="4").
    """
    return {**os.environ, "PHOTOCAP_DB": str(db), "PHOTOCAP_MODEL": str(model_dir),
            "PHOTOCAP_NUM_BEAMS": "1", "PHOTOCAP_MIN_NEW_TOKENS": "2", "PHOTOCAP_MAX_NEW_TOKENS": "4",
            "PYTHONUNBUFFERED": "1", **{f"PHOTOCAP_{k}": v for k, v in settings.items()}}


def run_photocap(env: dict[str, str] | None, *args: str, timeout: float = 180,
                 text: bool = True) -> subprocess.CompletedProcess:
    """`python -m photocap ARGS` as a user runs it; env None keeps this process's environment."""
    return subprocess.run([sys.executable, "-m", "photocap", *map(str, args)], env=env, capture_output=True,
                          text=text, timeout=timeout)


def start_photocap(env: dict[str, str] | None, *args: str) -> subprocess.Popen:
    """`python -m photocap ARGS` in the background, stdout and stderr together as text."""
    return subprocess.Popen([sys.executable, "-m", "photocap", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 90.0) -> list[str]:
    """Lines the process printed, up to and including the first that contains `text`.

    The deadline is checked between lines: give the test a pytest timeout too, for a silent process.
    """
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout is not None else ""
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"no {text!r} in the process's output:\n{''.join(seen)}")
