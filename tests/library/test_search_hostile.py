"""Search under hostile input: any text is safe and finds what a plain word model of the library finds.

Every test uses a real library file written through photocap.library.photos (search_library.py).
"""

from __future__ import annotations

import re
import sqlite3
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_library import CASES, LIVE, found

from photocap.library import photos
from photocap.library.search import keyword
from photocap.library.search.query import ParsedQuery, Term, parse

# ---- hostile input ------------------------------------------------------------------------------

HOSTILE = [
    '"', '""', '"""', '-', '--', '- -', '-"', 'AND', 'OR', 'NOT', 'AND OR NOT', 'dog AND',
    'OR dog', 'dog OR', 'NOT', 'dog NOT', 'NEAR(', 'NEAR(dog cat, 2)', 'NEAR/3', 'col:', 'caption:dog',
    '{caption tags}: dog', '*', '**', 'dog**', '*dog', '^', '^dog', ':', '::', 'tag:"', 'tag:""',
    'folder:"', 'after:', 'after:9999-99-99', 'before:0000', 'status:', '(', ')', '((dog)', 'dog)',
    '[', ']', "'", "''", ';', "'; DROP TABLE photos; --", '\\', '%', '_', '😀', '🐕 dog', '\x00',
    'dog\x00cat', '\x1b[31m', '\ud800', 'a\udfffb', '\u202e', '\ufeff', 'ﬁ', 'İ', 'ß', '١٢٣',
    '日本語', 'x' * 10_000, ' '.join(['dog'] * 3000), '"' * 999, '-' * 999, 'tag:' * 500,
    'OR ' * 1000, '"a" ' * 1000, ':' * 100_000, 'path' + ':' * 100_000, 'x:' * 50_000,
    # The index's machine tokens (dates, tag keys) are no words of the photo: found by nothing typed.
    'D*', 'd2022*', 'y2022', 'm*', 'y*', 't*', 't6d616e', 'dog -d*', '"d20220815"',
]


_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    """Words as FTS5's unicode61 tokenizer makes them: case and diacritics folded."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(ch for ch in folded if not unicodedata.combining(ch)))


def _has(term: Term, columns: list[list[str]]) -> bool:
    """The term's words appear in this order in one column (the last as a prefix for `word*`)."""
    want = _words(term.text)
    n = len(want)
    for tokens in columns:
        for i in range(len(tokens) - n + 1):
            last = tokens[i + n - 1]
            if tokens[i:i + n - 1] == want[:-1] and (
                    last.startswith(want[-1]) if term.prefix else last == want[-1]):
                return True
    return False


def _oracle(conn: sqlite3.Connection, query: str) -> set[int]:
    """The photos `query` must find, by a plain word model of the tables (no FTS5, no SQL plan):
    every OR-group has a term in one of caption, tags, name, folder; no excluded term does; the
    filters hold as the module docstring of photocap.library.search.query states them."""
    pq = parse(query)
    if pq.unsearchable:
        return set()
    out = set()
    for pid, path, folder, name, status, taken in conn.execute(
            "SELECT id, path, folder, name, status, taken_at FROM photos"):
        texts = [t for (t,) in conn.execute("SELECT text FROM captions WHERE photo_id = ?", (pid,))]
        tags = [t for (t,) in conn.execute("SELECT tag FROM tags WHERE photo_id = ?", (pid,))]
        columns = [_words("\n".join(texts)), _words(" ; ".join(tags)), _words(name), _words(folder)]
        shown = photos.paths.display(photos.paths.from_db(path)).casefold()
        if (status in pq.effective_statuses
                and all(any(_has(t, columns) for t in group) for group in pq.groups)
                and not any(_has(t, columns) for t in pq.excluded)
                and all(t in tags for t in pq.tags) and not any(t in tags for t in pq.not_tags)
                and all(_has(t, columns[3:]) for t in pq.folders)
                and not any(_has(t, columns[3:]) for t in pq.not_folders)
                and all(v.casefold() in shown for v in pq.paths)
                and not any(v.casefold() in shown for v in pq.not_paths)
                and (pq.after is None or (taken is not None and taken >= pq.after))
                and (pq.before is None or (taken is not None and taken < pq.before))):
            out.add(pid)
    return out


def _assert_answers_like_the_oracle(conn: sqlite3.Connection, query: str) -> None:
    want = _oracle(conn, query)
    how = keyword.explain(conn, query)
    assert how.attempt == "parsed", how                       # not the literal retry, not given up
    every = keyword.search(conn, query, limit=-1)
    assert {h.photo_id for h in every} == want
    assert len(every) == len(want)                            # no photo twice
    assert keyword.count(conn, query) == len(want)
    assert {h.photo_id for h in keyword.search(conn, query)} == (want if len(want) <= 50 else
                                                                {h.photo_id for h in every[:50]})


def test_oracle_agrees_with_the_query_language_cases(lib):
    """The oracle itself is checked against the hand-written expectations of CASES."""
    for query, expected in CASES:
        assert {lib.names[i] for i in _oracle(lib.conn, query)} == expected, query


@pytest.mark.timeout(60)
@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_find_what_the_word_model_finds(lib, query):
    t0 = time.perf_counter()
    _assert_answers_like_the_oracle(lib.conn, query)
    assert time.perf_counter() - t0 < 2


def test_hostile_queries_with_a_caption_word_still_find_its_photos(lib):
    dogs = {lib.ids[n] for n in ("beach_dog", "just_dog", "long_dog", "hot_dog")}
    for query in ("((dog)", "dog)", "dog AND", "OR dog", "dog OR", "dog NOT", "dog**", "🐕 dog",
                  "dog\x00", "(dog", "'; dog --", "{dog}:", "^dog", "*dog",
                  "dog " * 3000):
        hits = keyword.search(lib.conn, query, limit=-1)
        assert dogs <= {h.photo_id for h in hits}, query
        assert keyword.explain(lib.conn, query).attempt == "parsed", query


def _parse_cpu_seconds(text: str) -> float:
    """The least CPU time of three parses (CPU time: other processes on the machine don't count)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        parse(text)
        best = min(best, time.process_time() - t0)
    return best


PATHOLOGICAL = {
    "colons": lambda n: ":" * n,
    "word then colons": lambda n: "a" + ":" * n,
    "filter key then colons": lambda n: "path" + ":" * n,
    "word colon pairs": lambda n: "x:" * (n // 2),
    "long word then colons": lambda n: "ab" * (n // 4) + ":" * (n // 2),
    "open filter quotes": lambda n: 'tag:"' * (n // 5),
    "quotes": lambda n: '"' * n,
    "dashes": lambda n: "-" * n,
    "negated quotes": lambda n: '-"' * (n // 2),
    "stars": lambda n: "*" * n,
    "ORs": lambda n: "OR " * (n // 3),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_parser_is_linear_on_pathological_text(name):
    make = PATHOLOGICAL[name]
    small, large = 10_000, 100_000
    baseline = _parse_cpu_seconds("dog " * (large // 4))     # ordinary words, the same length
    t_small = _parse_cpu_seconds(make(small))
    t_large = _parse_cpu_seconds(make(large))
    # Linear: 10x the text takes about 10x the time (20x, and a little slack for timer noise).
    assert t_large <= 20 * t_small + 0.02, (t_small, t_large)
    assert t_large <= 10 * baseline + 0.05, (baseline, t_large)


def test_non_string_queries(lib):
    assert len(keyword.search(lib.conn, None)) == len(LIVE)
    assert found(lib, b"dog \xff") and keyword.search(lib.conn, 42) == []


def test_ten_kilobyte_query(lib):
    query = ("dog " + "lorem ipsum dolor sit amet, " * 400)[:10_240]
    assert keyword.search(lib.conn, query) == []
    assert found(lib, "dog " * 2500) == found(lib, "dog")


def test_rejected_expression_falls_back_to_literal(lib, monkeypatch):
    class Broken(ParsedQuery):
        def match_expression(self):
            return 'dog AND ("'
    real = parse
    monkeypatch.setattr(keyword, "parse", lambda q: Broken(**vars(real(q))))
    assert set(found(lib, "hot dog")) == {"hot_dog"}           # the literal phrase "hot dog"
    assert keyword.count(lib.conn, "hot dog") == 1
    how = keyword.explain(lib.conn, "hot dog")
    assert how.attempt == "literal" and how.query.match_expression() == '{caption tags name folder} : ("hot dog")'


def test_a_literal_rejected_too_gives_up_with_nothing(lib, monkeypatch):
    class Broken(ParsedQuery):
        def match_expression(self):
            return 'dog AND ("'
    monkeypatch.setattr(keyword, "parse", lambda q: Broken(groups=[[Term("dog")]]))
    monkeypatch.setattr(keyword, "literal", lambda q: Broken(groups=[[Term("dog")]]))
    assert keyword.explain(lib.conn, "dog").attempt == "gave up"
    assert keyword.search(lib.conn, "dog") == [] and keyword.count(lib.conn, "dog") == 0
    assert keyword.ranked_ids(lib.conn, "dog") == []


def test_explain_names_the_route(lib):
    assert keyword.explain(lib.conn, "dog").route == "fts"
    assert keyword.explain(lib.conn, "tag:dog").route == "listing"
    assert keyword.explain(lib.conn, "").route == "listing"
    assert keyword.explain(lib.conn, "status:missing dog").route == "python"
    assert keyword.explain(lib.conn, "!!!").route == "nothing"
    assert keyword.explain(lib.conn, "status:done -status:done").route == "nothing"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_text_is_safe(lib, text):
    # Any Unicode: Python's and FTS5's ideas of a word part for some scripts (a letter newer than
    # SQLite's tables), so no word model here; but the parsed query answers, consistently.
    assert keyword.explain(lib.conn, text).attempt == "parsed"
    every = keyword.ranked_ids(lib.conn, text, limit=-1)
    assert keyword.count(lib.conn, text) == len(every) == len({i for i, _ in every})
    assert keyword.ranked_ids(lib.conn, text) == every[:50]
    assert {i for i, _ in every} <= set(lib.ids.values())


# Characters whose words Python and FTS5's unicode61 agree on: ASCII, accents, emoji, CJK, controls.
_ALPHABET = st.characters(max_codepoint=127) | st.sampled_from(
    ["é", "É", "à", "ü", "\u0301", "😀", "🐕", "日", "本", "\x00", "\u202e", "\ufeff", "\ud800"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(_ALPHABET, max_size=200))
def test_text_finds_what_the_word_model_finds(lib, text):
    _assert_answers_like_the_oracle(lib.conn, text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(['dog', '"', '-', 'OR', 'NOT', 'AND', '*', 'tag:', 'tag:"dog',
                                 'folder:', 'after:2019', 'before:', 'status:missing', '(', ')',
                                 'NEAR(', '^', ':', 'hot', '"hot dog"', 'cat*', '\x00', '😀']),
                max_size=12).map(" ".join))
def test_any_mix_of_syntax_is_safe(lib, text):
    _assert_answers_like_the_oracle(lib.conn, text)
