"""Hybrid search at 1M photos: keyword + meaning, the vector part alone, and brute force.

Builds (or reuses, under --data) the keyword library of benchmarks/search.py (same generator, same
documents), then gives every captioned photo a --dim vector (256, BLIP ITM base's) that clusters by
subject as real embeddings do: normalised(centroid of its first tag + 0.6 * centroid of its second +
0.4 * centroid of its third + noise), centroids fixed random unit vectors per tag, written through
photocap.library.search.vectors.put_many. The ANN cache index is built by the first search (timed apart).

Reported, top 50, after a warm-up:
  hybrid       fusion.search(...) including the query's text encoding on CPU: a full-size BLIP text
               encoder (BlipTextModel from BlipTextConfig defaults + text_proj, random weights, built
               here: no download; token ids from a word hash, the tokenizer's cost is negligible).
               Random weights give a random direction, so the vector searched is the query subject's
               centroid plus noise (what a trained encoder aims at); the encoder's time is real.
  vector       vectors.knn(conn, model, q, limit=50) alone (ANN + re-scoring from the database)
  recall@50    of vectors.knn against exact brute-force cosine over every vector
  bruteforce   numpy float32 matrix @ q over every vector, then argpartition + sort (what other
               tools do); the matrix is in memory, not counted
  vector_mb    the bytes of the ANN index (8-bit codes + ids + lists), what search keeps in memory

    python benchmarks/hybrid_search.py                # 1,000,000 rows (several minutes to build, once)
    python benchmarks/hybrid_search.py --rows 20000   # quick
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from photocap.library import db  # noqa: E402
from photocap.library.search import fusion, vectors  # noqa: E402

_spec = importlib.util.spec_from_file_location("keyword_bench", HERE / "search.py")
assert _spec is not None and _spec.loader is not None
kw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kw)

MODEL = "blip-itm-base"
NOISE = 0.9          # of a unit centroid, spread over all dimensions: clusters overlap like real ones
QUERIES = ["dog", "man on the beach", "giraffe", "white cat", "surfer with a surfboard", "kitchen",
           "dog -beach", "tag:dog after:2018", "folder:2019 woman", "horse", "red umbrella", "boat",
           '"sitting on a bench"', "cat OR dog", "coast", "hiking in the mountains"]


def centroid(word: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def add_vectors(conn, dim: int) -> float:
    """One clustered vector per captioned photo, written through the library's vector store."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(11)
    cache: dict[str, np.ndarray] = {}
    batch: list[tuple[int, np.ndarray]] = []
    rows = conn.execute("SELECT p.id, (SELECT text FROM captions c WHERE c.photo_id = p.id AND source = 'auto'"
                        " ORDER BY position LIMIT 1), (SELECT group_concat(tag, '|') FROM tags t"
                        " WHERE t.photo_id = p.id) FROM photos p WHERE p.status IN ('done', 'missing')").fetchall()
    for photo_id, caption, tag_text in rows:
        v = NOISE * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
        # The caption's nouns in its own order: the subject first (its tags are those nouns).
        tags = sorted((tag_text or "").split("|"), key=lambda t: ((caption or "").find(t) % 10_000, t))
        for weight, tag in zip((1.0, 0.6, 0.4), tags[:3], strict=False):
            if tag not in cache:
                cache[tag] = centroid(tag, dim)
            v += weight * cache[tag]
        batch.append((photo_id, v))
        if len(batch) >= 50_000:
            with db.write(conn):
                vectors.put_many(conn, MODEL, batch)
            batch.clear()
    with db.write(conn):
        vectors.put_many(conn, MODEL, batch)
    db.set_setting(conn, "bench_vectors", f"{dim}")
    return time.perf_counter() - t0


def text_encoder(dim: int):
    """A full-size BLIP text encoder with random weights (no download) and its projection."""
    import torch
    from transformers import BlipTextConfig, BlipTextModel
    torch.manual_seed(0)
    config = BlipTextConfig()
    model = BlipTextModel(config, add_pooling_layer=False).eval()
    proj = torch.nn.Linear(config.hidden_size, dim).eval()

    def encode(text: str) -> np.ndarray:
        words = text.lower().split() or ["[empty]"]
        ids = [101] + [int(hashlib.md5(w.encode()).hexdigest(), 16) % (config.vocab_size - 1000) + 999
                       for w in words] + [102]
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))
            v = proj(out.last_hidden_state[:, 0, :])
        return torch.nn.functional.normalize(v, dim=-1)[0].numpy()

    return encode


def query_vector(text: str, dim: int, rng: np.random.Generator) -> np.ndarray:
    words = fusion.semantic_text(text).split() or ["photo"]
    v = sum(centroid(w, dim) for w in words) + 0.3 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
    return v / np.linalg.norm(v)


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p * 100)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "photocap-bench")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions per query")
    args = ap.parse_args()

    conn, built = kw.open_library(args.data, args.rows)
    built_vectors = None
    if db.get_setting(conn, "bench_vectors") != str(args.dim):
        print(f"adding {args.dim}-dim vectors ...", file=sys.stderr, flush=True)
        built_vectors = add_vectors(conn, args.dim)
        print(f"vectors added in {built_vectors:.1f} s", file=sys.stderr, flush=True)
    n = vectors.count(conn, MODEL)
    t0 = time.perf_counter()
    vectors.knn(conn, MODEL, centroid("dog", args.dim), limit=50)   # loads or builds the index
    index_s = time.perf_counter() - t0
    index_file, _ = vectors.index_paths(conn.path, MODEL, args.dim)
    vector_mb = index_file.stat().st_size / 1e6 if index_file.exists() else 0.0

    print("encoder ...", file=sys.stderr, flush=True)
    encode = text_encoder(args.dim)
    ids, mat = vectors.vectors_of(conn, MODEL, args.dim)           # the brute-force baseline's matrix
    rng = np.random.default_rng(5)
    h_times, v_times, b_times, enc_times, recalls = [], [], [], [], []
    for q in QUERIES:
        qv = query_vector(q, args.dim, rng)

        def run_hybrid(q=q, qv=qv) -> list:
            encode(fusion.semantic_text(q))
            return fusion.search(conn, q, limit=50, text_vector=qv, model=MODEL)

        def brute(qv=qv) -> np.ndarray:
            scores = mat @ qv
            top = np.argpartition(-scores, 50)[:50]
            return ids[top[np.argsort(-scores[top])]]

        run_hybrid()
        for _ in range(args.reps):
            t = time.perf_counter()
            encode(fusion.semantic_text(q))
            enc_times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            run_hybrid()
            h_times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            got = vectors.knn(conn, MODEL, qv, limit=50)
            v_times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            truth = brute()
            b_times.append((time.perf_counter() - t) * 1000)
        recalls.append(len({i for i, _ in got} & set(truth.tolist())) / 50)
        print(f"{q[:34]:<34} hybrid {np.median(h_times[-args.reps:]):7.2f} ms  vector"
              f" {np.median(v_times[-args.reps:]):6.2f} ms  brute {np.median(b_times[-args.reps:]):7.2f} ms"
              f"  recall@50 {recalls[-1]:.2f}  hits {len(run_hybrid())}")
    cpu = os.cpu_count()
    print(f"library: {n:,} vectors of {args.dim} dims; keyword library "
          f"{'built in %.0f s' % built if built else 'reused'}; vectors "
          f"{'added in %.0f s' % built_vectors if built_vectors else 'reused'}; index ready in {index_s:.1f} s;"
          f" {cpu} CPUs; text encoding p50 {pct(enc_times, .5):.1f} ms")
    print(f"hybrid p50 {pct(h_times, .5):.2f} ms p95 {pct(h_times, .95):.2f} ms; vector p95 {pct(v_times, .95):.2f}"
          f" ms; brute force p95 {pct(b_times, .95):.2f} ms; recall@50 mean {np.mean(recalls):.3f}"
          f" min {min(recalls):.2f}; index {vector_mb:.1f} MB")
    print(json.dumps({
        "rows": int(n), "p50_ms": round(pct(h_times, .5), 2), "p95_ms": round(pct(h_times, .95), 2),
        "vector_p95_ms": round(pct(v_times, .95), 2), "bruteforce_p95_ms": round(pct(b_times, .95), 2),
        "recall_at_50": round(float(np.mean(recalls)), 3), "vector_mb": round(vector_mb, 1),
        "encode_p50_ms": round(pct(enc_times, .5), 2), "index_s": round(index_s, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
