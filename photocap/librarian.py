"""Keeps a library in step with its folders while photocap runs: watch, settle, record, reconcile.

Runs on its own thread with its own connection (the caption loop owns the model thread). Changes
that settle are recorded at once and the caption loop is woken; a full incremental scan on start and
every `reconcile_minutes` corrects whatever events were missed. A root that vanishes is marked
offline and nothing in it is marked missing; when it returns it is scanned and watched again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from photocap.config import Settings
from photocap.library import db, paths, roots, scan
from photocap.library.watch import Change, Settler, Watcher

log = logging.getLogger(__name__)

ROOT_CHECK_SECONDS = 2.0
RETRY_SCAN_SECONDS = 5.0


class Librarian:
    def __init__(self, db_path: Path, settings: Settings, *, wake: threading.Event | None = None,
                 force_polling: bool = False):
        self.db_path = db_path
        self.settings = settings
        self.wake = wake or threading.Event()       # set when new photos are queued
        self.force_polling = force_polling
        self.stopping = threading.Event()
        self.ready = threading.Event()              # first reconciliation done, watches in place
        self.online: dict[str, bool] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="photocap-librarian", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self._loop()
        except db.LibraryError as exc:          # the library file itself is gone: nothing to retry
            log.error("the folder watcher stopped: %s", exc)
            self.ready.set()
        except Exception:  # noqa: BLE001 - logged in full: this thread must not die silently
            log.exception("the folder watcher stopped after an error")
            self.ready.set()

    def _loop(self) -> None:
        self.conn = db.connect(self.db_path)
        self.watcher = Watcher(force_polling=self.force_polling)
        self.settler = Settler(self.settings.settle_seconds)
        try:
            self.reconcile()
            self.ready.set()
            next_reconcile = time.monotonic() + self.settings.reconcile_minutes * 60
            next_root_check = time.monotonic() + ROOT_CHECK_SECONDS
            while not self.stopping.is_set():
                due = self.settler.next_due()
                self.watcher.wakeup.wait(0.25 if due is None else min(0.25, max(0.02, due)))
                try:
                    for change in self.watcher.drain():
                        self._handle(change)
                    settled = self.settler.ready()
                    if settled:
                        self._record(settled)
                    t = time.monotonic()
                    if t >= next_root_check:
                        self._check_roots()
                        next_root_check = t + ROOT_CHECK_SECONDS
                    if t >= next_reconcile:
                        self.reconcile()
                        next_reconcile = t + self.settings.reconcile_minutes * 60
                except db.LibraryError:
                    raise
                except Exception:  # noqa: BLE001 - watching goes on; a scan soon mends what was missed
                    log.exception("a folder change could not be recorded; rescanning shortly")
                    next_reconcile = time.monotonic() + RETRY_SCAN_SECONDS
        finally:
            self.watcher.stop()
            self.conn.close()

    # ---- reconciliation and roots ---------------------------------------------------------------

    def reconcile(self) -> None:
        """Incremental scan of every root; (re)watch the ones that are there."""
        for root in roots.all_roots(self.conn):
            report = scan.scan_root(self.conn, root.path)
            self._log_report(report)
            self._set_online(root.path, report.online)
        self.wake.set()

    def _check_roots(self) -> None:
        for root in roots.all_roots(self.conn):
            now_online = self._present(root)
            was = self.online.get(root.path)
            if was and not now_online:
                log.warning("%s went offline: its photos are kept", paths.display(root.path))
                roots.set_scanned(self.conn, root.id, online=False)
                self._set_online(root.path, False)
            elif not was and now_online:
                log.info("%s is back: reconciling", paths.display(root.path))
                report = scan.scan_root(self.conn, root.path)
                self._log_report(report)
                self._set_online(root.path, report.online)
                self.wake.set()

    def _set_online(self, root: str, online: bool) -> None:
        if online and (not self.online.get(root) or root not in self.watcher.modes):
            self.watcher.watch(root)
        elif not online:
            self.watcher.unwatch(root)
        self.online[root] = online

    def _root_online(self, path: str) -> bool:
        root = scan.root_of(self.conn, path)
        return root is not None and self._present(root)

    def _present(self, root: roots.Root) -> bool:
        """There and mounted: an empty folder where photos were is an unmounted mount point."""
        if not scan.root_is_online(root.path):
            return False
        return _has_entries(root.path) or self.conn.execute(
            "SELECT 1 FROM photos WHERE root_id = ? AND status != 'missing' LIMIT 1",
            (root.id,)).fetchone() is None

    # ---- single changes -------------------------------------------------------------------------

    def _handle(self, change: Change) -> None:
        if change.kind in ("file", "closed"):
            self.settler.touch(change.path, closed=change.kind == "closed")
        elif change.kind == "dir":
            for path, _ in scan.walk(change.path, [], []):
                self.settler.touch(path)
        elif change.kind == "deleted":
            self.settler.forget(change.path)
            if self._root_online(change.path):
                n = scan.forget(self.conn, change.path)
                if n:
                    log.info("deleted: %s (%d photos)", paths.display(change.path), n)
        elif change.kind == "moved" and change.dest is not None:
            self.settler.forget(change.path)
            if scan.root_of(self.conn, change.dest) is None:        # moved out of the library
                if self._root_online(change.path):
                    scan.forget(self.conn, change.path)
                return
            if scan.moved(self.conn, change.path, change.dest):
                log.info("moved: %s -> %s", paths.display(change.path), paths.display(change.dest))
            elif os.path.isdir(change.dest):
                self._handle(Change("dir", change.dest))
            else:
                self.settler.touch(change.dest)          # e.g. "photo.jpg.part" -> "photo.jpg"

    def _record(self, files: list[str]) -> None:
        report = scan.ingest(self.conn, files)
        for err in report.errors:
            log.warning("%s", err)
        for photo_path in files:
            log.debug("settled: %s", paths.display(photo_path))
        if report.added or report.updated or report.moved or report.restored:
            log.info("recorded %d new, %d changed, %d moved, %d back",
                     report.added, report.updated, report.moved, report.restored)
            self.wake.set()

    @staticmethod
    def _log_report(report: scan.ScanReport) -> None:
        for err in report.errors:
            log.warning("%s", err)
        log.info("scanned %s: %d photos, %d new, %d moved, %d changed, %d missing",
                 paths.display(report.root), report.files, report.added, report.moved,
                 report.updated, report.missing)


def _has_entries(folder: str) -> bool:
    """An unmounted mount point is an empty folder."""
    try:
        with os.scandir(folder) as it:
            return next(it, None) is not None
    except OSError:
        return False
