"""The main window's actions that change the library: caption edits, re-captioning, removing photos,
adding and removing folders, pausing. Each is one job on the edit lane (never SQL on the GUI thread);
a failure is said in the banner. MainWindow builds on this class and provides what it declares."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QStackedWidget, QWidget

from photocap.gui import library_reads, library_writes
from photocap.gui.banner import Banner
from photocap.gui.details import DetailsPane
from photocap.gui.library_model import LibraryModel
from photocap.gui.services import AppServices
from photocap.library import paths


def error_text(exc: Exception) -> str:
    from photocap.library.errors import describe
    return describe(exc)


class LibraryActions(QMainWindow):
    # Built by MainWindow.
    services: AppServices
    banner: Banner
    model: LibraryModel
    details: DetailsPane
    pages: QStackedWidget
    library_page: QWidget

    def refresh(self) -> None:
        """Read the library again into what the window shows (MainWindow's)."""
        raise NotImplementedError

    def _photo_changed(self, photo_id: int) -> None:
        raise NotImplementedError

    def _edit(self, job, on_done, what: str) -> None:
        self.services.edits.submit(job, on_done,
                                   lambda exc: self.banner.show_message(f"{what} failed: {error_text(exc)}"))

    def _save_edit(self, edit: library_writes.CaptionEdit) -> None:
        self._edit(lambda conn: library_writes.save_edit(conn, edit), self._edit_saved, "Saving")

    def _edit_saved(self, photo_id: int) -> None:
        self.model.refresh_photos([photo_id])
        if photo_id == self.details.photo_id:
            self.details.show_photo(library_reads.details(self.services.conn, photo_id))
        self.statusBar().showMessage("Saved", 3000)

    def recaption(self, photo_id: int) -> None:
        def queued(ids: list[int]) -> None:
            self.services.wake.set()
            for i in ids:
                self._photo_changed(i)
            self.statusBar().showMessage("Queued for a new caption", 3000)
        self._edit(lambda conn: library_writes.requeue(conn, [photo_id]), queued, "Re-captioning")

    def remove_photos(self, photo_ids: list[int]) -> None:
        n = len(photo_ids)
        if not self.confirm("Remove from library",
                            f"Remove {n:,} photo{'s' if n != 1 else ''} from the library? Their captions, "
                            "tags and questions are forgotten; the files stay on disk."):
            return
        self._edit(lambda conn: library_writes.forget_photos(conn, photo_ids),
                   lambda ids: self.refresh(), "Removing photos")

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str]) -> None:
        for folder in folders:
            self._edit(lambda conn, f=folder: library_writes.add_folder(conn, f), self._folder_added,
                       f"Adding {paths.display(folder)}")

    def _folder_added(self, folder: str) -> None:
        self.pages.setCurrentWidget(self.library_page)
        self.statusBar().showMessage(f"Added {paths.display(folder)}: scanning it…", 5000)
        self.refresh()

    def remove_folder(self, folder: str) -> None:
        if not self.confirm("Remove folder",
                            f"Stop watching {paths.display(folder)} and remove its photos from the "
                            "library? Their captions are forgotten; the files stay on disk."):
            return
        self._edit(lambda conn: library_writes.remove_folder(conn, folder),
                   lambda n: self.refresh(), "Removing the folder")

    def set_paused(self, paused: bool) -> None:
        def done(value: bool) -> None:
            if value:
                self.services.worker.interrupt()  # stop after the batch in flight
            else:
                self.services.wake.set()
        self._edit(lambda conn: library_writes.set_paused(conn, paused), done, "Pausing")

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes
