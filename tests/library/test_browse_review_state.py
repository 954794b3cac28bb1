"""The grid's page of summaries carries each photo's review state, as photos.review_state and the
review: filter define it."""

from photocap.library import browse, db, photos
from photocap.library.search import keyword


def add(conn, n: int) -> int:
    return photos.add(conn, f"/pics/IMG_{n}.jpg", photos.FileInfo(10, 1.0, f"h{n}", 4, 3), None)


def test_summaries_carry_the_review_state_of_each_photo(tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    uncaptioned, todo, approved, edited, both = (add(conn, n) for n in range(5))
    for photo_id in (todo, approved, edited, both):
        photos.set_auto_captions(conn, photo_id, ["a red box", "a box"], model="tiny")
    photos.approve_todo(conn, [approved, both])
    photos.set_user_caption(conn, edited, "my red box")
    photos.set_user_caption(conn, both, "my own words")   # a user caption and an approved machine one

    found = browse.summaries(conn, [uncaptioned, todo, approved, edited, both])

    expected = {uncaptioned: None, todo: "todo", approved: "approved", edited: "edited", both: "edited"}
    assert {i: s.review for i, s in found.items()} == expected
    assert {i: photos.review_state(conn, i)[0] for i in expected} == expected
    for state in ("todo", "approved", "edited"):          # the same as a review: search finds
        assert sorted(keyword.matching_ids(conn, f"review:{state}")) == sorted(
            i for i, s in expected.items() if s == state)
    assert found[both].caption == "my own words"
    photos.reset_review(conn, [approved])
    assert browse.summaries(conn, [approved])[approved].review == "todo"
    conn.close()
