"""The temp files photocap writes beside users' files, and cleaning up those a dead writer left.

A file is replaced by writing `.photocap-WRITER-RANDOM.tmp` in its folder and renaming it over the
original (see xmp.atomic_write). A writer killed in between leaves the temp file behind. Its name
carries the writer's process token (processes.current, ':' written as ','), so a leftover whose
writer is gone is removed at once; one from another machine or an older photocap, whose writer
cannot be checked, is removed once it is older than STALE_SECONDS. A live writer's file is kept.

Callers: scanning a folder (scan.walk passes each hidden entry to remove_if_stale) and writing
into one (clean_once before the first write there).
"""

from __future__ import annotations

import os
import stat
import threading
import time

from photocap.library import processes

PREFIX = ".photocap-"
SUFFIX = ".tmp"
STALE_SECONDS = 60.0
_REMEMBERED = 4096          # folders clean_once has seen; then it starts over

_cleaned: set[str] = set()
_lock = threading.Lock()


def prefix() -> str:
    """The prefix for tempfile.mkstemp (with suffix=SUFFIX): names this process as the writer."""
    return f"{PREFIX}{processes.current().replace(':', ',')}-"


def is_ours(name: str) -> bool:
    """Whether a file name is one of photocap's temp files."""
    return name.startswith(PREFIX) and name.endswith(SUFFIX)


def is_stale(name: str, mtime: float, now: float | None = None) -> bool:
    """Whether a temp file of ours (by name and mtime) was left behind by a writer that is gone."""
    writer = name[len(PREFIX):-len(SUFFIX)].rpartition("-")[0].replace(",", ":")
    if processes.is_gone(writer):
        return True
    if processes.is_running(writer):
        return False                        # still being written, however slowly
    return (now if now is not None else time.time()) - mtime > STALE_SECONDS


def remove_if_stale(entry: os.DirEntry) -> bool:
    """Remove `entry` if it is a stale temp file of ours; True when it was removed."""
    if not is_ours(entry.name):
        return False
    try:
        st = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode) or not is_stale(entry.name, st.st_mtime):
            return False
        os.unlink(entry.path)
    except OSError:
        return False                        # gone already, or a read-only folder: nothing to do
    return True


def clean_stale(folder: str) -> int:
    """Remove the stale temp files of ours in `folder` (not below it); how many were removed."""
    try:
        with os.scandir(folder) as entries:
            return sum(remove_if_stale(entry) for entry in entries if is_ours(entry.name))
    except OSError:
        return 0


def clean_once(folder: str) -> int:
    """clean_stale, the first time this process writes into `folder` (a whole folder of photos
    written one by one must not be listed once per photo)."""
    key = os.path.abspath(folder)
    with _lock:
        if key in _cleaned:
            return 0
        if len(_cleaned) >= _REMEMBERED:
            _cleaned.clear()
        _cleaned.add(key)
    return clean_stale(key)
