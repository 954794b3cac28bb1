"""Keeps a library in step with its folders while photocap runs: watch, settle, record, reconcile.

Runs on its own thread with its own connection (the caption loop owns the model thread). Changes
that settle are recorded at once and the caption loop is woken; a full incremental scan on start and
every `reconcile_minutes` corrects whatever events were missed. A root that vanishes (or whose drive
is unmounted) is marked offline and nothing in it is marked missing; when it returns it is scanned
and watched again. Folders added or removed by another process (the app, `photocap folders`) are
picked up within seconds. Its timing reads an injected monotonic `clock` (tests skip it ahead).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable

from photocap.config import Settings
from photocap.library import db, paths, roots, scan
from photocap.library.watch import Change, Settler, Watcher

log = logging.getLogger(__name__)

ROOT_CHECK_SECONDS = 2.0
RETRY_SCAN_SECONDS = 5.0


class Librarian:
    def __init__(self, db_path: Path, settings: Settings, *, wake: threading.Event | None = None,
                 force_polling: bool = False, clock: Callable[[], float] = time.monotonic):
        self.db_path = db_path
        self.clock = clock
        self.settings = settings
        self.wake = wake or threading.Event()       # set when new photos are queued
        self.force_polling = force_polling
        self.stopping = threading.Event()
        self.ready = threading.Event()              # first reconciliation done, watches in place
        self.online: dict[str, bool] = {}
        self.root_checks = 0                        # root checks done: a test waits for the next one
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
        self.settler = Settler(self.settings.settle_seconds, clock=self.clock)
        try:
            self.reconcile()
            self.ready.set()
            next_reconcile = self.clock() + self.settings.reconcile_minutes * 60
            next_root_check = self.clock() + ROOT_CHECK_SECONDS
            while not self.stopping.is_set():
                due = self.settler.next_due()
                self.watcher.wakeup.wait(0.25 if due is None else min(0.25, max(0.02, due)))
                try:
                    for change in self.watcher.drain():
                        self._handle(change)
                    settled = self.settler.ready()
                    if settled:
                        self._record(settled)
                    t = self.clock()
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
                    next_reconcile = self.clock() + RETRY_SCAN_SECONDS
        finally:
            self.watcher.stop()
            self.conn.close()

    # ---- reconciliation and roots ---------------------------------------------------------------

    def reconcile(self) -> None:
        """Incremental scan of every root; (re)watch the ones that are there."""
        for path in [r.path for r in roots.all_roots(self.conn)]:
            if roots.by_path(self.conn, path) is not None:     # not merged into one scanned before
                self._scan(path)
        self._drop_removed_roots()
        self.wake.set()

    def _scan(self, path: str) -> None:
        try:
            # add=False: a folder the user removed since it was listed stays removed.
            report = scan.scan_root(self.conn, path, follow_links=self.settings.follow_links, add=False)
        except (OSError, sqlite3.IntegrityError) as exc:      # one folder's trouble stops no other
            log.warning("cannot scan %s: %s; retrying at the next check", paths.display(path), exc)
            return
        if report.removed:
            self._drop_removed_roots()
            return
        self._log_report(report)
        self._set_online(report.root, report.online)

    def _check_roots(self) -> None:
        self._drop_removed_roots()
        for root in roots.all_roots(self.conn):
            now_online = roots.present(self.conn, root)
            was = self.online.get(root.path)
            if was and not now_online:
                log.warning("%s went offline: its photos are kept", paths.display(root.path))
                roots.set_scanned(self.conn, root.id, online=False)
                self._set_online(root.path, False)
            elif not was and now_online:
                log.info("%s is %s: reconciling", paths.display(root.path),
                         "new" if was is None else "back")
                self._scan(root.path)
                self.wake.set()
        self.root_checks += 1

    def _drop_removed_roots(self) -> None:
        """Stop watching folders that left the library (removed, or merged into a parent)."""
        current = {r.path for r in roots.all_roots(self.conn)}
        for path in [p for p in self.online if p not in current]:
            self.watcher.unwatch(path)
            del self.online[path]

    def _set_online(self, root: str, online: bool) -> None:
        if online and (not self.online.get(root) or root not in self.watcher.modes):
            self.watcher.watch(root)
        elif not online:
            self.watcher.unwatch(root)
        self.online[root] = online

    def _root_online(self, path: str) -> bool:
        """Is the root holding path there? A delete event is trusted unless its drive went away."""
        root = scan.root_of(self.conn, path)
        return root is not None and roots.present(self.conn, root)

    # ---- single changes -------------------------------------------------------------------------

    def _handle(self, change: Change) -> None:
        if change.kind in ("file", "closed"):
            self.settler.touch(change.path, closed=change.kind == "closed")
        elif change.kind == "dir":
            root = scan.root_of(self.conn, change.path)
            if root is None:
                return
            for path, _ in scan.walk(change.path, [], [], follow_links=self.settings.follow_links,
                                     boundary=root.path):
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
        report = scan.ingest(self.conn, files, follow_links=self.settings.follow_links)
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

