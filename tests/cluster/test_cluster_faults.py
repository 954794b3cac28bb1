"""`photocap index --cluster local:2` as a user runs it, stopped the hard ways: SIGTERM (clean stop: what is
done is kept, the rest goes back to the queue, Ray is gone, exit 130), kill -9 (the next run resumes:
nothing lost, nothing doubled), and `status` in another process sees the counts move meanwhile."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import tempfile
from pathlib import Path

import pytest
from cluster_helpers import claimed_jobs, library_rows
from helpers import make_photos, run_photocap, start_photocap, tiny_model_env, wait_for

PHOTOS = 200


def _done(db) -> int:
    # Read the library directly: a `status` process can be slower than a batch.
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM photos WHERE status = 'done'").fetchone()[0]
    finally:
        conn.close()


def _ray_pids(ray_dir: str) -> list[int]:
    """Processes of the Ray sessions kept in `ray_dir` (their command lines name it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if ray_dir.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass                                       # gone meanwhile
    return found


@pytest.fixture
def ray_dir():
    """A short folder for Ray's sessions (its socket paths must stay short); no process left in it after."""
    folder = tempfile.mkdtemp(prefix="pcray", dir="/tmp")
    yield folder
    for pid in _ray_pids(folder):                          # only if a test failed: ours, by pid
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(folder, ignore_errors=True)


def _status(env) -> dict:
    result = run_photocap(env, "status", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.timeout(420)
def test_sigterm_keeps_what_is_done_and_kill_9_resumes_with_nothing_lost_or_doubled(
        tmp_path, ray_dir, tiny_blip_dir, tiny_itm_dir):
    pics = tmp_path / "pics"
    make_photos(pics, PHOTOS)
    db = tmp_path / "lib.db"
    env = {**tiny_model_env(db, tiny_blip_dir, BATCH_SIZE="2", EMBED_MODEL=str(tiny_itm_dir)),
           "RAY_TMPDIR": ray_dir, "RAY_USAGE_STATS_ENABLED": "0"}

    assert run_photocap(env, "index", "--no-caption", str(pics)).returncode == 0

    # 1. SIGTERM mid-run; meanwhile `status` in another process sees the counts move.
    proc = start_photocap(env, "index", str(pics), "--cluster", "local:2")
    try:
        assert wait_for(lambda: _done(db) >= 2 or proc.poll() is not None, timeout=180, interval=0.05)
        assert proc.poll() is None, proc.communicate()[0]
        first = _status(env)
        assert wait_for(lambda: _done(db) > first["captioned"], timeout=60, interval=0.05)
        second = _status(env)
        assert 0 < first["captioned"] < second["captioned"] < PHOTOS, "the run ended too soon: use more photos"
        assert second["pending"] == PHOTOS - second["captioned"]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "photocap: interrupted" in out and "Traceback" not in out
    rows = library_rows(db)
    kept = [r for r in rows.values() if r["status"] == "done"]
    assert len(kept) >= second["captioned"] and len(kept) < PHOTOS
    assert all(len(r["captions"]) == 1 for r in kept)
    assert {r["status"] for r in rows.values()} == {"done", "pending"} and claimed_jobs(db) == 0
    assert wait_for(lambda: not _ray_pids(ray_dir), timeout=60), "Ray's processes outlived the run"

    # 2. kill -9 mid-run: the driver's Ray goes with it, its claims are taken back by the next run.
    before = len(kept)
    proc = start_photocap(env, "index", str(pics), "--cluster", "local:2")
    try:
        assert wait_for(lambda: _done(db) >= before + 2 or proc.poll() is not None, timeout=180, interval=0.05)
        assert proc.poll() is None, proc.communicate()[0]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert _done(db) < PHOTOS, "the run ended before the kill: use more photos"
    assert wait_for(lambda: not _ray_pids(ray_dir), timeout=60), "Ray's processes outlived a killed driver"

    # 3. The next run resumes: every photo captioned exactly once.
    result = run_photocap(env, "index", str(pics), "--cluster", "local:2", timeout=300)
    assert result.returncode == 0, result.stderr
    rows = library_rows(db)
    assert [len(r["captions"]) for r in rows.values()] == [1] * PHOTOS
    assert {r["status"] for r in rows.values()} == {"done"} and claimed_jobs(db) == 0
    assert all(len(r["vectors"]) == 1 for r in rows.values())
    assert "captioned " in result.stdout and "per node: " in result.stdout


@pytest.mark.timeout(240)
def test_watch_once_on_a_cluster_captions_everything(tmp_path, ray_dir, tiny_blip_dir):
    make_photos(tmp_path / "pics", 6)
    env = {**tiny_model_env(tmp_path / "lib.db", tiny_blip_dir, BATCH_SIZE="2"), "RAY_TMPDIR": ray_dir}
    result = run_photocap(env, "watch", str(tmp_path / "pics"), "--once", "--cluster", "local:1", timeout=200)
    assert result.returncode == 0, result.stderr
    rows = library_rows(tmp_path / "lib.db")
    assert [r["status"] for r in rows.values()] == ["done"] * 6
    assert "per node: " in result.stderr and "Traceback" not in result.stderr
    assert wait_for(lambda: not _ray_pids(ray_dir), timeout=60)


@pytest.mark.timeout(300)
def test_local_starts_a_ray_of_its_own_where_one_runs_already(tmp_path, ray_dir, tiny_blip_dir):
    """`--cluster local:N` on a machine where `ray start` left a Ray running, its address exported as Ray's
    docs suggest: Ray's default is to join that one (which then refused the worker count, in one
    misleading line); local:N starts its own."""
    import subprocess
    import sys

    make_photos(tmp_path / "pics", 4)
    env = {**tiny_model_env(tmp_path / "lib.db", tiny_blip_dir, BATCH_SIZE="2"),
           "RAY_TMPDIR": ray_dir, "RAY_USAGE_STATS_ENABLED": "0"}
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    subprocess.run([ray_cli, "start", "--head", "--num-cpus=1", "--include-dashboard=false",
                    f"--temp-dir={ray_dir}"], env=env, check=True, capture_output=True, timeout=120)
    running = set(_ray_pids(ray_dir))
    env["RAY_ADDRESS"] = (Path(ray_dir) / "ray_current_cluster").read_text().strip()
    result = run_photocap(env, "index", str(tmp_path / "pics"), "--cluster", "local:1", timeout=200)
    assert result.returncode == 0, result.stderr
    assert [len(r["captions"]) for r in library_rows(tmp_path / "lib.db").values()] == [1] * 4
    assert running <= set(_ray_pids(ray_dir))             # the running Ray is left as it was


@pytest.mark.timeout(300)
def test_a_head_that_wants_a_token_is_joined_with_one_and_without_one_says_how(tmp_path, ray_dir, tiny_blip_dir):
    """`ray start --head` (Ray 2.60) asks drivers for a token. `--cluster HEAD:PORT` without one failed
    in "Failed to connect to Ray cluster at ..." alone; the line now says how to give the token."""
    import subprocess
    import sys

    make_photos(tmp_path / "pics", 4)
    env = {**tiny_model_env(tmp_path / "lib.db", tiny_blip_dir, BATCH_SIZE="2"),
           "RAY_TMPDIR": ray_dir, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_AUTH_MODE", None)
    env.pop("RAY_ADDRESS", None)
    with socket.socket() as s:                    # a free port: never a Ray the machine runs already
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    subprocess.run([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                    f"--temp-dir={ray_dir}"], env=env, check=True, capture_output=True, timeout=120)
    head = (Path(ray_dir) / "ray_current_cluster").read_text().strip()     # its processes: ray_dir's fixture
    refused = run_photocap(env, "index", str(tmp_path / "pics"), "--cluster", head, timeout=200)
    assert refused.returncode == 1
    said = refused.stderr.strip().splitlines()[-1]
    assert said.startswith(f"photocap: error: cannot reach the Ray cluster at {head}: "), refused.stderr
    assert "RAY_AUTH_MODE=token" in said and "Traceback" not in refused.stderr

    joined = run_photocap({**env, "RAY_AUTH_MODE": "token"}, "index", str(tmp_path / "pics"),
                          "--cluster", head, timeout=200)
    assert joined.returncode == 0, joined.stderr
    assert [len(r["captions"]) for r in library_rows(tmp_path / "lib.db").values()] == [1] * 4
