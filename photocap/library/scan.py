"""Walk library folders, recognise images by their content, and reconcile them with the database.

Rescans are incremental: a file whose size and mtime are unchanged is not read again. A file that
turns up under a new path with a known content hash is the same photo, moved or renamed, and keeps
its captions. A folder that is missing, unreadable or suddenly empty (an unplugged drive, an
unmounted share) is reported offline and nothing in it is marked missing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterator

from PIL import Image

from photocap.library import metadata, paths, photos, roots, tempfiles
from photocap.library.images import HEIF
from photocap.library.db import optimize_search, write

log = logging.getLogger(__name__)

HASH_SAMPLE = 64 * 1024   # bytes hashed from each end of a file: enough to tell photos apart
CHUNK = 200               # files recorded per write transaction
# Formats that happen to share a container with images but are not photos photocap can read well.
SKIP_EXTENSIONS = {".xmp", ".nef", ".cr2", ".cr3", ".arw", ".dng", ".orf", ".rw2", ".raf", ".pef",
                   ".srw", ".mp4", ".mov", ".avi", ".mkv", ".pdf", ".psd"}

Progress = Callable[[int, str], None]   # (files looked at so far, current path)



def sniff(head: bytes) -> str | None:
    """The image format from a file's first bytes, or None when it is not an image we read."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM" and len(head) >= 14:
        return "bmp"
    if HEIF and head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"heim",
                                                         b"heis", b"mif1", b"msf1", b"avif"):
        return "heif"
    return None


def content_hash(f, size: int) -> str:
    """A hash of the size and both ends of the file: cheap on big photos, stable across moves."""
    h = hashlib.blake2b(digest_size=16)
    h.update(size.to_bytes(8, "little"))
    f.seek(0)
    h.update(f.read(HASH_SAMPLE))
    if size > 2 * HASH_SAMPLE:
        f.seek(size - HASH_SAMPLE)
        h.update(f.read(HASH_SAMPLE))
    elif size > HASH_SAMPLE:
        h.update(f.read())
    return h.hexdigest()


def read_file(path: str, st: os.stat_result) -> photos.FileInfo | None:
    """Facts about one file, or None when it is not an image. Raises OSError when unreadable."""
    with open(path, "rb") as f:
        if sniff(f.read(16)) is None:
            return None
        digest = content_hash(f, st.st_size)
        f.seek(0)
        width = height = taken = camera = description = None
        keywords: list[str] = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # DecompressionBombWarning: header only
                with Image.open(f) as img:
                    width, height = img.size
                    taken, camera = metadata.exif_facts(img)
                    description, keywords = metadata.human_text(img, path)
        except Exception as exc:  # noqa: BLE001 - a broken image is still recorded, and fails later
            log.debug("cannot read the header of %s: %s", paths.display(path), exc)
    return photos.FileInfo(size=st.st_size, mtime=st.st_mtime, hash=digest, width=width,
                           height=height, taken_at=taken, camera=camera,
                           description=description, keywords=keywords)


@dataclass
class ScanReport:
    root: str
    online: bool = True
    files: int = 0          # image files found
    added: int = 0
    updated: int = 0
    moved: int = 0
    restored: int = 0
    missing: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    added_ids: list[int] = field(default_factory=list)


def walk(root: str, errors: list[str], failed_dirs: list[str]) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files under root, following folder symlinks once (loops are cut)."""
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                continue
            seen_dirs.add(key)
            entries = list(os.scandir(folder))
        except OSError as exc:
            failed_dirs.append(folder)
            errors.append(f"cannot read folder {paths.display(folder)}: {exc.strerror or exc}")
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                tempfiles.remove_if_stale(entry)    # what a killed photocap left mid-write
                continue            # hidden files, ._ AppleDouble forks, .thumbnails, .Trash
            try:
                if entry.is_dir():
                    subdirs.append(entry.path)
                elif entry.is_file():
                    if os.path.splitext(name)[1].lower() not in SKIP_EXTENSIONS:
                        yield entry.path, entry.stat()
            except OSError as exc:
                errors.append(f"cannot read {paths.display(entry.path)}: {exc.strerror or exc}")
        stack.extend(sorted(subdirs, reverse=True))


def root_is_online(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode) and os.access(path, os.R_OK | os.X_OK)
    except OSError:
        return False


def scan_root(conn: sqlite3.Connection, root_path: str, progress: Progress | None = None) -> ScanReport:
    """Bring the database in line with one root folder on disk."""
    started = time.perf_counter()
    root = roots.add(conn, root_path)
    report = ScanReport(root=root.path)
    if not root_is_online(root.path):
        report.online = False
        report.errors.append(f"{paths.display(root.path)} is offline (missing or unreadable): nothing changed")
        roots.set_scanned(conn, root.id, online=False)
        return report

    known = {paths.from_db(r["path"]): r for r in conn.execute(
        "SELECT id, path, size, mtime, status FROM photos WHERE root_id = ?", (root.id,))}
    seen: set[str] = set()
    failed_dirs: list[str] = []
    pending: list[tuple[str, photos.FileInfo, sqlite3.Row | None]] = []
    looked_at = 0

    for path, st in walk(root.path, report.errors, failed_dirs):
        looked_at += 1
        if progress and looked_at % 50 == 0:
            progress(looked_at, path)
        row = known.get(path)
        if row is not None and row["size"] == st.st_size and row["mtime"] == st.st_mtime:
            seen.add(path)
            report.files += 1
            if row["status"] == "missing":
                photos.restore(conn, row["id"])
                report.restored += 1
            else:
                report.unchanged += 1
            continue
        try:
            info = read_file(path, st)
        except OSError as exc:
            report.errors.append(f"cannot read {paths.display(path)}: {exc.strerror or exc}")
            if row is not None:
                seen.add(path)      # still there, just unreadable now: not missing
            continue
        if info is None:
            continue
        seen.add(path)
        report.files += 1
        pending.append((path, info, row))
        if len(pending) >= CHUNK:
            _record(conn, root.id, pending, report)
            pending.clear()
    _record(conn, root.id, pending, report)

    # Re-read: photos moved during this scan already carry their new paths.
    gone = [r["id"] for r in conn.execute(
                "SELECT id, path FROM photos WHERE root_id = ? AND status != 'missing'", (root.id,))
            if paths.from_db(r["path"]) not in seen
            and not any(_inside(paths.from_db(r["path"]), d) for d in failed_dirs)]
    vanished = not root_is_online(root.path)      # unplugged while we walked it
    looks_unmounted = looked_at == 0               # an empty mount point where photos were
    if gone and (vanished or looks_unmounted):
        report.online = False
        report.errors.append(f"{paths.display(root.path)} looks offline or unmounted: nothing marked missing")
    else:
        photos.mark_missing(conn, gone)
        report.missing = len(gone)
    optimize_search(conn, report.added + report.updated + report.moved + report.missing)
    roots.set_scanned(conn, root.id, online=report.online)
    if progress:
        progress(looked_at, "")
    report.seconds = time.perf_counter() - started
    return report


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _record(conn: sqlite3.Connection, root_id: int,
            batch: list[tuple[str, photos.FileInfo, sqlite3.Row | None]], report: ScanReport) -> None:
    """Write one chunk of new or changed files in a single transaction."""
    if not batch:
        return
    with write(conn):
        for path, info, row in batch:
            if row is not None:
                photos.update_file(conn, row["id"], info)
                report.updated += 1
                continue
            moved_from = _moved_photo(conn, info.hash)
            if moved_from is not None:
                photos.move(conn, moved_from, path, root_id)
                report.moved += 1
            else:
                report.added_ids.append(photos.add(conn, path, info, root_id))
                report.added += 1


def _moved_photo(conn: sqlite3.Connection, digest: str) -> int | None:
    """A known photo with this content whose file is no longer where the library says."""
    for row in conn.execute("SELECT id, path, status FROM photos WHERE hash = ?", (digest,)):
        if row["status"] == "missing" or not os.path.lexists(paths.from_db(row["path"])):
            return row["id"]
    return None


def scan(conn: sqlite3.Connection, folders: list[str], progress: Progress | None = None) -> list[ScanReport]:
    return [scan_root(conn, folder, progress) for folder in folders]


# ---- single changes, as a folder watcher reports them -------------------------------------------

def root_of(conn: sqlite3.Connection, path: str) -> roots.Root | None:
    for root in roots.all_roots(conn):
        if path == root.path or _inside(path, root.path):
            return root
    return None


def ingest(conn: sqlite3.Connection, file_paths: list[str]) -> ScanReport:
    """Record files that appeared or changed (new, changed, or moved in from elsewhere)."""
    report = ScanReport(root="")
    batch = []
    for path in file_paths:
        root = root_of(conn, path)
        if root is None or os.path.basename(path).startswith(".") \
                or os.path.splitext(path)[1].lower() in SKIP_EXTENSIONS:
            continue
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            row = conn.execute("SELECT id, size, mtime, status FROM photos WHERE path = ?",
                               (paths.to_db(path),)).fetchone()
            if row is not None and row["size"] == st.st_size and row["mtime"] == st.st_mtime:
                if row["status"] == "missing":
                    photos.restore(conn, row["id"])
                    report.restored += 1
                continue
            info = read_file(path, st)
        except OSError as exc:
            report.errors.append(f"cannot read {paths.display(path)}: {exc.strerror or exc}")
            continue
        if info is not None:
            report.files += 1
            batch.append((root.id, path, info, row))
    with write(conn):
        for root_id, path, info, row in batch:
            _record(conn, root_id, [(path, info, row)], report)
    return report


def forget(conn: sqlite3.Connection, path: str) -> int:
    """A file or folder was deleted: its photos leave search (kept as missing, captions and all)."""
    prefix = path.rstrip(os.sep) + os.sep
    ids = [r[0] for r in conn.execute(
        "SELECT id, path FROM photos WHERE status != 'missing' AND (path = ? OR substr(path, 1, ?) = ?)",
        (paths.to_db(path), len(prefix), prefix))]
    photos.mark_missing(conn, ids)
    return len(ids)


def moved(conn: sqlite3.Connection, src: str, dest: str) -> int:
    """A file or folder was renamed or moved inside the library: its photos follow."""
    prefix = src.rstrip(os.sep) + os.sep
    rows = conn.execute(
        "SELECT id, path FROM photos WHERE path = ? OR substr(path, 1, ?) = ?",
        (paths.to_db(src), len(prefix), prefix)).fetchall()
    dest_root = root_of(conn, dest)
    with write(conn):
        for row in rows:
            old = paths.from_db(row["path"])
            new = dest if old == src else os.path.join(dest, old[len(prefix):])
            photos.move(conn, row["id"], new, dest_root.id if dest_root else None)
    return len(rows)
