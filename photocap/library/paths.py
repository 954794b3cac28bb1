"""File paths as the database stores them.

A path that is valid UTF-8 is stored as TEXT; one that is not (names from old cameras or other
systems) is stored as its raw bytes in a BLOB, so it round-trips exactly. Display forms replace
the undecodable bytes and are used for search and output only.
"""

from __future__ import annotations

import os


def to_db(path: str) -> str | bytes:
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def from_db(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def display(path: str) -> str:
    """A printable form: undecodable bytes become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")
