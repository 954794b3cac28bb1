"""Query text -> a parsed query, and its filters as FTS5 phrases and SQL (for search.py).

Query language
--------------
- ``dog beach``            words: all must match (caption, tags, file name and folder).
- ``"on the beach"``       an exact phrase; an unclosed quote runs to the end of the query.
- ``dog OR cat``           OR (upper case) between terms; it binds tighter than the implicit AND:
                           ``dog OR cat beach`` is ``(dog OR cat) AND beach``.
- ``-frisbee``, ``-"hot dog"``, ``NOT frisbee``   exclude a word or phrase.
- ``surf*``, ``"hot do"*`` prefix search on the (last) word.
- ``AND`` is accepted and ignored (words are ANDed anyway).
- filters (key case-insensitive; the value may be quoted, ``tag:"hot dog"``):

  ``tag:X``        the photo has the tag X exactly (case-insensitive, spaces normalised).
  ``folder:X``     the folder path contains the word(s) X in that order, as FTS5 matches words
                   (any case, accents folded): ``folder:2019``, ``folder:"beach trip"``,
                   ``folder:Pictures/2019``; ``folder:bea*`` for a prefix. Words, not substrings:
                   this is exact and fast through the FTS5 ``folder`` column.
  ``path:X``       X is a substring of the full path (case-insensitive; LIKE for ASCII, Python
                   casefold otherwise).
  ``after:D``      taken on or after D (inclusive); ``before:D``  taken before D (exclusive).
                   D is ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (``/`` and ``.`` work too).
                   Photos without a date are left out when a date filter is given.
  ``status:S``     pending, done, failed or missing; several ``status:`` filters are ORed.

  Any filter can be negated with ``-`` (``-tag:people``, ``-folder:screenshots``). A filter whose
  value is not valid (``after:party``, ``status:foo``) and an unknown key (``col:x``) are searched
  as plain text.

Anything a user types is safe: every term becomes an FTS5 string ("..." with "" escaping), the
filters are SQL parameters, control characters are dropped, and only the first ``MAX_TERMS`` terms
of a very long query are used (a huge AND of phrases is slow in FTS5). If FTS5 still rejects the
expression, the whole query is searched as one literal phrase; if that fails too, the result is
empty. `search` and `count` never raise for any query text.

Missing photos have no FTS document: they are never found unless ``status:missing`` is asked for,
and then the query is answered from the photos table (newest first, words matched in Python,
which is fine for the usually small set of missing photos).

"""

from __future__ import annotations

import datetime as _dt
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from photocap.library import paths
from photocap.library.db import FTS_ID_MASK, UNDATED_TOKEN, tag_key


# Terms beyond these are ignored (an FTS5 AND of thousands of phrases takes seconds).
MAX_TERMS = 32
MAX_TERM_CHARS = 200
MAX_FILTERS = 32

STATUSES = ("pending", "done", "failed", "missing")
_LIVE = frozenset(("pending", "done", "failed"))
FILTER_KEYS = ("tag", "folder", "path", "after", "before", "status")

_TOKEN = re.compile(r"[^\W_]+")          # what counts as a word, as in photos.py
# Words too common to narrow a search (photos.py never keys a document by them either).
STOPWORDS = frozenset("a an and are at be by for from in is it near next of on or the to top under"
                      " with front behind".split())
_DATE = re.compile(r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool = False        # it was quoted
    prefix: bool = False        # trailing *

    def fts(self) -> str:
        """This term as an FTS5 string: always quoted, so no operator or syntax can leak in."""
        return '"' + self.text.replace('"', '""') + '"' + ("*" if self.prefix else "")


@dataclass
class ParsedQuery:
    groups: list[list[Term]] = field(default_factory=list)   # AND of OR-groups
    excluded: list[Term] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    not_tags: list[str] = field(default_factory=list)
    folders: list[Term] = field(default_factory=list)       # words of the folder path
    not_folders: list[Term] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    not_paths: list[str] = field(default_factory=list)
    after: str | None = None    # inclusive lower bound on taken_at
    before: str | None = None   # exclusive upper bound on taken_at
    statuses: list[str] = field(default_factory=list)
    not_statuses: list[str] = field(default_factory=list)
    # True when the user typed terms of which none has a word character ("!!!", an emoji):
    # such a query matches nothing rather than everything.
    unsearchable: bool = False

    @property
    def has_words(self) -> bool:
        return bool(self.groups or self.excluded)

    @property
    def has_filters(self) -> bool:
        return bool(self.tags or self.not_tags or self.folders or self.not_folders or self.paths
                    or self.not_paths or self.after or self.before or self.statuses
                    or self.not_statuses)

    @property
    def effective_statuses(self) -> frozenset[str]:
        wanted = frozenset(self.statuses) if self.statuses else _LIVE
        return wanted - frozenset(self.not_statuses)

    def match_expression(self) -> str | None:
        """The FTS5 MATCH expression for the positive terms (None without any)."""
        if not self.groups:
            return None
        parts = []
        for group in self.groups:
            if len(group) == 1:
                parts.append(group[0].fts())
            else:
                parts.append("(" + " OR ".join(t.fts() for t in group) + ")")
        expr = " AND ".join(parts)
        if self.excluded:
            expr = f"({expr}) NOT ({self.excluded_expression()})"
        return expr

    def superset_expression(self) -> str | None:
        """A cheaper expression that every match of `match_expression` also matches (None when
        there is none): phrases become the AND of their words that are no stop word, and the
        exclusions go. FTS5 matches a phrase by walking the doclists of all its words, so one of
        very common words ("sitting on a bench") costs ~40 ns for each row holding *any* of them;
        the superset only walks the rare ones. ASCII phrases only (their words are exactly the
        tokens unicode61 makes)."""
        if not self.groups:
            return None
        changed = bool(self.excluded)
        parts = []
        for group in self.groups:
            alts = []
            for term in group:
                words = _TOKEN.findall(term.text)
                if len(words) > 1 and term.text.isascii():
                    keep = [Term(w, prefix=term.prefix and i == len(words) - 1)
                            for i, w in enumerate(words)
                            if w.lower() not in STOPWORDS or (term.prefix and i == len(words) - 1)]
                    if keep:
                        changed = True
                        alts.append("(" + " AND ".join(t.fts() for t in dict.fromkeys(keep)) + ")")
                        continue
                alts.append(term.fts())
            parts.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
        return " AND ".join(parts) if changed else None

    def positive_expression(self) -> str | None:
        """`match_expression` without the exclusions: it scores every match the same (an
        excluded phrase has no instance in a matching row, so adds nothing to bm25)."""
        return ParsedQuery(groups=self.groups).match_expression()

    def excluded_expression(self) -> str | None:
        if not self.excluded:
            return None
        return " OR ".join(t.fts() for t in self.excluded)


# ---- parsing ------------------------------------------------------------------------------------

def _clean(query: Any) -> str:
    if query is None:
        return ""
    if isinstance(query, (bytes, bytearray)):
        query = bytes(query).decode("utf-8", "replace")
    elif not isinstance(query, str):
        query = str(query)
    return _CONTROL.sub(" ", query)


def _searchable(text: str) -> bool:
    return _TOKEN.search(text) is not None


def _date(value: str) -> str | None:
    m = _DATE.match(value)
    if not m:
        return None
    year, month, day = m.groups()
    try:
        if day is not None:
            return _dt.date(int(year), int(month), int(day)).isoformat()
        if month is not None:
            return _dt.date(int(year), int(month), 1).isoformat()[:7]
        return f"{int(year):04d}"
    except ValueError:
        return None


def _tokens(text: str) -> Iterator[tuple[str, int, int, bool]]:
    """Raw tokens of a query: (kind, start, end, negated) with kind 'quote' or 'bare'."""
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        neg = False
        if text[i] == "-":
            i += 1
            if i >= n or text[i].isspace():
                continue                     # a lone '-'
            neg = True
        if text[i] == '"':
            end = text.find('"', i + 1)
            stop = n if end < 0 else end + 1
            if stop < n and text[stop] == "*":
                stop += 1
            yield "quote", i, stop, neg
            i = stop
        else:
            j = i
            while j < n and not text[j].isspace():
                if text[j] == ":" and text[i:j].lower() in FILTER_KEYS and j + 1 < n and text[j + 1] == '"':
                    end = text.find('"', j + 2)
                    j = n if end < 0 else end + 1
                    break
                j += 1
            yield "bare", i, j, neg
            i = j


def _unquote(raw: str) -> tuple[str, bool]:
    """'"a b"*' -> ('a b', prefix)."""
    prefix = raw.endswith("*") and len(raw) > 1 and raw[-2] == '"'
    if prefix:
        raw = raw[:-1]
    body = raw[1:]
    if body.endswith('"'):
        body = body[:-1]
    return body, prefix


def parse(query: Any) -> ParsedQuery:
    """Parse what a user typed; never raises. See the module docstring for the language."""
    text = _clean(query)
    pq = ParsedQuery()
    n_terms = 0
    n_filters = 0
    typed_terms = 0
    can_or = False         # the last item was a positive term: an OR may follow
    pending_or = False     # the last item was such an OR
    negate_next = False    # the last item was NOT

    def add_term(term: Term, neg: bool) -> None:
        nonlocal can_or, pending_or, n_terms, typed_terms
        typed_terms += bool(term.text)       # a bare '*' is no term at all
        joined, can_or, pending_or = pending_or, False, False
        if not term.text or not _searchable(term.text) or n_terms >= MAX_TERMS:
            return
        if neg:
            if term not in pq.excluded:
                pq.excluded.append(term)
                n_terms += 1
            return
        if joined:
            if term not in pq.groups[-1]:
                pq.groups[-1].append(term)
                n_terms += 1
        elif [term] not in pq.groups:
            pq.groups.append([term])
            n_terms += 1
        can_or = True

    for kind, start, end, neg in _tokens(text):
        raw = text[start:end]
        if negate_next:
            neg, negate_next = True, False
        if kind == "quote":
            body, prefix = _unquote(raw)
            add_term(Term(body[:MAX_TERM_CHARS], phrase=True, prefix=prefix), neg)
            continue
        if not neg and raw in ("OR", "AND", "NOT"):
            if raw == "OR":
                pending_or, can_or = can_or, False
            elif raw == "NOT":
                negate_next, can_or, pending_or = True, False, False
            continue
        key, sep, value = raw.partition(":")
        key = key.lower()
        if sep and key in FILTER_KEYS:
            if value.startswith('"'):
                value, _ = _unquote(value)
            value = value.strip()
            if not value:
                continue                      # 'tag:' with nothing after it
            if n_filters < MAX_FILTERS and _add_filter(pq, key, value, neg):
                n_filters += 1
                can_or = pending_or = False
                continue
        prefix = raw.endswith("*")
        word = raw.rstrip("*")
        add_term(Term(word[:MAX_TERM_CHARS], prefix=prefix), neg)
    if typed_terms and not pq.has_words and not pq.has_filters:
        pq.unsearchable = True
    return pq


def _add_filter(pq: ParsedQuery, key: str, value: str, neg: bool) -> bool:
    if key == "tag":
        tag = " ".join(value.lower().split())
        if not tag:
            return False
        (pq.not_tags if neg else pq.tags).append(tag)
    elif key == "folder":
        prefix = value.endswith("*")
        value = value.rstrip("*")
        if not _searchable(value):
            return False
        (pq.not_folders if neg else pq.folders).append(Term(value[:MAX_TERM_CHARS], True, prefix))
    elif key == "path":
        (pq.not_paths if neg else pq.paths).append(value)
    elif key in ("after", "before"):
        date = _date(value)
        if date is None:
            return False
        if (key == "after") != neg:          # after:D, or -before:D (= not before D)
            pq.after = date if pq.after is None else max(pq.after, date)
        else:                                # before:D, or -after:D
            pq.before = date if pq.before is None else min(pq.before, date)
    elif key == "status":
        status = value.lower()
        if status not in STATUSES:
            return False
        (pq.not_statuses if neg else pq.statuses).append(status)
    else:
        return False
    return True


# ---- SQL ----------------------------------------------------------------------------------------

_MASK = FTS_ID_MASK


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
    """Case-insensitive substring test: LIKE for ASCII, a Python casefold for the rest."""
    if value.isascii():
        clause, params = f"{column} LIKE ? ESCAPE '\\'", [_like_pattern(value)]
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
    for m in _TOKEN.finditer(value):
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
    tokens, day = [], lo
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


def _taken_fts(conn: sqlite3.Connection, after: str | None, before: str | None
               ) -> tuple[str, bool, float] | None:
    """The date filters as an FTS5 phrase set on the `taken` column (db.taken_tokens), whether
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
        first = _year_of(conn, "min")
        last = _year_of(conn, "max")
        try:
            start, end = _dt.date(first, 1, 1), _dt.date(last + 1, 1, 1)
        except (TypeError, ValueError, OverflowError):  # no dated photo, or odd dates
            if lo is None or hi is None:
                return None                             # SQL does it
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


class _Filters:
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
        if statuses != _LIVE or not fts:
            if statuses == _LIVE:
                self.clauses.append("+p.status != 'missing'")
            else:
                ordered = [s for s in STATUSES if s in statuses]
                self.clauses.append(f"+p.status IN ({','.join('?' * len(ordered))})")
                self.params += ordered
        key = f"(photo_fts.rowid & {_MASK})" if fts else "p.id"
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


class _WordMatcher:
    """The query's words tested in Python against a photo's text (for photos without FTS)."""

    def __init__(self, pq: ParsedQuery):
        def tokens(term: Term) -> tuple[list[str], bool]:
            return _TOKEN.findall(_fold(term.text)), term.prefix
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

    def __call__(self, texts: Iterable[str | None]) -> bool:
        texts = [_fold(t) if t else "" for t in texts]
        folded = "\n".join(texts)
        # The quick substring test first: most rows fail it before being split into words.
        if not all(any(all(w in folded for w in want) for want, _ in group) for group in self.groups):
            return False
        columns = [_TOKEN.findall(t) for t in texts]
        folder = columns[3:4]
        return (all(any(self._found(t, folded, columns) for t in group) for group in self.groups)
                and not any(self._found(t, folded, columns) for t in self.excluded)
                and all(self._found(t, texts[3], folder) for t in self.folders)
                and not any(self._found(t, texts[3], folder) for t in self.not_folders))


def _literal(query: Any) -> ParsedQuery:
    """The fallback: the whole query as one literal phrase."""
    text = " ".join(_clean(query).split())[:MAX_TERM_CHARS]
    pq = ParsedQuery()
    if _searchable(text):
        pq.groups.append([Term(text, phrase=True)])
    else:
        pq.unsearchable = True
    return pq
