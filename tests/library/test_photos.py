"""Photo records: captions, tags, user edits, moves, and the search document kept in step."""

import pytest

from photocap.library import db, photos


@pytest.fixture
def conn(tmp_path):
    return db.connect(tmp_path / "lib.db")


def doc(conn, photo_id):
    row = conn.execute("SELECT caption, tags, name, folder FROM photo_fts WHERE rowid & 4294967295 = ?",
                       (photo_id,)).fetchone()
    return tuple(row) if row else None


def matches(conn, text):
    return sorted(r[0] & 0xFFFFFFFF for r in
                  conn.execute("SELECT rowid FROM photo_fts WHERE photo_fts MATCH ?", (text,)))


def add(conn, path="/pics/2023/IMG_1.jpg", digest="h1"):
    return photos.add(conn, path, photos.FileInfo(10, 1.0, digest, 4, 3), None)


def test_new_photo_is_pending_and_found_by_name_and_folder(conn):
    pid = add(conn)
    assert photos.get(conn, pid).status == "pending"
    assert matches(conn, "img_1") == [pid]     # unicode61 splits on _ : both tokens match
    assert matches(conn, "2023") == [pid]


def test_auto_captions_set_status_tags_and_search_document(conn):
    pid = add(conn)
    photos.set_auto_captions(conn, pid, ["a dog on the beach", "a brown dog"], model="tiny",
                             options={"num_beams": 3}, tags=["dog", "Beach "])
    assert photos.get(conn, pid).status == "done"
    assert [c.text for c in photos.captions(conn, pid)] == ["a dog on the beach", "a brown dog"]
    assert photos.captions(conn, pid)[0].options == {"num_beams": 3}
    assert photos.tags(conn, pid) == [("beach", "auto"), ("dog", "auto")]
    assert matches(conn, "brown") == [pid]
    assert matches(conn, "tags:beach") == [pid]


def test_recaptioning_keeps_user_caption_and_user_tags(conn):
    pid = add(conn)
    photos.set_auto_captions(conn, pid, ["a cat"], model="m", tags=["cat"])
    photos.set_user_caption(conn, pid, "Minou on the sofa")
    photos.add_user_tags(conn, pid, ["minou", "cat"])
    photos.set_auto_captions(conn, pid, ["a dog"], model="m", tags=["dog"])
    caps = photos.captions(conn, pid)
    assert [(c.text, c.source) for c in caps] == [("Minou on the sofa", "user"), ("a dog", "auto")]
    assert caps[0].approved
    assert dict(photos.tags(conn, pid)) == {"minou": "user", "cat": "user", "dog": "auto"}
    assert matches(conn, "minou") == [pid] and matches(conn, "dog") == [pid]
    assert matches(conn, "caption:cat") == []      # the old auto caption is gone


def test_user_caption_replaces_their_earlier_one_and_empty_removes_it(conn):
    pid = add(conn)
    photos.set_user_caption(conn, pid, "first")
    photos.set_user_caption(conn, pid, "second")
    assert [c.text for c in photos.captions(conn, pid)] == ["second"]
    photos.set_user_caption(conn, pid, "  ")
    assert photos.captions(conn, pid) == []
    assert matches(conn, "second") == []


def test_move_keeps_captions_and_updates_search(conn):
    pid = add(conn)
    photos.set_auto_captions(conn, pid, ["a red kite"], model="m", tags=["kite"])
    photos.move(conn, pid, "/pics/2024/renamed.jpg", None)
    p = photos.get(conn, pid)
    assert (p.folder, p.name) == ("/pics/2024", "renamed.jpg")
    assert matches(conn, "renamed") == [pid] and matches(conn, "img_1") == []
    assert matches(conn, "kite") == [pid]


def test_missing_photos_leave_search_and_come_back(conn):
    pid = add(conn)
    photos.set_auto_captions(conn, pid, ["a red kite"], model="m")
    photos.mark_missing(conn, [pid])
    assert photos.get(conn, pid).status == "missing" and matches(conn, "kite") == []
    photos.restore(conn, pid)
    assert photos.get(conn, pid).status == "done" and matches(conn, "kite") == [pid]


def test_changed_content_needs_a_new_caption(conn):
    pid = add(conn)
    photos.set_auto_captions(conn, pid, ["a red kite"], model="m")
    photos.update_file(conn, pid, photos.FileInfo(11, 2.0, "h1"))
    assert photos.get(conn, pid).status == "done"
    photos.update_file(conn, pid, photos.FileInfo(12, 3.0, "other"))
    assert photos.get(conn, pid).status == "pending"


def test_remove_forgets_photo_and_its_document(conn):
    pid = add(conn)
    photos.set_auto_captions(conn, pid, ["a red kite"], model="m", tags=["kite"])
    photos.add_question(conn, pid, "what flies?", "a kite", "m")
    photos.remove(conn, [pid])
    assert photos.get(conn, pid) is None
    assert conn.execute("SELECT count(*) FROM photo_fts").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM tags").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM questions").fetchone()[0] == 0


def test_questions_are_kept_in_order(conn):
    pid = add(conn)
    photos.add_question(conn, pid, "what is it?", "a kite", "m")
    photos.add_question(conn, pid, "what colour?", "red", "m")
    assert photos.questions(conn, pid) == [("what is it?", "a kite"), ("what colour?", "red")]
    with pytest.raises(db.LibraryError):
        photos.add_question(conn, 999, "q", "a", "m")


def test_search_rowids_order_short_documents_first(conn):
    long_id = add(conn, "/p/a.jpg", "a")
    short_id = add(conn, "/p/b.jpg", "b")
    photos.set_auto_captions(conn, long_id, ["a dog and a cat and a bird on a long wooden bench"], model="m")
    photos.set_auto_captions(conn, short_id, ["dog"], model="m")
    assert [r[0] & 0xFFFFFFFF for r in conn.execute(
        "SELECT rowid FROM photo_fts WHERE photo_fts MATCH 'dog'")] == [short_id, long_id]


def test_non_utf8_path_round_trips(conn):
    path = "/pics/caf\udce9 \n\U0001F600.jpg"
    pid = add(conn, path)
    assert photos.get(conn, pid).path == path
    assert photos.by_path(conn, path).id == pid
    assert photos.get(conn, pid).name == "caf\ufffd \n\U0001F600.jpg"


def test_counts(conn):
    a, b, _ = add(conn, "/p/a.jpg", "a"), add(conn, "/p/b.jpg", "b"), add(conn, "/p/c.jpg", "c")
    photos.set_auto_captions(conn, a, ["x"], model="m")
    photos.set_status(conn, b, "failed", "not an image")
    assert photos.counts(conn) == {"photos": 3, "captioned": 1, "pending": 1, "failed": 1, "missing": 0}
    assert photos.get(conn, b).error == "not an image"
