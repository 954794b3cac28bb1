"""The one long-lived worker thread: captioning, and questions between batches.

torch keeps per-thread state, so the models live on one thread for the app's whole life. The
worker owns its own Engine there (own SQLite connection, own ModelHost) and runs the shared caption
loop. Questions are served on the same thread: asking sets `interrupt`, the stop event the caption
loop is given, so the loop records the batch in flight, hands its other claims back to the queue
and returns; the worker answers every waiting question and starts the loop again. A question
therefore waits at most one batch, and no batch is ever cut in half. New settings and stopping use
the same door, and so does the search box: its query's text is encoded by the embedding model that
lives here (`encode`), and only the newest query waiting is encoded. "More options" for a photo
(`more_captions`, the review's M key) is served the same way: between batches, on the models here.

`run` blocks the thread's event loop, so the GUI calls the thread-safe methods (ask, encode,
more_captions, apply_settings, interrupt, stop) directly; results go back as signals carrying plain data only.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from photocap.config import Settings
from photocap.gui import priority
from photocap.library import photos
from photocap.library.db import LibraryError
from photocap.vision.registry import ModelUnavailable  # torch-free; the loader raises it

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0          # after "no model" or an unexpected error, try again this much later


@dataclass(frozen=True)
class CaptionProgress:
    done: int                 # captioned since the app started
    failed: int
    pending: int
    rate_per_minute: float
    eta_seconds: float | None
    embedded: int = 0         # vectors made since the app started (with captions and by the backfill)
    unembedded: int = 0       # captioned photos still waiting for a vector
    embed_model: str = ""
    embed_problem: str | None = None   # why photos are not embedded (the model is missing)


@dataclass(frozen=True)
class EncodedQuery:
    """A search box query encoded for search by meaning (plain data for the GUI thread)."""
    token: int
    text: str
    vector: Any               # numpy float32 (dim,), or None: keyword search only
    model: str
    note: str = ""            # why there is no vector (no embedding model, nothing embedded yet)


class CaptionWorker(QObject):
    captioned = Signal(int, list, list)          # photo id, captions, tags
    caption_failed = Signal(int, str, bool)      # photo id, reason, will be retried
    progress = Signal(object)                    # CaptionProgress
    model_ready = Signal(str)                    # e.g. "blip-base on cpu (float32)"
    blocked = Signal(str)                        # why captioning cannot go on (no model, an error)
    answered = Signal(int, str, str)             # photo id, question, answer
    encoded = Signal(object)                     # EncodedQuery
    ask_failed = Signal(int, str, str)           # photo id, question, why
    more_captions_ready = Signal(int, list)      # photo id, its machine captions now (list[str])
    more_captions_failed = Signal(int, str)      # photo id, why (one line); nothing changed
    finished = Signal()

    def __init__(self, settings: Settings, wake: threading.Event):
        super().__init__()
        self._settings = settings
        self._wake = wake                         # shared with the librarian: new photos
        self._interrupt = threading.Event()      # the caption loop's stop event
        self._stopping = threading.Event()
        self._questions: queue.Queue[tuple[int, str]] = queue.Queue()
        self._queries: queue.Queue[tuple[int, str]] = queue.Queue()
        self._more: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        self._new_settings: Settings | None = None
        self._done = self._failed = self._embedded = 0   # totals of earlier runs
        self._embedding: tuple[int, str, str | None] = (0, "", None)   # to go, model, problem
        self._rate = 0.0
        self._model_text = ""

    # ---- called from the GUI thread ---------------------------------------------------------------

    def ask(self, photo_id: int, question: str) -> None:
        self._questions.put((photo_id, question))
        self.interrupt()

    def encode(self, token: int, text: str) -> None:
        """Encode a search query's text; `encoded` brings the vector back (the newest query wins)."""
        self._queries.put((token, text))
        self.interrupt()

    def more_captions(self, photo_id: int) -> None:
        """More caption candidates for a photo, made between batches (a batch is never cut);
        `more_captions_ready` or `more_captions_failed` tells the GUI thread."""
        self._more.put(photo_id)
        self.interrupt()

    def apply_settings(self, settings: Settings) -> None:
        with self._lock:
            self._new_settings = settings
        self.interrupt()

    def interrupt(self) -> None:
        """Finish the batch in flight and look at what is waiting (questions, settings, pause)."""
        self._interrupt.set()
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self.interrupt()

    # ---- on the worker thread ---------------------------------------------------------------------

    @Slot()
    def run(self) -> None:
        from photocap.engine import Engine
        priority.lower_this_thread()              # and the decode and torch threads it starts
        engine = None
        try:
            engine = Engine(self._settings)
            self._announce_model(engine)
            while not self._stopping.is_set():
                self._interrupt.clear()           # anything asked from now on interrupts again
                engine = self._take_new_settings(engine)
                self._encode_queries(engine)
                self._answer_questions(engine)
                self._make_more_captions(engine)
                if not self._interrupt.is_set():
                    self._caption(engine)
        except Exception as exc:  # noqa: BLE001 - e.g. the library cannot be opened
            log.exception("the caption worker stopped")
            self.blocked.emit(_describe(exc))
        finally:
            if engine is not None:
                engine.close()
            self.finished.emit()

    def _take_new_settings(self, engine):
        with self._lock:
            settings, self._new_settings = self._new_settings, None
        if settings is None:
            return engine
        from photocap.engine import Engine
        gc.unfreeze()                             # the old models must be collectable
        engine.close()                            # frees the old models before loading new ones
        engine = Engine(settings)
        self._announce_model(engine)
        return engine

    def _answer_questions(self, engine) -> None:
        while True:
            try:
                photo_id, question = self._questions.get_nowait()
            except queue.Empty:
                return
            try:
                answer = engine.ask(photo_id, question)
            except Exception as exc:  # noqa: BLE001 - shown next to the question
                log.info("question about photo %d failed: %s", photo_id, exc)
                self.ask_failed.emit(photo_id, question, _describe(exc))
            else:
                self.answered.emit(photo_id, question, answer)

    def _make_more_captions(self, engine) -> None:
        waiting: list[int] = []
        while True:
            try:
                waiting.append(self._more.get_nowait())
            except queue.Empty:
                break
        for photo_id in dict.fromkeys(waiting):      # asked twice before it was served: one round
            try:
                now = engine.more_captions(photo_id)
            except Exception as exc:  # noqa: BLE001 - shown in the review; captioning goes on
                log.info("more captions for photo %d failed: %s", photo_id, exc)
                self.more_captions_failed.emit(photo_id, _describe(exc))
            else:
                self.more_captions_ready.emit(photo_id, list(now))
                self._announce_model(engine)

    def _encode_queries(self, engine) -> None:
        newest = None
        while True:
            try:
                newest = self._queries.get_nowait()
            except queue.Empty:
                break
        if newest is None:
            return
        token, text = newest
        model = engine.embed_model_id()
        try:
            vector, model = engine.query_vector(text)
        except LibraryError as exc:                # no embedding model, or nothing embedded yet
            self.encoded.emit(EncodedQuery(token, text, None, model, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the search still runs, by its words
            log.warning("could not encode the query: %s", exc)
            self.encoded.emit(EncodedQuery(token, text, None, model, _describe(exc)))
        else:
            self.encoded.emit(EncodedQuery(token, text, vector, model))
            self._announce_model(engine)

    def _caption(self, engine) -> None:
        self._emit_progress(photos.counts(engine.conn)["pending"], 0, 0)
        try:
            run = engine.caption_pending(self._interrupt, forever=True, wake=self._wake,
                                         on_result=self._on_result,
                                         on_progress=lambda p: self._on_progress(engine, p))
        except ModelUnavailable as exc:            # the photos stay queued
            self.blocked.emit(str(exc))
            self._interrupt.wait(RETRY_SECONDS)
            return
        except Exception as exc:  # noqa: BLE001 - a broken batch must not end captioning for good
            log.exception("captioning failed")
            self.blocked.emit(_describe(exc))
            self._interrupt.wait(RETRY_SECONDS)
            return
        self._done += run.done
        self._failed += run.failed
        self._embedded += run.embedded

    def _on_result(self, result) -> None:
        if result.error is None:
            self.captioned.emit(result.photo_id, list(result.captions), list(result.tags))
        else:
            self.caption_failed.emit(result.photo_id, result.error, result.retry)

    def _on_progress(self, engine, run) -> None:
        if run.done:
            self._rate = run.rate_per_minute
        self._embedding = (run.unembedded, run.embed_model, run.embed_problem)
        self._emit_progress(run.pending, run.done, run.failed, run.embedded)
        self._announce_model(engine)

    def _emit_progress(self, pending: int, done: int, failed: int, embedded: int = 0) -> None:
        eta = 60.0 * pending / self._rate if self._rate and pending else None
        to_embed, model, problem = self._embedding
        self.progress.emit(CaptionProgress(self._done + done, self._failed + failed, pending,
                                           self._rate, eta, self._embedded + embedded, to_embed, model,
                                           problem))

    def _announce_model(self, engine) -> None:
        text = engine.models.describe()
        if text != self._model_text:
            self._model_text = text
            self.model_ready.emit(text)
            # The models are millions of long-lived objects: a full garbage collection walking
            # them holds the interpreter for 100-300 ms, and the GUI thread waits. Frozen, they
            # are left alone (until new settings unload them).
            gc.freeze()


def _describe(exc: BaseException) -> str:
    from photocap.library.errors import describe
    return describe(exc)
