"""The search benchmark's bulk-built library must be what photos.py would have written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from photocap.library.search import document, keyword

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
        got = keyword.search(conn, query)
        assert got == keyword.search(conn, query, exact=True)      # small sets: exact order
        assert keyword.count(conn, query) >= len(got)
    conn.close()
    again, rebuilt = bench.open_library(tmp_path, 2_000)           # reused, not rebuilt
    assert rebuilt is None
    again.close()


def test_bulk_documents_come_from_the_library_own_builder(tmp_path, monkeypatch):
    """One declaration of a search document: the benchmark builds each with document.search_document."""
    bench = _bench()
    made = []
    real = document.search_document

    def recorded(*args, **kwargs):
        doc = real(*args, **kwargs)
        made.append(doc)
        return doc

    monkeypatch.setattr(document, "search_document", recorded)
    conn, _ = bench.open_library(tmp_path, 300)
    stored = conn.execute("SELECT rowid, caption, tags, name, folder, taken, tagkeys FROM photo_fts"
                          " ORDER BY rowid").fetchall()
    conn.close()
    assert stored and sorted(made) == [tuple(row) for row in stored]
    assert not hasattr(bench, "fts_document")
