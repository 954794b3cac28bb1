"""The main window: sidebar, search and grid, details and questions, status bar. Wiring only:
the data comes through the model and the lanes, the work is done by the services.

Search is hybrid: a query with free text is first encoded by the embedding model on the caption
worker's thread (the models live there), then searched on the query lane with its vector; a
query of filters only, or one without an embedding model or vectors, is a keyword search. Encoded
queries are kept, so the refreshes that follow captioning never wait for the worker again."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from photocap import config
from photocap.config import Settings
from photocap.gui import library_reads, library_writes
from photocap.gui.ask_panel import AskPanel
from photocap.gui.banner import Banner
from photocap.gui.bulk import BulkReview
from photocap.gui.details import DetailsPane
from photocap.gui.duplicates import DuplicatesDialog
from photocap.gui.grid import GridView
from photocap.gui.icons import app_icon
from photocap.gui.library_actions import LibraryActions, error_text
from photocap.gui.library_model import LibraryModel
from photocap.gui.preview import PreviewDialog
from photocap.gui.review import ReviewMode
from photocap.gui.services import AppServices
from photocap.gui.settings import WATCHING_FIELDS, SettingsDialog, changed
from photocap.gui.sidebar import Sidebar
from photocap.gui.status import StatusPanel
from photocap.gui.welcome import WelcomePage
from photocap.gui.worker import CaptionProgress, EncodedQuery
from photocap.library import browse, paths
from photocap.library.search import fusion
from photocap.library.search import query as query_language
from photocap.vision import registry

SEARCH_DEBOUNCE_MS = 250
POLL_MS = 1000                  # how often the window looks for changes made by other threads
REFRESH_SHARE = 0.25            # at most this share of the query lane's time goes to refreshes
SORTS = (("Relevance", "relevance"), ("Newest first", "newest"), ("Oldest first", "oldest"))
DUPLICATE_THRESHOLD = 0.95
ENCODED_KEPT = 64               # encoded queries kept (typing makes one per pause)
QUERY_NOTE_MS = 15_000          # how long the status bar says a filter was not understood


def local_folders(mime) -> list[str]:
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and os.path.isdir(url.toLocalFile())]


class MainWindow(LibraryActions):
    def __init__(self, settings: Settings):
        super().__init__()
        self.settings = settings
        self.setWindowTitle("photocap")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 820)
        self.services = AppServices(settings, self.devicePixelRatioF(), self)
        self.model = LibraryModel(self.services.conn, self.services.thumbnails, self)
        self._query = ""                          # the query last asked for (typed or refreshed)
        self._query_token = 0
        self._data_version: int | None = None
        self._refreshing = False
        self._refresh_started = self._next_refresh = 0.0
        self._restoring = False
        self._pending_scroll: int | None = None   # a scroll position to go back to after a reset
        self._snapshot: library_reads.LibrarySnapshot | None = None
        self._similar: tuple[int, str] | None = None     # the grid shows photos like this one (id, label)
        self._encoded: dict[str, EncodedQuery] = {}      # query text -> its vector (or why none)
        self._encode_keep_view = False
        self._notes_shown: set[str] = set()
        self._query_note: str | None = None       # the status bar's note on the search's filters, if shown
        self.review: ReviewMode | None = None     # review mode, while it is open
        self._embed_problem: str | None = None
        self._build()
        self._connect()
        has_folders = browse.has_folders(self.services.conn)
        self.pages.setCurrentWidget(self.library_page if has_folders else self.welcome)
        self._poll_library()                      # the first query; the services start after it
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._poll_library)
        self._poll.start()

    # ---- layout ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.banner = Banner()
        self.welcome = WelcomePage()
        self.sidebar = Sidebar()
        self.search = QLineEdit()
        self.search.setPlaceholderText('Search: words, "a phrase", cat OR dog, -night, tag:beach, '
                                       'folder:2023, after:2023-06-01   (Ctrl+F)')
        self.search.setClearButtonEnabled(True)
        self.result_count = QLabel()
        self.sort_box = QComboBox()
        for label, value in SORTS:
            self.sort_box.addItem(label, value)
        self.sort_box.setToolTip("Order of the results: best match first, or by the date taken")
        self.grid = GridView()
        self.grid.setModel(self.model)
        self.details = DetailsPane(self.services.previews)
        self.ask_panel = AskPanel()

        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.sort_box)
        search_row.addWidget(self.result_count)
        self.review_button = QPushButton("Review")
        self.review_button.setToolTip("Review the captions of the photos this search finds, one by one (Ctrl+R)")
        self.review_button.clicked.connect(self.start_review)
        search_row.addWidget(self.review_button)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addLayout(search_row)
        middle_layout.addWidget(self.grid, 1)
        details_area = QScrollArea()              # a short window scrolls the details, never overlaps them
        details_area.setWidgetResizable(True)
        details_area.setFrameShape(QFrame.Shape.NoFrame)
        details_area.setWidget(self.details)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(details_area)
        right.addWidget(self.ask_panel)
        right.setSizes([600, 220])
        self.library_page = QSplitter()
        self.library_page.addWidget(self.sidebar)
        self.library_page.addWidget(middle)
        self.library_page.addWidget(right)
        self.library_page.setStretchFactor(1, 1)
        self.library_page.setSizes([240, 680, 360])

        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.library_page)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        self.status = StatusPanel()
        self.statusBar().addPermanentWidget(self.status)
        menu = self.menuBar().addMenu("&Library")
        menu.addAction("&Add a photo folder…", self.choose_folder)
        menu.addAction("Find &duplicates…", self.find_duplicates)
        menu.addAction("&Review this search", QKeySequence("Ctrl+R"), self.start_review)
        menu.addAction("&Settings…", self.open_settings)
        menu.addSeparator()
        menu.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)
        self.bulk = BulkReview(self.grid, self.services.edits, self)     # approve or reset the selection
        self.menuBar().addMenu(self.bulk.menu(self))

    def _connect(self) -> None:
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self._run_query(self.search.text()))
        self.search.textChanged.connect(self._search_edited)
        self.sort_box.currentIndexChanged.connect(lambda _i: self._run_query(self.search.text()))
        bar = self.grid.verticalScrollBar()
        bar.rangeChanged.connect(self._scroll_range_changed)
        bar.actionTriggered.connect(self._user_scrolled)
        QShortcut(QKeySequence.StandardKey.Find, self, self.focus_search)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.ask_shortcut)

        self.welcome.add_folder_requested.connect(self.choose_folder)
        self.sidebar.add_folder_requested.connect(self.choose_folder)
        self.sidebar.remove_folder_requested.connect(self.remove_folder)
        self.sidebar.filter_requested.connect(self.search.setText)
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.open_requested.connect(self.open_preview)
        self.grid.remove_requested.connect(self.remove_photos)
        self.grid.similar_requested.connect(self.show_similar)
        self.details.similar_requested.connect(self.show_similar)
        self.model.query_applied.connect(self._query_applied)
        self.details.save_requested.connect(self._save_edit)
        self.details.recaption_requested.connect(self.recaption)
        self.details.options_requested.connect(lambda: self.open_settings("captions"))
        # Direct: the worker's thread is busy in its loop, so a queued call would never run;
        # ask() only puts the question in a thread-safe queue.
        self.ask_panel.ask_requested.connect(self.services.worker.ask, Qt.ConnectionType.DirectConnection)
        self.status.pause_toggled.connect(self.set_paused)

        worker = self.services.worker
        worker.captioned.connect(self._captioned)
        worker.caption_failed.connect(self._caption_failed)
        worker.progress.connect(self._show_progress)
        worker.encoded.connect(self._query_encoded)
        worker.model_ready.connect(self.status.show_model)
        worker.blocked.connect(self._captioning_blocked)
        worker.answered.connect(self.ask_panel.show_answer)
        worker.ask_failed.connect(self.ask_panel.show_error)
        self.bulk.message.connect(self.statusBar().showMessage)
        self.bulk.failed.connect(self.banner.show_message)
        self.bulk.changed.connect(self._review_changed)

    # ---- search and refresh ---------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def embed_model(self) -> str:
        """The id the embedding model's vectors are stored under."""
        return registry.model_id(self.settings.embed_model)

    def _search_edited(self, _text: str) -> None:
        self._similar = None                      # typing leaves the similar-photos view
        self._debounce.start()

    def _run_query(self, text: str, *, keep_view: bool = False) -> None:
        """Find the query's photos on the query lane; the newest request wins. Free text is encoded
        on the worker first (once per text)."""
        self._query = text
        self._query_token += 1
        self._say_filters_not_understood(text)
        if self._similar is not None:
            self._run_similar(keep_view)
            return
        encoded = self._encoded.get(text)
        if encoded is None and fusion.semantic_text(text).strip():
            self._encode_keep_view = keep_view
            if not keep_view:
                self.result_count.setText("searching…")
            self.services.worker.encode(self._query_token, text)
            return
        self._search(text, encoded, keep_view)

    def _say_filters_not_understood(self, text: str) -> None:
        """A filter with a value it does not take (review:tod) is searched as words; the status bar says so,
        and takes its note back once the search has none."""
        said = query_language.notes(query_language.parse(text))
        if said:
            self._query_note = said[0]
            self.statusBar().showMessage(said[0], QUERY_NOTE_MS)
        elif self._query_note is not None:
            if self.statusBar().currentMessage() == self._query_note:
                self.statusBar().clearMessage()
            self._query_note = None

    def _search(self, text: str, encoded: EncodedQuery | None, keep_view: bool) -> None:
        token = self._query_token
        sort = self.sort_box.currentData()
        vector = encoded.vector if encoded is not None else None
        model = encoded.model if encoded is not None else None
        self.services.queries.submit(
            lambda conn: library_reads.query_result(conn, text, sort=sort, vector=vector, model=model),
            lambda result: self._apply_query(token, result, keep_view), self._query_failed)

    def _query_encoded(self, encoded: EncodedQuery) -> None:
        if self.services.stopped:
            return
        if len(self._encoded) >= ENCODED_KEPT:
            self._encoded.clear()
        self._encoded[encoded.text] = encoded
        if encoded.note and encoded.note not in self._notes_shown:
            self._notes_shown.add(encoded.note)
            self.statusBar().showMessage(f"Searching by words only: {encoded.note}", 10_000)
        if encoded.text == self._query and self._similar is None:
            self._search(encoded.text, encoded, self._encode_keep_view)

    def show_similar(self, photo_id: int) -> None:
        """Show the photos most like this one in the grid (the search box is emptied)."""
        details = library_reads.details(self.services.conn, photo_id)
        if details is None:
            return
        self._debounce.stop()
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._similar = (photo_id, f"similar to {paths.display(details.photo.name)}")
        self._query = ""
        self._query_token += 1
        self._run_similar(keep_view=False)

    def _run_similar(self, keep_view: bool) -> None:
        assert self._similar is not None
        token = self._query_token
        photo_id, label = self._similar
        model = self.embed_model()
        self.services.queries.submit(
            lambda conn: library_reads.similar_result(conn, label, photo_id, model),
            lambda result: self._apply_query(token, result, keep_view), self._query_failed)

    def find_duplicates(self) -> None:
        """Group near-duplicates among the photos the search box finds (all photos when it is empty)."""
        query, model = self.search.text(), self.embed_model()
        self.statusBar().showMessage("Looking for near-duplicates…")
        self.services.queries.submit(
            lambda conn: library_reads.duplicate_groups(conn, query, model, DUPLICATE_THRESHOLD),
            self._show_duplicates, self._query_failed)

    def _show_duplicates(self, groups: list) -> None:
        self.statusBar().clearMessage()
        if self.services.stopped:
            return
        self.duplicates_dialog = DuplicatesDialog(groups, self.services.thumbnails, self)
        self.duplicates_dialog.trashed.connect(self._trashed)
        self.duplicates_dialog.show()

    def _trashed(self, photo_ids: list[int]) -> None:
        """Files moved to the trash leave the library (restored, they come back with the next scan)."""
        self._edit(lambda conn: library_writes.forget_photos(conn, photo_ids),
                   lambda ids: self.refresh(), "Removing the trashed copies")

    def _apply_query(self, token: int, result, keep_view: bool) -> None:
        if token != self._query_token:
            return                                # a newer query is on its way
        query, ids, rows = result
        self._pending_scroll = None
        shown = self.details.photo_id
        scroll = self.grid.verticalScrollBar().value()
        self._restoring = True                    # a reset passes through "nothing selected"
        try:
            self.model.set_ids(query, ids, rows)
            row = self.model.row_of(shown) if shown is not None else None
            if row is not None and self.grid.currentIndex().row() != row:
                self.grid.selectionModel().setCurrentIndex(
                    self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        finally:
            self._restoring = False
        if keep_view:
            self._restore_scroll(scroll)
        elif row is not None:
            self.grid.scrollTo(self.model.index(row))
        else:
            self.grid.scrollToTop()
        if shown is not None and row is None:
            self._show_details(None)              # removed, or not found by this query

    def _query_failed(self, exc: Exception) -> None:
        self.services.start()
        self.banner.show_message(f"Search failed: {error_text(exc)}")

    def _restore_scroll(self, value: int) -> None:
        """The grid lays out in batches after a reset: scroll back once it is long enough."""
        bar = self.grid.verticalScrollBar()
        if bar.maximum() >= value:
            bar.setValue(value)
        else:
            self._pending_scroll = value

    def _user_scrolled(self, _action: int) -> None:
        self._pending_scroll = None               # where the user goes wins

    def _scroll_range_changed(self, _low: int, high: int) -> None:
        if self._pending_scroll is not None and high >= self._pending_scroll:
            self.grid.verticalScrollBar().setValue(self._pending_scroll)
            self._pending_scroll = None

    def _query_applied(self, query: str, count: int) -> None:
        if not self.services.started:
            # The worker's start-up (importing torch) competes for the interpreter: the first
            # screen of photos comes first.
            self.services.start()
        if self._similar is not None:
            self.result_count.setText(f"{count:,} photo{'s' if count != 1 else ''} {query}")
            self.grid.set_empty_message("" if count else
                                        "No similar photos yet: photos are compared once they are embedded "
                                        "(after captioning).")
        elif count:
            self.result_count.setText(f"{count:,} photo{'s' if count != 1 else ''}")
            self.grid.set_empty_message("")
        elif query.strip():
            self.result_count.setText("no results")
            self.grid.set_empty_message(
                f"No photos match “{query.strip()}”.\n\nCheck the spelling, use fewer words, "
                "or end a word with * to find words that start with it.")
        else:
            self.result_count.setText("")
            self.grid.set_empty_message("No photos yet: they appear here as the folders are scanned.")

    def _poll_library(self) -> None:
        """Other threads and processes change the library: refresh what depends on it when it did."""
        self._show_folders()
        version = browse.data_version(self.services.conn)
        if version != self._data_version and not self._refreshing and time.monotonic() >= self._next_refresh:
            self._data_version = version
            self.refresh()

    def refresh(self) -> None:
        self._refreshing = True
        self._refresh_started = time.monotonic()
        self._run_query(self._query, keep_view=True)      # the grid first: it is what is seen
        model = self.embed_model()
        self.services.queries.submit(lambda conn: library_reads.snapshot(conn, model), self._apply_snapshot,
                                     lambda exc: setattr(self, "_refreshing", False))

    def _apply_snapshot(self, snap: library_reads.LibrarySnapshot) -> None:
        # While the library keeps changing (a big batch, a scan), a large library is re-read
        # less often: the lanes, and the interpreter the GUI thread shares, stay mostly free.
        now = time.monotonic()
        self._next_refresh = now + (now - self._refresh_started) * (1 / REFRESH_SHARE - 1)
        self._refreshing = False
        if self._snapshot is not None and snap.embedded != self._snapshot.embedded:
            # Queries encoded while nothing was embedded were searched by words: by meaning now.
            self._encoded = {t: e for t, e in self._encoded.items() if e.vector is not None}
        self._snapshot = snap
        self.status.show_embeddings(self.embed_model(), snap.embedded)
        self._show_folders()
        self.sidebar.set_tags(snap.tags)
        self.status.show_counts(snap.counts["pending"], snap.counts["photos"], snap.paused)
        if not snap.folders and not snap.counts["photos"]:
            self.pages.setCurrentWidget(self.welcome)
        elif self.pages.currentWidget() is self.welcome:
            self.pages.setCurrentWidget(self.library_page)

    def _show_folders(self) -> None:
        if self._snapshot is not None:
            self.sidebar.set_folders(self._snapshot.folders, self.services.watching.state)

    # ---- selection, details, preview, questions -------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        photo_id = self.model.photo_id(current.row()) if current.isValid() else None
        if not self._restoring and photo_id != self.details.photo_id:
            self._show_details(photo_id)

    def _show_details(self, photo_id: int | None) -> None:
        details = library_reads.details(self.services.conn, photo_id) if photo_id is not None else None
        self.details.show_photo(details)
        self.ask_panel.set_photo(photo_id if details else None, details.questions if details else [])

    def _review_changed(self, photo_ids: list) -> None:
        """Bulk approval or reset wrote these photos: their cells and the details pane show it."""
        self.model.refresh_photos(photo_ids)
        shown = self.details.photo_id
        if shown is not None and shown in set(photo_ids):
            self._reload_details(shown)

    def _reload_details(self, photo_id: int) -> None:
        if photo_id == self.details.photo_id and not self.details.is_dirty():
            self.details.show_photo(library_reads.details(self.services.conn, photo_id))

    def start_review(self) -> None:
        """Review mode over the photos the grid shows now (the current search, in its order)."""
        if self.pages.currentWidget() is not self.library_page:
            return                                # reviewing already, or no library yet
        ids = [self.model.photo_id(row) for row in range(self.model.rowCount())]
        if not ids:
            self.statusBar().showMessage("No photos to review: search for some first.", 5000)
            return
        self.review = ReviewMode(self.services.conn, self.services.edits, [i for i in ids if i is not None],
                                 worker=self.services.worker, title=self._query.strip(),
                                 search=None if self._similar is not None else self._query)
        self.review.left_review.connect(self._review_left)
        self.pages.addWidget(self.review)
        self.pages.setCurrentWidget(self.review)
        self.review.setFocus()

    def _review_left(self) -> None:
        review, self.review = self.review, None
        if review is None:
            return
        self.pages.setCurrentWidget(self.library_page)
        self.pages.removeWidget(review)
        review.stop()
        review.deleteLater()
        self.refresh()                            # the grid shows the decisions
        self.grid.setFocus()

    def open_preview(self, photo_id: int) -> None:
        photo = library_reads.details(self.services.conn, photo_id)
        if photo is None:
            return
        dialog = PreviewDialog(self.services.previews, photo_id, photo.photo.path, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def ask_shortcut(self) -> None:
        if self.ask_panel.question.text().strip():
            self.ask_panel.ask()
        else:
            self.ask_panel.question.setFocus()

    # ---- worker results -------------------------------------------------------------------------

    def _captioned(self, photo_id: int, captions: list, tags: list) -> None:
        self.banner.dismiss("blocked")            # a model works (again)
        self._photo_changed(photo_id)

    def _caption_failed(self, photo_id: int, _reason: str, _retry: bool) -> None:
        self._photo_changed(photo_id)

    def _photo_changed(self, photo_id: int) -> None:
        if self.services.stopped:
            return                                # a result that was on its way as the window closed
        self.model.refresh_photos([photo_id])
        self._reload_details(photo_id)

    def _show_progress(self, progress: CaptionProgress) -> None:
        self.status.show_progress(progress)
        if progress.embed_problem == self._embed_problem:
            return                                # said once; the user may have closed it
        self._embed_problem = progress.embed_problem
        if progress.embed_problem:
            self.banner.show_message(
                f"Photos are captioned but not searchable by meaning: {progress.embed_problem.rstrip('.')}.",
                "Settings…", self.open_settings, kind="embed")
        else:
            self.banner.dismiss("embed")

    def _captioning_blocked(self, text: str) -> None:
        self.banner.show_message(
            f"Photos cannot be captioned now: {text.rstrip('.')}. They stay queued; browsing, watching and "
            "search work meanwhile.", "Settings…", self.open_settings, kind="blocked")

    # ---- settings -------------------------------------------------------------------------------

    def open_settings(self, page: str = "models") -> None:
        dialog = SettingsDialog(self.settings, self, page=page)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dialog.values())

    def apply_settings(self, values: dict) -> None:
        """Keep the new values, save them for the CLI and the daemon too, and restart the worker."""
        changes = changed(self.settings, values)
        if not changes:
            return
        self.settings = self.settings.replace(**changes)
        self._encoded.clear()                     # another embedding model encodes queries differently
        try:
            # Only what the dialog changed goes to the file: not --db or other one-off options.
            config.save(config.load().replace(**changes))
        except (config.ConfigError, OSError) as exc:
            self.banner.show_message(f"The settings apply now but could not be saved: {error_text(exc)}")
        else:
            self.banner.dismiss("blocked")        # the new settings get their chance
        self.services.apply_settings(self.settings,
                                     watching_changed=any(k in WATCHING_FIELDS for k in changes))

    # ---- window ---------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_folders(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        folders = local_folders(event.mimeData())
        if folders:
            event.acceptProposedAction()
            self.add_folders(folders)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.hide()                               # the batch in flight may take a moment
        self._poll.stop()
        if self.review is not None:
            self.review.stop()                    # it reads the connection the services close
        self.services.stop()
        event.accept()
