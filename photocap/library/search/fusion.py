"""Search by meaning and by words at once: hybrid ranking, similar photos, near-duplicates.

A query is ranked twice and the two rankings are fused:

- *keyword*: ``keyword.ranked_ids``, the library's FTS5/bm25 search (every word must match);
- *semantic*: the cosine between the query's text embedding (the caller encodes
  ``semantic_text(query)`` with the embedding model) and each photo's image embedding
  (``vectors.knn``), over the photos the query allows.

Fusion is reciprocal rank fusion: ``score = sum(1 / (RRF_K + rank))`` over the lists a photo is in
(``RRF_K = 60``, ranks from 1), ties broken by the cosine, then the photo id. A photo found only by
meaning can rank first; one found by both rises.

What stays exact. Plain words are soft: the semantic list does not need them in the caption (a
"coast" query finds a photo captioned "rock near the ocean"). Everything else keeps its meaning in
both lists: filters (``tag:``, ``folder:``, ``path:``, ``after:``, ``before:``, ``status:``),
excluded words and phrases (``-beach`` drops a photo whose caption, tags, name or folder has the
word, from the semantic list too), quoted phrases, ``OR`` groups and prefix words (``surf*``) must
match. The filters are compiled by ``compile.Filters``: a set of at most ``vectors.EXACT_MAX``
allowed photos is listed and searched exactly; a larger one is checked hit by hit on the ANN results.

Relevance floor (no per-model constant). A semantic hit is kept only if its cosine is above what
the best of the library's *unrelated* photos would reach for this query::

    floor = median + 1.4826 * MAD * sqrt(2 * ln N)

where median and MAD (median absolute deviation) are of the query's cosines over a fixed sample of
the library's vectors (``vectors.sample``, ~2,000) and N is the number of vectors. Median and MAD
describe the bulk of the library even when a large minority of photos do match; sqrt(2 ln N) is
about how many standard deviations the maximum of N normal scores reaches, so in a library with no
giraffe, "giraffe" leaves about one photo or none, while real matches stand far above the bulk. The
floor scales with the model's own score spread, so it needs no constant per model. Keyword hits are
never dropped by it (a word match is its own evidence).

Sorting. ``sort="relevance"`` is the fused order; ``newest``/``oldest`` order the fused set (the
first ``POOL`` of each list, above the floor) by ``taken_at``, undated photos last.

Without a text vector and model (no embedding model, or a query of filters only) hybrid is the
keyword search.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from typing import Any, Sequence

import numpy as np

from photocap.library.db import FTS_ID_MASK
from photocap.library.search import vectors
from photocap.library.search.compile import Filters
from photocap.library.search.keyword import Hit, hits, matching_ids, ranked_ids
from photocap.library.search.query import STATUSES, ParsedQuery, Term, parse

log = logging.getLogger(__name__)

MODES = ("hybrid", "keyword", "semantic")
SORTS = ("relevance", "newest", "oldest")
RRF_K = 60
# Each ranking contributes at most this many photos (or offset + limit, if more) to the fused set.
POOL = 200
# Duplicate search compares every pair exactly up to this many photos; beyond, an IVF index.
DUPLICATES_EXACT = 20_000
_SAMPLE = 2048


# ---- the query's parts --------------------------------------------------------------------------

def _hard(group: list[Term]) -> bool:
    """A group whose match is required in the semantic list too: OR groups, phrases, prefixes."""
    return len(group) > 1 or any(t.phrase or t.prefix for t in group)


def semantic_text(query: str) -> str:
    """The free text of a query (its words and phrases, no filters, no excluded words)."""
    pq = parse(query)
    return " ".join(t.text for group in pq.groups for t in group)


class Allowed:
    """The photos a query allows in the semantic list: its filters, exclusions and hard terms."""

    def __init__(self, conn: sqlite3.Connection, pq: ParsedQuery):
        self.conn = conn
        f = Filters(conn, pq, fts=True)
        hard = ParsedQuery(groups=[g for g in pq.groups if _hard(g)]).match_expression()
        excluded = pq.excluded_expression()
        self.fts = f.expression(hard)                       # required FTS5 match (NOTs inside)
        nots: list[str] = []
        if self.fts is None:                                # FTS5 has no NOT without a match
            nots = [*f.fts_not, *([excluded] if excluded else [])]
        elif excluded:
            self.fts = f"({self.fts}) NOT ({excluded})"
        self.not_fts = " OR ".join(f"({n})" for n in nots) if nots else None
        statuses = [s for s in STATUSES if s in pq.effective_statuses]
        self.clauses = [f"p.status IN ({','.join('?' * len(statuses))})", *f.clauses]
        self.params: list[Any] = [*statuses, *f.params]
        self.empty = pq.unsearchable or not statuses
        self.trivial = (self.fts is None and self.not_fts is None and not f.clauses
                        and pq.effective_statuses == frozenset(("pending", "done", "failed")))
        # Only exclusions (`dog -beach`): they remove few photos, so the nearest vectors are checked
        # one by one instead of listing every allowed photo (a NOT EXISTS per row of the library).
        self.broad = (self.fts is None and not f.clauses
                      and pq.effective_statuses == frozenset(("pending", "done", "failed")))

    def _tail(self) -> tuple[str, list[Any]]:
        sql, params = " AND ".join(self.clauses), list(self.params)
        if self.not_fts is not None:
            sql += " AND NOT EXISTS (SELECT 1 FROM photo_fts WHERE photo_fts MATCH ? AND rowid = p.fts_rowid)"
            params.append(self.not_fts)
        return sql, params

    def ids(self, cap: int) -> list[int] | None:
        """Every allowed photo id, or None when there are more than `cap`."""
        tail, params = self._tail()
        if self.fts is not None:
            sql = (f"SELECT p.id FROM photo_fts CROSS JOIN photos p ON p.id = (photo_fts.rowid & {FTS_ID_MASK})"
                   f" WHERE photo_fts MATCH ? AND {tail} LIMIT ?")
            params = [self.fts, *params]
        else:
            sql = f"SELECT p.id FROM photos p WHERE {tail} LIMIT ?"
        found = [row[0] for row in self.conn.execute(sql, [*params, cap + 1])]
        return None if len(found) > cap else found

    def check(self, ids: Sequence[int]) -> set[int]:
        """Those of `ids` the query allows."""
        tail, params = self._tail()
        # CROSS JOIN: the ids drive the loop (primary-key lookups); the planner would otherwise walk
        # the status index over the whole library (74 ms at 1M photos for 200 ids).
        sql = f"SELECT p.id FROM json_each(?) j CROSS JOIN photos p ON p.id = j.value WHERE {tail}"
        params = [json.dumps([int(i) for i in ids]), *params]
        if self.fts is not None:
            sql += " AND EXISTS (SELECT 1 FROM photo_fts WHERE photo_fts MATCH ? AND rowid = p.fts_rowid)"
            params.append(self.fts)
        return {row[0] for row in self.conn.execute(sql, params)}


# ---- the semantic ranking -----------------------------------------------------------------------

def relevance_floor(conn: sqlite3.Connection, model: str, q: np.ndarray) -> float:
    """The cosine a semantic hit must exceed for this query (see the module docstring)."""
    sample, n = vectors.sample(conn, model, len(q), _SAMPLE)
    if len(sample) < 2:
        return -1.0
    scores = sample @ q
    median = float(np.median(scores))
    # 1.4826 * MAD estimates the standard deviation of the bulk; all-equal scores have none
    spread = 1.4826 * float(np.median(np.abs(scores - median))) or float(np.std(scores))
    return median + spread * math.sqrt(2 * math.log(max(n, 2)))


def _semantic(conn: sqlite3.Connection, allowed: Allowed, model: str, q: np.ndarray, pool: int,
              floor: float) -> list[tuple[int, float]]:
    """(photo id, cosine) of the allowed photos above `floor`, best first, at most `pool`."""
    if allowed.empty:
        return []
    ids = None if allowed.trivial or allowed.broad else allowed.ids(vectors.EXACT_MAX)
    if ids is not None:
        found = vectors.knn(conn, model, q, limit=pool, candidates=ids)
        return [(i, s) for i, s in found if s > floor]
    k = 2 * pool
    while True:
        found = vectors.knn(conn, model, q, limit=k)
        above = [(i, s) for i, s in found if s > floor]
        ok = allowed.check([i for i, _ in above])
        kept = [(i, s) for i, s in above if i in ok]
        if len(kept) >= pool or len(above) < len(found) or len(found) < k or k >= 64 * pool:
            return kept[:pool]
        k *= 4


def _fuse(lists: list[list[int]], cosines: dict[int, float]) -> list[tuple[int, float]]:
    score: dict[int, float] = {}
    for ranked in lists:
        for rank, photo_id in enumerate(ranked, start=1):
            score[photo_id] = score.get(photo_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(score.items(), key=lambda kv: (-kv[1], -cosines.get(kv[0], -2.0), kv[0]))


def _by_date(conn: sqlite3.Connection, scored: list[tuple[int, float]], newest: bool) -> list[tuple[int, float]]:
    taken = dict(conn.execute("SELECT id, taken_at FROM photos WHERE id IN (SELECT value FROM json_each(?))",
                              (json.dumps([i for i, _ in scored]),)).fetchall())
    dated = sorted((p for p in scored if taken.get(p[0])), key=lambda p: (taken[p[0]], p[0]), reverse=newest)
    return dated + [p for p in scored if not taken.get(p[0])]


def _cosines(conn: sqlite3.Connection, model: str, q: np.ndarray, ids: list[int]) -> dict[int, float]:
    found, mat = vectors.vectors_of(conn, model, len(q), ids)
    return {int(i): float(s) for i, s in zip(found, mat @ q, strict=True)}


def search(conn: sqlite3.Connection, query: str, *, limit: int = 50, offset: int = 0, mode: str = "hybrid",
           sort: str = "relevance", text_vector: Any = None, model: str | None = None) -> list[Hit]:
    """Photos for `query`, best first (see the module docstring); never raises for any query text.

    `text_vector` is the embedding of `semantic_text(query)` by `model`; without both, hybrid is the
    keyword search and semantic finds nothing. Hits carry `semantic_score` (cosine, for photos with a
    vector of `model`) and `keyword_rank` (place in the keyword ranking, or None).
    """
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: choose one of {', '.join(MODES)}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: choose one of {', '.join(SORTS)}")
    limit, offset = int(limit), max(0, int(offset))
    if limit == 0:
        return []
    pool = max(POOL, offset + limit) if limit > 0 else -1
    q = _query_vector(text_vector) if model else None
    if q is not None and not semantic_text(query):
        q = None                                  # filters only: nothing to mean
    keyword: list[tuple[int, float]] = []
    if mode != "semantic" or q is None:
        keyword = ranked_ids(conn, query, limit=pool if mode != "keyword" or sort != "relevance" or limit < 0
                             else offset + limit)
    semantic: list[tuple[int, float]] = []
    if mode != "keyword" and q is not None and model:
        pq = parse(query)
        semantic = _semantic(conn, Allowed(conn, pq), model, q, pool if pool > 0 else POOL,
                             relevance_floor(conn, model, q))
    elif mode == "semantic":
        return []
    cosines = dict(semantic)
    if mode == "keyword" or not semantic:
        scored = keyword if mode != "semantic" else []
    elif mode == "semantic":
        scored = semantic
    else:
        scored = _fuse([[i for i, _ in keyword], [i for i, _ in semantic]], cosines)
    if sort != "relevance":
        scored = _by_date(conn, scored, newest=sort == "newest")
    page = scored[offset:] if limit < 0 else scored[offset:offset + limit]
    out = hits(conn, page)
    ranks = {photo_id: rank for rank, (photo_id, _) in enumerate(keyword, start=1)}
    if q is not None and model:
        cosines.update(_cosines(conn, model, q, [h.photo_id for h in out if h.photo_id not in cosines]))
    for hit in out:
        hit.keyword_rank = ranks.get(hit.photo_id)
        hit.semantic_score = cosines.get(hit.photo_id)
    return out


def _query_vector(text_vector: Any) -> np.ndarray | None:
    if text_vector is None:
        return None
    try:
        return vectors.normalised(text_vector)
    except ValueError:
        log.warning("the query's embedding is empty or not finite: keyword search only")
        return None


# ---- similar photos -----------------------------------------------------------------------------

def similar(conn: sqlite3.Connection, photo_id: int, model: str, *, limit: int = 20) -> list[Hit]:
    """The photos most similar to `photo_id` by `model`'s embeddings, itself left out (no vector: [])."""
    v = vectors.get(conn, photo_id, model)
    if v is None or limit <= 0:
        return []
    allowed = Allowed(conn, parse(""))
    k = limit + 1
    while True:
        found = [(i, s) for i, s in vectors.knn(conn, model, v, limit=k) if i != photo_id]
        ok = allowed.check([i for i, _ in found])
        kept = [(i, s) for i, s in found if i in ok]
        if len(kept) >= limit or len(found) < k - 1 or k >= 64 * (limit + 1):
            break
        k *= 4
    out = hits(conn, kept[:limit])
    for hit, (_, cosine) in zip(out, kept, strict=False):
        hit.semantic_score = cosine
    return out


# ---- near-duplicates ----------------------------------------------------------------------------

class _Sets:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _pairs(mat: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose cosine is at least `threshold`."""
    out: list[tuple[int, int]] = []
    n = len(mat)
    faiss = None if n <= DUPLICATES_EXACT else vectors.faiss_module()
    if faiss is None:
        for start in range(0, n, 1024):
            block = mat[start:start + 1024] @ mat.T
            rows, cols = np.nonzero(block >= threshold)
            out += [(start + r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True) if start + r < c]
        return out
    nlist = int(max(1, min(4096, math.sqrt(n), n // 40)))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(mat.shape[1]), mat.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(mat)
    index.add(mat)
    index.nprobe = min(nlist, 4)                 # near-duplicates share a list (or its neighbour)
    scores, found = index.search(mat, 16)
    for i in range(n):
        out += [(i, int(j)) for s, j in zip(scores[i], found[i], strict=True) if j > i and s >= threshold]
    return out


def duplicates(conn: sqlite3.Connection, query: str, model: str, *, threshold: float = 0.95
               ) -> list[list[Hit]]:
    """Groups of near-duplicates among the photos `query` finds (all when empty): photos whose
    cosine is at least `threshold`, joined transitively; each group's largest copy (pixels, then
    bytes) first, the largest groups first."""
    ids: list[int] | None = None
    if query.strip():
        ids = matching_ids(conn, query)
        if not ids:
            return []
    dim_row = conn.execute("SELECT dim FROM embeddings WHERE model = ? LIMIT 1", (model,)).fetchone()
    if dim_row is None:
        return []
    found, mat = vectors.vectors_of(conn, model, dim_row[0], ids)
    if ids is None and len(found):
        ok = Allowed(conn, parse("")).check(found.tolist())
        keep = np.asarray([i in ok for i in found.tolist()], dtype=bool)
        found, mat = found[keep], mat[keep]
    sets = _Sets(len(found))
    for a, b in _pairs(mat, threshold):
        sets.union(a, b)
    groups: dict[int, list[int]] = {}
    for i, photo_id in enumerate(found.tolist()):
        groups.setdefault(sets.find(i), []).append(photo_id)
    members = [g for g in groups.values() if len(g) > 1]
    if not members:
        return []
    sizes = {row[0]: (-(row[1] or 0) * (row[2] or 0), -(row[3] or 0), row[0]) for row in conn.execute(
        "SELECT id, width, height, size FROM photos WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps([i for g in members for i in g]),))}
    ordered = sorted((sorted(g, key=lambda i: sizes.get(i, (0, 0, i))) for g in members),
                     key=lambda g: (-len(g), g[0]))
    out = []
    for group in ordered:
        group_hits = hits(conn, [(i, 0.0) for i in group])
        if len(group_hits) > 1:
            out.append(group_hits)
    return out
