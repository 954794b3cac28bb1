"""Search: the query language, ranking, the bounded-ranking path, hostile input, concurrency.

Every test uses a real library file written through photocap.library.photos.
"""

from __future__ import annotations

import ast
import random
import re
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photocap.library import db, photos
from photocap.library.search import document, keyword
from photocap.library.search.query import ParsedQuery, Term, parse

# name: (path, auto captions, auto tags, taken_at)
PHOTOS = {
    "beach_dog": ("/pics/2019/2019-07-04 Beach trip/IMG_0001.JPG",
                  ["a dog running on the beach with a frisbee"], ["dog", "beach", "frisbee"],
                  "2019-07-04T10:00:00"),
    "park_woman": ("/pics/2020/2020-05-01 Park/DSC01234.jpg",
                   ["a woman sitting on a bench in a park"], ["woman", "bench", "park"],
                   "2020-05-01T09:30:00"),
    "just_dog": ("/pics/2021/Misc/P1.png", ["dog"], [], "2021-03-01T12:00:00"),
    "long_dog": ("/pics/2021/Misc/P2.png",
                 ["a man walking with his dog along a very long road next to an old stone wall"
                  " in the rain on a grey autumn afternoon"], [], "2021-03-02T12:00:00"),
    "hot_dog": ("/pics/2018/Food/IMG_0100.JPG", ["a hot dog on a white plate"],
                ["hot dog", "plate"], "2018-01-01T13:00:00"),
    "cat_sofa": ("/pics/Scans/cat.jpg", ["a white cat sleeping on a couch"], ["cat", "couch"], None),
    "surfer": ("/pics/2022/2022-08-15 Hawaii/IMG_0200.JPG", ["a man riding a surfboard on a wave"],
               ["man", "surfboard", "wave"], "2022-08-15T16:00:00"),
    "cafe": ("/pics/2017/Paris/IMG_0300.JPG", ["a woman drinking coffee in a café"],
             ["woman", "coffee"], "2017-06-01T08:00:00"),
    "skyline": ("/pics/2016/Trip/IMG_0400.JPG", ["a view of a city skyline at night"],
                ["new york", "city"], "2016-09-09T22:00:00"),
    "party": ("/pics/2015/Family/IMG_0500.JPG", ["a group of people standing around a table"],
              ["people", "table"], "2015-12-24T19:00:00"),
    "missing_dog": ("/pics/2014/Old/IMG_0600.JPG", ["a dog sleeping on a rug"], ["dog", "rug"],
                    "2014-01-01T10:00:00"),
    "pending": ("/pics/2023/Inbox/PXL_20230101_000001.jpg", None, None, "2023-01-01T00:00:01"),
    "failed": ("/pics/2023/Inbox/broken.jpg", None, None, "2023-01-02T00:00:00"),
}
LIVE = set(PHOTOS) - {"missing_dog"}


def _info(path: str, taken: str | None) -> photos.FileInfo:
    return photos.FileInfo(size=1000, mtime=1.0, hash=path, width=4, height=3, taken_at=taken)


@pytest.fixture
def lib(tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    ids = {}
    for name, (path, caps, tags, taken) in PHOTOS.items():
        ids[name] = photos.add(conn, path, _info(path, taken), None)
        if caps:
            photos.set_auto_captions(conn, ids[name], caps, model="tiny", tags=tags)
    photos.set_user_caption(conn, ids["party"], "Grandma's 80th birthday")
    photos.add_user_tags(conn, ids["party"], ["Grandma"])
    photos.add_user_tags(conn, ids["hot_dog"], ["lunch"])
    photos.set_status(conn, ids["failed"], "failed", "cannot identify image file")
    photos.mark_missing(conn, [ids["missing_dog"]])
    yield Lib(conn, ids, {v: k for k, v in ids.items()})
    conn.close()


@dataclass
class Lib:
    conn: sqlite3.Connection
    ids: dict[str, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    short: set[int] = field(default_factory=set)


def found(lib, query, **kw) -> list[str]:
    return [lib.names[h.photo_id] for h in keyword.search(lib.conn, query, **kw)]


# ---- the query language -------------------------------------------------------------------------

CASES = [
    ("dog", {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
    ("DOG", {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
    ("dog beach", {"beach_dog"}),
    ("dog AND beach", {"beach_dog"}),
    ("dog -frisbee", {"just_dog", "long_dog", "hot_dog"}),
    ("NOT frisbee dog", {"just_dog", "long_dog", "hot_dog"}),
    ('dog -"hot dog"', {"beach_dog", "just_dog", "long_dog"}),
    ('"hot dog"', {"hot_dog"}),
    ('"dog hot"', set()),
    ('"on the beach', {"beach_dog"}),                     # unclosed quote runs to the end
    ("cat OR surfboard", {"cat_sofa", "surfer"}),
    ("cat OR surfboard white", {"cat_sofa"}),              # (cat OR surfboard) AND white
    ("white cat OR surfboard", {"cat_sofa"}),              # white AND (cat OR surfboard)
    ("cat or surfboard", set()),                           # lower-case 'or' is a word
    ("surf*", {"surfer"}),
    ('"hot d"*', {"hot_dog"}),
    ("cafe", {"cafe"}),                                    # diacritics folded
    ("CAFÉ", {"cafe"}),
    ("grandma", {"party"}),                                # user caption and user tag
    ("new york", {"skyline"}),                             # tags column
    ("img_0001", {"beach_dog"}),                           # file name
    ("hawaii", {"surfer"}),                                # folder
    ("pxl", {"pending"}),                                  # pending photos are found by name
    ("tag:dog", {"beach_dog"}),
    ("tag:DOG", {"beach_dog"}),
    ('tag:"hot dog"', {"hot_dog"}),
    ('tag:"  Hot   Dog "', {"hot_dog"}),
    ("tag:hot", set()),                                    # exact tag, not a word of it
    ("tag:lunch", {"hot_dog"}),                            # user tag
    ("tag:dog tag:frisbee", {"beach_dog"}),
    ("-tag:dog dog", {"just_dog", "long_dog", "hot_dog"}),
    ("tag:dog -beach", set()),
    ("folder:beach", {"beach_dog"}),                       # words of the folder, any case
    ("folder:bea", set()),
    ("folder:bea*", {"beach_dog"}),
    ("folder:pics/2021", {"just_dog", "long_dog"}),
    ("-folder:2021 dog", {"beach_dog", "hot_dog"}),
    ("-folder:pics", set()),
    ("folder:trip -folder:beach", {"skyline"}),
    ("status:missing folder:old", {"missing_dog"}),
    ("status:missing folder:new", set()),
    ("status:missing -folder:old", set()),
    ('folder:"beach trip"', {"beach_dog"}),
    ("folder:2021 dog", {"just_dog", "long_dog"}),
    ("folder:inbox", {"pending", "failed"}),
    ("path:dsc0", {"park_woman"}),
    ("path:P1.PNG", {"just_dog"}),
    ("path:%", set()),                                     # LIKE wildcards are literal
    ("path:_", {"beach_dog", "hot_dog", "surfer", "cafe", "skyline", "party", "pending"}),
    ("after:2021-03-02", {"long_dog", "surfer", "pending", "failed"}),
    ("after:2019-07-04 dog", {"beach_dog", "just_dog", "long_dog"}),   # inclusive
    ("before:2019-07-04 dog", {"hot_dog"}),                            # exclusive
    ("after:2019 before:2020", {"beach_dog"}),
    ("after:2021-3 before:2021-03-02", {"just_dog"}),
    ("-after:2018 woman", {"cafe"}),                       # = before:2018
    ("after:2100", set()),
    ("after:party", set()),                                # not a date: the words 'after party'
    ("status:pending", {"pending"}),
    ("status:failed", {"failed"}),
    ("status:PENDING status:failed", {"pending", "failed"}),
    ("status:done dog", {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
    ("status:pending dog", set()),
    ("status:missing", {"missing_dog"}),
    ("status:missing dog", {"missing_dog"}),
    ("status:missing rug -cat", {"missing_dog"}),
    ("status:missing cat", set()),
    ("status:missing tag:rug", {"missing_dog"}),
    ("status:done -status:done", set()),
    ("status:bogus", set()),                               # searched as words: nothing
    ("rug", set()),                                        # missing photos are not found
    ("-dog", LIVE - {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
    ("-dog -woman -man", LIVE - {"beach_dog", "just_dog", "long_dog", "hot_dog", "park_woman",
                                 "cafe", "surfer"}),
    ("", LIVE),
    ("   ", LIVE),
    ("-", LIVE),
    ("*", LIVE),
    ("AND", LIVE),
    ("tag:", LIVE),
    ("!!!", set()),
    ("😀", set()),
    ("😀 dog", {"beach_dog", "just_dog", "long_dog", "hot_dog"}),
]


@pytest.mark.parametrize("query,expected", CASES, ids=[repr(q) for q, _ in CASES])
def test_query_language(lib, query, expected):
    got = found(lib, query, limit=100)
    assert set(got) == expected
    assert len(got) == len(set(got))
    assert keyword.count(lib.conn, query) == len(expected)


def test_parse_builds_quoted_fts_terms():
    pq = parse('Dog OR "hot ""x" -cat surf* "new yo"* tag:"Hot Dog" folder:2019 NEAR(a')
    assert pq.match_expression() == (
        '(("Dog" OR "hot ") AND "x" AND "surf"* AND "new yo"* AND "NEAR(a") NOT ("cat")')
    assert pq.tags == ["hot dog"] and pq.folders == [Term("2019", phrase=True)]
    assert parse("dog dog").match_expression() == '"dog"'
    assert parse("").match_expression() is None
    assert parse('a"b').match_expression() == '"a""b"'


def test_parse_dates_and_unknown_filters():
    pq = parse("after:2020/1/5 before:2021 after:2019 col:x status:nope")
    assert (pq.after, pq.before) == ("2020-01-05", "2021")
    assert [t.text for g in pq.groups for t in g] == ["col:x", "status:nope"]
    assert parse("after:2020-02-30").after is None


# ---- results ------------------------------------------------------------------------------------

def test_hits_carry_page_details(lib):
    [hit] = keyword.search(lib.conn, "grandma")
    assert hit.photo_id == lib.ids["party"]
    assert hit.caption == "Grandma's 80th birthday"          # the user's caption first
    assert hit.tags == ["grandma", "people", "table"]         # user tags first
    assert hit.path == PHOTOS["party"][0]
    assert hit.taken_at == "2015-12-24T19:00:00" and hit.status == "done"
    assert hit.score > 0
    [pending] = keyword.search(lib.conn, "pxl")
    assert pending.caption is None and pending.tags == [] and pending.status == "pending"


def test_ranking_prefers_short_documents(lib):
    got = found(lib, "dog")
    assert got.index("just_dog") < got.index("long_dog")
    scores = [h.score for h in keyword.search(lib.conn, "dog")]
    assert scores == sorted(scores, reverse=True)


def test_listing_is_newest_first_undated_last(lib):
    hits = keyword.search(lib.conn, "")
    dated = [h.taken_at for h in hits if h.taken_at]
    assert dated == sorted(dated, reverse=True)
    assert hits[-1].taken_at is None and all(h.score == 0.0 for h in hits)


def test_limit_and_offset(lib):
    everything = found(lib, "", limit=100)
    assert found(lib, "", limit=3) == everything[:3]
    assert found(lib, "", limit=3, offset=3) == everything[3:6]
    assert found(lib, "", limit=0) == []
    assert found(lib, "", limit=-1) == everything
    assert found(lib, "dog", limit=2, offset=1) == found(lib, "dog")[1:3]
    assert found(lib, "dog", offset=100) == []
    assert found(lib, "status:missing dog", offset=1) == []


def test_ranked_ids_match_search(lib):
    hits = keyword.search(lib.conn, "dog")
    assert keyword.ranked_ids(lib.conn, "dog") == [(h.photo_id, h.score) for h in hits]
    assert [i for i, _ in keyword.ranked_ids(lib.conn, "", limit=-1)] == [
        h.photo_id for h in keyword.search(lib.conn, "", limit=-1)]
    assert keyword.ranked_ids(lib.conn, 'NEAR("', limit=0) == []


def test_missing_photo_comes_back_when_restored(lib):
    assert "missing_dog" not in found(lib, "dog")
    photos.restore(lib.conn, lib.ids["missing_dog"])
    assert "missing_dog" in found(lib, "dog rug")
    assert found(lib, "status:missing") == []


def _random_library(conn, n, rng, words):
    for i in range(n):
        caption = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        path = f"/lib/{rng.choice(['a', 'b', 'c'])}/IMG_{i:04d}.JPG"
        pid = photos.add(conn, path, _info(path, f"20{rng.randint(10, 23)}-01-01T00:00:00"), None)
        photos.set_auto_captions(conn, pid, [caption], model="m",
                                 tags=rng.sample(words, rng.randint(0, 2)))


def test_exact_order_equals_fts_rank_order(tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    rng = random.Random(3)
    words = ["dog", "cat", "beach", "park", "red", "ball", "man", "woman", "tree", "sky"]
    _random_library(conn, 300, rng, words)
    for query in ["dog", "dog cat", "dog OR sky", '"red ball"', "ba*", "man -woman", "tree sky park"]:
        match = parse(query).match_expression()
        plain = [(r[0] & db.FTS_ID_MASK, -r[1]) for r in conn.execute(
            "SELECT rowid, rank FROM photo_fts WHERE photo_fts MATCH ? ORDER BY rank, rowid LIMIT 50",
            (match,))]
        got = [(h.photo_id, h.score) for h in keyword.search(conn, query)]
        assert got == plain, query
        assert plain


# ---- the bounded ranking for large match sets ---------------------------------------------------

@pytest.fixture
def big(tmp_path, monkeypatch):
    """80 photos with 'dog': 10 short documents, 70 long ones; thresholds lowered to match."""
    monkeypatch.setattr(keyword, "EXACT_LIMIT", 40)
    monkeypatch.setattr(keyword, "CANDIDATES", 20)
    conn = db.connect(tmp_path / "lib.db")
    rng = random.Random(5)
    # No word repeats in a document: its key (document.fts_key) then orders by length alone.
    filler = [f"word{j}" for j in range(40)]
    order = list(range(80))
    rng.shuffle(order)                   # ids unrelated to length
    lib = Lib(conn)
    for i in order:
        folder = "/x/even" if i % 2 == 0 else "/x/odd"
        path = f"{folder}/{i:03d}.jpg"
        pid = photos.add(conn, path, _info(path, "2020-01-01T00:00:00"), None)
        caption = "dog" if i < 10 else "dog " + " ".join(rng.sample(filler, 8 + i // 4))
        photos.set_auto_captions(conn, pid, [caption], model="m")
        if i < 10:
            lib.short.add(pid)
    yield lib
    conn.close()


def test_large_sets_rank_only_the_shortest_documents(big):
    statements = []
    big.conn.set_trace_callback(statements.append)
    hits = keyword.search(big.conn, "dog", limit=10)
    big.conn.set_trace_callback(None)
    assert {h.photo_id for h in hits} == big.short
    assert any("rowid <=" in s for s in statements)       # the bounded path was taken
    assert [h.photo_id for h in hits] == [h.photo_id for h in keyword.search(big.conn, "dog", limit=10,
                                                                              exact=True)]


def test_documents_with_a_repeated_word_come_first(tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    ids = []
    for i, caption in enumerate(["a dog on a bench", "a dog and a dog on a long wooden bench"]):
        pid = photos.add(conn, f"/x/{i}.jpg", _info(f"/x/{i}.jpg", None), None)
        photos.set_auto_captions(conn, pid, [caption], model="m")
        ids.append(pid)
    order = [r[0] & db.FTS_ID_MASK for r in conn.execute(
        "SELECT rowid FROM photo_fts WHERE photo_fts MATCH 'dog' ORDER BY rowid")]
    ranked = [r[0] & db.FTS_ID_MASK for r in conn.execute(
        "SELECT rowid FROM photo_fts WHERE photo_fts MATCH 'dog' ORDER BY rank")]
    assert order == ranked == ids[::-1]
    conn.close()


def test_large_sets_with_filters_probe_with_the_same_filters(big):
    hits = keyword.search(big.conn, "dog folder:odd", limit=5)
    assert len(hits) == 5 and all("/odd/" in h.path for h in hits)
    assert {h.photo_id for h in hits} <= big.short
    exact = keyword.search(big.conn, "dog folder:odd", limit=5, exact=True)
    assert [h.photo_id for h in hits] == [h.photo_id for h in exact]
    assert keyword.count(big.conn, "dog folder:odd") == 40


def test_sets_at_most_exact_limit_are_ranked_exactly(big, monkeypatch):
    monkeypatch.setattr(keyword, "EXACT_LIMIT", 80)
    statements = []
    big.conn.set_trace_callback(statements.append)
    hits = keyword.search(big.conn, "dog", limit=30)
    big.conn.set_trace_callback(None)
    assert not any("rowid <=" in s for s in statements)
    assert [h.photo_id for h in hits] == [h.photo_id for h in keyword.search(big.conn, "dog", limit=30,
                                                                              exact=True)]


def test_deep_pages_are_served(big):
    seen = []
    for offset in range(0, 100, 10):
        page = keyword.search(big.conn, "dog", limit=10, offset=offset)
        assert len(page) == (10 if offset < 80 else 0)
        seen += [h.photo_id for h in page]
    assert len(set(seen)) >= 70          # pages deep in a large set rank a larger candidate set
    assert keyword.search(big.conn, "dog", limit=10, offset=75)[-1].photo_id in seen


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
    assert how.attempt == "literal" and how.query.match_expression() == '"hot dog"'


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


# ---- concurrency --------------------------------------------------------------------------------

def test_reader_searches_while_writer_inserts(tmp_path):
    path = tmp_path / "lib.db"
    writer = db.connect(path)
    reader = db.connect(path)
    total = 150
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(total):
                p = f"/w/IMG_{i:04d}.JPG"
                pid = photos.add(writer, p, _info(p, "2020-01-01T00:00:00"), None)
                photos.set_auto_captions(writer, pid, [f"a dog number {i}"], model="m", tags=["dog"])
        except BaseException as exc:  # noqa: BLE001 - pragma: no cover; any failure is reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    seen = 0
    rounds = 0
    try:
        while not done.is_set() or rounds < 2:
            hits = keyword.search(reader, "dog", limit=-1)
            n = keyword.count(reader, "tag:dog")
            assert len(hits) >= seen                         # never goes back
            assert all(h.caption and "dog" in h.caption and h.tags == ["dog"] for h in hits)
            assert n >= len(hits) or n >= seen
            seen = len(hits)
            rounds += 1
    finally:
        thread.join()
    assert not errors, errors
    assert len(keyword.search(reader, "dog", limit=-1)) == total
    assert rounds > 2


def test_read_only_connection(lib, tmp_path):
    ro = db.connect(tmp_path / "lib.db", readonly=True)
    assert found(lib, "dog") == [lib.names[h.photo_id] for h in keyword.search(ro, "dog")]
    ro.close()


# ---- date filters (FTS5 tokens of the taken column) ----------------------------------------------

def test_date_filters_equal_the_sql_test_on_taken_at(tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    rng = random.Random(11)
    taken = {}
    for i in range(400):
        when = None if i % 17 == 0 else (
            f"{rng.randint(2009, 2013)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00")
        path = f"/d/IMG_{i:04d}.JPG"
        pid = photos.add(conn, path, _info(path, when), None)
        photos.set_auto_captions(conn, pid, ["a dog" if i % 2 else "a cat"], model="m")
        if i % 2:
            taken[pid] = when
    bounds = ["2008", "2009", "2010-02", "2012-02-29", "2011-12", "2011-12-31", "2012-01-01",
              "2012-03-15", "2013", "2014", "2100"]
    statements = []
    conn.set_trace_callback(statements.append)
    for after in [None, *bounds]:
        for before in [None, *bounds]:
            query = " ".join(x for x in ("dog", after and f"after:{after}",
                                         before and f"before:{before}") if x)
            pq = parse(query)
            want = {pid for pid, when in taken.items() if when
                    and (pq.after is None or when >= pq.after)
                    and (pq.before is None or when < pq.before)} if (after or before) else None
            got = {i for i, _ in keyword.ranked_ids(conn, query, limit=-1)}
            if want is not None:
                assert got == want, query
                assert keyword.count(conn, query) == len(want)
    conn.set_trace_callback(None)
    assert not any("taken_at >=" in s for s in statements if "photo_fts MATCH" in s)
    conn.close()


# ---- filters on the zero-weight columns (tagkeys, taken) never change a score --------------------

def test_filtered_order_equals_own_rank_order_with_python_filters(tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    rng = random.Random(13)
    words = ["dog", "cat", "beach", "park", "red", "ball", "man", "woman", "tree", "sky", "on", "a"]
    _random_library(conn, 400, rng, words)
    tags = {}
    for pid, tag in conn.execute("SELECT photo_id, tag FROM tags"):
        tags.setdefault(pid, set()).add(tag)
    taken = dict(conn.execute("SELECT id, taken_at FROM photos"))
    paths = dict(conn.execute("SELECT id, path FROM photos"))
    for query, keep in [
            ("dog folder:a", lambda p: "/a/" in paths[p]),            # folder phrase unscored
            ("lib dog folder:b", lambda p: "/b/" in paths[p]),        # a word in the folder too
            ('"red ball" OR sky folder:c', lambda p: "/c/" in paths[p]),
            ("dog tag:cat", lambda p: "cat" in tags.get(p, ())),
            ("dog -tag:cat", lambda p: "cat" not in tags.get(p, ())),
            ("\"red ball\" -tag:sky", lambda p: "sky" not in tags.get(p, ())),
            ("man OR woman after:2015 tag:tree", lambda p: taken[p] >= "2015" and "tree" in tags.get(p, ())),
            ('"on a" -sky before:2019', lambda p: taken[p] < "2019"),
            ("dog tag:cat path:/a/", lambda p: "cat" in tags.get(p, ())),
    ]:
        pq = parse(query)
        plain = [(r[0] & db.FTS_ID_MASK, -r[1]) for r in conn.execute(
            "SELECT rowid, rank FROM photo_fts WHERE photo_fts MATCH ? ORDER BY rank, rowid",
            (pq.match_expression(),))]
        want = [(p, s) for p, s in plain if keep(p) and all(v in paths[p] for v in pq.paths)]
        statements = []
        conn.set_trace_callback(statements.append)
        got = keyword.ranked_ids(conn, query, limit=-1)
        conn.set_trace_callback(None)
        assert got == want, query
        unscored = any("bm25(photo_fts, 1.0, 1.0, 1.0, 0.0" in s for s in statements)
        assert unscored == query.startswith(("dog folder", '"red ball" OR')), query
        assert keyword.ranked_ids(conn, query, limit=20) == want[:20], query
        assert keyword.count(conn, query) == len(want)
        assert want, query
    conn.close()


def test_tag_keys_are_one_token_each(lib):
    row = lib.conn.execute("SELECT tagkeys FROM photo_fts WHERE rowid = (SELECT fts_rowid FROM photos"
                           " WHERE id = ?)", (lib.ids["hot_dog"],)).fetchone()[0]
    assert row.split() == [document.tag_key("lunch"), document.tag_key("hot dog"), document.tag_key("plate")]
    assert len(document.tag_key("hot dog").split()) == 1 and document.tag_key("x").isalnum()
    assert found(lib, 'tag:"hot dog" plate') == ["hot_dog"]
    assert found(lib, "-tag:dog tag:plate") == ["hot_dog"]


def test_superset_expression_keeps_rare_words():
    assert parse('"sitting on a bench"').superset_expression() == '("sitting" AND "bench")'
    assert parse('"on the"').superset_expression() is None
    assert parse('dog -cat').superset_expression() == '"dog"'
    assert parse('"hot do"* x').superset_expression() == '("hot" AND "do"*) AND "x"'
    assert parse('"café au lait"').superset_expression() is None
    assert parse("dog").superset_expression() is None


# ---- code shape ---------------------------------------------------------------------------------

SEARCH_MODULES = ("search/document.py", "search/query.py", "search/compile.py", "search/keyword.py",
                  "search/vectors.py", "search/fusion.py", "photos.py")


@pytest.mark.parametrize("module", SEARCH_MODULES)
def test_search_modules_import_only_public_names(module):
    """A name shared between modules is public (a `_name` is private to its own module)."""
    source = (Path(photos.__file__).parent / module).read_text(encoding="utf-8")
    private = [f"{node.module}.{alias.name}" for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("photocap")
               for alias in node.names if alias.name.startswith("_")]
    assert private == []
