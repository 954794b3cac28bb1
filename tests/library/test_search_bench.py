"""The search benchmark's bulk-built library must be what photos.py would have written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from photocap.library import db, search

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "search.py"


def _bench():
    spec = importlib.util.spec_from_file_location("search_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bulk_library_matches_photos_reindex(tmp_path):
    bench = _bench()
    conn, built = bench.open_library(tmp_path, 2_000)
    assert built is not None
    assert bench.verify(conn, sample=400) == 0
    counts = dict(conn.execute("SELECT status, count(*) FROM photos GROUP BY status").fetchall())
    assert counts["done"] > 1_700 and counts.get("missing", 0) > 0
    live = conn.execute("SELECT count(*) FROM photos WHERE status != 'missing'").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM photo_fts").fetchone()[0] == live
    for query in ("man", "dog beach", "tag:dog", "folder:2019 woman", "white OR black"):
        got = search.search(conn, query)
        assert got == search.search(conn, query, exact=True)      # small sets: exact order
        assert search.count(conn, query) >= len(got)
    conn.close()
    again, rebuilt = bench.open_library(tmp_path, 2_000)           # reused, not rebuilt
    assert rebuilt is None
    again.close()
