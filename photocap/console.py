"""Terminal output helpers for the CLI: progress that shows only on a terminal."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from photocap.library import paths


class Progress:
    """One self-rewriting status line on stderr; silent when stderr is not a terminal."""

    def __init__(self, label: str, stream: TextIO | None = None, interval: float = 0.1):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label = label
        self.interval = interval
        self._last = 0.0

    def __call__(self, count: int, current: str = "") -> None:
        if not self.enabled:
            return
        t = time.monotonic()
        if t - self._last < self.interval and current:
            return
        self._last = t
        width = 60
        tail = paths.display(current)[-width:] if current else ""
        self.stream.write(f"\r\x1b[K{self.label}: {count} files {tail}")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class StatusLine:
    """A free-text line that rewrites itself on a terminal and stays silent elsewhere."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()

    def show(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"\r\x1b[K{text}")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


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
