"""Bulk review in the grid: ctrl and shift clicks, Ctrl+A on a search, Approve captions and Reset review
(context menu and shortcuts), on the real window over a real library; read back with a fresh connection."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMenu

from photocap.config import Settings
from photocap.engine import Engine
from photocap.gui import bulk
from photocap.library import db, jobs, photos
from photocap.library.search import keyword

WAIT = 30_000
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
APPROVE_KEYS = (Qt.Key.Key_A, CTRL | SHIFT)
RESET_KEYS = (Qt.Key.Key_U, CTRL | SHIFT)


def _library(tmp_path: Path, settings: Settings, cars: int, boats: int) -> dict[str, int]:
    """`cars` photos captioned "a red car N", `boats` "a blue boat N" (machine captions, none approved);
    the first boat carries the user's own caption."""
    folder = tmp_path / "Bulk"
    folder.mkdir()
    names = [f"car_{i:04d}.jpg" for i in range(cars)] + [f"boat_{i:04d}.jpg" for i in range(boats)]
    for i, name in enumerate(names):
        Image.new("RGB", (24, 16), (i % 256, (i // 256) * 40 % 256, 99)).save(folder / name, "JPEG")
    with Engine(settings) as engine:
        engine.index([str(folder)])
        conn = engine.conn
        jobs.set_paused(conn, True)              # the worker leaves these captions as they are
        ids = {name: photos.by_path(conn, str(folder / name)).id for name in names}
        for name, photo_id in ids.items():
            kind, number = name[:-4].split("_")
            text = f"a red car {int(number)}" if kind == "car" else f"a blue boat {int(number)}"
            photos.set_auto_captions(conn, photo_id, [text], model="m")
        if boats:
            photos.set_user_caption(conn, ids["boat_0000.jpg"], "our boat")
    return ids


def _found(settings: Settings, query: str) -> set[int]:
    fresh = db.connect(settings.db_path())       # as another process reads it
    try:
        return {i for i, _ in keyword.ranked_ids(fresh, query, limit=-1)}
    finally:
        fresh.close()


def _click(qtbot, window, row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    index = window.model.index(row)
    window.grid.scrollTo(index)
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, modifier,
                     window.grid.visualRect(index).center())


def _status(window) -> str:
    return window.statusBar().currentMessage()


def _open(qtbot, open_window, settings: Settings, rows: int, query: str = ""):
    window = open_window(settings)
    if query:
        window.search.setText(query)
    qtbot.waitUntil(lambda: window.model.rowCount() == rows and window.model.query == query, timeout=WAIT)
    window.grid.setFocus()
    return window


@pytest.mark.timeout(120)
def test_ctrl_and_shift_clicks_then_approve_and_reset(qtbot, open_window, settings, tmp_path):
    ids = _library(tmp_path, settings, cars=8, boats=4)
    window = _open(qtbot, open_window, settings, 12)
    by_row = [window.model.photo_id(row) for row in range(12)]

    _click(qtbot, window, 1)
    _click(qtbot, window, 4, SHIFT)                # rows 1 to 4, in grid order
    assert set(window.grid.selected_ids()) == {by_row[r] for r in (1, 2, 3, 4)}
    _click(qtbot, window, 9, CTRL)                 # and row 9
    _click(qtbot, window, 2, CTRL)                 # but not row 2
    chosen = {by_row[r] for r in (1, 3, 4, 9)}
    assert set(window.grid.selected_ids()) == chosen

    # The context menu offers both actions for the selection.
    menu = window.grid.context_menu(window.model.index(9))
    texts = [a.text().replace("&", "") for a in menu.actions()]
    assert "Approve captions" in texts and "Reset review" in texts

    qtbot.keyClick(window.grid, *APPROVE_KEYS)
    qtbot.waitUntil(lambda: _status(window) == "4 photos approved", timeout=WAIT)
    assert _found(settings, "review:approved") == chosen
    assert _found(settings, "review:todo") == set(ids.values()) - chosen - {ids["boat_0000.jpg"]}

    # Approving again changes nothing, and says so.
    qtbot.keyClick(window.grid, *APPROVE_KEYS)
    qtbot.waitUntil(lambda: _status(window) == "0 photos approved", timeout=WAIT)

    # Rows 7 to 10 (row 9 among them, approved already): approve, then reset through the context menu.
    _click(qtbot, window, 7)
    _click(qtbot, window, 10, SHIFT)
    span = {by_row[r] for r in (7, 8, 9, 10)}
    assert set(window.grid.selected_ids()) == span
    todo = span & _found(settings, "review:todo")
    assert 0 < len(todo) < len(span)
    qtbot.keyClick(window.grid, *APPROVE_KEYS)
    qtbot.waitUntil(lambda: _status(window) == _photos(len(todo), "approved"), timeout=WAIT)
    approved = span & _found(settings, "review:approved")
    assert approved == todo | {by_row[9]}
    menu = window.grid.context_menu(window.model.index(10))
    next(a for a in menu.actions() if a.text().replace("&", "") == "Reset review").trigger()
    qtbot.waitUntil(lambda: _status(window) == _photos(len(approved), "reset"), timeout=WAIT)
    assert _found(settings, "review:approved") == {by_row[r] for r in (1, 3, 4)}
    assert approved <= _found(settings, "review:todo")


def _photos(count: int, done: str) -> str:
    return f"{count} photo{'' if count == 1 else 's'} {done}"


@pytest.mark.timeout(180)
def test_ctrl_a_on_a_search_approves_every_photo_it_finds(qtbot, open_window, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 100)      # several chunks, as for a very large selection
    cars, boats = 450, 30                        # more cars than the model reads in one page
    ids = _library(tmp_path, settings, cars=cars, boats=boats)
    car_ids = {i for name, i in ids.items() if name.startswith("car")}
    window = _open(qtbot, open_window, settings, cars, query="car")

    qtbot.keyClick(window.grid, Qt.Key.Key_A, CTRL)
    assert len(window.grid.selected_ids()) == cars
    qtbot.keyClick(window.grid, *APPROVE_KEYS)
    qtbot.waitUntil(lambda: _status(window) == f"{cars} photos approved", timeout=60_000)
    assert _found(settings, "review:approved") == car_ids
    assert _found(settings, "car review:todo") == set()
    assert len(_found(settings, "boat review:todo")) == boats - 1        # the user's boat is edited
    assert _found(settings, "review:edited") == {ids["boat_0000.jpg"]}

    # Every boat selected, the user's one among them: reset finds nothing to reset, approve skips the
    # user's caption, which is never changed.
    window.search.setText("boat")
    qtbot.waitUntil(lambda: window.model.rowCount() == boats and window.model.query == "boat", timeout=WAIT)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A, CTRL)
    qtbot.keyClick(window.grid, *RESET_KEYS)
    qtbot.waitUntil(lambda: _status(window) == "0 photos reset", timeout=WAIT)
    qtbot.keyClick(window.grid, *APPROVE_KEYS)
    qtbot.waitUntil(lambda: _status(window) == f"{boats - 1} photos approved", timeout=WAIT)
    fresh = db.connect(settings.db_path())
    try:
        assert [(c.text, c.source) for c in photos.captions(fresh, ids["boat_0000.jpg"])][0] == ("our boat", "user")
    finally:
        fresh.close()

    # Back to the cars: reset them all.
    window.search.setText("car")
    qtbot.waitUntil(lambda: window.model.rowCount() == cars and window.model.query == "car", timeout=WAIT)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A, CTRL)
    qtbot.keyClick(window.grid, *RESET_KEYS)
    qtbot.waitUntil(lambda: _status(window) == f"{cars} photos reset", timeout=60_000)
    assert _found(settings, "car review:todo") == car_ids


@pytest.mark.timeout(120)
def test_the_details_checkbox_still_works_with_one_photo_selected(qtbot, open_window, settings, tmp_path):
    _library(tmp_path, settings, cars=3, boats=0)
    window = _open(qtbot, open_window, settings, 3)
    _click(qtbot, window, 1)
    photo_id = window.model.photo_id(1)
    qtbot.waitUntil(lambda: window.details.photo_id == photo_id, timeout=WAIT)
    assert window.grid.selected_ids() == [photo_id] and not window.details.approved.isChecked()

    # Approved from the grid: the details pane shows it.
    qtbot.keyClick(window.grid, *APPROVE_KEYS)
    qtbot.waitUntil(lambda: _status(window) == "1 photo approved", timeout=WAIT)
    qtbot.waitUntil(window.details.approved.isChecked, timeout=WAIT)

    # Unchecked and saved in the details pane: todo again.
    window.details.approved.setChecked(False)
    qtbot.mouseClick(window.details.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: photo_id in _found(settings, "review:todo"), timeout=WAIT)
    assert _found(settings, "review:approved") == set()


def test_the_actions_are_in_a_menu_with_their_shortcuts(qtbot, open_window, settings, tmp_path):
    _library(tmp_path, settings, cars=2, boats=0)
    window = _open(qtbot, open_window, settings, 2)
    # The window's menus (QAction.menu() hands back a dead wrapper on PySide6 6.7).
    menus = [m for m in window.findChildren(QMenu) if m.menuAction() in window.menuBar().actions()]
    actions = {a.text().replace("&", ""): a for menu in menus for a in menu.actions()}
    assert "Photos" in {m.title().replace("&", "") for m in menus}
    assert actions["Approve captions"].shortcut().toString() == "Ctrl+Shift+A"
    assert actions["Reset review"].shortcut().toString() == "Ctrl+Shift+U"
    assert actions["Select all"].shortcut().toString() == "Ctrl+A"
    # Nothing selected: nothing to approve.
    window.grid.clearSelection()
    assert not actions["Approve captions"].isEnabled()
    _click(qtbot, window, 0)
    assert actions["Approve captions"].isEnabled()
    # In review mode (the grid hidden) the grid's shortcuts do nothing to its selection.
    window.start_review()
    qtbot.waitUntil(lambda: window.review is not None and window.review.isVisible(), timeout=WAIT)
    qtbot.keyClick(QApplication.focusWidget() or window.review, *APPROVE_KEYS)
    QApplication.processEvents()
    assert "approved" not in _status(window)
    # Nor does the menu: the selection is not on screen.
    actions["Approve captions"].trigger()
    qtbot.waitUntil(lambda: _status(window) != "", timeout=WAIT)
    window.services.edits.wait(10_000)
    QApplication.processEvents()
    assert "approved" not in _status(window) and "grid" in _status(window)
    assert _found(settings, "review:approved") == set()


@pytest.mark.timeout(120)
def test_shift_with_arrow_keys_selects_in_grid_order_like_shift_click(qtbot, open_window, settings, tmp_path):
    _library(tmp_path, settings, cars=20, boats=0)
    window = _open(qtbot, open_window, settings, 20)
    grid = window.grid
    by_row = [window.model.photo_id(row) for row in range(20)]
    per_row = sum(1 for r in range(20) if grid.visualRect(window.model.index(r)).top()
                  == grid.visualRect(window.model.index(0)).top())
    assert 2 <= per_row < 19, per_row                # wrapping rows of cells

    _click(qtbot, window, 1)
    qtbot.keyClick(grid, Qt.Key.Key_Down, SHIFT)      # one row down: every photo between, in grid order
    assert grid.currentIndex().row() == 1 + per_row
    assert set(grid.selected_ids()) == {by_row[r] for r in range(1, 2 + per_row)}
    qtbot.keyClick(grid, Qt.Key.Key_Right, SHIFT)
    assert set(grid.selected_ids()) == {by_row[r] for r in range(1, 3 + per_row)}
    qtbot.keyClick(grid, Qt.Key.Key_Up, SHIFT)        # back up, past the anchor: from it, backwards
    qtbot.keyClick(grid, Qt.Key.Key_Left, SHIFT)
    qtbot.keyClick(grid, Qt.Key.Key_Left, SHIFT)
    assert grid.currentIndex().row() == 0
    assert set(grid.selected_ids()) == {by_row[0], by_row[1]}

    qtbot.keyClick(grid, Qt.Key.Key_Right)            # a plain move starts a new selection there
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    qtbot.keyClick(grid, Qt.Key.Key_End, SHIFT)
    assert set(grid.selected_ids()) == {by_row[r] for r in range(2, 20)}
    _click(qtbot, window, 5, SHIFT)                   # Shift+click goes on from the same anchor
    assert set(grid.selected_ids()) == {by_row[r] for r in range(2, 6)}
