"""The headless daemon behind `photocap watch`: the librarian's thread plus the caption loop.

SIGTERM and SIGINT stop it cleanly: the batch in flight is finished and recorded, whatever else
was claimed goes back to the queue.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any, Callable

from photocap.engine import Engine
from photocap.librarian import Librarian
from photocap.library import roots

log = logging.getLogger("photocap.daemon")

MODEL_RETRY_SECONDS = 60.0


def run(engine: Engine, folders: list[str], *, once: bool = False,
        stop: threading.Event | None = None, force_polling: bool = False,
        clock: Callable[[], float] = time.monotonic, cluster: Any = None) -> int:
    """Watch and caption until `stop` (or a signal); `clock` times the waits (tests skip it ahead).
    With `cluster` (photocap.cluster.ClusterOptions) the captioning runs on a Ray cluster."""
    from photocap.vision.loader import ModelUnavailable

    stop = stop or threading.Event()
    wake = threading.Event()
    for folder in folders:
        roots.add(engine.conn, folder)
    if not roots.all_roots(engine.conn):
        raise SystemExit("photocap watch: error: no folders: name one, e.g. `photocap watch ~/Pictures`")
    caption_pending, close = _captioning(engine, cluster)   # joins the cluster before our signal handlers
    restore = _stop_on_signals(stop, wake)
    try:
        if once:
            for report in engine.rescan():
                Librarian._log_report(report)
            progress = caption_pending(stop)
            log.info("%s", progress.line())
            return 0
        librarian = Librarian(engine.db_path, engine.settings, wake=wake, force_polling=force_polling,
                              clock=clock)
        librarian.start()
        librarian.ready.wait()
        log.info("watching %d folders; captioning with %s", len(librarian.online), engine.settings.model)
        try:
            while not stop.is_set():
                try:
                    caption_pending(stop, forever=True, wake=wake,
                                    on_progress=lambda p: log.info("%s", p.line()))
                except ModelUnavailable as exc:
                    log.error("%s; photos stay queued, retrying in %.0f s", exc, MODEL_RETRY_SECONDS)
                    _wait(stop, MODEL_RETRY_SECONDS, clock)
        finally:
            librarian.stop()
        log.info("stopped")
        return 0
    finally:
        restore()
        close()


def _captioning(engine: Engine, cluster: Any) -> tuple[Callable[..., Any], Callable[[], None]]:
    """engine.caption_pending, or the same loop on a Ray cluster (one connection for the daemon's life);
    and what to call when done."""
    if cluster is None:
        return engine.caption_pending, lambda: None
    from photocap.cluster import ClusterError, ClusterRun
    runner = ClusterRun(engine, cluster)
    try:
        runner.connect()
    except ClusterError as exc:
        raise SystemExit(f"photocap watch: error: {exc}") from None

    def caption_pending(stop: threading.Event, *, forever: bool = False, wake: threading.Event | None = None,
                        on_progress: Callable | None = None) -> Any:
        runner.on_progress = on_progress or (lambda p: None)
        return runner.run(stop, forever=forever, wake=wake)

    return caption_pending, runner.close


def _wait(stop: threading.Event, seconds: float, clock: Callable[[], float]) -> None:
    """Wait `seconds` by clock, or until stop is set; short real waits let a test's clock jump."""
    until = clock() + seconds
    while not stop.is_set() and (left := until - clock()) > 0:
        stop.wait(min(left, 0.5))


def _stop_on_signals(stop: threading.Event, wake: threading.Event):
    """Install SIGTERM/SIGINT handlers (main thread only); returns a function that restores them."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        log.info("received %s: finishing the batch in flight", signal.Signals(signum).name)
        stop.set()
        wake.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    return lambda: [signal.signal(sig, h) for sig, h in old.items()]
