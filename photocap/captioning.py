"""The caption loop: claim pending photos, caption and embed them in batches, record results.

Qt-free and shared: `photocap index` runs it until the queue is empty, `photocap watch` and the
desktop app run it until stopped. Results are committed per batch; one bad image fails alone.

Each photo is decoded once: the image the captioner decoded is also embedded (the embedding model's
image vector, for search by meaning), and the vector is written in the caption's own transaction.
Photos captioned without a vector (before embeddings existed, while the embedding model was missing,
or under another embedding model) are embedded by a backfill that runs whenever the queue is empty.
Without the embedding model, captioning goes on and one line says how to get the model.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from photocap.library import jobs, paths, photos
from photocap.library.db import LibraryError, check_file, write
from photocap.library.humanize import duration
from photocap.library.images import ImageError, open_image
from photocap.library.publish import publish
from photocap.library.search import vectors
from photocap.library.xmp import XmpError
from photocap.vision.registry import ModelUnavailable  # torch-free

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.2
_told: set[str] = set()         # lines said once per process (a missing embedding model)


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
    embedded: int = 0        # vectors written in this run (with captions and by the backfill)
    unembedded: int = 0      # captioned photos still waiting for a vector of the embedding model
    embed_model: str = ""    # the embedding model's id
    embed_problem: str | None = None   # why nothing is embedded (the model is missing), one line

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
        embedded = f", embedded {self.embedded}" if self.embedded else ""
        to_embed = f", {self.unembedded} to embed" if self.unembedded else ""
        return (f"captioned {self.done}{failed}, {self.pending} pending, "
                f"{self.rate_per_minute:.1f} photos/min{left}{embedded}{to_embed}")


def say_once(text: str) -> None:
    """A warning that would repeat every batch (a missing model): logged once per process."""
    if text not in _told:
        _told.add(text)
        log.warning("%s", text)


def embed_or_none(embedder: Any, images: list[Any]) -> list[Any]:
    """One vector per image: None for a missing image or embedding model, or a batch that failed."""
    good = [im for im in images if im is not None]
    if embedder is None or not good:
        return [None] * len(images)
    try:
        made = iter(embedder.embed_images(good))
    except (RuntimeError, ValueError, OSError) as exc:
        # Captions are worth keeping without vectors: the backfill tries these photos again.
        log.warning("could not embed a batch of photos: %s", " ".join(str(exc).split())[:200])
        return [None] * len(images)
    return [None if im is None else next(made) for im in images]


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
        self._embedder: Any = None
        self._embed_problem: str | None = None
        self._unembeddable: set[int] = set()     # photos the backfill could not decode: not again

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
        self.progress = Progress(pending=self.pending(), embed_problem=self._embed_problem,
                                 embed_model=self._embedder.model_id if self._embedder is not None else "")
        batch_size = max(1, self.host.settings.batch_size)
        while not stop.is_set():
            check_file(self.conn)        # a deleted library file stops the loop, paused or not
            paused = jobs.paused(self.conn)
            claimed = [] if paused else jobs.claim(self.conn, self.worker, batch_size * 4)
            if not claimed:
                if not paused and self._backfill(batch_size):
                    continue                             # new photos first, then the next backfill batch
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

    # ---- embeddings -------------------------------------------------------------------------------

    def embedder(self) -> Any:
        """The embedding model, or None while it is missing (said once; captioning goes on). The host
        tries a missing model again now and then, so one pulled meanwhile is used."""
        if self._embedder is None:
            try:
                self._embedder = self.host.embedder()
            except ModelUnavailable as exc:
                self._embed_problem = self.progress.embed_problem = str(exc)
                say_once(f"photos are captioned without embeddings, so search by meaning cannot find them "
                         f"yet: {exc}")
                return None
            self._embed_problem = self.progress.embed_problem = None
            self.progress.embed_model = self._embedder.model_id
        return self._embedder

    def unembedded_count(self, model: str) -> int:
        """Captioned photos without a vector of `model` (an estimate for progress lines)."""
        return max(0, photos.counts(self.conn)["captioned"] - vectors.count(self.conn, model))

    def _vectors(self, images: list[Any]) -> list[Any]:
        return embed_or_none(self.embedder(), images)

    def _backfill(self, batch_size: int) -> bool:
        """Embed one batch of captioned photos that lack a vector of the embedding model (decode and
        embed only). False when there is nothing to do, or no embedding model."""
        embedder = self.embedder()
        if embedder is None:
            return False
        model = embedder.model_id
        wanted = vectors.unembedded(self.conn, model, batch_size + len(self._unembeddable))
        ids = [i for i in wanted if i not in self._unembeddable][:batch_size]
        if not ids:
            self.progress.unembedded = 0
            return False
        found = [(i, photo.path) for i in ids if (photo := photos.get(self.conn, i)) is not None]
        side = 2 * embedder.image_size           # headroom for the processor's own resize, as for captions
        with ThreadPoolExecutor(max(1, self.host.settings.decode_workers),
                                thread_name_prefix="photocap-decode") as pool:
            images = list(pool.map(lambda p: _decoded_or_none(p, side), [path for _, path in found]))
        made = self._vectors(images)
        items = [(i, vec) for (i, _), vec in zip(found, made, strict=True) if vec is not None]
        self._unembeddable.update(i for (i, _), im in zip(found, images, strict=True) if im is None)
        self._unembeddable.update(set(ids) - {i for i, _ in found})
        if not items and all(im is not None for im in images):
            return False                             # the model failed the batch: try again next run
        with write(self.conn):
            vectors.put_many(self.conn, model, items)
        self.progress.embedded += len(items)
        self.progress.unembedded = self.unembedded_count(model)
        log.info("embedded %d captioned photos, about %d to go", len(items), self.progress.unembedded)
        self.on_progress(self.progress)
        return True

    # ---- captions ---------------------------------------------------------------------------------

    def _caption(self, claimed: list[jobs.Job], batch_size: int, stop: threading.Event) -> None:
        captioner = self.host.captioner()                # may raise ModelUnavailable
        self.embedder()                                  # both models load before the first batch
        by_path = {job.path: job for job in claimed}
        batch: list[tuple[jobs.Job, list[str] | ImageError, Any]] = []
        for path, outcome, image in captioner.caption_paths_with_images(
                [j.path for j in claimed], decode_workers=self.host.settings.decode_workers):
            batch.append((by_path[path], outcome, image))
            if len(batch) == batch_size:
                self._record(batch)
                batch = []
                if stop.is_set():
                    return
                jobs.renew(self.conn, self.worker, [j.photo_id for j in claimed])
        self._record(batch)

    def _record(self, batch: list[tuple[jobs.Job, list[str] | ImageError, Any]]) -> None:
        """Captions, tags and each photo's vector, in one transaction per batch."""
        if not batch:
            return
        made = self._vectors([image for _, _, image in batch])   # model work, outside the write lock
        embed_model = self._embedder.model_id if self._embedder is not None else ""
        self.record([(job, outcome, vector) for (job, outcome, _image), vector in zip(batch, made, strict=True)],
                    model=self.host.caption_model_name, options=self.host.captioner().options.to_dict(),
                    embed_model=embed_model)

    def record(self, batch: list[tuple[jobs.Job, list[str] | ImageError, Any]], *, model: str,
               options: dict[str, Any], embed_model: str) -> None:
        """Record (job, captions or ImageError, vector or None) outcomes made by `model` with `options`, in
        one transaction; the one writer of results, also for outcomes made elsewhere (photocap.cluster)."""
        if not batch:
            return
        from photocap.vision.tags import tags_from_captions
        results = []
        embedded = 0
        with write(self.conn):
            for job, outcome, vector in batch:
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
                if vector is not None:
                    vectors.put(self.conn, job.photo_id, embed_model, vector)
                    embedded += 1
                results.append(CaptionResult(job.photo_id, job.path, outcome, tag_list))
        self.progress.embedded += embedded
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
        for result in results:
            publish_one(self.conn, self.host.settings, result.photo_id)


def _decoded_or_none(path: str, max_side: int) -> Any:
    try:
        return open_image(path, max_side=max_side)
    except ImageError as exc:
        log.info("cannot embed %s: %s", paths.display(path), exc.reason)
        return None


MORE_CANDIDATES = 3             # "more options" asks the model for at least this many samples


def more_options(settings: Any) -> Any:
    """The caption options "more options" uses: the user's, but nucleus samples (top_p from the settings,
    the user's temperature if they sample, else 1.0), at least MORE_CANDIDATES of them."""
    from photocap.vision.captioner import CaptionOptions
    options = CaptionOptions.from_settings(settings)
    return replace(options, do_sample=True, top_p=settings.top_p,
                   temperature=settings.temperature if settings.do_sample else 1.0,
                   num_captions=max(MORE_CANDIDATES, settings.num_captions))


def more_captions(conn: sqlite3.Connection, host: Any, photo_id: int) -> list[str]:
    """More machine candidates for one photo: it is decoded and captioned with other settings than the
    user's (more_options), and the new distinct captions are added after its old ones in one write
    (approvals, a user's caption and the review state stay). Returns the photo's machine captions now.

    Raises LibraryError (no such photo) or ImageError (cannot be decoded), one line each; nothing changes.
    Run it on the thread that owns the host's models.
    """
    from photocap.vision.captioner import Captioner
    from photocap.vision.tags import tags_from_captions

    photo = photos.get(conn, photo_id)
    if photo is None:
        raise LibraryError(f"no photo with id {photo_id} in the library")
    loaded = host.captioner().loaded                 # the user's model, already loaded: no second copy
    captioner = Captioner(loaded, more_options(host.settings), batch_size=1)
    image = open_image(photo.path, max_side=2 * loaded.image_size)
    (texts,) = captioner.caption_images([image])
    texts = usable_captions(texts)
    now = photos.add_auto_captions(conn, photo_id, texts, model=host.caption_model_name,
                                   options=captioner.options.to_dict(), tags=tags_from_captions(texts))
    log.info("more captions for %s: %s", paths.display(photo.path), " | ".join(now))
    publish_one(conn, host.settings, photo_id)
    return now


def publish_one(conn: sqlite3.Connection, settings: Any, photo_id: int) -> None:
    """With the XMP settings on, a photo's captions and tags go to its sidecar (and file)."""
    from photocap.library.publish import news as publish_news
    if not (settings.xmp_sidecars or settings.write_into_files):
        return
    try:
        publish(conn, photo_id, sidecar=settings.xmp_sidecars, naming=settings.xmp_naming,
                into_file=settings.write_into_files)
    except XmpError as exc:
        # A read-only folder fails every photo in it: say so once, keep captioning.
        log.log(logging.WARNING if publish_news(exc) else logging.DEBUG, "XMP not written: %s", exc)
