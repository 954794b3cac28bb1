"""Query text -> a parsed query (its filters become FTS5 phrases and SQL in compile.py).

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
  ``review:R``     todo (machine captions only, none approved), approved (a machine caption
                   accepted) or edited (the user's own caption); several are ORed. A photo without
                   any caption has no review state and matches none.

  Any filter can be negated with ``-`` (``-tag:people``, ``-folder:screenshots``). A filter whose
  value is not valid (``after:party``, ``status:foo``) and an unknown key (``col:x``) are searched
  as plain text; ``notes`` says which filters were not understood, for the front ends to show.

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
from dataclasses import dataclass, field
from typing import Any, Iterator

# Terms beyond these are ignored (an FTS5 AND of thousands of phrases takes seconds).
MAX_TERMS = 32
MAX_TERM_CHARS = 200
MAX_FILTERS = 32

STATUSES = ("pending", "done", "failed", "missing")
# What a query searches unless it names statuses (missing photos have no search document).
LIVE_STATUSES = frozenset(("pending", "done", "failed"))
REVIEW_STATES = ("todo", "approved", "edited")
FILTER_KEYS = ("tag", "folder", "path", "after", "before", "status", "review")
_KEY_CHARS = max(len(k) for k in FILTER_KEYS)

# The photo_fts columns that hold the photo's own words. Typed words are looked for in these only:
# taken and tagkeys hold machine tokens (d20190704, t646f67) that a word or a prefix (`d*`) must not find.
TEXT_COLUMNS = "{caption tags name folder}"


def in_text(expression: str) -> str:
    """An FTS5 expression restricted to the photo's own words (TEXT_COLUMNS)."""
    return f"{TEXT_COLUMNS} : ({expression})"


# A word, as FTS5's unicode61 tokenizer splits text (document.py keys documents by the same words).
WORD = re.compile(r"[^\W_]+")
# Words too common to narrow a search (document.py never keys a document by them either).
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
    reviews: list[str] = field(default_factory=list)
    not_reviews: list[str] = field(default_factory=list)
    # True when the user typed terms of which none has a word character ("!!!", an emoji):
    # such a query matches nothing rather than everything.
    unsearchable: bool = False
    # Filters whose value is not one of the key's ("review:tod", "after:party"), searched as words instead.
    not_understood: list[str] = field(default_factory=list)

    @property
    def has_words(self) -> bool:
        return bool(self.groups or self.excluded)

    @property
    def has_filters(self) -> bool:
        return bool(self.tags or self.not_tags or self.folders or self.not_folders or self.paths
                    or self.not_paths or self.after or self.before or self.statuses
                    or self.not_statuses or self.reviews or self.not_reviews)

    @property
    def effective_statuses(self) -> frozenset[str]:
        wanted = frozenset(self.statuses) if self.statuses else LIVE_STATUSES
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
        expr = in_text(" AND ".join(parts))
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
                words = WORD.findall(term.text)
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
        return in_text(" AND ".join(parts)) if changed else None

    def positive_expression(self) -> str | None:
        """`match_expression` without the exclusions: it scores every match the same (an
        excluded phrase has no instance in a matching row, so adds nothing to bm25)."""
        return ParsedQuery(groups=self.groups).match_expression()

    def excluded_expression(self) -> str | None:
        if not self.excluded:
            return None
        return in_text(" OR ".join(t.fts() for t in self.excluded))


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
    return WORD.search(text) is not None


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
                # Length first: slicing at every ':' of a long run would make this quadratic.
                if (text[j] == ":" and j - i <= _KEY_CHARS and j + 1 < n and text[j + 1] == '"'
                        and text[i:j].lower() in FILTER_KEYS):
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
            if key in VALUE_HINTS and n_filters < MAX_FILTERS:
                pq.not_understood.append(f"{key}:{value}")
        prefix = raw.endswith("*")
        word = raw.rstrip("*")
        add_term(Term(word[:MAX_TERM_CHARS], prefix=prefix), neg)
    if typed_terms and not pq.has_words and not pq.has_filters:
        pq.unsearchable = True
    return pq


# The filters whose values are a closed set or a date: a value outside it is a typo worth a note.
VALUE_HINTS = {
    "status": "status: takes " + ", ".join(STATUSES[:-1]) + " or " + STATUSES[-1],
    "review": "review: takes " + ", ".join(REVIEW_STATES[:-1]) + " or " + REVIEW_STATES[-1],
    "after": "after: takes a date: YYYY, YYYY-MM or YYYY-MM-DD",
    "before": "before: takes a date: YYYY, YYYY-MM or YYYY-MM-DD",
}


def notes(pq: ParsedQuery) -> list[str]:
    """One line for each filter the query could not use, for front ends to show next to the results."""
    return [f"{term} is not a filter ({VALUE_HINTS[term.partition(':')[0]]}), so it was searched as words"
            for term in pq.not_understood]


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
    elif key == "review":
        state = value.lower()
        if state not in REVIEW_STATES:
            return False
        (pq.not_reviews if neg else pq.reviews).append(state)
    else:
        return False
    return True


def literal(query: Any) -> ParsedQuery:
    """The fallback when FTS5 rejects a parsed query: the whole text as one literal phrase."""
    text = " ".join(_clean(query).split())[:MAX_TERM_CHARS]
    pq = ParsedQuery()
    if _searchable(text):
        pq.groups.append([Term(text, phrase=True)])
    else:
        pq.unsearchable = True
    return pq
