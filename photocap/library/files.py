"""Opening files that users' folders hold: regular files only, and never a blocking open.

A FIFO named `photo.jpg` blocks a plain open() until some writer appears (forever, usually); a
device such as /dev/zero never ends. So a file is opened with O_NONBLOCK and checked with fstat on
the open descriptor: no window between a check and the open for the file to be swapped.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

# O_NONBLOCK makes open() of a FIFO return at once; O_NOCTTY keeps a terminal from becoming ours.
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)      # Windows: no newline translation


class NotRegularFile(OSError):
    """The path names something other than a regular file (a folder, FIFO, socket or device)."""

    def __init__(self, path: str | os.PathLike, kind: str):
        super().__init__(errno.EINVAL, f"not a file: {kind}", os.fspath(path))
        self.kind = kind


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words: 'a folder', 'a named pipe (FIFO)', ..."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """`path` opened for binary reading, or NotRegularFile (an OSError) if it is not a regular file.

    Other OSErrors (not found, permission denied) pass through unchanged.
    """
    fd = os.open(path, _FLAGS | _BINARY)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, kind_of(mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)     # a regular file: ordinary reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
