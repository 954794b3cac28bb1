"""Search: the query language, ranking, the bounded-ranking path, concurrency, code shape.

Hostile input is in test_search_hostile.py; the shared library in search_library.py.

Every test uses a real library file written through photocap.library.photos.
"""

from __future__ import annotations

import ast
import random
import threading
from pathlib import Path

import pytest
from search_library import CASES, PHOTOS, Lib, file_info, found

from photocap.library import db, photos
from photocap.library.search import document, keyword
from photocap.library.search.query import Term, notes, parse

# ---- the query language -------------------------------------------------------------------------

@pytest.mark.parametrize("query,expected", CASES, ids=[repr(q) for q, _ in CASES])
def test_query_language(lib, query, expected):
    got = found(lib, query, limit=100)
    assert set(got) == expected
    assert len(got) == len(set(got))
    assert keyword.count(lib.conn, query) == len(expected)


def test_parse_builds_quoted_fts_terms():
    pq = parse('Dog OR "hot ""x" -cat surf* "new yo"* tag:"Hot Dog" folder:2019 NEAR(a')
    assert pq.match_expression() == (
        '({caption tags name folder} : (("Dog" OR "hot ") AND "x" AND "surf"* AND "new yo"* AND "NEAR(a"))'
        ' NOT ({caption tags name folder} : ("cat"))')
    assert pq.tags == ["hot dog"] and pq.folders == [Term("2019", phrase=True)]
    assert parse("dog dog").match_expression() == '{caption tags name folder} : ("dog")'
    assert parse("").match_expression() is None
    assert parse('a"b').match_expression() == '{caption tags name folder} : ("a""b")'


def test_parse_dates_and_unknown_filters():
    pq = parse("after:2020/1/5 before:2021 after:2019 col:x status:nope")
    assert (pq.after, pq.before) == ("2020-01-05", "2021")
    assert [t.text for g in pq.groups for t in g] == ["col:x", "status:nope"]
    assert parse("after:2020-02-30").after is None


def test_a_filter_value_not_understood_is_searched_as_words_and_said():
    pq = parse("review:tod -status:faild after:party before:2021 tag:x col:x review:todo")
    assert pq.reviews == ["todo"] and pq.before == "2021" and pq.tags == ["x"]
    assert [t.text for g in pq.groups for t in g] == ["review:tod", "after:party", "col:x"]
    assert notes(pq) == [
        "review:tod is not a filter (review: takes todo, approved or edited), so it was searched as words",
        "status:faild is not a filter (status: takes pending, done, failed or missing), so it was searched "
        "as words",
        "after:party is not a filter (after: takes a date: YYYY, YYYY-MM or YYYY-MM-DD), so it was searched "
        "as words",
    ]
    assert notes(parse("review:approved after:2020-01 status:failed dog")) == []


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
        pid = photos.add(conn, path, file_info(path, f"20{rng.randint(10, 23)}-01-01T00:00:00"), None)
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
        pid = photos.add(conn, path, file_info(path, "2020-01-01T00:00:00"), None)
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
        pid = photos.add(conn, f"/x/{i}.jpg", file_info(f"/x/{i}.jpg", None), None)
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
                pid = photos.add(writer, p, file_info(p, "2020-01-01T00:00:00"), None)
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
        pid = photos.add(conn, path, file_info(path, when), None)
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
    t = "{caption tags name folder} : "                   # typed words: the photo's own words only
    assert parse('"sitting on a bench"').superset_expression() == t + '(("sitting" AND "bench"))'
    assert parse('"on the"').superset_expression() is None
    assert parse('dog -cat').superset_expression() == t + '("dog")'
    assert parse('"hot do"* x').superset_expression() == t + '(("hot" AND "do"*) AND "x")'
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
