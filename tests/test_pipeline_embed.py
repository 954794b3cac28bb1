"""Embedding in the caption loop: real libraries, real photos, tiny real BLIP and BLIP-ITM models."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import pytest
from helpers import make_photos, tiny_model_env, wait_for

from photocap.config import Settings
from photocap.engine import Engine
from photocap.library import db
from photocap.library.search import vectors
from photocap.vision import registry


def _settings(tmp_path, caption_dir, embed: str, **more) -> Settings:
    return Settings(db=str(tmp_path / "library.db"), model=str(caption_dir), embed_model=str(embed),
                    min_new_tokens=2, max_new_tokens=4, num_beams=1, batch_size=2, **more)


def _vector_rows(conn) -> list[tuple[int, str]]:
    return [tuple(r) for r in conn.execute("SELECT photo_id, model FROM embeddings ORDER BY photo_id")]


def _photo_ids(conn) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY id")]


@pytest.mark.timeout(180)
def test_each_photo_is_stored_with_its_vector_in_the_captions_transaction(tmp_path, tiny_blip_dir, tiny_itm_dir):
    make_photos(tmp_path / "Pictures", 5)
    model = registry.model_id(str(tiny_itm_dir))
    seen_without_vector = []

    with Engine(_settings(tmp_path, tiny_blip_dir, tiny_itm_dir)) as engine:
        engine.index([str(tmp_path / "Pictures")])
        reader = db.connect(engine.db_path)

        def check(result) -> None:
            # Results are reported after their transaction commits: another connection sees the
            # caption and the vector together, never one without the other.
            if vectors.get(reader, result.photo_id, model) is None:
                seen_without_vector.append(result.photo_id)

        progress = engine.caption_pending(on_result=check)
        status = engine.status()
        reader.close()
        conn = engine.conn
        assert progress.done == 5 and progress.embedded == 5
        assert seen_without_vector == []
        assert _vector_rows(conn) == [(i, model) for i in _photo_ids(conn)]
        assert status["embedded"] == 5 and status["embed_model"] == model


@pytest.mark.timeout(180)
def test_without_the_embedding_model_captions_go_on_and_the_backfill_embeds_later(
        tmp_path, tiny_blip_dir, tiny_itm_dir, caplog):
    make_photos(tmp_path / "Pictures", 4)
    caplog.set_level(logging.WARNING, logger="photocap.captioning")
    with Engine(_settings(tmp_path, tiny_blip_dir, "blip-itm-large")) as engine:   # never downloaded here
        engine.index([str(tmp_path / "Pictures")])
        progress = engine.caption_pending()
        assert progress.done == 4 and progress.embedded == 0
        assert "photocap models pull blip-itm-large" in (progress.embed_problem or "")
        assert engine.status()["embedded"] == 0
    told = [r for r in caplog.records if "without embeddings" in r.getMessage()]
    assert len(told) == 1 and "photocap models pull blip-itm-large" in told[0].getMessage()

    # The model arrives: nothing is pending, and the backfill embeds every captioned photo once.
    with Engine(_settings(tmp_path, tiny_blip_dir, tiny_itm_dir)) as engine:
        progress = engine.caption_pending()
        model = registry.model_id(str(tiny_itm_dir))
        assert progress.done == 0 and progress.embedded == 4 and progress.unembedded == 0
        assert _vector_rows(engine.conn) == [(i, model) for i in _photo_ids(engine.conn)]
        captions = engine.conn.execute("SELECT count(*) FROM captions").fetchone()[0]
        assert captions == 4                           # embedded, not captioned again


@pytest.mark.timeout(240)
def test_a_model_change_re_embeds_and_never_mixes_models(tmp_path, tiny_blip_dir, tiny_itm_dir, tiny_siglip2_dir):
    make_photos(tmp_path / "Pictures", 3)
    first, second = registry.model_id(str(tiny_itm_dir)), registry.model_id(str(tiny_siglip2_dir))
    with Engine(_settings(tmp_path, tiny_blip_dir, tiny_itm_dir)) as engine:
        engine.index([str(tmp_path / "Pictures")])
        engine.caption_pending()
        assert vectors.count(engine.conn, first) == 3
    with Engine(_settings(tmp_path, tiny_blip_dir, tiny_siglip2_dir)) as engine:
        assert engine.status()["embedded"] == 0       # the old model's vectors do not count
        progress = engine.caption_pending()
        assert progress.embedded == 3
        assert vectors.count(engine.conn, first) == 0
        assert _vector_rows(engine.conn) == [(i, second) for i in _photo_ids(engine.conn)]


@pytest.mark.timeout(300)
def test_kill_9_during_the_backfill_then_a_restart_embeds_every_photo_once(tmp_path, tiny_blip_dir, tiny_itm_dir):
    folder = tmp_path / "Pictures"
    count = 60
    make_photos(folder, count, size=(640, 480))
    db_path = tmp_path / "library.db"
    # Captioned while the embedding model is missing: every photo waits for the backfill.
    env = tiny_model_env(db_path, tiny_blip_dir, EMBED_MODEL="blip-itm-large", BATCH_SIZE="8")
    first = subprocess.run([sys.executable, "-m", "photocap", "index", str(folder)], env=env,
                           capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr
    conn = db.connect(db_path)
    assert conn.execute("SELECT count(*) FROM photos WHERE status = 'done'").fetchone()[0] == count
    model = registry.model_id(str(tiny_itm_dir))

    env = tiny_model_env(db_path, tiny_blip_dir, EMBED_MODEL=str(tiny_itm_dir), BATCH_SIZE="1",
                         DECODE_WORKERS="1")
    proc = subprocess.Popen([sys.executable, "-m", "photocap", "index", str(folder)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: vectors.count(conn, model) >= 2, timeout=180, interval=0.01), \
            "the backfill never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    at_kill = vectors.count(conn, model)
    assert 2 <= at_kill < count, f"the backfill ended before the kill ({at_kill} of {count})"

    again = subprocess.run([sys.executable, "-m", "photocap", "index", str(folder)], env=env,
                           capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert _vector_rows(conn) == [(i, model) for i in _photo_ids(conn)]     # every photo, once
    assert conn.execute("SELECT count(*) FROM captions").fetchone()[0] == count
    status = subprocess.run([sys.executable, "-m", "photocap", "status", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert '"embedded": 60' in status.stdout
    conn.close()
