"""A cluster with no room for the caption workers (busy with other work, or a node gone): Ray waits for room
without a word and without end. The driver says what it waits for, and a stop (Ctrl+C, SIGTERM) ends the
wait at once with the claims given back; the photos are captioned once there is room."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from cluster_helpers import claimed_jobs, library_rows
from helpers import make_photos, wait_for

from photocap.cluster import ClusterOptions, ClusterRun
from photocap.config import Settings
from photocap.engine import Engine


@pytest.mark.timeout(240)
def test_a_cluster_without_room_says_so_and_a_stop_ends_the_wait(tmp_path, ray_local, tiny_blip_dir, tiny_itm_dir,
                                                                  caplog):
    ray = ray_local

    @ray.remote(num_cpus=2)
    class OtherWork:                  # another job on the cluster, holding 2 of its 3 CPUs
        def ping(self) -> int:
            return 1

    other = OtherWork.remote()
    ray.get(other.ping.remote())
    make_photos(tmp_path / "pics", 4)
    settings = Settings(db=str(tmp_path / "lib.db"), model=str(tiny_blip_dir), embed_model=str(tiny_itm_dir),
                        min_new_tokens=2, max_new_tokens=4, num_beams=1, batch_size=2)
    stop = threading.Event()
    done: list = []
    caplog.set_level(logging.WARNING, logger="photocap.cluster")
    with Engine(settings) as engine:
        engine.index([str(tmp_path / "pics")])
        with ClusterRun(engine, ClusterOptions(address="auto", stall_seconds=1.0)) as run:
            assert run.plan is not None and run.plan.threads == 2        # one node of 3 CPUs: 2 threads
            driver = threading.Thread(target=lambda: done.append(run.run(stop)), daemon=True)
            driver.start()
            assert wait_for(lambda: "waits for room" in caplog.text, timeout=60), caplog.text
            said = [r.getMessage() for r in caplog.records if "waits for room" in r.getMessage()]
            assert len(said) == 1 and "\n" not in said[0]
            assert "each caption worker needs 2 CPUs" in said[0] and "of its 3 CPUs free" in said[0]
            assert "Ctrl+C" in said[0]
            assert claimed_jobs(settings.db) == 4                        # in flight, leases renewed

            asked = time.monotonic()
            stop.set()
            driver.join(30)
            assert not driver.is_alive(), "the run went on waiting for room after it was stopped"
            assert time.monotonic() - asked < 10
            assert done[0].interrupted and done[0].base.done == 0
            assert claimed_jobs(settings.db) == 0                        # back in the queue at once
            assert {row["status"] for row in library_rows(settings.db).values()} == {"pending"}

            # Room again: the same connection captions every photo, once.
            ray.kill(other)
            progress = run.run()
    assert progress.base.done == 4 and not progress.interrupted
    assert [len(row["captions"]) for row in library_rows(settings.db).values()] == [1] * 4
