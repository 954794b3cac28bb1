"""Hybrid search, similar photos and near-duplicates on handcrafted vectors written through the real
store (no model): fusion order, filters and exclusions on semantic hits, the relevance floor, models
never mixed, deleted photos never back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from photocap.library import db, photos
from photocap.library.search import fusion, keyword, vectors

MODEL = "blip-itm-base"
OTHER = "siglip2-base"
DIM = 16
# Concept axes of the handcrafted embedding space; the rest is background.
DOG, SEA, CAT, CITY, FOOD, GIRAFFE, BOAT = range(7)

# name: (path, caption, tags, taken_at, concept mix, (width, height, size))
PHOTOS = {
    "rock_ocean": ("/pics/2021/Trip/IMG_1.JPG", "a man standing on a rock near the ocean", ["man", "rock"],
                   "2021-06-01T10:00:00", {SEA: 1.0}, (4000, 3000, 5_000_000)),
    "sandy_coast": ("/pics/2019/Holiday/IMG_2.JPG", "a sandy coast at sunset", ["coast"],
                    "2019-08-01T19:00:00", {SEA: 1.0, DOG: 0.15}, (4000, 3000, 4_000_000)),
    "sea_shell": ("/pics/2018/Home/IMG_3.JPG", "a sea shell on a kitchen table", ["shell"],
                  "2018-01-01T12:00:00", {FOOD: 1.0}, (4000, 3000, 3_000_000)),
    "dog_beach": ("/pics/2020/Holiday/IMG_4.JPG", "a dog running on the sand", ["dog"],
                  "2020-07-04T10:00:00", {DOG: 1.0, SEA: 0.8}, (4000, 3000, 3_500_000)),
    "lake_boat": ("/pics/2022/Lake/IMG_5.JPG", "a boat on a lake", ["boat", "lake"],
                  "2022-05-05T09:00:00", {BOAT: 1.0, SEA: 0.5}, (4000, 3000, 2_000_000)),
    "cat_sofa": ("/pics/2017/Home/IMG_6.JPG", "a white cat sleeping on a couch", ["cat"],
                 "2017-03-03T20:00:00", {CAT: 1.0}, (4000, 3000, 2_500_000)),
}


def embedding(mix: dict[int, float], seed: int, noise: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = noise * rng.standard_normal(DIM)
    for axis, weight in mix.items():
        v[axis] += weight
    return v / np.linalg.norm(v)


def background(i: int) -> np.ndarray:
    """Unrelated photos: city, food and the background axes (never sea, dog, cat or giraffe)."""
    rng = np.random.default_rng(1000 + i)
    v = 0.05 * rng.standard_normal(DIM)
    v[[CITY, FOOD]] += rng.random(2)
    v[7:] += rng.standard_normal(DIM - 7)
    return v / np.linalg.norm(v)


def query(*axes: int) -> np.ndarray:
    v = np.zeros(DIM)
    v[list(axes)] = 1.0
    return v / np.linalg.norm(v)


@dataclass
class Lib:
    conn: object
    ids: dict[str, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def found(self, text: str, q=None, **kw) -> list[str]:
        hits = fusion.search(self.conn, text, text_vector=q, model=MODEL if q is not None else None, **kw)
        return [self.names.get(h.photo_id, f"bg{h.photo_id}") for h in hits]


@pytest.fixture(params=["exact", "ann"])
def lib(tmp_path, request, monkeypatch):
    if request.param == "ann":
        # The ANN index and hit-by-hit filter checks, as on a large library.
        monkeypatch.setattr(vectors, "EXACT_MAX", 3)
    conn = db.connect(tmp_path / "lib.db")
    lib = Lib(conn)
    items = []
    for seed, (name, (path, caption, tags, taken, mix, (w, h, size))) in enumerate(PHOTOS.items()):
        info = photos.FileInfo(size=size, mtime=1.0, hash=path, width=w, height=h, taken_at=taken)
        pid = photos.add(conn, path, info, None)
        photos.set_auto_captions(conn, pid, [caption], model="tiny", tags=tags)
        lib.ids[name], lib.names[pid] = pid, name
        items.append((pid, embedding(mix, seed)))
    for i in range(60):
        path = f"/pics/2015/Misc/BG_{i}.JPG"
        pid = photos.add(conn, path, photos.FileInfo(size=1000, mtime=1.0, hash=path, width=10, height=10,
                                                      taken_at="2015-01-01T00:00:00"), None)
        photos.set_auto_captions(conn, pid, [f"a street in a city number {i}"], model="tiny", tags=["city"])
        items.append((pid, background(i)))
    with db.write(conn):
        vectors.put_many(conn, MODEL, items)
    yield lib
    conn.close()
    vectors.forget_cached_indexes()


def test_semantic_text_is_the_words_and_phrases_without_filters_or_exclusions():
    assert fusion.semantic_text('dog "on the beach" -cat tag:pets after:2020 OR') == "dog on the beach"
    assert fusion.semantic_text("tag:pets status:done") == ""


def test_a_photo_no_keyword_finds_can_rank_first_and_both_lists_rise(lib):
    # "sea": keyword finds only sea_shell (a food photo); by meaning, the sea photos.
    got = lib.found("sea", query(SEA))
    assert got[0] == "rock_ocean"                         # semantic rank 1, no keyword match
    assert got.index("sea_shell") < 4                     # keyword rank 1 keeps its place
    assert {"rock_ocean", "sandy_coast", "dog_beach", "lake_boat", "sea_shell"} == set(got)
    hits = fusion.search(lib.conn, "sea", text_vector=query(SEA), model=MODEL)
    by = {lib.names[h.photo_id]: h for h in hits}
    assert by["rock_ocean"].keyword_rank is None and by["rock_ocean"].semantic_score > 0.9
    assert by["sea_shell"].keyword_rank == 1 and by["sea_shell"].semantic_score < 0.3


def test_fusion_is_reciprocal_rank_fusion(lib):
    # Keyword list for "coast": sandy_coast (rank 1). Semantic list: rock_ocean, sandy_coast, dog_beach, ...
    hits = fusion.search(lib.conn, "coast", text_vector=query(SEA), model=MODEL)
    semantic = [lib.names.get(i) for i, _ in vectors.knn(lib.conn, MODEL, query(SEA), limit=4)]
    assert semantic[:2] == ["rock_ocean", "sandy_coast"]
    scores = {lib.names[h.photo_id]: h.score for h in hits}
    assert scores["sandy_coast"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["rock_ocean"] == pytest.approx(1 / 61)
    assert [lib.names[h.photo_id] for h in hits][:2] == ["sandy_coast", "rock_ocean"]


def test_filters_apply_to_semantic_hits(lib):
    assert set(lib.found("sea folder:holiday", query(SEA))) == {"sandy_coast", "dog_beach"}
    assert set(lib.found("sea after:2020", query(SEA))) == {"rock_ocean", "dog_beach", "lake_boat"}
    assert set(lib.found("sea tag:dog", query(SEA))) == {"dog_beach"}
    assert set(lib.found("sea -tag:dog before:2020", query(SEA))) <= {"sandy_coast", "sea_shell"}
    assert set(lib.found("sea path:IMG_5", query(SEA))) == {"lake_boat"}


def test_excluded_words_quotes_and_or_keep_their_exact_meaning(lib):
    assert "rock_ocean" not in lib.found("sea -rock", query(SEA))        # an excluded word, in its caption
    assert "dog_beach" not in lib.found('sea -"running on"', query(SEA))
    assert lib.found('"sandy coast"', query(SEA)) == ["sandy_coast"]    # a phrase must match
    assert set(lib.found("coast OR lake", query(SEA))) == {"sandy_coast", "lake_boat"}
    assert set(lib.found("sand*", query(SEA))) == {"sandy_coast", "dog_beach"}       # a prefix must match


def test_the_relevance_floor_leaves_unrelated_photos_out(lib):
    assert len(lib.found("giraffe", query(GIRAFFE))) <= 2               # no giraffe in the library
    got = lib.found("cat", query(CAT))
    assert got[0] == "cat_sofa" and len(got) <= 3
    assert not any(name.startswith("bg") for name in lib.found("ocean", query(SEA)))


def test_keyword_mode_and_no_vector_are_todays_search(lib):
    plain = [h.photo_id for h in keyword.search(lib.conn, "a")]
    assert [h.photo_id for h in fusion.search(lib.conn, "a", mode="keyword")] == plain
    assert [h.photo_id for h in fusion.search(lib.conn, "a")] == plain
    assert fusion.search(lib.conn, "sea", mode="semantic") == []
    sem = lib.found("sea", query(SEA), mode="semantic")
    assert sem[0] == "rock_ocean" and "sea_shell" not in sem


def test_sort_newest_and_oldest_order_the_fused_set_by_date(lib):
    newest = lib.found("sea", query(SEA), sort="newest")
    assert newest == ["lake_boat", "rock_ocean", "dog_beach", "sandy_coast", "sea_shell"]
    assert lib.found("sea", query(SEA), sort="oldest") == newest[::-1]


def test_vectors_of_another_model_are_never_ranked(lib):
    vectors.put(lib.conn, lib.ids["rock_ocean"], OTHER, query(SEA))       # re-embedded by another model
    hits = fusion.search(lib.conn, "ocean", text_vector=query(SEA), model=MODEL)
    by = {lib.names.get(h.photo_id): h for h in hits}
    assert by["rock_ocean"].semantic_score is None and by["rock_ocean"].keyword_rank == 1
    assert "rock_ocean" not in lib.found("sea", query(SEA))


def test_a_deleted_or_missing_photo_never_comes_back(lib):
    photos.remove(lib.conn, [lib.ids["rock_ocean"]])
    photos.mark_missing(lib.conn, [lib.ids["sandy_coast"]])
    got = lib.found("sea", query(SEA))
    assert "rock_ocean" not in got and "sandy_coast" not in got and got[0] == "dog_beach"


def test_similar_leaves_the_photo_out_and_ranks_by_cosine(lib):
    got = [lib.names.get(h.photo_id) for h in fusion.similar(lib.conn, lib.ids["rock_ocean"], MODEL, limit=3)]
    assert got[:2] == ["sandy_coast", "dog_beach"] and "rock_ocean" not in got and len(got) == 3
    assert fusion.similar(lib.conn, lib.ids["rock_ocean"], OTHER) == []


def test_duplicates_group_near_copies_largest_first(lib):
    ids = lib.ids
    # A resized copy of the cat photo and a recompressed one: almost the same vector.
    base = vectors.get(lib.conn, ids["cat_sofa"], MODEL)
    copies = []
    for i, (w, h, size) in enumerate([(800, 600, 100_000), (4000, 3000, 9_000_000)]):
        path = f"/pics/copies/cat_{i}.jpg"
        pid = photos.add(lib.conn, path, photos.FileInfo(size=size, mtime=1.0, hash=path, width=w, height=h), None)
        photos.set_auto_captions(lib.conn, pid, ["a cat"], model="tiny")
        vectors.put(lib.conn, pid, MODEL, base + 0.01 * np.random.default_rng(i).standard_normal(DIM))
        copies.append(pid)
    groups = fusion.duplicates(lib.conn, "", MODEL, threshold=0.98)
    assert [[h.photo_id for h in g] for g in groups] == [[copies[1], ids["cat_sofa"], copies[0]]]
    assert fusion.duplicates(lib.conn, "tag:dog", MODEL) == []
    assert fusion.duplicates(lib.conn, "cat", MODEL, threshold=0.98)[0][0].photo_id == copies[1]
