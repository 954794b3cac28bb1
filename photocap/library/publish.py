"""Publish a photo's caption and tags as XMP, where other photo apps read them."""

from __future__ import annotations

import os
import sqlite3

from photocap.library import photos, scan, xmp


def publish(conn: sqlite3.Connection, photo_id: int, *, sidecar: bool = True, naming: str = "digikam",
            into_file: bool = False) -> bool:
    """Write the sidecar and/or the JPEG's own XMP. False when there is nothing to write.

    Raises xmp.XmpError with a one-line reason.
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
        xmp.write_into_jpeg(photo.path, caption, tags, source)
        # Record the file's new facts, or the next scan would take it for a changed photo.
        info = scan.read_file(photo.path, os.stat(photo.path))
        if info is not None:
            photos.refresh_file(conn, photo_id, info)
    return True
