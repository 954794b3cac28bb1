"""More caption candidates on the real CaptionWorker (its own QThread, tiny real BLIP): asked from the GUI
thread while other photos are being captioned, served between batches, and captioning goes on."""

from __future__ import annotations

import threading

import pytest
from helpers import make_photos
from PySide6.QtCore import Qt, QThread

from photocap.config import Settings
from photocap.engine import Engine
from photocap.gui.worker import CaptionWorker
from photocap.library import db, photos

QUEUED = 60          # photos still to caption while the candidates are asked for


@pytest.fixture
def busy_library(tmp_path, settings: Settings):
    """One captioned photo (the one the user reviews) and QUEUED photos waiting for a caption."""
    reviewed = make_photos(tmp_path / "Reviewed", 1)[0]
    with Engine(settings) as engine:
        engine.index([str(reviewed.parent)])
        assert engine.caption_pending().done == 1
        make_photos(tmp_path / "Queued", QUEUED)
        engine.index([str(tmp_path / "Queued")])
        photo_id = photos.by_path(engine.conn, str(reviewed)).id
        first = [c.text for c in photos.captions(engine.conn, photo_id)]
    return settings, photo_id, first, reviewed


@pytest.fixture
def running_worker(qtbot):
    """Start a CaptionWorker on its own QThread as the app does; stopped and joined afterwards."""
    started = []

    def start(settings: Settings) -> CaptionWorker:
        worker = CaptionWorker(settings, threading.Event())
        thread = QThread()
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        started.append((worker, thread))
        thread.start()
        return worker

    yield start
    for worker, thread in started:
        worker.stop()
        assert thread.wait(60_000)


def _counts(settings: Settings) -> dict[str, int]:
    conn = db.connect(settings.db_path())
    try:
        return photos.counts(conn)
    finally:
        conn.close()


@pytest.mark.timeout(180)
def test_more_candidates_arrive_while_other_photos_are_captioned(qtbot, busy_library, running_worker):
    settings, photo_id, first, _ = busy_library
    worker = running_worker(settings)
    events: list[tuple[str, int]] = []           # in the order the worker sent them
    worker.captioned.connect(lambda pid, caps, tags: events.append(("captioned", pid)))
    worker.more_captions_ready.connect(lambda pid, now: events.append(("more", pid)))
    mid_batch, asked = threading.Event(), threading.Event()

    def hold_first_batch(*_args) -> None:
        # On the worker thread, while it records its first batch: the GUI asks right then.
        mid_batch.set()
        asked.wait(60)

    worker.captioned.connect(hold_first_batch, Qt.ConnectionType.DirectConnection)
    qtbot.waitUntil(mid_batch.is_set, timeout=60_000)
    with qtbot.waitSignal(worker.more_captions_ready, timeout=60_000) as ready:
        worker.more_captions(photo_id)            # from the GUI thread, as the review's M key does
        asked.set()
    got_id, now = ready.args
    assert got_id == photo_id
    assert now[: len(first)] == first and len(now) > len(first) and len(set(now)) == len(now)

    # Captioning goes on after the candidates, to the end of the queue.
    qtbot.waitUntil(lambda: _counts(settings)["pending"] == 0, timeout=120_000)
    qtbot.waitUntil(lambda: len(events) == QUEUED + 1, timeout=30_000)
    more_at = events.index(("more", photo_id))
    # Served between batches: the batch in flight was recorded whole (batch_size 2), the rest waited.
    assert more_at == settings.batch_size
    assert {kind for kind, _ in events[more_at + 1:]} == {"captioned"}
    conn = db.connect(settings.db_path())
    try:
        assert [c.text for c in photos.captions(conn, photo_id) if c.source == "auto"] == now
        assert photos.counts(conn)["captioned"] == QUEUED + 1
    finally:
        conn.close()


@pytest.mark.timeout(180)
def test_a_photo_that_cannot_be_decoded_fails_alone_in_one_line(qtbot, busy_library, running_worker):
    settings, photo_id, first, reviewed = busy_library
    reviewed.write_bytes(b"this is not a photo")
    worker = running_worker(settings)
    captioned: list[int] = []
    worker.captioned.connect(lambda pid, caps, tags: captioned.append(pid))
    qtbot.waitUntil(lambda: len(captioned) >= 1, timeout=60_000)

    with qtbot.waitSignal(worker.more_captions_failed, timeout=60_000) as failed:
        worker.more_captions(photo_id)
    got_id, reason = failed.args
    assert got_id == photo_id and reason and "\n" not in reason and reviewed.name in reason
    with qtbot.waitSignal(worker.more_captions_failed, timeout=60_000) as unknown:
        worker.more_captions(999_999)
    assert unknown.args == [999_999, "no photo with id 999999 in the library"]

    qtbot.waitUntil(lambda: _counts(settings)["pending"] == 0, timeout=120_000)
    conn = db.connect(settings.db_path())
    try:
        assert [c.text for c in photos.captions(conn, photo_id)] == first
    finally:
        conn.close()


def test_the_settings_dialog_offers_candidates_for_review(qtbot, settings):
    from photocap.gui.settings import SettingsDialog
    dialog = SettingsDialog(settings.replace(num_captions=3))
    qtbot.addWidget(dialog)
    tip = dialog.num_captions.toolTip()
    assert "candidates" in tip and "review" in tip and "1 to 10" in tip
    assert dialog.num_captions.value() == 3
    label = dialog.num_captions.parentWidget().layout().labelForField(dialog.num_captions).text()
    assert "candidates" in label.lower()
