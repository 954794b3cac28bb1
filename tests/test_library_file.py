"""The library file itself, as users meet it: deleted under a running daemon, empty, new."""

import os

import pytest
from helpers import run_photocap, start_photocap, tiny_model_env, wait_for_line
from PIL import Image


@pytest.fixture
def env(tmp_path, tiny_blip_dir):
    return tiny_model_env(tmp_path / "data" / "library.db", tiny_blip_dir, SETTLE_SECONDS="0.2")


def photocap(env, *args):
    return run_photocap(env, *args, timeout=120)


@pytest.mark.timeout(180)
def test_deleting_the_library_under_watch_stops_the_daemon_with_one_line(tmp_path, env):
    pics = tmp_path / "pics"
    pics.mkdir()
    Image.new("RGB", (32, 24), "red").save(pics / "first.jpg")
    db_path = env["PHOTOCAP_DB"]
    proc = start_photocap(env, "watch", str(pics))
    try:
        wait_for_line(proc, "captioned 1")
        for name in os.listdir(os.path.dirname(db_path)):       # what a user's `rm library.db*` does
            os.unlink(os.path.join(os.path.dirname(db_path), name))
        Image.new("RGB", (32, 24), "blue").save(pics / "second.jpg")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, out
    last = out.strip().splitlines()[-1]
    said = f"photocap: error: the library file {db_path} was deleted while photocap was running;"
    assert last.startswith(said)
    assert "Traceback" not in out, out
    assert not os.path.exists(db_path)              # the daemon made no new library in its place

    status = photocap(env, "status")
    assert status.returncode == 0
    assert status.stderr == f"photocap: created a new library at {db_path}\n"
    again = photocap(env, "status")
    assert again.returncode == 0 and again.stderr == ""


def test_an_empty_library_file_is_refused_in_one_line_and_kept(tmp_path, env):
    db_path = tmp_path / "data" / "library.db"
    db_path.parent.mkdir()
    db_path.write_bytes(b"")
    result = photocap(env, "status")
    assert result.returncode == 1
    assert result.stderr.startswith(f"photocap: error: {db_path} is empty (0 bytes), not a photocap library")
    assert result.stderr.count("\n") == 1 and db_path.read_bytes() == b""
