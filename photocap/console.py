"""Terminal output helpers for the CLI: progress that shows only on a terminal."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from photocap.library import paths


class StatusLine:
    """A line on stderr that rewrites itself on a terminal and stays silent elsewhere."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()

    def show(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"\r\x1b[K{text}")
            self.stream.flush()

    def done(self) -> None:
        self.show("")


class Progress(StatusLine):
    """Scan progress ("scanning: 1200 files .../IMG_1.jpg"), redrawn at most every `interval` s."""

    def __init__(self, label: str, stream: TextIO | None = None, interval: float = 0.1):
        super().__init__(stream)
        self.label = label
        self.interval = interval
        self._last = 0.0

    def __call__(self, count: int, current: str = "") -> None:
        t = time.monotonic()
        if not self.enabled or (t - self._last < self.interval and current):
            return
        self._last = t
        tail = paths.display(current)[-60:] if current else ""
        self.show(f"{self.label}: {count} files {tail}")


def warn(message: str) -> None:
    print(f"photocap: {message}", file=sys.stderr)


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
