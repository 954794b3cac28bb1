"""Helpers for the XMP tests: a real read-only folder (a tmpfs remounted read-only)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

__all__ = ["readonly_folder"]


@contextlib.contextmanager
def readonly_folder(folder: Path, fill: Callable[[Path], None]) -> Iterator[Path]:
    """`folder` as its own tmpfs, filled by `fill`, then remounted read-only.

    chmod does not stop root, so only a read-only mount makes writes fail for real. Skips the test
    when it is not root or the kernel refuses the mount (containers without CAP_SYS_ADMIN).
    """
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("a read-only mount needs root")
    folder.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "none", str(folder)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        fill(folder)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
