"""Folder watching: watchdog observers on every root, turned into settled file changes.

A new or changed file is handed on only once it has settled: no event for `settle_seconds`, size
and mtime unchanged since the last look, and the image decodes. A slow copy or a camera import is
therefore taken once, complete. Folders where inotify cannot be used (the watch limit is reached,
a network share) are polled instead, with one log line saying why.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from photocap.library import paths
from photocap.library.images import ImageError, open_image

log = logging.getLogger(__name__)

NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb", "smb2", "smbfs", "sshfs", "fuse.sshfs", "9p",
                       "afs", "davfs", "fuse.rclone", "ncpfs", "glusterfs", "ceph"}
GIVE_UP_SECONDS = 120.0     # a file that never decodes is handed on anyway, to fail with a reason


@dataclass(frozen=True)
class Change:
    kind: str                 # "file" (appeared or changed), "closed" (a writer closed it),
    path: str                 # "dir" (a folder appeared), "deleted", or "moved" (path -> dest)
    dest: str | None = None


class _Handler(FileSystemEventHandler):
    def __init__(self, sink: "Watcher"):
        self.sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return
        if kind == "moved":
            self.sink.push(Change("moved", src, os.fsdecode(event.dest_path)))
        elif kind == "deleted":
            self.sink.push(Change("deleted", src))
        elif event.is_directory:
            if kind == "created":
                self.sink.push(Change("dir", src))
        elif kind == "closed":
            self.sink.push(Change("closed", src))
        else:
            self.sink.push(Change("file", src))


def filesystem_type(path: str) -> str | None:
    """The mount type of the filesystem holding path (Linux /proc/mounts), or None."""
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    real = os.path.realpath(path)
    best, kind = "", None
    for fields in mounts:
        if len(fields) >= 3:
            point = fields[1].replace("\\040", " ")
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                best, kind = point, fields[2]
    return kind


class Watcher:
    """Observers on a set of roots; changes queue up until `drain()` takes them."""

    def __init__(self, *, force_polling: bool = False, poll_interval: float = 2.0):
        self._changes: deque[Change] = deque()
        self._lock = threading.Lock()
        self.wakeup = threading.Event()
        self.force_polling = force_polling
        self.poll_interval = poll_interval
        self._native = Observer()
        self._polling: PollingObserver | None = None
        self._watches: dict[str, tuple[BaseObserver, ObservedWatch]] = {}   # root -> (observer, watch)
        self.modes: dict[str, str] = {}                         # root -> "native" | "polling"
        self._handler = _Handler(self)
        self._native.start()

    def push(self, change: Change) -> None:
        with self._lock:
            self._changes.append(change)
        self.wakeup.set()

    def drain(self) -> list[Change]:
        with self._lock:
            changes = list(self._changes)
            self._changes.clear()
        self.wakeup.clear()
        return changes

    def watch(self, root: str) -> bool:
        """Start watching root (again). False when it is not there (offline)."""
        self.unwatch(root)
        if not os.path.isdir(root):
            return False
        reason = None
        if self.force_polling:
            reason = "polling was asked for"
        elif (fs := filesystem_type(root)) in NETWORK_FILESYSTEMS:
            reason = f"it is on a network share ({fs}), where change notifications are unreliable"
        if reason is None:
            try:
                watch = self._native.schedule(self._handler, root, recursive=True)
                self._watches[root] = (self._native, watch)
                self.modes[root] = "native"
                return True
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    reason = ("the inotify watch limit is reached (raise fs.inotify.max_user_watches, "
                              "see `photocap doctor`)")
                elif exc.errno == errno.EMFILE:
                    reason = "the inotify instance limit is reached"
                else:
                    reason = f"change notifications failed ({exc.strerror or exc})"
        log.warning("watching %s by polling every %.0f s: %s", paths.display(root), self.poll_interval,
                    reason)
        if self._polling is None:
            self._polling = PollingObserver(timeout=self.poll_interval)
            self._polling.start()
        watch = self._polling.schedule(self._handler, root, recursive=True)
        self._watches[root] = (self._polling, watch)
        self.modes[root] = "polling"
        return True

    def unwatch(self, root: str) -> None:
        entry = self._watches.pop(root, None)
        self.modes.pop(root, None)
        if entry is not None:
            observer, watch = entry
            try:
                observer.unschedule(watch)
            except (KeyError, OSError, ValueError):
                pass        # the folder vanished and took the watch with it

    def stop(self) -> None:
        for observer in (self._native, self._polling):
            if observer is not None:
                observer.stop()
        for observer in (self._native, self._polling):
            if observer is not None and observer.is_alive():
                observer.join(timeout=5)


class Settler:
    """Says when changed files have settled (written completely).

    A file settles after `settle_seconds` without events and with the same size and mtime. When its
    writer closed it (inotify's close-write), `closed_seconds` of quiet is enough: the write is over.
    Either way the image must decode, so a truncated file keeps waiting. `clock` gives seconds on a
    monotonic scale; tests pass a fake one to settle files without waiting.
    """

    def __init__(self, settle_seconds: float = 1.0, closed_seconds: float = 0.1, *,
                 clock: Callable[[], float] = time.monotonic):
        self.settle_seconds = settle_seconds
        self.closed_seconds = min(closed_seconds, settle_seconds)
        self.clock = clock
        # path -> (last event, (size, mtime) then, first event, closed by its writer)
        self._files: dict[str, tuple[float, tuple[int, float] | None, float, bool]] = {}

    def touch(self, path: str, *, closed: bool = False) -> None:
        now = self.clock()
        first = self._files.get(path, (0.0, None, now, False))[2]
        self._files[path] = (now, _stat(path), first, closed)

    def forget(self, path: str) -> None:
        prefix = path.rstrip(os.sep) + os.sep
        for p in [p for p in self._files if p == path or p.startswith(prefix)]:
            del self._files[p]

    def __len__(self) -> int:
        return len(self._files)

    def _quiet(self, closed: bool) -> float:
        return self.closed_seconds if closed else self.settle_seconds

    def next_due(self) -> float | None:
        """Seconds until the next file may be settled, or None if nothing waits."""
        if not self._files:
            return None
        soonest = min(t + self._quiet(closed) for t, _, _, closed in self._files.values())
        return max(0.0, soonest - self.clock())

    def ready(self) -> list[str]:
        """Files that settled since the last call; vanished files are dropped."""
        now = self.clock()
        done = []
        for path, (last, seen, first, closed) in list(self._files.items()):
            if now - last < self._quiet(closed):
                continue
            current = _stat(path)
            if current is None:
                del self._files[path]                 # gone again (a temp file, a quick delete)
            elif current != seen:
                self._files[path] = (now, current, first, False)   # still growing
            elif _decodes(path) or now - first > GIVE_UP_SECONDS:
                del self._files[path]
                done.append(path)
            else:
                self._files[path] = (now, current, first, False)   # complete size, incomplete image
        return done


def _stat(path: str) -> tuple[int, float] | None:
    """Size and mtime of a regular file; None for anything else (gone, a folder, a FIFO, a device),
    which is then dropped: opening a FIFO to decode it would wait for a writer forever."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_size, st.st_mtime


def _decodes(path: str) -> bool:
    """A cheap decode at a small size: truncated images fail, other files pass (scan decides)."""
    try:
        open_image(path, max_side=64)
    except ImageError as exc:
        return not exc.transient
    return True
