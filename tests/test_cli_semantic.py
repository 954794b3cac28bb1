"""`search --mode/--sort/--json`, `similar` and `duplicates` as users run them, on tiny real models."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers import run_photocap, tiny_model_env
from PIL import Image

from photocap.config import Settings
from photocap.engine import Engine

KEYS = {"path", "caption", "tags", "taken_at", "score", "status", "semantic_score", "keyword_rank"}


def _pattern(path: Path, seed: int, size: tuple[int, int] = (320, 240)) -> Path:
    """A photo of coloured blocks, different for every seed (so no two photos look alike)."""
    rnd = random.Random(seed)
    image = Image.new("RGB", size, tuple(rnd.randrange(256) for _ in range(3)))
    for _ in range(12):
        x, y = rnd.randrange(size[0] - 40), rnd.randrange(size[1] - 40)
        image.paste(tuple(rnd.randrange(256) for _ in range(3)), (x, y, x + rnd.randrange(20, 120),
                                                                  y + rnd.randrange(20, 100)))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=92)
    return path


@pytest.fixture(scope="module")
def semantic_library(tmp_path_factory, tiny_blip_dir, tiny_itm_dir):
    """A captioned, embedded library of 8 photos, one of them also as a smaller, recompressed copy."""
    root = tmp_path_factory.mktemp("semantic")
    folder = root / "Pictures"
    originals = [_pattern(folder / f"IMG_{i:02d}.jpg", seed=i) for i in range(8)]
    with Image.open(originals[3]) as im:
        im.resize((200, 150)).save(folder / "copy_of_3.jpg", "JPEG", quality=60)
    db_path = root / "library.db"
    settings = Settings(db=str(db_path), model=str(tiny_blip_dir), embed_model=str(tiny_itm_dir),
                        min_new_tokens=2, max_new_tokens=4, num_beams=1, batch_size=4)
    with Engine(settings) as engine:
        engine.index([str(folder)])
        engine.caption_pending()
        assert engine.status()["embedded"] == 9
        caption = engine.conn.execute("SELECT text FROM captions LIMIT 1").fetchone()[0]
    env = tiny_model_env(db_path, tiny_blip_dir, EMBED_MODEL=str(tiny_itm_dir))
    return {"env": env, "folder": folder, "original": originals[3], "copy": folder / "copy_of_3.jpg",
            "word": caption.split()[-1], "root": root}


def _json(result) -> list:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.timeout(180)
def test_search_modes_keep_every_json_key_and_add_the_scores(semantic_library):
    env, word = semantic_library["env"], semantic_library["word"]
    keyword = _json(run_photocap(env, "search", word, "--mode", "keyword", "--json"))
    assert keyword and all(set(h) == KEYS for h in keyword)
    assert [h["keyword_rank"] for h in keyword] == list(range(1, len(keyword) + 1))
    assert all(h["semantic_score"] is None for h in keyword)

    hybrid = _json(run_photocap(env, "search", word, "--json"))          # hybrid is the default
    assert hybrid and all(set(h) == KEYS for h in hybrid)
    assert all(isinstance(h["semantic_score"], float) and -1.0 <= h["semantic_score"] <= 1.0 for h in hybrid)
    assert {h["path"] for h in keyword} <= {h["path"] for h in hybrid}  # every word match stays

    semantic = _json(run_photocap(env, "search", word, "--mode", "semantic", "--json"))
    scores = [h["semantic_score"] for h in semantic]
    assert scores == sorted(scores, reverse=True)

    oldest = _json(run_photocap(env, "search", word, "--sort", "oldest", "--json"))
    assert {h["path"] for h in oldest} == {h["path"] for h in hybrid}


@pytest.mark.timeout(180)
def test_without_the_embedding_model_hybrid_falls_back_to_keywords_and_says_so_once(semantic_library):
    env = {**semantic_library["env"], "PHOTOCAP_EMBED_MODEL": "blip-itm-large"}     # no vectors of it
    word = semantic_library["word"]
    result = run_photocap(env, "search", word, "--json")
    hits = _json(result)
    assert [h["path"] for h in hits] == [h["path"] for h in _json(
        run_photocap(env, "search", word, "--mode", "keyword", "--json"))]
    assert result.stderr.count("keyword search only") == 1 and "Traceback" not in result.stderr

    semantic = run_photocap(env, "search", word, "--mode", "semantic")
    assert semantic.returncode == 1 and len(semantic.stderr.strip().splitlines()) == 1
    assert "blip-itm-large" in semantic.stderr and "Traceback" not in semantic.stderr


@pytest.mark.timeout(180)
def test_a_resized_recompressed_copy_is_the_nearest_photo_and_its_duplicate(semantic_library):
    env = semantic_library["env"]
    original, copy = str(semantic_library["original"]), str(semantic_library["copy"])
    similar = _json(run_photocap(env, "similar", original, "--limit", "3", "--json"))
    assert similar[0]["path"] == copy
    assert original not in [h["path"] for h in similar]              # the photo itself is left out
    assert all(set(h) == KEYS for h in similar)

    threshold = similar[0]["semantic_score"] - 1e-3
    groups = _json(run_photocap(env, "duplicates", "--threshold", f"{threshold:.4f}", "--json"))
    group = next(g for g in groups if original in [h["path"] for h in g])
    assert group[0]["path"] == original                              # the largest copy first
    assert copy in [h["path"] for h in group]

    text = run_photocap(env, "duplicates", "--threshold", f"{threshold:.4f}")
    assert text.returncode == 0 and original in text.stdout and "(largest)" in text.stdout


@pytest.mark.timeout(120)
def test_similar_and_duplicates_say_what_is_wrong_in_one_line(semantic_library):
    env = semantic_library["env"]
    outside = _pattern(semantic_library["root"] / "elsewhere" / "x.jpg", seed=99)
    for args in (["similar", str(outside)], ["similar", "123456"]):
        result = run_photocap(env, *args)
        assert result.returncode == 1, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
        assert "not a photo of the library" in result.stderr
    usage = run_photocap(env, "duplicates", "--threshold", "2")
    assert usage.returncode == 2 and usage.stderr.strip().splitlines()[-1].endswith("from 0 to 1, not 2")


@pytest.mark.timeout(120)
def test_doctor_says_how_to_get_a_missing_embedding_model(semantic_library):
    missing = run_photocap({**semantic_library["env"], "PHOTOCAP_EMBED_MODEL": "blip-itm-large"}, "doctor")
    line = next(i for i, text in enumerate(missing.stdout.splitlines()) if "embedding model" in text)
    assert missing.stdout.splitlines()[line].startswith("!!")
    assert "photocap models pull blip-itm-large" in missing.stdout.splitlines()[line + 1]
    present = run_photocap(semantic_library["env"], "doctor")
    assert any(text.startswith("ok ") and "embedding model" in text for text in present.stdout.splitlines())
