"""Walk library folders, recognise images by their content, and reconcile them with the database.

Rescans are incremental: a file whose size and mtime are unchanged is not read again. A file that
turns up under a new path with a known content hash is the same photo, moved or renamed, and keeps
its captions. A folder that is missing, unreadable, or an empty mount point on another device than
the one recorded (an unplugged drive, an unmounted share) is reported offline and nothing in it is
marked missing; an emptied folder on its own drive is not offline: its photos were deleted.

Only regular files are ever opened (never a FIFO or a device, which could block forever), and links
that lead out of a library folder are not followed unless `follow_links` asks for it.
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

from photocap.library import files, metadata, paths, photos, roots, tempfiles
from photocap.library.db import optimize_search, write
from photocap.library.images import HEIF

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
    with files.open_regular(path) as f:      # never a FIFO or device: those could block forever
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
    removed: bool = False   # the folder left the library before or while it was scanned: nothing more recorded


def walk(root: str, errors: list[str], failed_dirs: list[str], *, follow_links: bool = False,
         boundary: str | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files under root. Links are followed while they stay inside `boundary` (the library
    folder; default root), and anywhere with `follow_links`; folder loops are cut."""
    limit = os.path.realpath(boundary or root)
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
                if not follow_links and entry.is_symlink() and not within(entry.path, limit):
                    continue        # e.g. a link to / or /proc: the system's files are not photos
                if entry.is_dir():
                    subdirs.append(entry.path)
                elif entry.is_file():
                    if os.path.splitext(name)[1].lower() not in SKIP_EXTENSIONS:
                        yield entry.path, entry.stat()
            except OSError as exc:
                errors.append(f"cannot read {paths.display(entry.path)}: {exc.strerror or exc}")
        stack.extend(sorted(subdirs, reverse=True))


def within(path: str, real_folder: str) -> bool:
    """Does path, links resolved, lie in (or at) real_folder (a resolved path)?"""
    real = os.path.realpath(path)
    return real == real_folder or roots.inside(real, real_folder)


def scan_root(conn: sqlite3.Connection, root_path: str, progress: Progress | None = None, *,
              follow_links: bool = False, add: bool = True) -> ScanReport:
    """Bring the database in line with one root folder on disk (adding it first, unless `add` is False:
    a watcher rescanning the folders it knows must not bring back one the user removed meanwhile)."""
    started = time.perf_counter()
    found = roots.add(conn, root_path) if add else roots.by_path(conn, root_path)
    if found is None:
        return ScanReport(root=roots.normalize(root_path), removed=True)
    root = found
    report = ScanReport(root=root.path)
    if not roots.present(conn, root):
        report.online = False
        report.errors.append(f"{paths.display(root.path)} is offline (missing, unreadable, or its drive "
                             "is not mounted): nothing changed")
        roots.set_scanned(conn, root.id, online=False)
        return report

    known = {paths.from_db(r["path"]): r for r in conn.execute(
        "SELECT id, path, size, mtime, status FROM photos WHERE root_id = ?", (root.id,))}
    seen: set[str] = set()
    failed_dirs: list[str] = []
    pending: list[tuple[str, photos.FileInfo]] = []
    looked_at = 0

    for path, st in walk(root.path, report.errors, failed_dirs, follow_links=follow_links):
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
        pending.append((path, info))
        if len(pending) >= CHUNK:
            report.removed = not _record(conn, root.id, pending, report)
            pending.clear()
            if report.removed:
                break
    if report.removed or not _record(conn, root.id, pending, report):
        report.removed = True
        report.seconds = time.perf_counter() - started
        return report

    # Re-read: photos moved during this scan already carry their new paths.
    gone = [r["id"] for r in conn.execute(
                "SELECT id, path FROM photos WHERE root_id = ? AND status != 'missing'", (root.id,))
            if paths.from_db(r["path"]) not in seen
            and not any(_inside(paths.from_db(r["path"]), d) for d in failed_dirs)]
    if gone and not roots.present(conn, root):      # unplugged while we walked it
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
    return roots.inside(path, folder)


def _record(conn: sqlite3.Connection, root_id: int | None, batch: list[tuple[str, photos.FileInfo]],
            report: ScanReport) -> bool:
    """Write one chunk of new or changed files in a single transaction; False (nothing written) when
    their folder left the library meanwhile.

    What the library holds is read again inside the transaction: another process (a second
    `index`, the app, the daemon) may have recorded the same files since this scan looked.
    """
    if not batch:
        return True
    with write(conn):
        if conn.execute("SELECT 1 FROM roots WHERE id = ?", (root_id,)).fetchone() is None:
            root = root_of(conn, batch[0][0])      # merged into a folder added meanwhile
            if root is None:                       # removed meanwhile: its photos are not wanted
                return False
            root_id = root.id
        for path, info in batch:
            _record_one(conn, root_id, path, info, report)
    return True


def _record_one(conn: sqlite3.Connection, root_id: int | None, path: str, info: photos.FileInfo,
                report: ScanReport) -> None:
    row = conn.execute("SELECT id, size, mtime, hash, status, root_id FROM photos WHERE path = ?",
                       (paths.to_db(path),)).fetchone()
    if row is None:
        moved_from = _moved_photo(conn, info.hash)
        if moved_from is not None:
            photos.move(conn, moved_from, path, root_id)
            report.moved += 1
        else:
            report.added_ids.append(photos.add(conn, path, info, root_id))
            report.added += 1
        return
    if row["root_id"] != root_id and root_id is not None:
        conn.execute("UPDATE photos SET root_id = ? WHERE id = ?", (root_id, row["id"]))
    if (row["size"], row["mtime"], row["hash"]) != (info.size, info.mtime, info.hash):
        photos.update_file(conn, row["id"], info)
        report.updated += 1
    elif row["status"] == "missing":
        photos.restore(conn, row["id"])
        report.restored += 1
    else:
        report.unchanged += 1          # recorded meanwhile by another process


def _moved_photo(conn: sqlite3.Connection, digest: str) -> int | None:
    """A known photo with this content whose file is no longer where the library says."""
    for row in conn.execute("SELECT id, path, status FROM photos WHERE hash = ?", (digest,)):
        if row["status"] == "missing" or not os.path.lexists(paths.from_db(row["path"])):
            return row["id"]
    return None


def scan(conn: sqlite3.Connection, folders: list[str], progress: Progress | None = None, *,
         follow_links: bool = False) -> list[ScanReport]:
    """Scan folders (adding them first); a folder inside one scanned before is not scanned twice."""
    for folder in folders:
        roots.add(conn, folder)        # all refusals (a file, a typo) before any long scan
    done: set[int] = set()
    reports = []
    for folder in folders:
        root = roots.add(conn, folder)
        if root.id not in done:
            done.add(root.id)
            reports.append(scan_root(conn, root.path, progress, follow_links=follow_links))
    return reports


# ---- single changes, as a folder watcher reports them -------------------------------------------

def root_of(conn: sqlite3.Connection, path: str) -> roots.Root | None:
    for root in roots.all_roots(conn):
        if path == root.path or _inside(path, root.path):
            return root
    return None


def ingest(conn: sqlite3.Connection, file_paths: list[str], *, follow_links: bool = False) -> ScanReport:
    """Record files that appeared or changed (new, changed, or moved in from elsewhere)."""
    report = ScanReport(root="")
    batch = []
    for path in file_paths:
        root = root_of(conn, path)
        if root is None or os.path.basename(path).startswith(".") \
                or os.path.splitext(path)[1].lower() in SKIP_EXTENSIONS:
            continue
        if not follow_links and not within(path, os.path.realpath(root.path)):
            continue            # a link out of the library folder
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
            batch.append((root.id, path, info))
    with write(conn):
        for root_id, path, info in batch:
            _record(conn, root_id, [(path, info)], report)
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
