"""Publish a photo's caption and tags as XMP, where other photo apps read them."""

from __future__ import annotations

import os
import sqlite3
import threading

from photocap.library import paths, photos, scan, xmp

_quiet_lock = threading.Lock()
_quiet_folders: set[str] = set()     # folders already reported as unwritable, until a write works


def publish(conn: sqlite3.Connection, photo_id: int, *, sidecar: bool = True, naming: str = "digikam",
            into_file: bool = False) -> bool:
    """Write the sidecar and/or the JPEG's own XMP. False when there is nothing to write.

    Raises xmp.XmpError with a one-line reason (xmp.FolderNotWritable when the folder refuses).
    """
    photo = photos.get(conn, photo_id)
    caps = photos.captions(conn, photo_id)           # the user's caption comes first
    caption, source = (caps[0].text, caps[0].source) if caps else (None, "auto")
    tags = [t for t, _ in photos.tags(conn, photo_id)]
    if photo is None or (caption is None and not tags):
        return False
    if sidecar:
        xmp.write_sidecar(photo.path, caption, tags, naming=naming, caption_source=source)
    if into_file:
        same_file = _same_file_rows(conn, photo)
        xmp.write_into_jpeg(photo.path, caption, tags, source)
        _refresh(conn, [photo_id, *same_file], photo.path)
    _works_again(os.path.dirname(os.path.abspath(photo.path)))
    return True


def news(exc: xmp.XmpError) -> bool:
    """Whether `exc` is worth a warning: every failure is, except a folder already reported as
    unwritable (a read-only card would otherwise log one line per photo)."""
    if not isinstance(exc, xmp.FolderNotWritable):
        return True
    with _quiet_lock:
        if exc.folder in _quiet_folders:
            return False
        _quiet_folders.add(exc.folder)
        return True


def _works_again(folder: str) -> None:
    with _quiet_lock:
        if _quiet_folders:
            _quiet_folders.discard(folder)
            _quiet_folders.discard(os.path.realpath(folder))


def _same_file_rows(conn: sqlite3.Connection, photo: photos.Photo) -> list[int]:
    """Other library rows for this very file (a symlink or hard link to it): the write changes
    them too. Rows with the same content hash are the only candidates."""
    rows = conn.execute("SELECT id, path FROM photos WHERE hash = ? AND id != ?",
                        (photo.hash, photo.id)).fetchall()
    same = []
    for other_id, other_path in rows:
        try:
            if os.path.samefile(paths.from_db(other_path), photo.path):
                same.append(other_id)
        except OSError:
            continue                                 # gone or unreadable: the next scan decides
    return same


def _refresh(conn: sqlite3.Connection, photo_ids: list[int], path: str) -> None:
    """Record the file's new facts, or the next scan would take it for a changed photo."""
    try:
        info = scan.read_file(path, os.stat(path))
    except OSError as exc:
        raise xmp.XmpError(f"wrote {path} but cannot read it back: {exc.strerror or exc}") from None
    if info is not None:
        for photo_id in photo_ids:
            photos.refresh_file(conn, photo_id, info)
