"""What the app changes in the library, as plain functions of a connection. No Qt here.

They run on the app's edit lane; each is one short transaction, or a few.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from photocap.library import jobs, photos, roots
from photocap.library.db import write


@dataclass(frozen=True)
class CaptionEdit:
    """What the user changed in the details pane of one photo."""
    photo_id: int
    caption: str | None = None             # new text of the user's caption; None: unchanged
    approved: bool = True
    approve_caption_id: int | None = None  # an existing caption whose approval flips
    added_tags: list[str] = field(default_factory=list)
    removed_tags: list[str] = field(default_factory=list)


def save_edit(conn: sqlite3.Connection, edit: CaptionEdit) -> int:
    """Store the user's caption and tags in one transaction; re-captioning never overwrites them."""
    with write(conn):
        if edit.caption is not None:
            photos.set_user_caption(conn, edit.photo_id, edit.caption, approved=edit.approved)
        elif edit.approve_caption_id is not None:
            photos.approve_caption(conn, edit.approve_caption_id, edit.approved)
        if edit.removed_tags:
            photos.remove_tags(conn, edit.photo_id, edit.removed_tags)
        if edit.added_tags:
            photos.add_user_tags(conn, edit.photo_id, edit.added_tags)
    return edit.photo_id


def requeue(conn: sqlite3.Connection, photo_ids: list[int]) -> list[int]:
    """Caption these photos again (the worker picks them up); the user's own captions stay."""
    for photo_id in photo_ids:
        photos.set_status(conn, photo_id, "pending")
    return photo_ids


def forget_photos(conn: sqlite3.Connection, photo_ids: list[int]) -> list[int]:
    photos.remove(conn, photo_ids)
    return photo_ids


def add_folder(conn: sqlite3.Connection, path: str) -> str:
    """Register a folder; the librarian notices it within seconds, scans and watches it."""
    return roots.add(conn, path).path


def remove_folder(conn: sqlite3.Connection, path: str) -> int:
    return roots.remove(conn, path, forget=True)     # the app's dialog says captions are forgotten


def set_paused(conn: sqlite3.Connection, paused: bool) -> bool:
    jobs.set_paused(conn, paused)
    return paused


def approve_photos(conn: sqlite3.Connection, photo_ids: list[int]) -> int:
    """Approve the first machine caption of each photo still to review (a user's caption and one
    approved already stay as they are); how many changed. One transaction: callers chunk large sets."""
    return photos.approve_todo(conn, photo_ids)


def reset_review(conn: sqlite3.Connection, photo_ids: list[int]) -> int:
    """Back to review: machine captions unapproved (a user's caption stays); how many changed."""
    return photos.reset_review(conn, photo_ids)
