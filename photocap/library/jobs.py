"""The persistent caption queue, in the library database.

A job is a pending photo. Workers claim jobs with a lease and renew it while they work; a job whose
lease ran out is claimable again, so nothing is lost and nothing stays stuck. A worker's id names
its process (processes.current), so the jobs of a process of this machine that is gone (killed,
crashed) are claimable at once, without waiting out the lease. A claim is one UPDATE inside
BEGIN IMMEDIATE, so two processes never get the same photo.
Transient failures (a file still being written, busy, out of memory) go back to the queue with
exponential backoff; the rest fail the photo with a reason.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass

from photocap.library import paths, photos, processes
from photocap.library.db import get_setting, now, set_setting, write

LEASE_SECONDS = 300.0
MAX_ATTEMPTS = 5
BACKOFF_BASE = 2.0       # seconds; doubles per attempt
BACKOFF_MAX = 600.0

log = logging.getLogger(__name__)


def worker_id() -> str:
    """A name for this worker, unique across processes and hosts: its process's token and a random part."""
    return f"{processes.current()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Job:
    photo_id: int
    path: str
    attempts: int


def claim(conn: sqlite3.Connection, worker: str, limit: int, *,
          lease: float = LEASE_SECONDS) -> list[Job]:
    """Take up to `limit` ready jobs (queued and due, with an expired lease, or held by a dead process)."""
    t = now()
    with write(conn):
        reclaim_dead(conn)
        rows = conn.execute(
            "SELECT j.photo_id, p.path, j.attempts FROM jobs j JOIN photos p ON p.id = j.photo_id"
            " WHERE (j.state = 'queued' AND j.not_before <= ?) OR (j.state = 'claimed' AND j.lease_until < ?)"
            " ORDER BY j.not_before, j.photo_id LIMIT ?", (t, t, limit)).fetchall()
        conn.executemany(
            "UPDATE jobs SET state='claimed', claimed_by=?, lease_until=? WHERE photo_id=?",
            [(worker, t + lease, r[0]) for r in rows])
    return [Job(photo_id=r[0], path=paths.from_db(r[1]), attempts=r[2]) for r in rows]


def reclaim_dead(conn: sqlite3.Connection) -> int:
    """Queue again the jobs claimed by processes of this machine that are gone; how many."""
    with write(conn):
        workers = [r[0] for r in conn.execute(
            "SELECT DISTINCT claimed_by FROM jobs WHERE state = 'claimed' AND claimed_by IS NOT NULL")]
        back = 0
        for worker in workers:
            if processes.is_gone(worker.rpartition(":")[0]):
                back += conn.execute("UPDATE jobs SET state='queued', claimed_by=NULL, lease_until=NULL"
                                     " WHERE claimed_by=? AND state='claimed'", (worker,)).rowcount
                log.info("took back the photos of %s: its process is gone", worker)
    return back


def renew(conn: sqlite3.Connection, worker: str, photo_ids: list[int], *,
          lease: float = LEASE_SECONDS) -> None:
    with write(conn):
        conn.executemany("UPDATE jobs SET lease_until=? WHERE photo_id=? AND claimed_by=?",
                         [(now() + lease, i, worker) for i in photo_ids])


def owns(conn: sqlite3.Connection, worker: str, photo_id: int) -> bool:
    """Whether this worker still holds the job (call inside the write that records the result)."""
    return conn.execute("SELECT 1 FROM jobs WHERE photo_id=? AND claimed_by=? AND state='claimed'",
                        (photo_id, worker)).fetchone() is not None


def fail(conn: sqlite3.Connection, worker: str, photo_id: int, reason: str, *,
         transient: bool) -> bool:
    """Record a failure; True when the job will be retried, False when the photo failed for good."""
    with write(conn):
        row = conn.execute("SELECT attempts FROM jobs WHERE photo_id=? AND claimed_by=?",
                           (photo_id, worker)).fetchone()
        if row is None:
            return False                       # lost the lease: the new owner decides
        attempts = row[0] + 1
        if transient and attempts < MAX_ATTEMPTS:
            delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempts - 1))
            conn.execute("UPDATE jobs SET state='queued', claimed_by=NULL, lease_until=NULL,"
                         " attempts=?, not_before=?, last_error=? WHERE photo_id=?",
                         (attempts, now() + delay, reason, photo_id))
            return True
        photos.set_status(conn, photo_id, "failed", reason)    # its trigger removes the job
        return False


def release(conn: sqlite3.Connection, worker: str, photo_ids: list[int] | None = None) -> int:
    """Give claimed jobs back untouched (shutdown, model unavailable)."""
    with write(conn):
        if photo_ids is None:
            cur = conn.execute("UPDATE jobs SET state='queued', claimed_by=NULL, lease_until=NULL"
                               " WHERE claimed_by=?", (worker,))
        else:
            cur = conn.executemany("UPDATE jobs SET state='queued', claimed_by=NULL, lease_until=NULL"
                                   " WHERE claimed_by=? AND photo_id=?", [(worker, i) for i in photo_ids])
        return cur.rowcount


def retry_failed(conn: sqlite3.Connection) -> int:
    """Queue every failed photo again (e.g. after installing a model or fixing files)."""
    with write(conn):
        ids = [r[0] for r in conn.execute("SELECT id FROM photos WHERE status = 'failed'")]
        for photo_id in ids:
            photos.set_status(conn, photo_id, "pending")       # its trigger queues the job
    return len(ids)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    t = now()
    row = conn.execute(
        "SELECT count(*), sum(state='claimed' AND lease_until >= ?), sum(state='queued' AND not_before > ?)"
        " FROM jobs", (t, t)).fetchone()
    return {"jobs": row[0], "claimed": row[1] or 0, "waiting_retry": row[2] or 0}


# ---- pause / resume: shared by every process on the library ------------------------------------

def paused(conn: sqlite3.Connection) -> bool:
    return get_setting(conn, "captioning_paused", "0") == "1"


def set_paused(conn: sqlite3.Connection, value: bool) -> None:
    set_setting(conn, "captioning_paused", "1" if value else "0")
