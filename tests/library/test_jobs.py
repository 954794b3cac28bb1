"""The persistent caption queue: claims, leases, retries, two workers, pause."""

import multiprocessing
import time

import pytest

from photocap.library import db, jobs, photos


@pytest.fixture
def conn(tmp_path):
    return db.connect(tmp_path / "lib.db")


def add_photos(conn, n):
    return [photos.add(conn, f"/p/{i}.jpg", photos.FileInfo(1, 1.0, f"h{i}"), None) for i in range(n)]


def test_every_pending_photo_has_exactly_one_job(conn):
    ids = add_photos(conn, 3)
    assert jobs.counts(conn)["jobs"] == 3
    photos.set_auto_captions(conn, ids[0], ["x"], model="m")
    photos.mark_missing(conn, [ids[1]])
    assert jobs.counts(conn)["jobs"] == 1
    photos.update_file(conn, ids[0], photos.FileInfo(2, 2.0, "new content"))
    photos.update_file(conn, ids[0], photos.FileInfo(3, 3.0, "newer content"))
    assert jobs.counts(conn)["jobs"] == 2


def test_claims_do_not_overlap_and_expired_leases_return(conn):
    add_photos(conn, 5)
    a = jobs.claim(conn, "a", 3)
    b = jobs.claim(conn, "b", 3)
    assert len(a) == 3 and len(b) == 2
    assert not {j.photo_id for j in a} & {j.photo_id for j in b}
    assert jobs.claim(conn, "c", 10) == []
    conn.execute("UPDATE jobs SET lease_until = 0 WHERE claimed_by = 'a'")     # a was killed
    assert sorted(j.photo_id for j in jobs.claim(conn, "c", 10)) == sorted(j.photo_id for j in a)


def test_release_returns_claims(conn):
    add_photos(conn, 2)
    jobs.claim(conn, "a", 5)
    assert jobs.release(conn, "a") == 2
    assert len(jobs.claim(conn, "b", 5)) == 2


def test_transient_failures_back_off_then_fail_with_the_reason(conn):
    (pid,) = add_photos(conn, 1)
    for attempt in range(1, jobs.MAX_ATTEMPTS):
        (job,) = jobs.claim(conn, "w", 1)
        assert jobs.fail(conn, "w", pid, "still being written", transient=True)
        assert jobs.claim(conn, "w", 1) == []               # not before its backoff
        not_before = conn.execute("SELECT not_before FROM jobs").fetchone()[0]
        assert not_before > time.time() + jobs.BACKOFF_BASE * 2 ** (attempt - 1) - 1
        conn.execute("UPDATE jobs SET not_before = 0")
    jobs.claim(conn, "w", 1)
    assert not jobs.fail(conn, "w", pid, "still being written", transient=True)
    p = photos.get(conn, pid)
    assert (p.status, p.error) == ("failed", "still being written")
    assert jobs.counts(conn)["jobs"] == 0


def test_permanent_failure_fails_at_once_and_retry_failed_requeues(conn):
    (pid,) = add_photos(conn, 1)
    jobs.claim(conn, "w", 1)
    assert not jobs.fail(conn, "w", pid, "not an image", transient=False)
    assert photos.get(conn, pid).status == "failed"
    assert jobs.retry_failed(conn) == 1
    assert [j.photo_id for j in jobs.claim(conn, "w", 1)] == [pid]


def test_a_worker_that_lost_its_lease_does_not_own_the_job(conn):
    (pid,) = add_photos(conn, 1)
    jobs.claim(conn, "a", 1)
    conn.execute("UPDATE jobs SET lease_until = 0")
    jobs.claim(conn, "b", 1)
    assert not jobs.owns(conn, "a", pid) and jobs.owns(conn, "b", pid)
    assert not jobs.fail(conn, "a", pid, "x", transient=False)
    assert photos.get(conn, pid).status == "pending"


def test_pause_is_shared_through_the_database(tmp_path):
    one = db.connect(tmp_path / "lib.db")
    two = db.connect(tmp_path / "lib.db")
    assert not jobs.paused(two)
    jobs.set_paused(one, True)
    assert jobs.paused(two)
    jobs.set_paused(one, False)
    assert not jobs.paused(two)


def _claim_all(path, worker, out):
    conn = db.connect(path)
    got = []
    while batch := jobs.claim(conn, worker, 3):
        got += [j.photo_id for j in batch]
        photos_done = [(j.photo_id,) for j in batch]
        with db.write(conn):
            conn.executemany("UPDATE photos SET status='done' WHERE id=?", photos_done)
    out.put(got)


def test_two_processes_never_claim_the_same_photo(tmp_path):
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    ids = add_photos(conn, 300)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(path, f"w{i}", out)) for i in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    claimed = results[0] + results[1]
    assert sorted(claimed) == sorted(ids)          # all of them, none twice
    assert photos.counts(conn)["captioned"] == 300
