"""A review over a search of filters takes in the photos captioned while it runs that the search finds;
one over a search with words keeps its photos and says so. The real window, its real caption worker on a
tiny real model, and new JPEGs written into the watched folder while review mode is open."""

from __future__ import annotations

import pytest
from helpers import make_photos
from PySide6.QtCore import Qt

from photocap.gui.review_panel import FIXED_QUEUE
from photocap.library import photos
from photocap.library.search import keyword

WAIT = 60_000
CTRL = Qt.KeyboardModifier.ControlModifier

pytestmark = pytest.mark.timeout(150)


def _key(qtbot, review, key) -> None:
    qtbot.keyClick(review.focusWidget() or review, key)


def _open_review(qtbot, window, conn, query: str):
    qtbot.waitUntil(lambda: photos.counts(conn)["pending"] == 0 and window.model.rowCount() == 4, timeout=WAIT)
    window.search.setText(query)
    qtbot.waitUntil(lambda: window.model.query == query and window.result_count.text() == "4 photos",
                    timeout=WAIT)
    qtbot.keyClick(window, Qt.Key.Key_R, CTRL)
    review = window.review
    assert review is not None and review.progress.text() == "4 of 4 left"
    return review


def _captioned_ids(window) -> list[int]:
    """Photo ids the worker reports captioned, in order (this may run before review mode's own slot)."""
    seen: list[int] = []
    window.services.worker.captioned.connect(lambda photo_id, _c, _t: seen.append(photo_id))
    return seen


def _id_of(conn, path) -> int | None:
    photo = photos.by_path(conn, str(path))
    return None if photo is None else photo.id


def test_photos_captioned_during_a_review_join_it_when_its_search_finds_them(qtbot, open_window, library, conn,
                                                                             photo_dir):
    query = "review:todo -path:zzextra"
    window = open_window(library)
    review = _open_review(qtbot, window, conn, query)
    first = review.queue()
    assert review.note.text() == ""
    _key(qtbot, review, Qt.Key.Key_Return)            # one decision before the new photos arrive
    qtbot.waitUntil(lambda: review.decisions.committed == 1, timeout=WAIT)
    seen = _captioned_ids(window)

    found = make_photos(photo_dir, 1, start=100, name="IMG_{:04d}.jpg")[0]
    left_out = make_photos(photo_dir, 1, start=101, name="zzextra_{:04d}.jpg")[0]
    qtbot.waitUntil(lambda: {_id_of(conn, found), _id_of(conn, left_out)} <= set(seen) - {None}, timeout=WAIT)

    new = _id_of(conn, found)
    # Review mode's own slot may run after the recorder above: wait for it, not for the report.
    qtbot.waitUntil(lambda: review.queue() == first + [new], timeout=WAIT)   # the other one is left out
    assert set(keyword.matching_ids(conn, query)) >= {new} and _id_of(conn, left_out) not in set(
        keyword.matching_ids(conn, query))
    assert review.progress.text().startswith("4 of 5 left")
    for _ in range(3):
        _key(qtbot, review, Qt.Key.Key_Space)
    _key(qtbot, review, Qt.Key.Key_Return)            # the new photo is reviewed like the others
    qtbot.waitUntil(lambda: review.decisions.committed == 2, timeout=WAIT)
    assert photos.review_state(conn, new)[0] == "approved"
    assert review.progress.text().startswith("3 of 5 left")
    assert review.current_id() is None                # the end: all photos of this review are done

    again = make_photos(photo_dir, 1, start=102, name="IMG_{:04d}.jpg")[0]
    qtbot.waitUntil(lambda: _id_of(conn, again) in seen, timeout=WAIT)
    qtbot.waitUntil(lambda: review.current_id() == _id_of(conn, again), timeout=WAIT)  # shown where it waited
    assert review.name.text().endswith("(6 of 6)")
    assert review.progress.text().startswith("4 of 6 left")


def test_a_review_of_a_search_with_words_keeps_its_photos_and_says_so(qtbot, open_window, library, conn,
                                                                      photo_dir):
    window = open_window(library)
    review = _open_review(qtbot, window, conn, "img")           # the words of the file names
    first = review.queue()
    assert review.note.text() == FIXED_QUEUE
    seen = _captioned_ids(window)
    new = make_photos(photo_dir, 1, start=100, name="IMG_{:04d}.jpg")[0]
    qtbot.waitUntil(lambda: _id_of(conn, new) in seen, timeout=WAIT)
    assert _id_of(conn, new) in keyword.matching_ids(conn, "img")   # the words find it; the review stays
    assert review.queue() == first and review.progress.text() == "4 of 4 left"
