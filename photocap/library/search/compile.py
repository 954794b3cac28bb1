"""The filters of a parsed query as FTS5 phrases and SQL, and the word matcher used for photos
that have no search document (missing ones). The query language itself is in query.py."""

from __future__ import annotations

import datetime as _dt
import sqlite3
import unicodedata
from typing import Any, Iterable

from photocap.library import paths
from photocap.library.db import FTS_ID_MASK
from photocap.library.search.document import UNDATED_TOKEN, tag_key
from photocap.library.search.query import LIVE_STATUSES, STATUSES, WORD, ParsedQuery, Term

# ---- SQL ----------------------------------------------------------------------------------------

# A photo's review state from its captions (`{id}` is the photo id's SQL): edited wins over approved.
_EDITED = "EXISTS (SELECT 1 FROM captions WHERE photo_id = {id} AND source = 'user')"
_APPROVED = "EXISTS (SELECT 1 FROM captions WHERE photo_id = {id} AND source = 'auto' AND approved = 1)"
_AUTO = "EXISTS (SELECT 1 FROM captions WHERE photo_id = {id} AND source = 'auto')"
_REVIEW_SQL = {
    "edited": _EDITED,
    "approved": f"(NOT {_EDITED} AND {_APPROVED})",
    "todo": f"(NOT {_EDITED} AND NOT {_APPROVED} AND {_AUTO})",
}


def review_clause(state: str, photo_id_sql: str) -> str:
    """SQL true when the photo whose id is `photo_id_sql` is in review `state` (todo, approved, edited)."""
    return _REVIEW_SQL[state].replace("{id}", photo_id_sql)


def review_state_sql(photo_id_sql: str) -> str:
    """SQL whose value is the review state of the photo whose id is `photo_id_sql`; NULL without captions."""
    whens = " ".join(f"WHEN {review_clause(state, photo_id_sql)} THEN '{state}'" for state in _REVIEW_SQL)
    return f"(CASE {whens} END)"


def _like_pattern(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _icontains(haystack: Any, needle: Any) -> bool:
    if haystack is None or needle is None:
        return False
    if isinstance(haystack, bytes):
        haystack = paths.display(paths.from_db(haystack))
    return str(needle).casefold() in str(haystack).casefold()


def _contains(conn: sqlite3.Connection, column: str, value: str, negate: bool
              ) -> tuple[str, list[Any]]:
    """Case-insensitive substring test: LIKE for ASCII, a Python casefold for the rest (and for
    values longer than SQLite takes as a LIKE pattern, which it would reject)."""
    pattern = _like_pattern(value)
    if value.isascii() and len(pattern) <= conn.getlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH):
        clause, params = f"{column} LIKE ? ESCAPE '\\'", [pattern]
    else:
        conn.create_function("photocap_icontains", 2, _icontains, deterministic=True)
        clause, params = f"photocap_icontains({column}, ?)", [value]
    return (f"NOT ({clause})" if negate else clause), params


def _folder_fts(terms: list[Term]) -> str:
    return " AND ".join("{folder} : " + t.fts() for t in terms)


def _path_prefilter(value: str) -> list[str]:
    """FTS phrases every path containing `value` must match (a superset test), ASCII values only.

    A word of `value` with a separator on both sides inside `value` is a whole word of the folder
    or the file name; one with a separator before it only is the start of such a word.
    """
    if not value.isascii():
        return []
    out = []
    for m in WORD.finditer(value):
        left = m.start() > 0
        right = m.end() < len(value)
        if left:
            out.append("{folder name} : " + Term(m.group(), prefix=not right).fts())
    return out


def _day(bound: str) -> _dt.date:
    """'2019', '2019-07' or '2019-07-04' as the first day it stands for (ValueError if none)."""
    parts = [int(x) for x in bound.split("-")] + [1, 1]
    return _dt.date(parts[0], parts[1], parts[2])


def _next_month(day: _dt.date) -> _dt.date:
    return _dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _year_of(conn: sqlite3.Connection, fn: str) -> int | None:
    row = conn.execute(f"SELECT {fn}(taken_at) FROM photos WHERE taken_at IS NOT NULL").fetchone()
    value = row[0] if row else None
    if not isinstance(value, str) or not value[:4].isdigit():
        return None
    return int(value[:4])


def _cover(lo: _dt.date, hi: _dt.date) -> list[str] | None:
    """The fewest year, month and day tokens covering the days [lo, hi) (None: too many)."""
    tokens: list[str] = []
    day = lo
    while day < hi and len(tokens) < 1000:
        if day.month == 1 and day.day == 1 and _dt.date(day.year + 1, 1, 1) <= hi:
            tokens.append(f"y{day.year:04d}")
            day = _dt.date(day.year + 1, 1, 1)
        elif day.day == 1 and _next_month(day) <= hi:
            tokens.append(f"m{day.year:04d}{day.month:02d}")
            day = _next_month(day)
        else:
            tokens.append(f"d{day.year:04d}{day.month:02d}{day.day:02d}")
            day += _dt.timedelta(days=1)
    return tokens if day >= hi else None


def _weight(tokens: list[str]) -> float:
    """Roughly how many documents the tokens cover, in years (what an OR of them costs)."""
    return sum(1.0 if t[0] == "y" else 1 / 12 if t[0] == "m" else 1 / 365 for t in tokens)


def _library_years(conn: sqlite3.Connection) -> tuple[_dt.date, _dt.date] | None:
    """The first day of the library's first year and of the year after its last (None: no dated
    photo, or dates out of range)."""
    first = _year_of(conn, "min")
    last = _year_of(conn, "max")
    if first is None or last is None:
        return None
    try:
        return _dt.date(first, 1, 1), _dt.date(last + 1, 1, 1)
    except (ValueError, OverflowError):
        return None


def _taken_fts(conn: sqlite3.Connection, after: str | None, before: str | None
               ) -> tuple[str, bool, float] | None:
    """The date filters as an FTS5 phrase set on the `taken` column (document.taken_tokens), whether
    it is to be excluded (NOT) rather than required, and its `_weight`; or None (then SQL tests
    taken_at).

    The days [after, before) are covered by whole years, then months, then days (at most ~90
    tokens plus the years); open ends stop at the library's first and last years (two index
    lookups). When the rest of those years (and the undated documents) is cheaper to walk, the
    filter is NOT that complement. Equal to the SQL test on `taken_at` for the full dates
    photocap writes.
    """
    if after is None and before is None:
        return None
    try:
        lo = _day(after) if after is not None else None
        hi = _day(before) if before is not None else None
        years = _library_years(conn)
        if years is not None:
            start, end = years
        elif lo is None or hi is None:
            return None                                 # no dated photo, or odd dates: SQL does it
        else:
            start, end = lo, hi                         # the range itself; no complement
        lo = min(max(lo or start, start), end)
        hi = max(min(hi or end, end), start)
        tokens = _cover(lo, hi) if lo < hi else []
        if tokens is None:
            return None
        rest = None
        if tokens and (start, end) != (lo, hi):
            before_lo, after_hi = _cover(start, lo), _cover(hi, end)
            if before_lo is not None and after_hi is not None:
                rest = [UNDATED_TOKEN, *before_lo, *after_hi]
    except (ValueError, OverflowError):
        return None                                     # SQL does it
    if rest is not None and _weight(rest) - 0.5 < _weight(tokens):
        return "{taken} : (" + " OR ".join(rest) + ")", True, _weight(rest)
    return "{taken} : (" + (" OR ".join(tokens) if tokens else '"none"') + ")", False, _weight(tokens)


class Filters:
    """A query's filters as SQL: FTS5 phrases where they are exact or a cheap superset, and
    WHERE clauses on photos `p` (and their parameters) for the rest.

    `fts`: the FTS row drives (date filters become `taken` phrases); `tag_fts`: tags are
    `tagkeys` phrases (not for missing photos, which have no FTS document).
    """

    def __init__(self, conn: sqlite3.Connection, pq: ParsedQuery, *, fts: bool,
                 tag_fts: bool | None = None):
        tag_fts = fts if tag_fts is None else tag_fts
        self.fts_exact: list[str] = []      # extra FTS5 conditions that are the filter itself
        self.fts_neutral: list[str] = []    # the same, on the zero-weight columns (no score)
        self.fts_superset: list[str] = []   # extra FTS5 conditions implied by the filters
        self.fts_not: list[str] = []        # FTS5 conditions the filters exclude
        self.fts_tags: list[str] = []       # the tag phrases (part of fts_neutral): one token each
        self.dates = False                  # the date filters are FTS5 phrases
        self.cheap_dates = False            # ... required, covering at most ~3 years
        self.scored_columns: set[str] = set()   # text columns that fts_exact/superset phrases use
        self.clauses: list[str] = []        # on photos p (need the join)
        self.params: list[Any] = []
        self.fts_checks: list[str] = []     # on the FTS row only (no join)
        self.fts_params: list[Any] = []
        statuses = pq.effective_statuses
        if statuses != LIVE_STATUSES or not fts:
            if statuses == LIVE_STATUSES:
                self.clauses.append("+p.status != 'missing'")
            else:
                ordered = [s for s in STATUSES if s in statuses]
                self.clauses.append(f"+p.status IN ({','.join('?' * len(ordered))})")
                self.params += ordered
        key = f"(photo_fts.rowid & {FTS_ID_MASK})" if fts else "p.id"
        target = self.fts_checks if fts else self.clauses
        target_params = self.fts_params if fts else self.params
        for tag in pq.tags:
            if tag_fts:
                self.fts_neutral.append("{tagkeys} : " + tag_key(tag))
                self.fts_tags.append("{tagkeys} : " + tag_key(tag))
            else:
                target.append(f"EXISTS (SELECT 1 FROM tags WHERE photo_id = {key} AND tag = ?)")
                target_params.append(tag)
        for tag in pq.not_tags:
            if tag_fts:
                self.fts_not.append("{tagkeys} : " + tag_key(tag))
            else:
                target.append(f"NOT EXISTS (SELECT 1 FROM tags WHERE photo_id = {key} AND tag = ?)")
                target_params.append(tag)
        # On photos p (every search path joins them for clauses; fusion has no fts_checks).
        if pq.reviews:
            self.clauses.append("(" + " OR ".join(review_clause(s, "p.id") for s in dict.fromkeys(pq.reviews)) + ")")
        for state in dict.fromkeys(pq.not_reviews):
            self.clauses.append(f"NOT {review_clause(state, 'p.id')}")
        if pq.folders:
            self.fts_exact.append(_folder_fts(pq.folders))
            self.scored_columns.add("folder")
        for term in pq.not_folders:
            self.fts_not.append("{folder} : " + term.fts())
        for values, negate in ((pq.paths, False), (pq.not_paths, True)):
            for value in values:
                clause, more = _contains(conn, "p.path", value, negate)
                self.clauses.append(clause)
                self.params += more
                if not negate:
                    implied = _path_prefilter(value)
                    self.fts_superset += implied
                    if implied:
                        self.scored_columns |= {"folder", "name"}
        dates = _taken_fts(conn, pq.after, pq.before) if fts else None
        if dates is not None:
            (self.fts_not if dates[1] else self.fts_neutral).append(dates[0])
            self.dates = True
            # A few years of required tokens are cheap enough to rank with (bm25 walks each
            # phrase's doclist once for its idf).
            self.cheap_dates = not dates[1] and dates[2] <= 3
        else:
            if pq.after is not None:
                self.clauses.append("p.taken_at >= ?")
                self.params.append(pq.after)
            if pq.before is not None:
                self.clauses.append("p.taken_at < ?")
                self.params.append(pq.before)

    def expression(self, match: str | None, superset: bool = True) -> str | None:
        """`match` narrowed by the FTS conditions (None if there is nothing to match)."""
        parts = ([f"({match})"] if match else []) + [
            f"({c})" for c in self.fts_exact + self.fts_neutral
            + (self.fts_superset if superset else [])]
        if not parts:
            return None
        expr = " AND ".join(parts)
        if self.fts_not:
            expr = f"({expr}) NOT ({' OR '.join(self.fts_not)})"
        return expr

    @property
    def neutral(self) -> bool:
        """The narrowed expression scores as the query's own: its extra phrases are all on the
        zero-weight columns or excluded (a NOT phrase has no instance in a matching row)."""
        return not (self.fts_exact or self.fts_superset)

    @property
    def narrows(self) -> bool:
        return bool(self.fts_exact or self.fts_neutral or self.fts_superset or self.fts_not
                    or self.clauses or self.fts_checks)


# ---- words without FTS (missing photos) ---------------------------------------------------------

def _fold(text: str) -> str:
    """Case and diacritics folded, roughly as FTS5's unicode61 tokenizer does."""
    folded = text.casefold()
    if not folded.isascii():
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return folded


class WordMatcher:
    """The query's words tested in Python against a photo's text (for photos without FTS)."""

    def __init__(self, pq: ParsedQuery):
        def tokens(term: Term) -> tuple[list[str], bool]:
            return WORD.findall(_fold(term.text)), term.prefix
        self.groups = [[tokens(t) for t in group] for group in pq.groups]
        self.excluded = [tokens(t) for t in pq.excluded]
        self.folders = [tokens(t) for t in pq.folders]
        self.not_folders = [tokens(t) for t in pq.not_folders]

    @staticmethod
    def _found(term: tuple[list[str], bool], folded: str, columns: list[list[str]] | None) -> bool:
        want, prefix = term
        if not want or not all(w in folded for w in want):     # cheap rejection
            return False
        n = len(want)
        for tokens in columns or ():
            for i in range(len(tokens) - n + 1):
                last = tokens[i + n - 1]
                if tokens[i:i + n - 1] == want[:-1] and (
                        last.startswith(want[-1]) if prefix else last == want[-1]):
                    return True
        return False

    def __call__(self, columns_text: Iterable[str | None]) -> bool:
        """Whether a photo's (caption, tags, name, folder) texts match the query's words."""
        texts = [_fold(t) if t else "" for t in columns_text]
        folded = "\n".join(texts)
        # The quick substring test first: most rows fail it before being split into words.
        if not all(any(all(w in folded for w in want) for want, _ in group) for group in self.groups):
            return False
        columns = [WORD.findall(t) for t in texts]
        folder = columns[3:4]
        return (all(any(self._found(t, folded, columns) for t in group) for group in self.groups)
                and not any(self._found(t, folded, columns) for t in self.excluded)
                and all(self._found(t, texts[3], folder) for t in self.folders)
                and not any(self._found(t, texts[3], folder) for t in self.not_folders))


