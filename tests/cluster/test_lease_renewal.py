"""The driver renews the leases of the photos still in flight while the cluster works (actors starting, a
slow node), so no other run takes them meanwhile; a photo whose result was recorded is not renewed."""

from __future__ import annotations

import time

from helpers import make_photos

from photocap import cluster
from photocap.library import db, jobs, scan

LEASE = 0.5                  # seconds: the claims below would expire at once without renewal


def _claimed_library(tmp_path, n: int):
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    make_photos(tmp_path / "pics", n)
    scan.scan(conn, [str(tmp_path / "pics")])
    claimed = jobs.claim(conn, jobs.worker_id(), n, lease=LEASE)
    assert len(claimed) == n
    return path, conn, {j.photo_id for j in claimed}


def test_leases_in_flight_are_renewed_and_finished_ones_are_not(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "RENEW_SECONDS", 0.05)
    path, conn, ids = _claimed_library(tmp_path, 3)
    driver = conn.execute("SELECT DISTINCT claimed_by FROM jobs").fetchone()[0]
    finished = min(ids)
    with cluster._Renewer(path, driver, ids) as renewer:
        renewer.done(finished)                       # its result is recorded: no more renewals
        time.sleep(LEASE * 3)
        taken = {j.photo_id for j in jobs.claim(conn, jobs.worker_id(), 10)}
    assert taken == {finished}                       # another run takes only the one left to expire
    conn.close()


def test_without_renewal_another_run_takes_every_expired_claim(tmp_path):
    path, conn, ids = _claimed_library(tmp_path, 3)
    time.sleep(LEASE * 3)
    assert {j.photo_id for j in jobs.claim(conn, jobs.worker_id(), 10)} == ids
    conn.close()
