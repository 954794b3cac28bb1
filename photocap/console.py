"""Terminal output helpers for the CLI: progress that shows only on a terminal, and `printable`,
which every line of text the commands print goes through."""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from typing import TextIO

from photocap.library import paths
from photocap.library.search import query as query_language

# What a terminal would act on rather than show, or show as a line break: C0 and C1 controls (ESC
# starts escape sequences, CSI and OSC have one-byte C1 forms), DEL, U+2028/U+2029, lone surrogates
# (undecodable bytes; print would raise) and the bidi controls that reorder what follows
# ("gpj.exe" shown as "exe.jpg").
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                          "\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` safe to print on a terminal as one line: every control character, line break,
    bidi control and lone surrogate becomes a visible escape (\\n, \\x1b, \\u202e); the rest of
    Unicode is kept as it is. Use it for anything that came from files, metadata or users."""
    return _UNPRINTABLE.sub(_escape, str(text))


def path_text(path: str) -> str:
    """A file path as one printable line (undecodable bytes shown as U+FFFD)."""
    return printable(paths.display(path))


class OneLineFormatter(logging.Formatter):
    """Log records as one printable line each (file names in messages cannot forge log lines);
    a traceback, shown with --debug, keeps its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


class StatusLine:
    """A line on stderr that rewrites itself on a terminal and stays silent elsewhere."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()

    def show(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"\r\x1b[K{printable(text)}")
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
        self.show(f"{self.label}: {count} files {tail}")     # show() makes it printable


def warn(message: str) -> None:
    print(f"photocap: {printable(message)}", file=sys.stderr)


def query_text(words: list[str]) -> str:
    """A command's QUERY words as one search, after saying which of its filters were not understood
    (`review:tod`): those are searched as words, and a silent "0 photos approved" would hide the typo."""
    text = " ".join(words)
    for line in query_language.notes(query_language.parse(text)):
        warn(line)
    return text


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
