"""The app's search by meaning: hybrid search box, sort, similar photos, the duplicates view (offscreen Qt,
real libraries, tiny real caption and embedding models)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from photocap.engine import Engine
from photocap.gui import library_reads
from photocap.library.search import vectors
from photocap.vision import registry

WAIT = 30_000


@pytest.fixture
def embedded_library(settings, photo_dir, tiny_itm_dir):
    """The gui fixtures' library, captioned and embedded, with a smaller recompressed copy of one photo."""
    with Image.open(photo_dir / "IMG_0001.jpg") as im:
        im.resize((60, 40)).save(photo_dir / "copy_0001.jpg", "JPEG", quality=50)
    settings = settings.replace(embed_model=str(tiny_itm_dir))
    with Engine(settings) as engine:
        engine.index([str(photo_dir)])
        engine.caption_pending()
        assert engine.status()["embedded"] == 5
    return settings


def _grid_ids(window) -> list[int]:
    return [window.model.photo_id(row) for row in range(window.model.rowCount())]


def _ids(conn, *names: str) -> list[int]:
    return [conn.execute("SELECT id FROM photos WHERE name = ?", (n,)).fetchone()[0] for n in names]


@pytest.mark.timeout(120)
def test_the_search_box_ranks_by_meaning_with_the_query_encoded_on_the_worker(
        qtbot, open_window, embedded_library, conn):
    window = open_window(embedded_library)
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=WAIT)
    word = conn.execute("SELECT text FROM captions LIMIT 1").fetchone()[0].split()[-1]
    qtbot.keyClicks(window.search, word)
    qtbot.waitUntil(lambda: word in window._encoded and window.model.query == word, timeout=WAIT)
    encoded = window._encoded[word]
    assert encoded.vector is not None and encoded.model == registry.model_id(embedded_library.embed_model)
    expected = library_reads.query_result(conn, word, vector=encoded.vector, model=encoded.model)[1]
    qtbot.waitUntil(lambda: _grid_ids(window) == expected, timeout=WAIT)
    assert "Embeddings:" in window.status.embed_label.text()

    # The sort control orders the same photos by date, without encoding the query again.
    window.sort_box.setCurrentIndex(window.sort_box.findData("oldest"))
    oldest = library_reads.query_result(conn, word, sort="oldest", vector=encoded.vector, model=encoded.model)[1]
    qtbot.waitUntil(lambda: _grid_ids(window) == oldest, timeout=WAIT)
    assert sorted(oldest) == sorted(expected)


@pytest.mark.timeout(120)
def test_similar_photos_from_the_context_menu_and_the_details_pane(qtbot, open_window, embedded_library, conn):
    original, copy = _ids(conn, "IMG_0001.jpg", "copy_0001.jpg")
    window = open_window(embedded_library)
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=WAIT)
    row = window.model.row_of(original)
    menu = window.grid.context_menu(window.model.index(row))
    action = next(a for a in menu.actions() if a.text() == "Similar photos")
    action.trigger()
    qtbot.waitUntil(lambda: "similar to IMG_0001.jpg" in window.result_count.text(), timeout=WAIT)
    ids = _grid_ids(window)
    assert ids[0] == copy and original not in ids and len(ids) == 4

    # Typing leaves the similar view; the details pane's button brings it back for the copy.
    qtbot.keyClicks(window.search, "status:done")
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=WAIT)
    window.grid.setCurrentIndex(window.model.index(window.model.row_of(copy)))
    qtbot.waitUntil(lambda: window.details.photo_id == copy, timeout=WAIT)
    window.details.similar_button.click()
    qtbot.waitUntil(lambda: "similar to copy_0001.jpg" in window.result_count.text(), timeout=WAIT)
    assert _grid_ids(window)[0] == original and window.search.text() == ""


@pytest.mark.timeout(120)
def test_the_duplicates_view_moves_copies_to_the_trash_only_after_confirmation(
        qtbot, open_window, embedded_library, conn, photo_dir, monkeypatch):
    original, copy = _ids(conn, "IMG_0001.jpg", "copy_0001.jpg")
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    trash.parent.parent.mkdir(parents=True, exist_ok=True)
    model = registry.model_id(embedded_library.embed_model)
    cosine = float(vectors.get(conn, original, model) @ vectors.get(conn, copy, model))
    window = open_window(embedded_library)
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=WAIT)
    monkeypatch.setattr("photocap.gui.main_window.DUPLICATE_THRESHOLD", cosine - 1e-3)
    window.find_duplicates()
    qtbot.waitUntil(lambda: getattr(window, "duplicates_dialog", None) is not None, timeout=WAIT)
    dialog = window.duplicates_dialog
    view = next(v for v in dialog.groups if original in [s.id for s in v.group])
    assert view.group[0].id == original                     # the largest copy first, and selected
    assert copy in [s.id for s in view.group] and view.photos.currentRow() == 0

    answers = []

    def answer(value):
        def ask(*args):
            answers.append(args[2])
            return value
        return ask
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    view.keep_button.click()
    assert len(answers) == 1 and "trash" in answers[0]
    assert (photo_dir / "copy_0001.jpg").exists() and view in dialog.groups      # declined: nothing moved

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    others = [s for s in view.group if s.id != original]
    view.keep_button.click()
    assert (photo_dir / "IMG_0001.jpg").exists()
    for summary in others:
        assert not Path(summary.path).exists() and (trash / Path(summary.path).name).exists()
    assert view not in dialog.groups
    qtbot.waitUntil(lambda: all(window.model.row_of(s.id) is None for s in others), timeout=WAIT)
    assert window.model.row_of(original) is not None
