"""The caption loop: claim pending photos, caption them in batches, record results.

Qt-free and shared: `photocap index` runs it until the queue is empty, `photocap watch` and the
desktop app run it until stopped. Results are committed per batch; one bad image fails alone.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from photocap.library import jobs, paths, photos
from photocap.library.db import check_file, write
from photocap.library.humanize import duration
from photocap.library.images import ImageError
from photocap.library.publish import publish
from photocap.library.xmp import XmpError

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.2


@dataclass
class CaptionResult:
    """One photo's outcome, as plain data for front ends."""
    photo_id: int
    path: str
    captions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    error: str | None = None
    retry: bool = False


@dataclass
class Progress:
    done: int = 0            # captioned in this run
    failed: int = 0
    pending: int = 0         # still waiting in the library
    started: float = field(default_factory=time.monotonic)

    @property
    def rate_per_minute(self) -> float:
        elapsed = time.monotonic() - self.started
        return 60.0 * self.done / elapsed if elapsed > 0 and self.done else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate_per_minute
        return 60.0 * self.pending / rate if rate else None

    def line(self) -> str:
        eta = self.eta_seconds
        left = f", about {duration(eta)} left" if eta is not None and self.pending else ""
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"captioned {self.done}{failed}, {self.pending} pending, "
                f"{self.rate_per_minute:.1f} photos/min{left}")


def usable_captions(captions: list[str]) -> list[str]:
    """Captions worth keeping: not empty, each once (beams can end in the same words)."""
    seen: dict[str, None] = {}
    for text in captions:
        text = " ".join(text.split())
        if text:
            seen.setdefault(text, None)
    return list(seen)


class CaptionLoop:
    """Caption what is queued in one library with the models of one ModelHost."""

    def __init__(self, conn: sqlite3.Connection, host, *, worker: str | None = None,
                 on_result: Callable[[CaptionResult], None] | None = None,
                 on_progress: Callable[[Progress], None] | None = None):
        self.conn = conn
        self.host = host
        self.worker = worker or jobs.worker_id()
        self.on_result = on_result or (lambda r: None)
        self.on_progress = on_progress or (lambda p: None)
        self.progress = Progress()

    def pending(self) -> int:
        return photos.count_with_status(self.conn, "pending")

    def run(self, stop: threading.Event | None = None, *, forever: bool = False,
            idle_wait: float = 1.0, wake: threading.Event | None = None) -> Progress:
        """Caption until the queue is empty (or, with forever, until `stop` is set).

        With forever, an idle loop sleeps until `wake` is set (new photos) or `idle_wait` passes,
        which also picks up work queued by other processes. Set `wake` too when setting `stop`.
        Raises ModelUnavailable when no model can be loaded; the photos stay queued.
        """
        stop = stop or threading.Event()
        wake = wake or stop
        self.progress = Progress(pending=self.pending())
        batch_size = max(1, self.host.settings.batch_size)
        while not stop.is_set():
            check_file(self.conn)        # a deleted library file stops the loop, paused or not
            claimed = [] if jobs.paused(self.conn) else jobs.claim(self.conn, self.worker, batch_size * 4)
            if not claimed:
                if not forever:
                    break
                if wake.wait(idle_wait) and wake is not stop:
                    wake.clear()
                    # Photos come in bursts (a copy, an import): waiting a moment after the first
                    # arrivals fills a whole batch instead of captioning them in small ones.
                    stop.wait(COALESCE_SECONDS)
                continue
            try:
                self._caption(claimed, batch_size, stop)
            finally:
                jobs.release(self.conn, self.worker)     # whatever was not recorded goes back
        return self.progress

    def _caption(self, claimed: list[jobs.Job], batch_size: int, stop: threading.Event) -> None:
        captioner = self.host.captioner()                # may raise ModelUnavailable
        by_path = {job.path: job for job in claimed}
        batch: list[tuple[jobs.Job, list[str] | ImageError]] = []
        for path, outcome in captioner.caption_paths([j.path for j in claimed],
                                                     decode_workers=self.host.settings.decode_workers):
            batch.append((by_path[path], outcome))
            if len(batch) == batch_size:
                self._record(batch)
                batch = []
                if stop.is_set():
                    return
                jobs.renew(self.conn, self.worker, [j.photo_id for j in claimed])
        self._record(batch)

    def _record(self, batch: list[tuple[jobs.Job, list[str] | ImageError]]) -> None:
        if not batch:
            return
        from photocap.vision.tags import tags_from_captions
        model = self.host.caption_model_name
        options = self.host.captioner().options.to_dict()
        results = []
        with write(self.conn):
            for job, outcome in batch:
                if isinstance(outcome, ImageError):
                    retry = jobs.fail(self.conn, self.worker, job.photo_id, outcome.reason,
                                      transient=outcome.transient)
                    results.append(CaptionResult(job.photo_id, job.path, error=outcome.reason, retry=retry))
                    continue
                if not jobs.owns(self.conn, self.worker, job.photo_id):
                    continue                             # our lease ran out; the new owner writes
                outcome = usable_captions(outcome)
                if not outcome:
                    reason = "the model wrote no caption for this photo"
                    jobs.fail(self.conn, self.worker, job.photo_id, reason, transient=False)
                    results.append(CaptionResult(job.photo_id, job.path, error=reason))
                    continue
                tag_list = tags_from_captions(outcome)
                photos.set_auto_captions(self.conn, job.photo_id, outcome, model=model,
                                         options=options, tags=tag_list)
                results.append(CaptionResult(job.photo_id, job.path, outcome, tag_list))
        self._publish([r for r in results if r.error is None])
        for result in results:
            if result.error is None:
                self.progress.done += 1
                log.info("captioned %s: %s", paths.display(result.path), " | ".join(result.captions))
            elif not result.retry:
                self.progress.failed += 1
                log.warning("failed %s: %s", paths.display(result.path), result.error)
            else:
                log.info("will retry %s: %s", paths.display(result.path), result.error)
            self.on_result(result)
        self.progress.pending = self.pending()
        self.on_progress(self.progress)

    def _publish(self, results: list[CaptionResult]) -> None:
        """With the XMP settings on, new captions go to sidecars (and files) at once."""
        from photocap.library.publish import news as publish_news

        settings = self.host.settings
        if not (settings.xmp_sidecars or settings.write_into_files):
            return
        for result in results:
            try:
                publish(self.conn, result.photo_id, sidecar=settings.xmp_sidecars,
                        naming=settings.xmp_naming, into_file=settings.write_into_files)
            except XmpError as exc:
                # A read-only folder fails every photo in it: say so once, keep captioning.
                log.log(logging.WARNING if publish_news(exc) else logging.DEBUG, "XMP not written: %s", exc)
