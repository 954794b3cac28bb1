"""Review mode driven by real key events over a real library file, real JPEGs and real lanes.

Most tests open the review widget alone (the edit lane, the GUI connection and the picture pool are
the app's own classes); the search, leaving and more-candidates tests go through the main window
and its real caption worker on a tiny real model.
"""

from __future__ import annotations

import csv
import io
import os
import signal

import pytest
from helpers import make_photos
from PySide6.QtCore import Qt

from photocap.engine import Engine
from photocap.gui import details as details_pane
from photocap.gui.lanes import DbLane
from photocap.gui.review import ReviewMode, progress_text
from photocap.library import browse, exchange, photos

WAIT = 30_000
CANDIDATES = ["a red square on a table", "a small red box", "a red thing"]

pytestmark = pytest.mark.timeout(60)


def ids_of(conn) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY path")]


def caption_all(conn, texts=CANDIDATES) -> list[int]:
    ids = ids_of(conn)
    for i in ids:
        photos.set_auto_captions(conn, i, texts, model="tiny", tags=["red", "square"])
    return ids


def approved_texts(conn, photo_id: int) -> list[str]:
    return [c.text for c in photos.captions(conn, photo_id) if c.approved]


def state(conn, photo_id: int) -> str | None:
    return photos.review_state(conn, photo_id)[0]


@pytest.fixture
def reviewing(qtbot, library, conn):
    """Open review mode over photo ids; its lane and picture pool are closed afterwards."""
    opened = []

    def open_(ids: list[int]) -> ReviewMode:
        lane = DbLane(library.db_path())
        widget = ReviewMode(conn, lane, ids, title="test")
        qtbot.addWidget(widget)
        widget.resize(900, 600)
        widget.show()
        qtbot.waitExposed(widget)
        widget.setFocus()
        opened.append((widget, lane))
        return widget

    yield open_
    for widget, lane in opened:
        widget.stop()
        lane.close()


def settle(qtbot, widget: ReviewMode, decisions: int) -> None:
    """Wait until `decisions` writes were reported committed by the lane."""
    qtbot.waitUntil(lambda: widget.decisions.committed >= decisions, timeout=WAIT)


def key(qtbot, widget, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(widget.focusWidget() or widget, k, modifier)


# ---- accept, pick, edit, tags ---------------------------------------------------------------------

def test_enter_accepts_the_first_candidate_and_goes_on(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    assert widget.current_id() == ids[0]
    assert [widget.candidates.item(i).text() for i in range(3)] == [f"{n}.  {t}" for n, t in
                                                                     enumerate(CANDIDATES, 1)]
    key(qtbot, widget, Qt.Key.Key_Return)
    assert widget.current_id() == ids[1]              # on at once, not after the write
    settle(qtbot, widget, 1)
    assert state(conn, ids[0]) == "approved"
    assert approved_texts(conn, ids[0]) == [CANDIDATES[0]]
    assert state(conn, ids[1]) == "todo"
    assert widget.progress.text().startswith("3 of 4 left, ")


def test_pick_two_then_enter_makes_it_the_caption_shown_and_exported(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    key(qtbot, widget, Qt.Key.Key_2)
    assert widget.candidates.currentRow() == 1
    key(qtbot, widget, Qt.Key.Key_Return)
    settle(qtbot, widget, 1)
    assert approved_texts(conn, ids[0]) == [CANDIDATES[1]]
    # Everything that shows or exports one caption shows the approved one.
    assert details_pane.shown_caption(photos.captions(conn, ids[0])).text == CANDIDATES[1]
    assert browse.summaries(conn, [ids[0]])[ids[0]].caption == CANDIDATES[1]
    out = io.StringIO()
    exchange.write_csv(exchange.records(conn, approved_only=True), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["caption"], r["review"]) for r in rows] == [(CANDIDATES[1], "approved")]

    key(qtbot, widget, Qt.Key.Key_Backspace)          # back: the approved one is selected and marked
    assert widget.current_id() == ids[0]
    assert widget.candidates.currentRow() == 1
    assert widget.candidates.item(1).text().endswith("✓")
    key(qtbot, widget, Qt.Key.Key_3)
    key(qtbot, widget, Qt.Key.Key_Return)             # changing one's mind: one approval, the new one
    settle(qtbot, widget, 2)
    assert approved_texts(conn, ids[0]) == [CANDIDATES[2]]


def test_e_edits_the_caption_enter_saves_it_as_edited(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    key(qtbot, widget, Qt.Key.Key_2)
    key(qtbot, widget, Qt.Key.Key_E)
    assert widget.caption_edit.isVisible() and widget.caption_edit.text() == CANDIDATES[1]
    widget.caption_edit.clear()
    qtbot.keyClicks(widget.caption_edit, "a red cube on an oak table")
    key(qtbot, widget, Qt.Key.Key_Return)
    assert widget.current_id() == ids[1] and not widget.caption_edit.isVisible()
    settle(qtbot, widget, 1)
    assert state(conn, ids[0]) == "edited"
    assert details_pane.shown_caption(photos.captions(conn, ids[0])).text == "a red cube on an oak table"
    assert [c.text for c in photos.captions(conn, ids[0]) if c.source == "auto"] == CANDIDATES   # kept

    key(qtbot, widget, Qt.Key.Key_E)                  # Escape cancels an edit: nothing written
    qtbot.keyClicks(widget.caption_edit, " changed")
    key(qtbot, widget, Qt.Key.Key_Escape)
    assert not widget.caption_edit.isVisible() and widget.isVisible()
    assert widget.current_id() == ids[1] and state(conn, ids[1]) == "todo"
    assert widget.decisions.committed == 1


def test_t_edits_the_tags(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    key(qtbot, widget, Qt.Key.Key_T)
    assert widget.tags_edit.text() == "red, square"
    widget.tags_edit.clear()
    qtbot.keyClicks(widget.tags_edit, "Red, cube,  wooden table")
    key(qtbot, widget, Qt.Key.Key_Return)
    settle(qtbot, widget, 1)
    assert photos.tags(conn, ids[0]) == [("cube", "user"), ("wooden table", "user"), ("red", "auto")]
    assert widget.current_id() == ids[0]              # tags are not the caption's decision: it stays
    qtbot.waitUntil(lambda: widget.tags.text() == "cube, wooden table, red", timeout=WAIT)
    assert state(conn, ids[0]) == "todo"


def test_space_skips_and_backspace_goes_back_without_writing(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    for expected in (ids[1], ids[2], ids[3], None, None):
        key(qtbot, widget, Qt.Key.Key_Space)
        assert widget.current_id() == expected
    assert "All photos of this review are done" in widget.view.accessibleDescription()
    key(qtbot, widget, Qt.Key.Key_Backspace)
    assert widget.current_id() == ids[3]
    for _ in range(5):
        key(qtbot, widget, Qt.Key.Key_Backspace)
    assert widget.current_id() == ids[0]
    assert photos.review_counts(conn) == {"todo": 4, "approved": 0, "edited": 0}
    assert widget.progress.text() == "4 of 4 left"


# ---- undo -----------------------------------------------------------------------------------------

def snapshot(conn, photo_id: int):
    rows = conn.execute("SELECT id, text, source, approved, reviewed_at FROM captions WHERE photo_id=?"
                        " ORDER BY id", (photo_id,)).fetchall()
    return [tuple(r) for r in rows], photos.tags(conn, photo_id), photos.review_state(conn, photo_id)


def test_ctrl_z_undoes_each_kind_of_decision_and_goes_back_to_its_photo(qtbot, reviewing, conn):
    ids = caption_all(conn)
    photos.set_user_caption(conn, ids[1], "my own words")            # edited before the review
    before = {i: snapshot(conn, i) for i in ids}
    widget = reviewing(ids)
    undo = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    key(qtbot, widget, Qt.Key.Key_2)                  # accept a machine candidate on photo 0
    key(qtbot, widget, Qt.Key.Key_Return)
    assert widget.candidates.currentRow() == 0        # photo 1: the user's own caption is selected
    assert widget.candidates.item(0).text() == "1.  my own words  (yours)  ✓"
    key(qtbot, widget, Qt.Key.Key_3)                  # ...and a machine's is chosen over it
    key(qtbot, widget, Qt.Key.Key_Return)
    key(qtbot, widget, Qt.Key.Key_E)                  # edit photo 2
    widget.caption_edit.setText("something else")
    key(qtbot, widget, Qt.Key.Key_Return)
    key(qtbot, widget, Qt.Key.Key_T)                  # tags of photo 3
    widget.tags_edit.setText("blue")
    key(qtbot, widget, Qt.Key.Key_Return)
    settle(qtbot, widget, 4)
    assert [state(conn, i) for i in ids] == ["approved", "approved", "edited", "todo"]
    assert photos.tags(conn, ids[3]) == [("blue", "user")]
    assert widget.progress.text().startswith("1 of 4 left")

    for photo_id, left in ((ids[3], 1), (ids[2], 2), (ids[1], 3), (ids[0], 4)):
        key(qtbot, widget, *undo)
        assert widget.current_id() == photo_id
        qtbot.waitUntil(lambda p=photo_id: widget.decisions.undone_ids[-1:] == [p], timeout=WAIT)
        assert snapshot(conn, photo_id) == before[photo_id]
        assert widget.progress.text().startswith(f"{left} of 4 left")
    assert photos.review_counts(conn) == {"todo": 3, "approved": 0, "edited": 1}
    key(qtbot, widget, *undo)
    assert widget.note.text() == "Nothing to undo in this review."


def test_undo_keeps_the_candidates_that_arrived_after_the_decision(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    key(qtbot, widget, Qt.Key.Key_Return)
    settle(qtbot, widget, 1)
    photos.set_auto_captions(conn, ids[0], ["a late candidate"], model="tiny")   # re-captioned meanwhile
    key(qtbot, widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: widget.decisions.undone_ids == [ids[0]], timeout=WAIT)
    assert state(conn, ids[0]) == "todo"
    # What the photo had comes back as it was; what came since stays.
    assert sorted(c.text for c in photos.captions(conn, ids[0])) == sorted(CANDIDATES + ["a late candidate"])


# ---- progress and leaving ------------------------------------------------------------------------

def test_progress_text():
    assert progress_text(5000, 5000, 0, 0.0) == "5,000 of 5,000 left"
    assert progress_text(312, 5000, 41, 60.0) == "312 of 5,000 left, 41 per minute"
    assert progress_text(3, 4, 1, 0.5) == "3 of 4 left, 6 per minute"     # not guessed from 0.5 s


def test_escape_leaves(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    with qtbot.waitSignal(widget.left_review, timeout=WAIT):
        key(qtbot, widget, Qt.Key.Key_Escape)


def test_a_photo_that_cannot_be_read_says_why_and_the_review_goes_on(qtbot, reviewing, conn, photo_dir):
    ids = caption_all(conn)
    (photo_dir / "IMG_0000.jpg").write_bytes(b"not a jpeg at all")
    widget = reviewing(ids)
    qtbot.waitUntil(lambda: "Cannot show this photo" in widget.view.accessibleDescription(), timeout=WAIT)
    key(qtbot, widget, Qt.Key.Key_Return)
    settle(qtbot, widget, 1)
    assert state(conn, ids[0]) == "approved"
    qtbot.waitUntil(lambda: widget.view.showing() == ids[1], timeout=WAIT)


def test_next_photos_are_decoded_ahead(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    qtbot.waitUntil(lambda: all(widget.images.image(i, widget.view.box()) is not None for i in ids),
                    timeout=WAIT)
    key(qtbot, widget, Qt.Key.Key_Space)
    assert widget.view.showing() == ids[1]            # shown at once: nothing waits on the disk
    with qtbot.waitSignal(widget.view.painted, timeout=WAIT) as painted:
        widget.view.repaint()
    assert painted.args == [ids[1]]


def test_what_exists_when_review_starts_is_left_out_of_garbage_collections(qtbot, reviewing, conn):
    # A full collection walks every object on whichever thread allocates: 18 to 36 ms stalls of the GUI
    # thread in the review benchmark. Frozen, the app's long-lived objects are not walked.
    import gc
    ids = caption_all(conn)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    widget = reviewing(ids)
    assert gc.get_freeze_count() > 0 and widget.current_id() == ids[0]


# ---- through the main window ----------------------------------------------------------------------

@pytest.fixture
def years(tmp_path, settings):
    """A library of two year folders, 3 photos in 2023 and 2 in 2024, all captioned."""
    make_photos(tmp_path / "Years" / "2023", 3)
    make_photos(tmp_path / "Years" / "2024", 2, start=3)
    with Engine(settings) as engine:
        engine.index([str(tmp_path / "Years")])
    return settings


def test_review_over_a_search_reviews_only_what_it_finds(qtbot, open_window, years):
    from photocap.library import db
    conn = db.connect(years.db_path())
    try:
        caption_all(conn)
        ids = ids_of(conn)
        paths = {i: photos.get(conn, i).path for i in ids}
        in_2023 = [i for i in ids if "/2023/" in paths[i]]
        photos.approve_todo(conn, in_2023[:1])                   # one of 2023 is reviewed already
        window = open_window(years)
        window.search.setText("folder:2023 review:todo")
        qtbot.waitUntil(lambda: window.result_count.text() == "2 photos", timeout=WAIT)
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        review = window.review
        assert review is not None and window.pages.currentWidget() is review
        assert review.progress.text() == "2 of 2 left"
        assert review.heading.text() == "Reviewing “folder:2023 review:todo”"
        seen = []
        for _ in range(2):
            seen.append(review.current_id())
            key(qtbot, review, Qt.Key.Key_Return)
        assert sorted(seen) == sorted(in_2023[1:])
        settle(qtbot, review, 2)
        assert photos.review_counts(conn) == {"todo": 2, "approved": 3, "edited": 0}
        assert all(state(conn, i) == "todo" for i in ids if i not in in_2023)

        key(qtbot, review, Qt.Key.Key_Escape)           # back to the grid, which shows the decisions
        assert window.pages.currentWidget() is window.library_page and window.review is None
        qtbot.waitUntil(lambda: window.result_count.text() == "no results", timeout=WAIT)
    finally:
        conn.close()


def test_m_asks_for_more_candidates_and_the_review_goes_on(qtbot, open_window, library, conn):
    caption_all(conn, ["a red square on a table"])
    window = open_window(library)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    window.start_review()
    review = window.review
    assert review is not None and review.candidates.count() == 1
    ids = review.queue()                              # the grid's order
    key(qtbot, review, Qt.Key.Key_M)
    assert review.note.text() == "Asking for more captions…"
    key(qtbot, review, Qt.Key.Key_Space)              # on at once: the worker captions meanwhile
    assert review.current_id() == ids[1] and review.note.text() == ""
    key(qtbot, review, Qt.Key.Key_M)                  # this photo is still on screen when they arrive
    qtbot.waitUntil(lambda: review.candidates.count() > 1, timeout=WAIT)
    qtbot.wait(300)                                   # a refit of the longer list keeps the note
    assert review.note.text() == "More captions arrived."
    texts = [c.text for c in photos.captions(conn, ids[1])]
    assert [review.candidates.item(i).text() for i in range(review.candidates.count())] == [
        f"{n}.  {t}" for n, t in enumerate(texts, 1)]
    assert texts[0] == "a red square on a table" and review.candidates.currentRow() == 0

    qtbot.waitUntil(lambda: len(photos.captions(conn, ids[0])) > 1, timeout=WAIT)
    key(qtbot, review, Qt.Key.Key_Backspace)          # revisited: the first photo's arrived too
    assert review.current_id() == ids[0]
    assert review.candidates.count() == len(photos.captions(conn, ids[0]))
    key(qtbot, review, Qt.Key.Key_2)
    key(qtbot, review, Qt.Key.Key_Return)
    settle(qtbot, review, 1)
    assert approved_texts(conn, ids[0]) == [photos.captions(conn, ids[0])[0].text] != ["a red square on a table"]


def test_a_photo_without_captions_can_be_written_but_not_accepted(qtbot, reviewing, conn):
    ids = ids_of(conn)                                # indexed, not captioned yet
    widget = reviewing(ids)
    assert widget.candidates.item(0).text() == "No caption yet: E writes one, M asks the model."
    key(qtbot, widget, Qt.Key.Key_Return)
    assert widget.current_id() == ids[0]
    assert widget.note.text() == "No caption to accept yet: E writes one, M asks the model for some."
    key(qtbot, widget, Qt.Key.Key_E)
    qtbot.keyClicks(widget.caption_edit, "a harbour at dawn")
    key(qtbot, widget, Qt.Key.Key_Return)
    settle(qtbot, widget, 1)
    assert photos.review_state(conn, ids[0])[0] == "edited"
    assert [c.text for c in photos.captions(conn, ids[0])] == ["a harbour at dawn"]


def test_pictures_still_show_when_a_decoding_helper_dies(qtbot, reviewing, conn):
    ids = caption_all(conn)
    widget = reviewing(ids)
    qtbot.waitUntil(lambda: widget.view.showing() == ids[0], timeout=WAIT)
    pids = widget.images.helper_pids()
    assert len(pids) == 2
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    widget.resize(700, 500)                           # every picture is decoded again, for the new size
    qtbot.waitUntil(lambda: widget.images.image(ids[0], widget.view.box()) is not None, timeout=WAIT)
    for photo_id in ids[1:]:
        key(qtbot, widget, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda p=photo_id: widget.view.showing() == p, timeout=WAIT)
    assert widget.images.errors == {}


def test_what_review_said_about_a_photo_stays_until_the_next_photo(qtbot, reviewing, conn):
    """A resize (or a write, or a caption arriving) shows the photo again; its note stays."""
    ids = caption_all(conn)
    widget = reviewing(ids)
    key(qtbot, widget, Qt.Key.Key_M)                  # no worker here: review says so
    said = widget.note.text()
    assert said.startswith("More captions need the captioning worker")
    widget.resize(1000, 640)
    qtbot.wait(400)                                   # the refit after a resize waits 120 ms
    assert widget.note.text() == said
    key(qtbot, widget, Qt.Key.Key_Space)              # the next photo starts with nothing said
    assert widget.current_id() == ids[1] and widget.note.text() == ""
