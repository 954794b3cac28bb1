"""The persistent caption queue: claims, leases, retries, two workers, pause."""

import multiprocessing
import os
import signal
import socket
import time

import pytest
from helpers import wait_for

from photocap.library import db, jobs, photos, processes


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


# ---- a killed worker's claims come back at once -------------------------------------------------

CLAIMER = """
import sys
from photocap.library import db, jobs
conn = db.connect(sys.argv[1])
worker = jobs.worker_id()
print(worker, *[j.photo_id for j in jobs.claim(conn, worker, int(sys.argv[2]))], flush=True)
sys.stdin.read()                      # hold the claim until killed
"""


def start_claimer(path, n):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", CLAIMER, str(path), str(n)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    worker, *ids = proc.stdout.readline().split()
    return proc, worker, sorted(int(i) for i in ids)


@pytest.mark.timeout(60)
@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process start times come from /proc")
def test_jobs_of_a_worker_killed_with_sigkill_are_claimable_at_once(tmp_path):
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    ids = add_photos(conn, 6)
    proc, worker, claimed = start_claimer(path, 4)
    try:
        assert claimed == ids[:4] and jobs.owns(conn, worker, ids[0])
        assert [j.photo_id for j in jobs.claim(conn, "other", 10)] == ids[4:]   # alive: its claims hold
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert sorted(j.photo_id for j in jobs.claim(conn, jobs.worker_id(), 10)) == ids[:4]   # no lease wait
    assert not jobs.owns(conn, worker, ids[0])


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process start times come from /proc")
def test_a_claim_whose_pid_now_belongs_to_another_process_is_reclaimed(conn):
    (pid,) = add_photos(conn, 1)
    me = processes.current()
    host, machine, number, start = me.split(":")
    reused = f"{host}:{machine}:{number}:{int(start) - 1}:abcd1234"    # same pid, started earlier
    jobs.claim(conn, reused, 1)
    assert [j.photo_id for j in jobs.claim(conn, jobs.worker_id(), 1)] == [pid]


def test_claims_of_other_hosts_and_old_workers_wait_for_their_lease(conn):
    add_photos(conn, 2)
    jobs.claim(conn, "elsewhere:0123456789ab:1:1:abcd1234", 1)      # another machine: cannot tell
    jobs.claim(conn, f"{socket.gethostname()}:1:abcd1234", 1)         # an older photocap's worker id
    assert jobs.claim(conn, jobs.worker_id(), 10) == []


def _count(path, sql: str) -> int:
    """A count read with plain SQLite (read only: the worker may be stopped mid-write); 0 before the
    library exists."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0                                      # not made yet
    finally:
        conn.close()


def _captioned(path) -> int:
    return _count(path, "SELECT count(*) FROM photos WHERE status = 'done'")


def _claimed(path) -> int:
    return _count(path, "SELECT count(*) FROM jobs WHERE state = 'claimed'")


@pytest.mark.timeout(240)
@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process start times come from /proc")
def test_index_after_a_worker_was_killed_captions_everything_without_a_lease_wait(tmp_path, tiny_blip_dir):
    import subprocess
    import sys

    total = 300                                     # enough that the kill lands mid-run on a fast machine

    from PIL import Image

    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(total):
        Image.new("RGB", (24, 18), (i % 250, i // 250 * 60, 90)).save(pics / f"p{i:03d}.jpg")
    path = tmp_path / "lib.db"
    env = {**os.environ, "PHOTOCAP_DB": str(path), "PHOTOCAP_MODEL": str(tiny_blip_dir),
           "PHOTOCAP_NUM_BEAMS": "1", "PHOTOCAP_MIN_NEW_TOKENS": "2", "PHOTOCAP_MAX_NEW_TOKENS": "4",
           "PHOTOCAP_BATCH_SIZE": "2"}
    worker = subprocess.Popen([sys.executable, "-m", "photocap", "watch", "--once", str(pics)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Killed while it holds claims: stopped first, so the claims seen are the ones it dies with.
        for _ in range(50):
            wait_for(lambda: path.exists() and _captioned(path) and _claimed(path), timeout=150, interval=0.02)
            worker.send_signal(signal.SIGSTOP)
            if _claimed(path):
                break
            worker.send_signal(signal.SIGCONT)              # between two chunks: try again
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert 0 < _captioned(path) < total, "the worker finished before it was killed: use more photos"
    assert _claimed(path) > 0
    result = subprocess.run([sys.executable, "-m", "photocap", "index", str(pics)], env=env,
                            capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stderr
    assert _captioned(path) == total
