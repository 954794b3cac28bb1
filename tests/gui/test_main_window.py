"""The desktop app end to end: real SQLite, real folders, tiny real models, offscreen Qt."""

from __future__ import annotations

import os

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import QApplication

from photocap import config
from photocap.gui.library_model import CellRole
from photocap.gui.preview import PreviewDialog
from photocap.library import jobs, photos

WAIT = 30_000                  # ms: generous, the machine may be busy


def summaries(window):
    return [window.model.data(window.model.index(row), CellRole)[0] for row in range(window.model.rowCount())]


def all_captioned(window, count: int) -> bool:
    rows = summaries(window)
    return len(rows) == count and all(s is not None and s.caption for s in rows)


def select_row(qtbot, window, row: int) -> int:
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(row))
    photo_id = window.model.photo_id(row)
    qtbot.waitUntil(lambda: window.details.photo_id == photo_id, timeout=WAIT)
    return photo_id


def test_window_opens_on_a_library(qtbot, open_window, library, photo_dir):
    window = open_window(library)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    assert window.pages.currentWidget() is window.library_page
    qtbot.waitUntil(lambda: window.sidebar.folders.count() == 1, timeout=WAIT)
    assert "Pictures" in window.sidebar.folders.item(0).text()
    assert "4 photos" in window.sidebar.folders.item(0).text()
    assert window.windowIcon().isNull() is False

    window.sidebar.folders.itemClicked.emit(window.sidebar.folders.item(0))
    assert window.search.text().startswith("path:") and f"{photo_dir}{os.sep}" in window.search.text()
    qtbot.waitUntil(lambda: window.result_count.text() == "4 photos", timeout=WAIT)


def test_empty_library_welcomes_and_a_dropped_folder_gets_captioned(qtbot, open_window, settings, photo_dir):
    window = open_window(settings)
    qtbot.waitUntil(lambda: window._snapshot is not None, timeout=WAIT)
    assert window.pages.currentWidget() is window.welcome

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo_dir))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)                 # Qt routes real drags only from a real drag manager
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))

    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.library_page, timeout=WAIT)
    qtbot.waitUntil(lambda: all_captioned(window, 4), timeout=WAIT)
    qtbot.waitUntil(lambda: "All 4 photos captioned" in window.status.progress_label.text(), timeout=WAIT)
    qtbot.waitUntil(lambda: window.sidebar.tags.count() > 0, timeout=WAIT)
    assert "on cpu" in window.status.model_label.text()


def test_typing_a_query_filters_the_grid(qtbot, open_window, library, conn):
    ids = [row[0] for row in conn.execute("SELECT id FROM photos ORDER BY id")]
    photos.set_user_caption(conn, ids[0], "a zorblax on the table")
    photos.set_user_caption(conn, ids[1], "two quintessa flowers")
    window = open_window(library)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)

    qtbot.keyClicks(window.search, "zorblax")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT)
    assert window.model.photo_id(0) == ids[0]
    assert window.result_count.text() == "1 photo"

    window.search.clear()
    qtbot.keyClicks(window.search, "zorblax OR quintessa")
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT)

    window.search.setText("nothing-like-this")
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=WAIT)
    assert window.result_count.text() == "no results"
    assert "No photos match" in window.grid._empty_message


def test_a_mistyped_filter_is_said_in_the_status_bar(qtbot, open_window, library, conn):
    """review:tod is searched as words (nothing found): the status bar says why, and what review: takes."""
    window = open_window(library)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    qtbot.keyClicks(window.search, "review:tod")
    qtbot.waitUntil(lambda: "is not a filter" in window.statusBar().currentMessage(), timeout=WAIT)
    assert window.statusBar().currentMessage() == (
        "review:tod is not a filter (review: takes todo, approved or edited), so it was searched as words")
    window.search.setText("review:todo")
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "", timeout=WAIT)   # taken back


def test_a_selected_photo_shows_its_caption_and_an_edit_is_saved_and_found(qtbot, open_window, library, conn):
    jobs.set_paused(conn, True)                  # the photo keeps exactly the caption set here
    first = conn.execute("SELECT id FROM photos ORDER BY id LIMIT 1").fetchone()[0]
    photos.set_user_caption(conn, first, "an old bicycle", approved=False)
    window = open_window(library)
    qtbot.waitUntil(lambda: window.model.row_of(first) is not None, timeout=WAIT)

    select_row(qtbot, window, window.model.row_of(first))
    assert window.details.caption_edit.toPlainText() == "an old bicycle"
    assert not window.details.approved.isChecked()

    window.details.caption_edit.setPlainText("my grandmother's kumquat tree")
    window.details.approved.setChecked(True)
    window.details.tags_edit.setText("family, garden")
    qtbot.mouseClick(window.details.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(c.source == "user" and "kumquat" in c.text
                                for c in photos.captions(conn, first)), timeout=WAIT)
    assert [c.approved for c in photos.captions(conn, first) if c.source == "user"] == [True]
    assert {t for t, _ in photos.tags(conn, first)} >= {"family", "garden"}

    window.search.setText("kumquat")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1 and window.model.photo_id(0) == first, timeout=WAIT)
    window.search.setText("tag:garden")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT)


def test_asking_a_question_shows_an_answer(qtbot, open_window, library, conn):
    window = open_window(library)                # captioning runs: the question goes between batches
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    photo_id = select_row(qtbot, window, 0)

    qtbot.keyClicks(window.ask_panel.question, "what colour is it?")
    qtbot.keyClick(window.ask_panel.question, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.ask_panel.busy.isVisibleTo(window.ask_panel)
    qtbot.waitUntil(lambda: len(photos.questions(conn, photo_id)) == 1, timeout=WAIT)
    qtbot.waitUntil(lambda: not window.ask_panel.busy.isVisibleTo(window.ask_panel), timeout=WAIT)
    question, answer = photos.questions(conn, photo_id)[0]
    assert question == "what colour is it?"
    assert "what colour is it?" in window.ask_panel.conversation.toPlainText()
    assert answer in window.ask_panel.conversation.toPlainText()
    assert window.ask_panel.error.isHidden()

    select_row(qtbot, window, 1)                 # another photo has its own (empty) conversation
    assert "what colour" not in window.ask_panel.conversation.toPlainText()
    select_row(qtbot, window, 0)                 # and the earlier one comes back from the library
    assert "what colour is it?" in window.ask_panel.conversation.toPlainText()


def test_pause_and_resume(qtbot, open_window, library, conn):
    jobs.set_paused(conn, True)
    window = open_window(library)
    qtbot.waitUntil(lambda: window.status.paused, timeout=WAIT)
    assert "paused" in window.status.progress_label.text()
    qtbot.wait(1500)
    assert photos.counts(conn)["pending"] == 4

    qtbot.mouseClick(window.status.pause_button, Qt.MouseButton.LeftButton)    # resume
    qtbot.waitUntil(lambda: photos.counts(conn)["pending"] == 0, timeout=WAIT)
    assert not jobs.paused(conn)
    qtbot.waitUntil(lambda: all_captioned(window, 4), timeout=WAIT)

    qtbot.mouseClick(window.status.pause_button, Qt.MouseButton.LeftButton)    # pause again
    qtbot.waitUntil(lambda: jobs.paused(conn), timeout=WAIT)
    assert window.status.pause_button.text() == "Resume"


def test_no_model_shows_a_banner_and_the_rest_works(qtbot, open_window, library, conn, tmp_path):
    window = open_window(library.replace(model=str(tmp_path / "no-such-model")))
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT)
    assert "no-such-model" in window.banner.text.text()
    assert window.banner.action.text() == "Settings…"
    assert window.model.rowCount() == 4
    window.search.setText("IMG_0001")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT)
    assert photos.counts(conn)["pending"] == 4
    assert jobs.counts(conn)["claimed"] == 0     # nothing held back: the photos stay queued


def test_keyboard(qtbot, open_window, library, conn, photo_dir, monkeypatch):
    jobs.set_paused(conn, True)
    window = open_window(library)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)

    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()

    first = select_row(qtbot, window, 0)
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: window.details.photo_id == window.model.photo_id(1), timeout=WAIT)
    assert window.details.photo_id != first

    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: any(isinstance(w, PreviewDialog) and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=WAIT)
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, PreviewDialog) and w.isVisible())
    qtbot.waitUntil(lambda: dialog.picture.pixmap() is not None and not dialog.picture.pixmap().isNull(),
                    timeout=WAIT)
    dialog.close()

    questions = []
    monkeypatch.setattr(window, "confirm", lambda title, text: questions.append(text) or True)
    removed = window.details.photo_id
    path = photos.get(conn, removed).path
    qtbot.keyClick(window.grid, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=WAIT)
    assert "files stay on disk" in questions[0]
    assert photos.get(conn, removed) is None
    assert os.path.exists(path)


def test_settings_are_saved_for_everyone_and_applied(qtbot, open_window, library, conn):
    from photocap.gui.settings import SettingsDialog
    jobs.set_paused(conn, True)
    window = open_window(library.replace(db=library.db))
    dialog = SettingsDialog(window.settings, window, page="captions")
    dialog.num_captions.setValue(2)
    dialog.prompt.setText("a photography of")
    dialog.settle_seconds.setValue(0.5)
    window.apply_settings(dialog.values())
    saved = config.load()
    assert (saved.num_captions, saved.prompt, saved.settle_seconds) == (2, "a photography of", 0.5)
    assert saved.db == ""                        # the window's own library is not made everyone's
    assert window.settings.num_captions == 2

    jobs.set_paused(conn, False)
    window.services.wake.set()
    qtbot.waitUntil(lambda: photos.counts(conn)["pending"] == 0, timeout=WAIT)
    first = conn.execute("SELECT id FROM photos ORDER BY id LIMIT 1").fetchone()[0]
    assert len([c for c in photos.captions(conn, first) if c.source == "auto"]) == 2


def test_screenshot_of_the_main_window(qtbot, open_window, library, tmp_path):
    window = open_window(library)
    window.resize(1280, 820)
    qtbot.waitUntil(lambda: all_captioned(window, 4), timeout=WAIT)
    decoration = Qt.ItemDataRole.DecorationRole
    qtbot.waitUntil(lambda: all(isinstance(window.model.data(window.model.index(r), decoration), QPixmap)
                                for r in range(4)), timeout=WAIT)
    qtbot.waitUntil(lambda: "4 captioned · online" in window.sidebar.folders.item(0).text()
                    and window.sidebar.tags.count() > 0, timeout=WAIT)
    select_row(qtbot, window, 0)
    qtbot.waitUntil(lambda: window.details.preview.pixmap() is not None
                    and not window.details.preview.pixmap().isNull(), timeout=WAIT)
    target = tmp_path / "main_window.png"
    assert window.grab().save(str(target))

    image = QImage(str(target)).convertToFormat(QImage.Format.Format_Grayscale8)
    values = [image.pixelColor(x, y).value()
              for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)]
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    assert variance > 200, f"the screenshot looks blank (variance {variance:.0f})"


def test_a_tag_click_filters_and_recaptioning_keeps_the_users_caption(qtbot, open_window, library, conn):
    first, second = [row[0] for row in conn.execute("SELECT id FROM photos ORDER BY id LIMIT 2")]
    photos.add_user_tags(conn, first, ["lighthouse"])
    photos.set_user_caption(conn, second, "my own words")
    window = open_window(library)
    qtbot.waitUntil(lambda: photos.counts(conn)["pending"] == 0, timeout=WAIT)

    qtbot.waitUntil(lambda: any(window.sidebar.tags.item(i).text().startswith("lighthouse")
                                for i in range(window.sidebar.tags.count())), timeout=WAIT)
    item = next(window.sidebar.tags.item(i) for i in range(window.sidebar.tags.count())
                if window.sidebar.tags.item(i).text().startswith("lighthouse"))
    window.sidebar.tags.itemClicked.emit(item)
    assert window.search.text() == "tag:lighthouse"
    qtbot.waitUntil(lambda: window.model.rowCount() == 1 and window.model.photo_id(0) == first, timeout=WAIT)

    window.search.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    select_row(qtbot, window, window.model.row_of(second))
    before = {c.id for c in photos.captions(conn, second) if c.source == "auto"}
    qtbot.mouseClick(window.details.recaption_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: photos.get(conn, second).status == "done" and before.isdisjoint(
        c.id for c in photos.captions(conn, second) if c.source == "auto"), timeout=WAIT)
    assert [c.text for c in photos.captions(conn, second) if c.source == "user"] == ["my own words"]
    assert window.details.caption_edit.toPlainText() == "my own words"


def test_removing_a_folder_forgets_its_photos_not_the_files(qtbot, open_window, library, conn, photo_dir,
                                                           monkeypatch):
    jobs.set_paused(conn, True)
    window = open_window(library)
    qtbot.waitUntil(lambda: window.sidebar.folders.count() == 1, timeout=WAIT)
    monkeypatch.setattr(window, "confirm", lambda title, text: True)
    window.sidebar.folders.setCurrentRow(0)
    qtbot.mouseClick(window.sidebar.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.welcome, timeout=WAIT)
    assert photos.counts(conn)["photos"] == 0
    assert len(list(photo_dir.glob("*.jpg"))) == 4


def test_the_app_starts_and_quits(qtbot, settings):
    from PySide6.QtCore import QTimer

    from photocap.gui.app import main
    QTimer.singleShot(1500, QApplication.closeAllWindows)
    assert main(settings) == 0
    assert not QApplication.windowIcon().isNull()
