"""User query -> safe FTS5 MATCH + filters, ranked by bm25, fast on large libraries.

The query language is described in photocap.library.search.query (the parser; compile.py turns its
filters into FTS5 phrases and SQL).

Ranking and speed
-----------------
Hits are ranked by bm25 (FTS5 ``rank``; lower is better, ``Hit.score = -rank`` so higher is
better), ties broken by FTS rowid. A query with only filters, or an empty one, lists photos newest
taken first (no date last). The FTS5 table's rank is ``bm25(1, 1, 1, 1, 0, 0)``: the text columns
(caption, tags, name, folder) score, the machine columns ``taken`` (date tokens) and ``tagkeys``
(one token per tag, ``document.tag_key``) do not, so a filter on them never changes a score (a word
found only there scores 0).

Ranking every match costs 1-3 microseconds a row: 120-290 ms for a word found in 100,000 of 1M
photos. FTS5's bm25 depends on a document only through the query terms' frequencies (tf) and the
document's total length D: ``idf * tf*(k1+1) / (tf + k1*(1-b+b*D/avgdl))``. The library stores
each photo's FTS document under rowid ``(key << 32) | photo_id`` (``document.fts_key``) where key
decreases with that formula evaluated for the document's most repeated word (no stop word, no
number) over its D, with a fixed avgdl guess: FTS5, which walks matches lazily in rowid order,
yields first the documents bm25 is likely to rank first. So, with k = ``CANDIDATES`` doubled until
it is at least ``2 * (offset + limit)`` (consecutive pages share their candidates):

1. The match set is sized without ranking: a cheap superset first where there is one (a phrase's
   words that are no stop word: ``"sitting on a bench"`` -> ``sitting AND bench``; if that has at
   most ``EXACT_LIMIT`` rows, so has the phrase), else probes (``... ORDER BY rowid LIMIT 1
   OFFSET k-1``, then one resuming after it up to ``EXACT_LIMIT``) or the collection below.
2. A match set of at most ``EXACT_LIMIT`` rows (or of fewer than k) is ranked exactly: the result
   is the exact bm25 order.
3. A larger one is ranked only over its k first documents in key order (``rowid <= k-th rowid``):
   an approximation. What it can miss: a document whose key is pessimistic for *this* query. The
   key assumes the query word is the document's most repeated word; it undershoots when the query
   matches several of the document's words at once (``cat OR dog`` on "a cat and a dog", a prefix
   ``surf*`` matching surfer and surfboard, two AND-ed words), and when many documents repeat some
   *other* word (several captions) so that they fill the k candidates although the query word is
   in them once (an untagged adjective such as ``white``: top-50 overlap 0 in the benchmark). The
   benchmark (benchmarks/search.py) reports the overlap with the exact top 50;
   ``search(..., exact=True)`` always ranks everything.

Filters become FTS5 conditions where they can: ``tag:X`` is exactly ``{tagkeys} : t<hex of X>``
(``-tag:`` its NOT), ``folder:`` exactly a ``{folder}`` column phrase, ``after:``/``before:``
exactly an OR of the year, month and day tokens of ``taken`` (``y2019 m201907 d20190704``,
``document.taken_tokens``) covering the range, or NOT the tokens of the rest of the library's years
plus ``ynone`` (documents without a full date) when that covers fewer documents (an OR walks
every one of its doclists). ``path:`` adds the whole words it implies; status and the path
substring are SQL checks on photos (a join, ~1.5 us a row: a random B-tree lookup).

Plans. *Direct*: the narrowed MATCH is the query's positive terms plus tag tokens (which score
nothing) and at most ~3 years of required date tokens, no exclusion or SQL check: one statement
ranks it (``rowid <= k-th`` when approximate). *Unscored*: a ``folder:`` (or ``path:`` word)
phrase scores in its column; when the set is ranked whole and one probe shows no match has a
query term in those columns, ``bm25`` with those columns weighted 0 over the narrowed MATCH is
the query's own bm25, in one statement. *Collected*: otherwise the matching rowids are collected
in rowid order (one pass when rows are costly: SQL checks, date ORs; else k rows, a probe, then the rest up to
``EXACT_LIMIT``) and ranked by ``rank_match``, the positive terms plus the tag tokens, restricted
to them (a rowid range plus an IN set). Filters never change the score and excluded phrases have
no instance in a matching row, so this is the query's own bm25; leaving the exclusions, dates and
folder phrases out of the ranked MATCH matters because bm25 computes each phrase's idf by walking
its whole doclist.

What stays slow (1M photos, 2 shared cores): ``path:`` with a value that is no whole word
(``path:DSC0 cat``, ~60-80 ms) checks every row of the word's match set against photos.path;
a phrase of very common words (``"sitting on a bench"``, ~30 ms) is walked twice by FTS5 (the
match, then bm25's idf), each walk stepping through the doclists of "on" and "a"; a ``folder:``
filter over a large set ranks k collected rows with an IN test over the words' matches in their
rowid range (``folder:"beach trip" woman``, ~25-30 ms); and
an exact set near ``EXACT_LIMIT`` costs ~2-3 us a row of bm25 (~20-25 ms at 10,000).

A query with only filters lists from the photos table, driven by the most selective filter when
one is small (a capped count decides), else by the taken_at index, newest first (tags are
``tagkeys`` phrases there when that folds an exclusion into one FTS5 MATCH). Missing photos have
no FTS document: their words are matched in Python over the (status, taken_at) index.

Captions and tags are fetched for the returned page only, one query each.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

from photocap.library import paths
from photocap.library.db import FTS_ID_MASK
from photocap.library.search.compile import Filters, WordMatcher
from photocap.library.search.query import LIVE_STATUSES, STATUSES, ParsedQuery, literal, parse

log = logging.getLogger(__name__)

# photo_fts columns that score (weight 1 in its rank); taken and tagkeys follow with weight 0.
_RANKED_COLUMNS = ("caption", "tags", "name", "folder")

# Match sets up to this size are ranked exactly.
EXACT_LIMIT = 10_000
# Larger ones are ranked over this many of their shortest documents (at least 2 * (offset+limit)).
CANDIDATES = 2_000


@dataclass
class Hit:
    photo_id: int
    path: str
    caption: str | None         # the user's caption, else the first automatic one
    tags: list[str]             # user tags first, then automatic, each group by name
    taken_at: str | None
    score: float                # -bm25 (higher is better); 0.0 for filter-only listings
    status: str
    semantic_score: float | None = None     # hybrid search: cosine with the query's text embedding
    keyword_rank: int | None = None         # hybrid search: 1-based place in the keyword ranking


class _Plan:
    """The FTS part of a query: rank expression, narrowed expression, SQL checks."""

    def __init__(self, conn: sqlite3.Connection, pq: ParsedQuery, match: str):
        self.match = match
        f = Filters(conn, pq, fts=True)
        self.filtered = f.narrows
        self.narrowed = f.expression(match)
        # What ranks: the positive terms and the tags (one zero-weight token each: they score
        # nothing and cost little). Excluded phrases, dates and folders are left to the narrowed
        # MATCH that finds the rows: bm25 reads each phrase's whole doclist for its idf.
        self.rank_match = " AND ".join(
            [f"({pq.positive_expression()})", *(f"({t})" for t in f.fts_tags)])
        # One statement does it all when the narrowed MATCH is just that.
        self.direct = (f.neutral and (not f.dates or f.cheap_dates) and not f.fts_not
                       and not pq.excluded and not f.clauses and not f.fts_checks)
        # CROSS JOIN keeps FTS5 the outer loop: the join key is an expression on its rowid.
        self.join = (f" CROSS JOIN photos p ON p.id = (photo_fts.rowid & {FTS_ID_MASK})"
                     if f.clauses else "")
        self.where = " AND ".join(["photo_fts MATCH ?", *f.fts_checks, *f.clauses])
        self.params = [self.narrowed, *f.fts_params, *f.params]
        # Folder (and path word) phrases score in their columns. Where no positive term of the
        # query has an instance in those columns, bm25 with those columns weighted 0 over the
        # narrowed MATCH is the query's own bm25: rank directly if that holds for every match.
        self.unscored: str | None = None
        if (not self.direct and f.scored_columns and not f.fts_not and not pq.excluded
                and not f.clauses and not f.fts_checks and (not f.dates or f.cheap_dates)):
            cols = sorted(f.scored_columns)
            own = " OR ".join(t.fts() for group in pq.groups for t in group)
            self.unscored = f"({self.narrowed}) AND ({{{' '.join(cols)}}} : ({own}))"
            weights = ", ".join("0.0" if c in cols else "1.0" for c in _RANKED_COLUMNS)
            self.unscored_rank = f"bm25(photo_fts, {weights}, 0.0, 0.0)"
        # A cheaper superset of the narrowed MATCH (for sizing the match set), when there is one.
        superset = pq.superset_expression()
        self.superset = None
        if superset is not None and not f.clauses and not f.fts_checks:
            self.superset = f.expression(superset)

    def unscored_holds(self, conn: sqlite3.Connection) -> bool:
        """No match has an instance of the query's terms in the scored filter columns (one
        probe), so `unscored_rank` is the query's own bm25 on every match."""
        return self.unscored is not None and conn.execute(
            "SELECT 1 FROM photo_fts WHERE photo_fts MATCH ? LIMIT 1",
            (self.unscored,)).fetchone() is None

    def small(self, conn: sqlite3.Connection, k: int) -> bool:
        """True when a cheap superset shows the match set is ranked whole: it has fewer than k
        or at most EXACT_LIMIT rows."""
        if self.superset is None:
            return False
        n = conn.execute("SELECT count(*) FROM (SELECT 1 FROM photo_fts WHERE photo_fts MATCH ?"
                         " LIMIT ?)", (self.superset, max(k, EXACT_LIMIT + 1))).fetchone()[0]
        return n < k or n <= EXACT_LIMIT

    def _in_rowid_order(self, after: int | None) -> tuple[str, list[Any]]:
        """The matches' rowids in rowid order (after `after`), as SQL without its LIMIT."""
        sql = f"SELECT photo_fts.rowid FROM photo_fts{self.join} WHERE {self.where}"
        params = list(self.params)
        if after is not None:
            sql += " AND photo_fts.rowid > ?"
            params.append(after)
        return sql + " ORDER BY photo_fts.rowid", params

    def probe(self, conn: sqlite3.Connection, skip: int, after: int | None = None) -> int | None:
        """The rowid of the (skip+1)-th match in rowid order (after `after`), or None."""
        sql, params = self._in_rowid_order(after)
        row = conn.execute(sql + " LIMIT 1 OFFSET ?", [*params, skip]).fetchone()
        return None if row is None else row[0]

    def collect(self, conn: sqlite3.Connection, n: int, after: int | None = None) -> list[int]:
        """The rowids of the first `n` matches (all if n < 0) in rowid order (after `after`)."""
        sql, params = self._in_rowid_order(after)
        return [row[0] for row in conn.execute(sql + " LIMIT ?", [*params, n])]

    def ranked(self, conn: sqlite3.Connection, limit: int, offset: int,
               cut: int | None, rank_expr: str = "photo_fts.rank") -> list[tuple[int, float]]:
        """Direct plans: rank the narrowed matches (up to rowid `cut`) by their own bm25."""
        sql = (f"SELECT photo_fts.rowid, {rank_expr} AS r FROM photo_fts{self.join}"
               f" WHERE {self.where}")
        params: list[Any] = list(self.params)
        if cut is not None:
            sql += " AND photo_fts.rowid <= ?"
            params.append(cut)
        sql += " ORDER BY r, photo_fts.rowid LIMIT ? OFFSET ?"
        return [(rowid & FTS_ID_MASK, -rank) for rowid, rank in conn.execute(sql, [*params, limit, offset])]

    def ranked_among(self, conn: sqlite3.Connection, rowids: list[int], limit: int, offset: int
                     ) -> list[tuple[int, float]]:
        """Rank the given matches by the query's own bm25 (filters add nothing to the score)."""
        if not rowids:
            return []
        sql = ("SELECT rowid, rank FROM photo_fts WHERE photo_fts MATCH ? AND rowid >= ?"
               " AND rowid <= ? AND +rowid IN (SELECT value FROM json_each(?))"
               " ORDER BY rank, rowid LIMIT ? OFFSET ?")
        params = [self.rank_match, rowids[0], rowids[-1], json.dumps(rowids), limit, offset]
        return [(rowid & FTS_ID_MASK, -rank) for rowid, rank in conn.execute(sql, params)]

    def count(self, conn: sqlite3.Connection) -> int:
        sql = f"SELECT count(*) FROM photo_fts{self.join} WHERE {self.where}"
        return conn.execute(sql, self.params).fetchone()[0]


def _candidates(need: int) -> int:
    # Doubling from CANDIDATES (not 2 * need itself) keeps consecutive pages ranked over the same
    # candidates: all pages within the first CANDIDATES / 2 results agree with each other.
    k = max(CANDIDATES, 1)
    while k < 2 * need:
        k *= 2
    return k


def _cutoff(conn: sqlite3.Connection, plan: _Plan, need: int) -> int | None:
    """The rowid bound for approximate ranking, or None to rank the whole match set."""
    k = _candidates(need)
    if plan.small(conn, k):
        return None                                   # few matches: all are ranked
    kth = plan.probe(conn, k - 1)
    if kth is None:
        return None                                   # fewer than k matches
    if k <= EXACT_LIMIT and plan.probe(conn, EXACT_LIMIT - k, after=kth) is None:
        return None                                   # at most EXACT_LIMIT matches
    return kth


def _fts_ids(conn: sqlite3.Connection, plan: _Plan, limit: int, offset: int, exact: bool
             ) -> list[tuple[int, float]]:
    if plan.direct:
        cut = None if exact or limit < 0 else _cutoff(conn, plan, offset + limit)
        return plan.ranked(conn, limit, offset, cut)
    large = False                                     # known to exceed EXACT_LIMIT
    if plan.unscored is not None:
        large = not (exact or limit < 0) and _cutoff(conn, plan, offset + limit) is not None
        if not large and plan.unscored_holds(conn):
            # Ranked whole, in one statement. (A large set is better served below: bm25's idf
            # walk of a folder phrase's words costs more than ranking k collected rows.)
            return plan.ranked(conn, limit, offset, None, plan.unscored_rank)
    # Otherwise collect the matching rowids in rowid order (cheap: FTS5 narrows with the
    # filters' phrases, SQL checks the rest), then rank exactly those by the query's own bm25.
    if exact or limit < 0:
        rowids = plan.collect(conn, -1)
    else:
        k = _candidates(offset + limit)
        if plan.join:                                 # SQL checks: each row checked once
            rowids = plan.collect(conn, max(k, EXACT_LIMIT + 1))
            if len(rowids) > EXACT_LIMIT:
                rowids = rowids[:k]                   # approximate: the k first in key order
        else:                                         # probing past k is cheaper than fetching
            rowids = plan.collect(conn, k)
            if not large and len(rowids) == k and k <= EXACT_LIMIT and plan.probe(
                    conn, EXACT_LIMIT - k, after=rowids[-1]) is None:
                rowids += plan.collect(conn, EXACT_LIMIT - k, after=rowids[-1])
    return plan.ranked_among(conn, rowids, limit, offset)


# ---- listing (no words) -------------------------------------------------------------------------

_DRIVER_CAP = 5_000


def _listing_sql(conn: sqlite3.Connection, pq: ParsedQuery) -> tuple[str, list[Any], str]:
    """FROM/WHERE of the photos passing the filters (no FTS words), its parameters, and the
    ORDER BY that lists them newest first."""
    # Tags are FTS5 phrases where that spares an exclusion's NOT IN; alone, the tags index drives.
    f = Filters(conn, pq, fts=False,
                 tag_fts="missing" not in pq.effective_statuses and bool(pq.excluded))
    clauses, params = list(f.clauses), list(f.params)
    fts_expr = f.expression(None, superset=False)     # the SQL clauses check the rest exactly
    if fts_expr is None and f.fts_not:
        clauses.append("+p.fts_rowid NOT IN (SELECT rowid FROM photo_fts WHERE photo_fts MATCH ?)")
        params.append(" OR ".join(f.fts_not))
    if pq.excluded:
        if fts_expr is not None and "missing" not in pq.effective_statuses:
            fts_expr = f"({fts_expr}) NOT ({pq.excluded_expression()})"
        else:
            clauses.append(f"p.id NOT IN (SELECT photo_fts.rowid & {FTS_ID_MASK} FROM photo_fts"
                           " WHERE photo_fts MATCH ?)")
            params.append(pq.excluded_expression())
    # A selective filter drives (its set, then a sort); otherwise the taken_at index does (newest
    # first, stopping at the page). Sets are sized with a capped count, which is cheap.
    driver = None
    if fts_expr is not None:
        n = conn.execute("SELECT count(*) FROM (SELECT 1 FROM photo_fts WHERE photo_fts MATCH ?"
                         " LIMIT ?)", (fts_expr, _DRIVER_CAP)).fetchone()[0]
        driver = (n, "p.fts_rowid IN (SELECT rowid FROM photo_fts WHERE photo_fts MATCH ?)",
                  [fts_expr])
        clauses.append("+p.fts_rowid IN (SELECT rowid FROM photo_fts WHERE photo_fts MATCH ?)")
        params.append(fts_expr)
    for tag in pq.tags if not f.fts_neutral else ():
        n = conn.execute("SELECT count(*) FROM (SELECT 1 FROM tags WHERE tag = ? LIMIT ?)",
                         (tag, _DRIVER_CAP)).fetchone()[0]
        if driver is None or n < driver[0]:
            driver = (n, "p.id IN (SELECT photo_id FROM tags WHERE tag = ?)", [tag])
    statuses = pq.effective_statuses
    if statuses != LIVE_STATUSES:
        ordered = [s for s in STATUSES if s in statuses]
        n = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM photos WHERE status IN"
                         f" ({','.join('?' * len(ordered))}) LIMIT ?)",
                         (*ordered, _DRIVER_CAP)).fetchone()[0]
        if driver is None or n < driver[0]:
            driver = (n, f"p.id IN (SELECT id FROM photos WHERE status IN"
                         f" ({','.join('?' * len(ordered))}))", ordered)
    order = "ORDER BY p.taken_at DESC, p.id DESC"
    if driver is not None and driver[0] < _DRIVER_CAP:
        clauses.insert(0, driver[1])
        params[0:0] = driver[2]
        order = "ORDER BY +p.taken_at DESC, p.id DESC"
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return f"FROM photos p{where}", params, order


def _listing(conn: sqlite3.Connection, pq: ParsedQuery, limit: int, offset: int
             ) -> list[tuple[int, float]]:
    body, params, order = _listing_sql(conn, pq)
    sql = f"SELECT p.id {body} {order} LIMIT ? OFFSET ?"
    return [(row[0], 0.0) for row in conn.execute(sql, [*params, limit, offset])]


def _listing_count(conn: sqlite3.Connection, pq: ParsedQuery) -> int:
    body, params, _ = _listing_sql(conn, pq)
    return conn.execute(f"SELECT count(*) {body}", params).fetchone()[0]


# ---- words without FTS (missing photos) ---------------------------------------------------------

def _scan_words(conn: sqlite3.Connection, pq: ParsedQuery) -> Iterator[int]:
    """Photo ids (newest first) passing the filters whose text matches the words, in Python."""
    f = Filters(conn, pq, fts=False)              # folders are matched in Python
    clauses, params = list(f.clauses), f.params
    if "done" not in pq.effective_statuses:
        # Few photos: the (status, taken_at) index lists them newest first, without a sort, and
        # each one's text is read only as the caller consumes them.
        clauses = [c[1:] if c.startswith("+p.status IN") else c for c in clauses]
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql = ("SELECT p.id, p.folder, p.name,"
           " (SELECT group_concat(text, char(10)) FROM captions c WHERE c.photo_id = p.id),"
           " (SELECT group_concat(tag, ' ; ') FROM tags t WHERE t.photo_id = p.id)"
           f" FROM photos p{where} ORDER BY p.taken_at DESC, p.id DESC")
    matches = WordMatcher(pq)
    for photo_id, folder, name, caption, tag_text in conn.execute(sql, params):
        if matches((caption, tag_text, name, folder)):
            yield photo_id


# ---- the page -----------------------------------------------------------------------------------

def _hits(conn: sqlite3.Connection, scored: list[tuple[int, float]]) -> list[Hit]:
    if not scored:
        return []
    ids = json.dumps([photo_id for photo_id, _ in scored])
    photos = {row[0]: row for row in conn.execute(
        "SELECT id, path, taken_at, status FROM photos WHERE id IN (SELECT value FROM json_each(?))",
        (ids,))}
    captions: dict[int, str] = {}
    for photo_id, text in conn.execute(
            "SELECT photo_id, text FROM captions WHERE photo_id IN (SELECT value FROM json_each(?))"
            " ORDER BY photo_id, source = 'auto', position, id", (ids,)):
        captions.setdefault(photo_id, text)
    tags: dict[int, list[str]] = {}
    for photo_id, tag in conn.execute(
            "SELECT photo_id, tag FROM tags WHERE photo_id IN (SELECT value FROM json_each(?))"
            " ORDER BY photo_id, source = 'auto', tag", (ids,)):
        tags.setdefault(photo_id, []).append(tag)
    hits = []
    for photo_id, score in scored:
        row = photos.get(photo_id)
        if row is None:                      # deleted between the two reads
            continue
        hits.append(Hit(photo_id=photo_id, path=paths.from_db(row[1]),
                        caption=captions.get(photo_id), tags=tags.get(photo_id, []),
                        taken_at=row[2], score=float(score), status=row[3]))
    return hits


# ---- public API ---------------------------------------------------------------------------------

def hits(conn: sqlite3.Connection, scored: list[tuple[int, float]]) -> list[Hit]:
    """The hits of (photo id, score) pairs, in that order (a photo deleted meanwhile is left out)."""
    return _hits(conn, scored)


# How a query is answered (`Explanation.route`).
NOTHING = "nothing"        # no photo can match (text without words, no status left)
PYTHON = "python"          # missing photos asked for with words: matched in Python
LISTING = "listing"        # filters only: listed from the photos table, newest first
FTS = "fts"                # words: FTS5 finds and bm25 ranks them

# Which attempt answered it (`Explanation.attempt`).
PARSED = "parsed"          # the query as parsed
LITERAL = "literal"        # FTS5 rejected that: the whole text searched as one literal phrase
GAVE_UP = "gave up"        # rejected too: the result is empty

T = TypeVar("T")


@dataclass(frozen=True)
class Explanation:
    """How `search` answers a query (`explain`): which attempt answered it, by which route."""
    attempt: str               # PARSED, LITERAL or GAVE_UP
    route: str                 # NOTHING, PYTHON, LISTING or FTS (of the query searched)
    query: ParsedQuery         # what was searched: the parsed query, or the literal phrase


def _python_path(pq: ParsedQuery) -> bool:
    """Missing photos have no FTS document: their words and folders are matched in Python."""
    return "missing" in pq.effective_statuses and bool(pq.has_words or pq.folders
                                                         or pq.not_folders)


def _route(pq: ParsedQuery, match: str | None) -> str:
    """How `pq` is answered; `match` is its `match_expression()`."""
    if pq.unsearchable or not pq.effective_statuses:
        return NOTHING
    if _python_path(pq):
        return PYTHON
    if match is None or "missing" in pq.effective_statuses:
        return LISTING
    return FTS


def _ids(conn: sqlite3.Connection, pq: ParsedQuery, limit: int, offset: int, exact: bool
         ) -> list[tuple[int, float]]:
    match = pq.match_expression()
    route = _route(pq, match)
    if route == NOTHING:
        return []
    if route == PYTHON:
        out = []
        stop = None if limit < 0 else offset + limit
        for i, photo_id in enumerate(_scan_words(conn, pq)):
            if stop is not None and i >= stop:
                break
            if i >= offset:
                out.append((photo_id, 0.0))
        return out
    if route == LISTING or match is None:
        return _listing(conn, pq, limit, offset)
    return _fts_ids(conn, _Plan(conn, pq, match), limit, offset, exact)


def _attempt(run: Callable[[ParsedQuery], T], query: Any) -> tuple[T | None, str, ParsedQuery]:
    """`run` on the parsed query; on an SQLite error, on the literal query; then give up (None).
    Also says which attempt answered, and the query it ran on."""
    pq = parse(query)
    try:
        return run(pq), PARSED, pq
    except sqlite3.OperationalError as exc:
        log.debug("query %r failed (%s); retrying it as a literal phrase", query, exc)
    pq = literal(query)
    try:
        return run(pq), LITERAL, pq
    except sqlite3.OperationalError as exc:
        log.warning("search failed: %s", exc)
        return None, GAVE_UP, pq


def search(conn: sqlite3.Connection, query: str, *, limit: int = 50, offset: int = 0,
           exact: bool = False) -> list[Hit]:
    """Photos matching `query` (see the module docstring), best first; never raises for any text.

    `limit` < 0 means no limit. `exact` ranks every match (slow for very common words).
    """
    return _hits(conn, ranked_ids(conn, query, limit=limit, offset=offset, exact=exact))


def matching_ids(conn: sqlite3.Connection, query: str) -> list[int]:
    """Ids of every photo `query` finds, in the order `photocap search` lists them."""
    return [photo_id for photo_id, _ in ranked_ids(conn, query, limit=-1)]


def ranked_ids(conn: sqlite3.Connection, query: str, *, limit: int = 50, offset: int = 0,
               exact: bool = False) -> list[tuple[int, float]]:
    """(photo id, score) pairs in `search` order, without loading captions and tags.

    To enumerate *every* match (exports, the GUI's id list) use ``limit=-1``: paging through a
    large match set with growing offsets ranks later pages over larger candidate sets, so pages
    beyond the first CANDIDATES / 2 results may repeat or skip a photo at those boundaries.
    """
    limit = int(limit)
    offset = max(0, int(offset))
    if limit == 0:
        return []
    scored, _, _ = _attempt(lambda pq: _ids(conn, pq, limit, offset, exact), query)
    return scored or []


def explain(conn: sqlite3.Connection, query: str, *, limit: int = 50, offset: int = 0,
            exact: bool = False) -> Explanation:
    """How `search` with these arguments answers `query` (it runs that search once: whether FTS5
    accepts a query is known only by running it)."""
    limit = int(limit)
    offset = max(0, int(offset))
    _, attempt, pq = _attempt(lambda q: _ids(conn, q, limit, offset, exact), query)
    return Explanation(attempt=attempt, route=_route(pq, pq.match_expression()), query=pq)


def _count(conn: sqlite3.Connection, pq: ParsedQuery) -> int:
    match = pq.match_expression()
    route = _route(pq, match)
    if route == NOTHING:
        return 0
    if route == PYTHON:
        return sum(1 for _ in _scan_words(conn, pq))
    if route == LISTING or match is None:
        return _listing_count(conn, pq)
    return _Plan(conn, pq, match).count(conn)


def count(conn: sqlite3.Connection, query: str) -> int:
    """How many photos `search` would find without a limit (cost: one pass over the matches)."""
    counted, _, _ = _attempt(lambda pq: _count(conn, pq), query)
    return counted or 0
