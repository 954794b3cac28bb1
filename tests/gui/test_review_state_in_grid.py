"""The grid shows each photo's review state: approved and edited cells carry a mark on the thumbnail's
corner and say so in their tooltip, also after review mode and bulk approval wrote them. The real window
over a real library; the cells are read back through the model's roles and a grab of the grid."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPalette, QPixmap

from photocap.config import Settings
from photocap.engine import Engine
from photocap.gui.grid import thumbnail_rect
from photocap.gui.library_model import CellRole
from photocap.library import jobs, photos

WAIT = 30_000
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier

pytestmark = pytest.mark.timeout(90)


def _library(tmp_path: Path, settings: Settings) -> dict[str, int]:
    """Four captioned photos, none reviewed; twin_a and twin_b are copies of one picture."""
    folder = tmp_path / "States"
    folder.mkdir()
    picture = Image.new("RGB", (120, 90), (40, 120, 60))
    picture.paste((200, 180, 40), (10, 10, 110, 80))
    picture.save(folder / "twin_a.jpg", "JPEG", quality=92)
    shutil.copyfile(folder / "twin_a.jpg", folder / "twin_b.jpg")
    Image.new("RGB", (120, 90), (90, 30, 140)).save(folder / "other_c.jpg", "JPEG")
    Image.new("RGB", (120, 90), (20, 60, 200)).save(folder / "other_d.jpg", "JPEG")
    with Engine(settings) as engine:
        engine.index([str(folder)])
        conn = engine.conn
        jobs.set_paused(conn, True)                  # the worker leaves these captions as they are
        ids = {path.stem: photos.by_path(conn, str(path)).id for path in sorted(folder.iterdir())}
        for name, photo_id in ids.items():
            photos.set_auto_captions(conn, photo_id, [f"a picture called {name}", "a picture"], model="m")
    return ids


def _cell(window, photo_id: int):
    row = window.model.row_of(photo_id)
    return None if row is None else window.model.index(row).data(CellRole)


def _state(window, photo_id: int) -> str | None:
    cell = _cell(window, photo_id)
    return None if cell is None else cell[0].review


def _tooltip(window, photo_id: int) -> str:
    return window.model.index(window.model.row_of(photo_id)).data(Qt.ItemDataRole.ToolTipRole)


def _corner(image: QImage, window, photo_id: int) -> QImage:
    """The top right quarter of the picture drawn in the photo's cell, in the grab's pixels."""
    index = window.model.index(window.model.row_of(photo_id))
    cell = window.grid.visualRect(index)
    pixmap = _cell(window, photo_id)[1]
    drawn = thumbnail_rect(cell, pixmap.deviceIndependentSize().toSize())
    quarter = QRect(drawn.center().x(), drawn.top(), drawn.width() // 2, drawn.height() // 2)
    ratio = image.devicePixelRatio()
    return image.copy(QRect(int(quarter.x() * ratio), int(quarter.y() * ratio),
                            int(quarter.width() * ratio), int(quarter.height() * ratio)))


def _near(image: QImage, colour: QColor) -> int:
    """Pixels of `image` within a few levels of `colour` (antialiased edges aside)."""
    return sum(1 for y in range(image.height()) for x in range(image.width())
               if max(abs(a - b) for a, b in zip(image.pixelColor(x, y).getRgb()[:3], colour.getRgb()[:3],
                                                   strict=True)) <= 12)


def _differing(a: QImage, b: QImage) -> int:
    assert a.size() == b.size()
    return sum(1 for y in range(a.height()) for x in range(a.width()) if a.pixel(x, y) != b.pixel(x, y))


def test_review_and_bulk_approval_show_in_the_cells_their_tooltips_and_a_mark(qtbot, open_window, settings,
                                                                              tmp_path):
    ids = _library(tmp_path, settings)
    window = open_window(settings)
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    assert {_state(window, i) for i in ids.values()} == {"todo"}
    assert "approved" not in _tooltip(window, ids["twin_a"])

    # Bulk: twin_a selected and approved from the grid.
    window.grid.setFocus()
    index = window.model.index(window.model.row_of(ids["twin_a"]))
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     window.grid.visualRect(index).center())
    qtbot.keyClick(window.grid, Qt.Key.Key_A, CTRL | SHIFT)
    qtbot.waitUntil(lambda: _state(window, ids["twin_a"]) == "approved", timeout=WAIT)
    assert _tooltip(window, ids["twin_a"]).splitlines()[-1] == "approved"

    # Review mode over the same search: other_c accepted, other_d edited, twin_b skipped.
    qtbot.keyClick(window, Qt.Key.Key_R, CTRL)
    review = window.review
    assert review is not None
    for _ in range(4):
        current = review.current_id()
        target = review.focusWidget() or review
        if current == ids["other_c"]:
            qtbot.keyClick(target, Qt.Key.Key_Return)
        elif current == ids["other_d"]:
            qtbot.keyClick(target, Qt.Key.Key_E)
            review.caption_edit.setText("a blue square, my words")
            qtbot.keyClick(review.caption_edit, Qt.Key.Key_Return)
        else:
            qtbot.keyClick(target, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: review.decisions.committed == 2, timeout=WAIT)
    qtbot.keyClick(review.focusWidget() or review, Qt.Key.Key_Escape)
    assert window.pages.currentWidget() is window.library_page

    # Back in the grid (the same search, the same photos): the cells show what review mode wrote.
    qtbot.waitUntil(lambda: _state(window, ids["other_c"]) == "approved"
                    and _state(window, ids["other_d"]) == "edited", timeout=WAIT)
    assert _state(window, ids["twin_b"]) == "todo" and _state(window, ids["twin_a"]) == "approved"
    assert _tooltip(window, ids["other_c"]).splitlines()[-1] == "approved"
    assert _tooltip(window, ids["other_d"]).splitlines()[1:] == ["a blue square, my words", "edited by you"]
    assert _tooltip(window, ids["twin_b"]).splitlines() == ["twin_b.jpg", "a picture called twin_b"]

    # The mark: the approved twin's corner has the disc's highlight colour, the todo twin's (the same
    # picture) has none of it.
    window.grid.clearSelection()
    qtbot.waitUntil(lambda: all(isinstance(_cell(window, i)[1], QPixmap) for i in ids.values()), timeout=WAIT)
    image = window.grid.viewport().grab().toImage()
    approved, todo = _corner(image, window, ids["twin_a"]), _corner(image, window, ids["twin_b"])
    highlight = window.grid.palette().color(QPalette.ColorRole.Highlight)
    assert _near(approved, highlight) > 100
    assert _near(todo, highlight) == 0
    assert _differing(approved, todo) > 100
