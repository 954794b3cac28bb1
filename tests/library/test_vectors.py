"""The vector store: embeddings in the library, exact and ANN search, the cache index and kill -9.

Vectors are handcrafted (no model): written through the real store into real library files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from photocap.library import db, photos
from photocap.library.search import vectors

MODEL = "blip-itm-base"
OTHER = "siglip2-base"


def bulk_photos(conn, n: int, status: str = "done") -> list[int]:
    """n photos at once (photos.add commits one by one: too slow for tens of thousands)."""
    start = conn.execute("SELECT coalesce(max(id), 0) FROM photos").fetchone()[0] + 1
    with db.write(conn):
        conn.executemany("INSERT INTO photos (id, path, folder, name, status, added_at, updated_at)"
                         " VALUES (?, ?, '/p', ?, ?, 0, 0)",
                         [(i, f"/p/{i}.jpg", f"{i}.jpg", status) for i in range(start, start + n)])
    return list(range(start, start + n))


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def clustered(n: int, dim: int, clusters: int, seed: int = 0, noise: float = 0.35) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, clusters, n)] + noise * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def conn(tmp_path):
    c = db.connect(tmp_path / "lib.db")
    yield c
    c.close()
    vectors.forget_cached_indexes()


def test_vectors_are_stored_as_float16_of_the_unit_vector_and_ranked_by_cosine(conn):
    ids = bulk_photos(conn, 4)
    with db.write(conn):
        vectors.put_many(conn, MODEL, [(ids[0], [3, 4, 0]), (ids[1], [1, 0, 0]), (ids[2], [0, 0, 2])])
    row = conn.execute("SELECT dim, length(vector) FROM embeddings WHERE photo_id = ?", (ids[0],)).fetchone()
    assert tuple(row) == (3, 6)
    assert np.allclose(vectors.get(conn, ids[0], MODEL), [0.6, 0.8, 0.0], atol=1e-3)
    got = vectors.knn(conn, MODEL, [1, 0, 0], limit=10)
    assert [i for i, _ in got] == [ids[1], ids[0], ids[2]]
    assert np.allclose([s for _, s in got], [1.0, 0.6, 0.0], atol=1e-3)
    assert vectors.count(conn, MODEL) == 3
    assert vectors.unembedded(conn, MODEL, 10) == [ids[3]]


def test_a_zero_or_non_finite_vector_is_refused_and_nothing_is_written(conn):
    ids = bulk_photos(conn, 1)
    for bad in ([0, 0, 0], [1, float("nan"), 0], []):
        with pytest.raises(ValueError, match="finite"):
            vectors.put(conn, ids[0], MODEL, bad)
    assert vectors.count(conn, MODEL) == 0


def test_a_model_change_replaces_the_vector_and_models_never_mix(conn):
    ids = bulk_photos(conn, 3)
    vectors.put_many(conn, MODEL, [(ids[0], [1, 0, 0]), (ids[1], [0.9, 0.1, 0])])
    vectors.put(conn, ids[2], OTHER, [1, 0, 0])
    vectors.put(conn, ids[0], OTHER, [1, 0, 0])          # re-embedded by the other model
    assert [i for i, _ in vectors.knn(conn, MODEL, [1, 0, 0], limit=10)] == [ids[1]]
    assert {i for i, _ in vectors.knn(conn, OTHER, [1, 0, 0], limit=10)} == {ids[0], ids[2]}
    assert vectors.unembedded(conn, MODEL, 10) == [ids[0], ids[2]]


def test_a_deleted_photo_takes_its_vector_with_it(conn):
    ids = bulk_photos(conn, 2)
    vectors.put_many(conn, MODEL, [(ids[0], [1, 0]), (ids[1], [0, 1])])
    photos.remove(conn, [ids[0]])
    assert vectors.knn(conn, MODEL, [1, 0], limit=5) == [(ids[1], pytest.approx(0.0, abs=1e-3))]
    assert vectors.count(conn, MODEL) == 1


def test_candidates_restrict_the_search(conn):
    ids = bulk_photos(conn, 3)
    vectors.put_many(conn, MODEL, [(ids[0], [1, 0]), (ids[1], [0.8, 0.2]), (ids[2], [0, 1])])
    assert [i for i, _ in vectors.knn(conn, MODEL, [1, 0], limit=5, candidates=[ids[1], ids[2]])] == ids[1:]


def test_created_at_grows_in_commit_order_even_when_the_clock_steps_back(conn, monkeypatch):
    ids = bulk_photos(conn, 2)
    vectors.put(conn, ids[0], MODEL, [1, 0])
    monkeypatch.setattr(vectors.time, "time", lambda: 1000.0)     # a clock far in the past
    vectors.put(conn, ids[1], MODEL, [0, 1])
    first, second = (conn.execute("SELECT created_at FROM embeddings WHERE photo_id = ?", (i,)).fetchone()[0]
                     for i in ids)
    assert second > first


# ---- the ANN cache index ------------------------------------------------------------------------

def small_ann(monkeypatch):
    """Make the ANN path serve small libraries (the index code is the same at any size)."""
    monkeypatch.setattr(vectors, "EXACT_MAX", 50)


def test_ann_index_is_written_beside_the_library_and_caught_up_from_the_database(conn, monkeypatch, tmp_path):
    small_ann(monkeypatch)
    x = clustered(2000, 32, 20)
    ids = bulk_photos(conn, 2000)
    vectors.put_many(conn, MODEL, list(zip(ids[:1500], x[:1500], strict=True)))
    vectors.knn(conn, MODEL, x[0], limit=5)
    index_file, manifest_file = vectors.index_paths(str(tmp_path / "lib.db"), MODEL, 32)
    assert index_file.parent == tmp_path / "lib.db.vectors"
    assert json.loads(manifest_file.read_text())["count"] == 1500
    # Written by another process's connection: the next search here catches up.
    other = db.connect(tmp_path / "lib.db")
    vectors.put_many(other, MODEL, list(zip(ids[1500:], x[1500:], strict=True)))
    other.close()
    top = vectors.knn(conn, MODEL, x[1999], limit=1)
    assert top[0][0] == ids[1999] and top[0][1] == pytest.approx(1.0, abs=2e-3)
    # A new process (no cache) loads the file and catches up too.
    vectors.forget_cached_indexes()
    assert vectors.knn(conn, MODEL, x[1800], limit=1)[0][0] == ids[1800]


def test_ann_never_returns_deleted_photos_or_vectors_of_another_model(conn, monkeypatch):
    small_ann(monkeypatch)
    x = clustered(1000, 16, 10, seed=1)
    ids = bulk_photos(conn, 1000)
    vectors.put_many(conn, MODEL, list(zip(ids, x, strict=True)))
    vectors.knn(conn, MODEL, x[0], limit=5)                  # the index holds all of them
    near = [i for i, _ in vectors.knn(conn, MODEL, x[0], limit=20)]
    photos.remove(conn, near[:5])
    vectors.put(conn, near[5], OTHER, x[0])
    again = [i for i, _ in vectors.knn(conn, MODEL, x[0], limit=20)]
    assert len(again) == 20 and not set(again) & set(near[:6])
    assert set(near[6:]) <= set(again)


def test_a_torn_or_mismatched_index_file_is_rebuilt_from_the_database(conn, monkeypatch, tmp_path):
    small_ann(monkeypatch)
    x = clustered(800, 16, 8, seed=2)
    ids = bulk_photos(conn, 800)
    vectors.put_many(conn, MODEL, list(zip(ids, x, strict=True)))
    expect = vectors.exact(conn, MODEL, x[3], 10)
    vectors.knn(conn, MODEL, x[3], limit=10)
    index_file, manifest_file = vectors.index_paths(str(tmp_path / "lib.db"), MODEL, 16)
    data = index_file.read_bytes()
    for damage in (data[: len(data) // 2], data[:-8] + b"\0" * 8, b""):
        index_file.write_bytes(damage)
        vectors.forget_cached_indexes()
        assert vectors.knn(conn, MODEL, x[3], limit=10)[0] == (expect[0][0], pytest.approx(expect[0][1]))
        assert json.loads(manifest_file.read_text())["crc32"] != 0 and index_file.stat().st_size == len(data)
    manifest_file.write_text("{not json")
    vectors.forget_cached_indexes()
    assert vectors.knn(conn, MODEL, x[3], limit=1)[0][0] == expect[0][0]


@pytest.mark.timeout(240)
def test_exact_and_ann_paths_agree_on_60k_clustered_vectors(conn):
    n, dim = 60_000, 64
    x = clustered(n, dim, 300, seed=3, noise=0.6)
    ids = bulk_photos(conn, n)
    vectors.put_many(conn, MODEL, list(zip(ids, x, strict=True)))
    assert n > vectors.EXACT_MAX
    rng = np.random.default_rng(4)
    recalls = []
    for qi in rng.choice(n, 20, replace=False):
        q = x[qi] + 0.3 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
        truth = {i for i, _ in vectors.exact(conn, MODEL, vectors.normalised(q), 50)}
        got = vectors.knn(conn, MODEL, q, limit=50)
        assert len(got) == 50 and [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        recalls.append(len(truth & {i for i, _ in got}) / 50)
    assert np.mean(recalls) >= 0.95, recalls


# ---- kill -9 --------------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from photocap.library import db
    from photocap.library.search import vectors
    vectors.EXACT_MAX = 50
    vectors._SAVE_AFTER = 0.0          # rewrite the index file after every catch-up
    conn = db.connect(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[2]))
    ids = [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY id")]
    print("ready", flush=True)
    while True:
        batch = rng.choice(ids, 200, replace=False).tolist()
        with db.write(conn):
            vectors.put_many(conn, "blip-itm-base", [(i, rng.standard_normal(24)) for i in batch])
        vectors.knn(conn, "blip-itm-base", rng.standard_normal(24), limit=5)
""")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("when", ["index file", "vectors"])
def test_kill_9_while_writing_vectors_or_the_index_then_the_next_search_is_correct(tmp_path, when):
    path = tmp_path / "lib.db"
    conn = db.connect(path)
    ids = bulk_photos(conn, 3000)
    folder = Path(f"{path}.vectors")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "7"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        if when == "index file":       # kill while a temporary index file is being written
            while time.monotonic() < deadline and not any(folder.glob(".*.tmp")):
                pass
        else:                          # kill while writing vectors, after the index exists
            while time.monotonic() < deadline and not list(folder.glob("*.json")):
                time.sleep(0.01)
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    vectors.forget_cached_indexes()
    orig_max = vectors.EXACT_MAX
    try:
        vectors.EXACT_MAX = 50
        rng = np.random.default_rng(1)
        stored = {i: vectors.get(conn, i, MODEL) for i in ids}
        stored = {i: v for i, v in stored.items() if v is not None}
        assert len(stored) >= 200
        for probe in rng.choice(list(stored), 10, replace=False):
            got = vectors.knn(conn, MODEL, stored[probe], limit=10)
            # Correct after the kill: every vector the database holds is found (the probe itself
            # first, so the index was caught up), only stored photos come back, and each score is
            # the exact cosine. (The ANN's recall is test_exact_and_ann_paths_agree_on_60k_clustered_vectors' business.)
            assert got[0][0] == probe and got[0][1] == pytest.approx(1.0, abs=2e-3)
            assert all(i in stored for i, _ in got)
            query = vectors.normalised(stored[probe])
            for i, score in got:
                assert score == pytest.approx(float(vectors.normalised(stored[i]) @ query), abs=2e-3)
            assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    finally:
        vectors.EXACT_MAX = orig_max
        conn.close()
