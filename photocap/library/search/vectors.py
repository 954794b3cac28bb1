"""Image embeddings in the library and nearest-neighbour search over them.

The ``embeddings`` table is the source of truth: one row per photo with the id of the model that
made it and its L2-normalised vector as float16 little-endian. Vectors of two models are never
compared: every read filters on the model (and its dimension).

Search paths
------------
- *Exact* (numpy): a model with at most ``EXACT_MAX`` vectors, or a candidate set (the photos a
  query's filters allow) of at most that many: their vectors are read and scored by one matrix
  product. Always correct.
- *ANN* (faiss ``IndexIVFScalarQuantizer``, 8-bit, inner product) for the rest. The index is a
  cache beside the library: ``<library>.vectors/<model-hash>.faiss`` plus ``<model-hash>.json``
  (model, dim, count, the newest ``created_at`` it holds, the index file's size and CRC). It is
  caught up from the database on use: ``put`` gives each write transaction a ``created_at`` above
  every earlier one of the model (computed under the write lock), so the rows an index lacks are
  exactly those newer than its newest. Files are written under a temporary name, fsynced and
  renamed; an index whose manifest does not match it byte for byte (kill -9 between the two
  renames, a torn file) is rebuilt from the database. ANN hits are re-scored from the database's
  own vectors, so a deleted photo, or one whose vector is now another model's, is never returned
  and every cosine is exact; recall against exact search is measured by benchmarks/hybrid_search.py.

Without faiss the exact path serves every search (one log line says so).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from photocap.library.db import write

log = logging.getLogger(__name__)

# At most this many vectors (of a model, or of a candidate set) are searched exactly.
EXACT_MAX = 50_000
# ANN hits re-scored from the database per search (at least; more when a limit asks for more).
RERANK_MIN = 200
# Ids read per statement (SQLite has no limit on json_each, but a bounded batch keeps memory flat).
_BATCH = 20_000
# The on-disk index is rewritten when it lacks more than this share of the rows it now holds.
_SAVE_AFTER = 0.05
# A temporary index file older than this was left by a killed process.
_TMP_AGE_S = 3600

_faiss_warned = False
_lock = threading.Lock()
# Score samples of large libraries: (library, model, dim, n) -> (newest created_at, sample, count)
_samples: dict[tuple[str, str, int, int], tuple[float, np.ndarray, int]] = {}


# ---- the vectors --------------------------------------------------------------------------------

def normalised(vector: Any) -> np.ndarray:
    """`vector` as a 1-D float32 unit vector (ValueError for an empty, non-finite or zero one)."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v)) if v.size else 0.0
    if not v.size or not math.isfinite(norm) or norm == 0.0:
        raise ValueError("an embedding must be a non-empty vector of finite numbers, not all zero")
    return v / norm


def encode(vector: Any) -> bytes:
    """The stored form: float16 little-endian of the L2-normalised vector."""
    return normalised(vector).astype("<f2").tobytes()


def decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


def _matrix(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim).astype(np.float32)


def _stamp(conn: sqlite3.Connection, model: str) -> float:
    """A created_at above every one the model has: write transactions are serialised, so an index
    that holds every row up to some created_at lacks exactly the rows above it (clock steps back
    or two processes racing included)."""
    newest = conn.execute("SELECT max(created_at) FROM embeddings WHERE model = ?", (model,)).fetchone()[0]
    now = time.time()
    return now if newest is None or now > newest else math.nextafter(newest, math.inf)


def put(conn: sqlite3.Connection, photo_id: int, model: str, vector: Any) -> None:
    """Store (or replace) a photo's vector; call it inside the caller's db.write()."""
    put_many(conn, model, [(photo_id, vector)])


def put_many(conn: sqlite3.Connection, model: str, items: Iterable[tuple[int, Any]]) -> None:
    """Store (or replace) vectors of one model; inside the caller's db.write() (joins it)."""
    rows = [(int(photo_id), model, len(blob) // 2, blob) for photo_id, blob in
            ((photo_id, encode(vector)) for photo_id, vector in items)]
    if not rows:
        return
    with write(conn):
        t = _stamp(conn, model)
        conn.executemany(
            "INSERT INTO embeddings (photo_id, model, dim, vector, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(photo_id) DO UPDATE SET model = excluded.model, dim = excluded.dim,"
            " vector = excluded.vector, created_at = excluded.created_at",
            [(*row, t) for row in rows])


def get(conn: sqlite3.Connection, photo_id: int, model: str) -> np.ndarray | None:
    """The photo's vector of `model` (float32), or None."""
    row = conn.execute("SELECT vector FROM embeddings WHERE photo_id = ? AND model = ?",
                       (photo_id, model)).fetchone()
    return None if row is None else decode(row[0])


def count(conn: sqlite3.Connection, model: str) -> int:
    return conn.execute("SELECT count(*) FROM embeddings WHERE model = ?", (model,)).fetchone()[0]


def _count_upto(conn: sqlite3.Connection, model: str, dim: int, cap: int) -> int:
    """How many vectors of `model` there are, counting no further than `cap` (cheap)."""
    return conn.execute("SELECT count(*) FROM (SELECT 1 FROM embeddings WHERE model = ? AND dim = ?"
                        " LIMIT ?)", (model, dim, cap)).fetchone()[0]


def unembedded(conn: sqlite3.Connection, model: str, limit: int) -> list[int]:
    """Captioned (done) photos without a vector of `model`, oldest id first."""
    return [row[0] for row in conn.execute(
        "SELECT p.id FROM photos p WHERE p.status = 'done' AND NOT EXISTS"
        " (SELECT 1 FROM embeddings e WHERE e.photo_id = p.id AND e.model = ?) ORDER BY p.id LIMIT ?",
        (model, int(limit)))]


def vectors_of(conn: sqlite3.Connection, model: str, dim: int, ids: Sequence[int] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(photo ids, float32 matrix) of `model`'s vectors: of `ids` (those that have one), or all."""
    out_ids: list[int] = []
    blobs: list[bytes] = []
    if ids is None:
        cursor: Iterable[tuple[int, bytes]] = conn.execute(
            "SELECT photo_id, vector FROM embeddings WHERE model = ? AND dim = ?", (model, dim))
        for photo_id, blob in cursor:
            out_ids.append(photo_id)
            blobs.append(blob)
    else:
        for start in range(0, len(ids), _BATCH):
            chunk = json.dumps([int(i) for i in ids[start:start + _BATCH]])
            for photo_id, blob in conn.execute(
                    # `+model`: look the ids up by primary key; the planner would otherwise walk
                    # the model's index over every vector (92 ms at 1M for 200 ids).
                    "SELECT photo_id, vector FROM embeddings WHERE photo_id IN (SELECT value FROM json_each(?))"
                    " AND +model = ? AND dim = ?", (chunk, model, dim)):
                out_ids.append(photo_id)
                blobs.append(blob)
    return np.asarray(out_ids, dtype=np.int64), _matrix(blobs, dim)


def sample(conn: sqlite3.Connection, model: str, dim: int, n: int = 2048) -> tuple[np.ndarray, int]:
    """Up to about `n` vectors of `model` spread over the library (for score statistics), and how
    many vectors of `model` there are (at least; exact below 4n)."""
    if _count_upto(conn, model, dim, 4 * n) < 4 * n:
        mat = vectors_of(conn, model, dim)[1]
        return mat, len(mat)
    # A large library: the sample is the same until a vector of `model` is added (its newest
    # created_at, one index step, tells), so each search does not read thousands of rows again.
    newest = conn.execute("SELECT max(created_at) FROM embeddings WHERE model = ?", (model,)).fetchone()[0]
    key = (_library_file(conn), model, dim, n)
    with _lock:
        cached = _samples.get(key)
    if cached is not None and cached[0] == newest:
        return cached[1], cached[2]
    hi = conn.execute("SELECT max(photo_id) FROM embeddings").fetchone()[0]
    rng = np.random.default_rng(12345)          # the same sample each time: stable floors
    picks = np.unique(rng.integers(1, hi + 1, size=4 * n)).tolist()
    mat = vectors_of(conn, model, dim, picks)[1][:n]
    total = count(conn, model)
    with _lock:
        _samples[key] = (newest, mat, total)
    return mat, total


# ---- exact search -------------------------------------------------------------------------------

def _top(ids: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    if limit <= 0 or not len(ids):
        return []
    if len(ids) > limit:
        part = np.argpartition(-scores, limit - 1)[:limit]
    else:
        part = np.arange(len(ids))
    order = part[np.lexsort((ids[part], -scores[part]))]
    return [(int(ids[i]), float(scores[i])) for i in order]


def exact(conn: sqlite3.Connection, model: str, q: np.ndarray, limit: int,
          candidates: Sequence[int] | None = None) -> list[tuple[int, float]]:
    ids, mat = vectors_of(conn, model, len(q), candidates)
    return _top(ids, mat @ q, limit)


# ---- the ANN cache index ------------------------------------------------------------------------

def faiss_module() -> Any | None:
    """faiss, or None when it is not installed (said once in the log)."""
    global _faiss_warned
    try:
        import faiss
    except ImportError:
        if not _faiss_warned:
            log.warning("faiss is not installed: vector search uses the exact path (slower on large libraries)")
            _faiss_warned = True
        return None
    return faiss


def _library_file(conn: sqlite3.Connection) -> str:
    path = getattr(conn, "path", "")
    if not path:
        for row in conn.execute("PRAGMA database_list"):
            if row[1] == "main":
                path = row[2] or ""
    return path


def index_paths(library: str, model: str, dim: int) -> tuple[Path, Path]:
    """The index file and its manifest for `model` beside the library file."""
    key = hashlib.sha256(f"{model}\0{dim}".encode("utf-8", "surrogatepass")).hexdigest()[:20]
    folder = Path(f"{library}.vectors")
    return folder / f"{key}.faiss", folder / f"{key}.json"


@dataclass
class _Ann:
    index: Any                  # faiss IndexIVFScalarQuantizer
    newest: float               # the highest created_at it holds
    saved_total: int            # ntotal when it was last written to disk


_cache: dict[tuple[str, str, int], _Ann] = {}


def _nlist(n: int) -> int:
    """About sqrt(n) lists (a power of two), each with enough points to train on (faiss asks 39)."""
    return int(max(1, min(4096, 2 ** round(math.log2(max(1.0, math.sqrt(n)))), n // 40)))


def _build(faiss: Any, conn: sqlite3.Connection, model: str, dim: int) -> _Ann:
    """A new index of every vector of the model (one read snapshot)."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")                       # one snapshot: the rows and their newest agree
    try:
        newest = conn.execute("SELECT max(created_at) FROM embeddings WHERE model = ? AND dim = ?",
                              (model, dim)).fetchone()[0] or 0.0
        ids, mat = vectors_of(conn, model, dim)
    finally:
        if own:
            conn.execute("COMMIT")
    nlist = _nlist(len(ids))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    train = mat
    if len(mat) > nlist * 64:
        train = mat[np.random.default_rng(0).choice(len(mat), nlist * 64, replace=False)]
    index.train(train)
    index.add_with_ids(mat, ids)
    log.info("vector index for %s built: %d vectors, %d lists", model, len(ids), nlist)
    return _Ann(index=index, newest=float(newest), saved_total=0)


def _fsync_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a temporary file, fsync, rename, fsync of the folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _sweep(folder: Path) -> None:
    """Remove temporary files that a killed process left (old enough not to be in use)."""
    for leftover in folder.glob(".*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > _TMP_AGE_S:
                leftover.unlink()
        except OSError:
            pass


def _save(faiss: Any, ann: _Ann, library: str, model: str, dim: int) -> None:
    index_file, manifest_file = index_paths(library, model, dim)
    try:
        index_file.parent.mkdir(exist_ok=True)
        _sweep(index_file.parent)
        data = faiss.serialize_index(ann.index).tobytes()
        _fsync_write(index_file, data)
        manifest = {"format": 1, "model": model, "dim": dim, "count": int(ann.index.ntotal),
                    "newest": ann.newest, "bytes": len(data), "crc32": zlib.crc32(data)}
        _fsync_write(manifest_file, json.dumps(manifest).encode())
        ann.saved_total = int(ann.index.ntotal)
    except OSError as exc:                          # a cache: search goes on without it
        log.warning("could not write the vector index %s: %s", index_file, exc.strerror or exc)


def _load(faiss: Any, library: str, model: str, dim: int) -> _Ann | None:
    """The index on disk, if its manifest vouches for every byte of it; else None (rebuild)."""
    index_file, manifest_file = index_paths(library, model, dim)
    try:
        manifest = json.loads(manifest_file.read_bytes()[:4096])
        if (not isinstance(manifest, dict) or manifest.get("format") != 1 or manifest.get("model") != model
                or manifest.get("dim") != dim):
            return None
        size = int(manifest["bytes"])
        if index_file.stat().st_size != size:
            return None
        data = index_file.read_bytes()
        if zlib.crc32(data) != int(manifest["crc32"]):
            return None
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if index.ntotal != int(manifest["count"]) or index.d != dim:
            return None
        return _Ann(index=index, newest=float(manifest["newest"]), saved_total=int(index.ntotal))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


def _catch_up(faiss: Any, conn: sqlite3.Connection, ann: _Ann, model: str, dim: int) -> int:
    """Add the rows newer than the index holds (replacing their ids); how many were added."""
    rows = conn.execute("SELECT photo_id, vector, created_at FROM embeddings WHERE model = ? AND dim = ?"
                        " AND created_at > ? ORDER BY created_at", (model, dim, ann.newest)).fetchall()
    if not rows:
        return 0
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    ann.index.remove_ids(faiss.IDSelectorBatch(ids))     # a replaced vector must not stay twice
    ann.index.add_with_ids(_matrix([r[1] for r in rows], dim), ids)
    ann.newest = float(rows[-1][2])
    return len(rows)


def _ann(faiss: Any, conn: sqlite3.Connection, model: str, dim: int, rebuild: bool = False) -> _Ann:
    """The model's index, loaded or built, caught up with the database."""
    library = _library_file(conn)
    key = (library, model, dim)
    with _lock:
        ann = None if rebuild else _cache.get(key)
        if ann is None and library and not rebuild:
            ann = _load(faiss, library, model, dim)
        if ann is None:
            ann = _build(faiss, conn, model, dim)
        else:
            _catch_up(faiss, conn, ann, model, dim)
        if library and ann.index.ntotal > ann.saved_total * (1 + _SAVE_AFTER):
            _save(faiss, ann, library, model, dim)
        _cache[key] = ann
        return ann


def forget_cached_indexes() -> None:
    """Drop this process's in-memory indexes and samples (the next search loads them again)."""
    with _lock:
        _cache.clear()
        _samples.clear()


def _rescore(conn: sqlite3.Connection, model: str, q: np.ndarray, ids: Sequence[int]) -> list[tuple[int, float]]:
    """Exact cosines from the database (drops ids without a vector of `model`)."""
    found, mat = vectors_of(conn, model, len(q), ids)
    return _top(found, mat @ q, len(found))


def _ann_search(faiss: Any, conn: sqlite3.Connection, model: str, q: np.ndarray, limit: int,
                allowed: set[int] | None) -> list[tuple[int, float]]:
    ann = _ann(faiss, conn, model, len(q))
    rebuilt = False
    total = max(1, int(ann.index.ntotal))
    share = 1.0 if allowed is None else max(len(allowed) / total, 1e-6)
    k = max(RERANK_MIN, 4 * limit, int(2 * limit / share))
    while True:
        k = min(k, total)
        nlist = ann.index.nlist
        # Enough lists to hold k vectors several times over (clusters are uneven).
        ann.index.nprobe = int(min(nlist, max(nlist // 16, 8, math.ceil(4 * k * nlist / total))))
        _, found = ann.index.search(q.reshape(1, -1), k)
        ids = [int(i) for i in found[0] if i >= 0]
        kept = [i for i in ids if allowed is None or i in allowed]
        scored = _rescore(conn, model, q, kept)
        stale = len(kept) - len(scored)
        if len(scored) >= limit or k >= total:
            return scored[:limit]
        if stale > len(kept) // 2 and not rebuilt:    # mostly deleted photos: the index is stale
            ann, rebuilt = _ann(faiss, conn, model, len(q), rebuild=True), True
            total = max(1, int(ann.index.ntotal))
            continue
        k *= 4


def knn(conn: sqlite3.Connection, model: str, query: Any, *, limit: int,
        candidates: Sequence[int] | None = None) -> list[tuple[int, float]]:
    """The `limit` photos whose vectors of `model` are nearest `query`: (photo id, cosine), best
    first. `candidates` restricts the search to those ids (a query's filters); exact when small."""
    q = normalised(query)
    limit = int(limit)
    if limit <= 0:
        return []
    if candidates is not None and len(candidates) <= EXACT_MAX:
        return exact(conn, model, q, limit, candidates)
    if candidates is None and _count_upto(conn, model, len(q), EXACT_MAX + 1) <= EXACT_MAX:
        return exact(conn, model, q, limit)
    faiss = faiss_module()
    if faiss is None:
        return exact(conn, model, q, limit, candidates)
    allowed = None if candidates is None else {int(i) for i in candidates}
    return _ann_search(faiss, conn, model, q, limit, allowed)
