"""`photocap watch` as users run it: real processes, real folders, a tiny real model, real signals."""

import json
import os
import shutil
import signal
import sqlite3
import threading

import pytest
from helpers import FakeClock, make_photos, run_photocap, start_photocap, tiny_model_env, wait_for

from photocap import config, daemon
from photocap.engine import Engine
from photocap.library import db, photos

DAEMON_TIMEOUT = 90.0       # the daemon loads a model first; on two busy cores that takes a while


@pytest.fixture
def env(tmp_path, tiny_blip_dir):
    return tiny_model_env(tmp_path / "lib.db", tiny_blip_dir, BATCH_SIZE="4", SETTLE_SECONDS="0.3")


def photocap(env, *args, timeout=180):
    return run_photocap(env, *args, timeout=timeout)


def start_daemon(env, *args):
    return start_photocap(env, "watch", *args)


def status(env):
    return json.loads(photocap(env, "status", "--json").stdout)


def wait_for_status(predicate, timeout=DAEMON_TIMEOUT):
    """Poll a condition that runs `photocap status` (a process each time), a little apart."""
    return wait_for(predicate, timeout, interval=0.2)


def watching(env) -> bool:
    return os.path.exists(env["PHOTOCAP_DB"]) and bool(status(env)["roots"])


def auto_caption_counts(db_path):
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT p.id, count(c.id) FROM photos p LEFT JOIN captions c"
                        " ON c.photo_id = p.id AND c.source = 'auto' GROUP BY p.id").fetchall()
    ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    return [n for _, n in rows], ok


def test_once_captions_everything_and_exits(tmp_path, env):
    make_photos(tmp_path / "pics", 10)
    result = photocap(env, "watch", str(tmp_path / "pics"), "--once")
    assert result.returncode == 0, result.stderr
    s = status(env)
    assert (s["photos"], s["captioned"], s["pending"]) == (10, 10, 0)
    assert "captioned" in result.stderr and "Traceback" not in result.stderr


def test_daemon_captions_new_files_and_stops_cleanly_on_sigterm(tmp_path, env):
    pics = tmp_path / "pics"
    pics.mkdir()
    proc = start_daemon(env, str(pics))
    try:
        assert wait_for_status(lambda: watching(env), timeout=60)
        make_photos(pics, 12)
        assert wait_for_status(lambda: status(env)["captioned"] == 12), status(env)
        hits = json.loads(photocap(env, "search", "p0003", "--json").stdout)
        assert hits and hits[0]["caption"]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopped" in out and "Traceback" not in out
    conn = sqlite3.connect(env["PHOTOCAP_DB"])
    assert conn.execute("SELECT count(*) FROM jobs WHERE state = 'claimed'").fetchone()[0] == 0


def test_burst_of_500_files_is_captioned_completely(tmp_path, env):
    pics = tmp_path / "pics"
    pics.mkdir()
    proc = start_daemon(env, str(pics), "--quiet")
    try:
        assert wait_for_status(lambda: watching(env), timeout=60)
        make_photos(pics, 500, size=(24, 18))
        done = wait_for_status(lambda: status(env)["captioned"] == 500, timeout=240)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert done, (status(env), out[-3000:])
    counts, ok = auto_caption_counts(env["PHOTOCAP_DB"])
    assert counts == [1] * 500 and ok == "ok"


def test_kill_9_mid_batch_loses_nothing_and_duplicates_nothing(tmp_path, env):
    pics = tmp_path / "pics"
    make_photos(pics, 200)
    assert photocap(env, "index", "--no-caption", str(pics)).returncode == 0
    env = {**env, "PHOTOCAP_BATCH_SIZE": "2"}
    proc = start_daemon(env, "--debug")

    def captioned() -> int:     # read the library directly: a `status` process is slower than a batch
        conn = sqlite3.connect(f"file:{env['PHOTOCAP_DB']}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute("SELECT count(*) FROM photos WHERE status = 'done'").fetchone()[0]
        finally:
            conn.close()

    try:
        assert wait_for(lambda: 0 < captioned(), timeout=120, interval=0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    before = status(env)["captioned"]
    assert before < 200, "the daemon finished before it could be killed: use more photos"
    conn = sqlite3.connect(env["PHOTOCAP_DB"])
    conn.execute("UPDATE jobs SET lease_until = 0 WHERE state = 'claimed'")   # skip the lease wait
    conn.commit()
    conn.close()
    result = photocap(env, "watch", "--once")
    assert result.returncode == 0, result.stderr
    counts, ok = auto_caption_counts(env["PHOTOCAP_DB"])
    assert counts == [1] * 200 and ok == "ok"
    assert status(env)["captioned"] == 200


def test_two_workers_on_one_library_never_caption_a_photo_twice(tmp_path, env):
    pics = tmp_path / "pics"
    make_photos(pics, 60)
    assert photocap(env, "index", "--no-caption", str(pics)).returncode == 0
    procs = [start_photocap(env, "watch", "--once") for _ in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    captioned = [line.split("captioned ", 1)[1].split(":")[0]
                 for out in outs for line in out.splitlines() if " INFO captioned /" in line]
    assert len(captioned) == 60 and len(set(captioned)) == 60
    counts, ok = auto_caption_counts(env["PHOTOCAP_DB"])
    assert counts == [1] * 60 and ok == "ok"


def test_pause_and_resume(tmp_path, env):
    pics = tmp_path / "pics"
    make_photos(pics, 5)
    assert photocap(env, "index", "--no-caption", str(pics)).returncode == 0
    assert photocap(env, "pause").stdout.strip() == "captioning paused"
    assert photocap(env, "watch", "--once").returncode == 0
    assert status(env)["captioned"] == 0
    assert photocap(env, "resume").returncode == 0
    assert photocap(env, "watch", "--once").returncode == 0
    assert status(env)["captioned"] == 5


def test_no_model_keeps_photos_queued_with_a_clear_message(tmp_path, env):
    pics = tmp_path / "pics"
    make_photos(pics, 3)
    env = {**env, "PHOTOCAP_MODEL": "blip-base", "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "empty-hf")}
    result = photocap(env, "index", str(pics))
    assert result.returncode == 0
    assert "3 photos wait for captions" in result.stderr and "photocap models pull" in result.stderr
    assert "Traceback" not in result.stderr
    s = status(env)
    assert (s["pending"], s["captioned"]) == (3, 0)


def test_watching_the_parent_of_an_indexed_folder(tmp_path, env):
    pictures = tmp_path / "Pictures"
    make_photos(pictures / "Trip", 3)
    assert photocap(env, "index", "--no-caption", str(pictures / "Trip")).returncode == 0
    proc = start_daemon(env, str(pictures))
    try:
        assert wait_for_status(lambda: status(env)["captioned"] == 3), status(env)
        make_photos(pictures, 2, start=10)                 # beside the first folder, in the parent
        assert wait_for_status(lambda: status(env)["captioned"] == 5), status(env)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "watching 1 folders" in out, out
    assert "watcher stopped" not in out and "Traceback" not in out and "UNIQUE" not in out
    assert [r["path"] for r in status(env)["roots"]] == [str(pictures)]


@pytest.mark.timeout(120)
def test_a_model_that_arrives_later_is_used_at_the_next_retry_without_a_restart(tmp_path, tiny_blip_dir,
                                                                                caplog):
    pics = tmp_path / "pics"
    make_photos(pics, 3)
    model = tmp_path / "model"                      # not there yet: the user is still copying it
    settings = config.Settings(db=str(tmp_path / "lib.db"), model=str(model), num_beams=1, min_new_tokens=2,
                               max_new_tokens=4, settle_seconds=0.3)
    stop, clock, exit_code = threading.Event(), FakeClock(0.0, real=True), []
    runner = threading.Thread(target=lambda: exit_code.append(
        daemon.run(Engine(settings), [str(pics)], stop=stop, clock=clock)))
    with caplog.at_level("INFO"):
        runner.start()
        try:
            assert wait_for(lambda: "photos stay queued, retrying in 60 s" in caplog.text, timeout=60)
            shutil.copytree(tiny_blip_dir, model)
            clock.advance(daemon.MODEL_RETRY_SECONDS)      # instead of a minute's wait
            conn = db.connect(tmp_path / "lib.db")
            assert wait_for(lambda: photos.counts(conn)["captioned"] == 3, timeout=60), photos.counts(conn)
        finally:
            stop.set()
            runner.join(30)
    assert exit_code == [0] and not runner.is_alive()
