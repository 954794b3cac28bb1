"""kill -9 in the middle of a review session loses no saved decision.

A real review widget runs in a subprocess over a real library file; key events are posted into its
event loop (Enter, 2 then Enter, E and typing then Enter), each decision is reported once the lane
committed it, and the process is killed with SIGKILL while it accepts photos as fast as it can. A
fresh connection then finds every reported decision, and nothing half written; the picture helper
processes end with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from helpers import make_photos, wait_for, wait_for_line

from photocap.engine import Engine
from photocap.library import db, photos

CANDIDATES = ["a grey stone wall", "a wall of grey stones", "stones"]

DRIVER = textwrap.dedent("""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from pathlib import Path
    from PySide6.QtCore import QEvent, QSocketNotifier, Qt, QTimer
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication
    from photocap.gui.lanes import DbLane
    from photocap.gui.review import ReviewMode
    from photocap.library import db

    app = QApplication([])
    path = Path(sys.argv[1])
    conn = db.connect(path)
    ids = [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY path")]
    widget = ReviewMode(conn, DbLane(path), ids)
    widget.resize(800, 600)
    widget.show()
    widget.decided.connect(lambda photo_id, kind: print("decided", photo_id, kind, flush=True))

    def press(key, text=""):
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.postEvent(widget.focusWidget() or widget,
                                   QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text))

    def type_and_save(text):
        for ch in text:
            press(Qt.Key.Key_A if ch.isalpha() else Qt.Key.Key_Space, ch)
        press(Qt.Key.Key_Return)

    burst = QTimer(interval=2)
    burst.timeout.connect(lambda: press(Qt.Key.Key_Return))

    def command():
        line = sys.stdin.readline().strip()
        if line == "accept":
            press(Qt.Key.Key_Return)
        elif line == "pick2":
            press(Qt.Key.Key_2, "2")
            press(Qt.Key.Key_Return)
        elif line.startswith("edit "):
            press(Qt.Key.Key_E, "e")
            # The editor has the focus once E was handled: type into it then.
            QTimer.singleShot(50, lambda: type_and_save(line[5:]))
        elif line == "burst":
            burst.start()

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(command)
    print("ready", *widget.images.helper_pids(), flush=True)
    app.exec()
""")


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"      # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.timeout(90)
def test_kill_9_mid_review_loses_no_saved_decision(tmp_path, settings):
    folder = tmp_path / "Wall"
    make_photos(folder, 40)
    with Engine(settings) as engine:
        engine.index([str(folder)])
    conn = db.connect(settings.db_path())
    queue = [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY path")]
    for photo_id in queue:
        photos.set_auto_captions(conn, photo_id, CANDIDATES, model="tiny")
    conn.close()

    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, str(driver), str(settings.db_path())], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        helpers = [int(pid) for pid in wait_for_line(proc, "ready", timeout=60)[-1].split()[1:]]
        reported: list[tuple[int, str]] = []
        assert proc.stdin is not None
        for command in ("accept", "pick2", "edit by hand", "accept", "pick2"):
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
            line = wait_for_line(proc, "decided", timeout=30)[-1].split()
            reported.append((int(line[1]), line[2]))
        proc.stdin.write("burst\n")
        proc.stdin.flush()
        for _ in range(3):                        # mid-burst: decisions are being written as it dies
            line = wait_for_line(proc, "decided", timeout=30)[-1].split()
            reported.append((int(line[1]), line[2]))
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # The picture helpers see their input end and exit: nothing is left running.
    assert helpers and wait_for(lambda: not any(running(pid) for pid in helpers), timeout=15)

    conn = db.connect(settings.db_path())
    try:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert [photo_id for photo_id, _ in reported] == queue[:len(reported)]
        approved = {i: [c.text for c in photos.captions(conn, i) if c.approved] for i in queue}
        # The five driven decisions, exactly as made.
        assert approved[queue[0]] == [CANDIDATES[0]]
        assert approved[queue[1]] == [CANDIDATES[1]]
        assert photos.review_state(conn, queue[2])[0] == "edited"
        assert approved[queue[2]] == ["by hand"]
        assert approved[queue[3]] == [CANDIDATES[0]] and approved[queue[4]] == [CANDIDATES[1]]
        # Every reported decision is there; at most the one in flight besides; nothing half written.
        states = [photos.review_state(conn, i)[0] for i in queue]
        decided = next((k for k, s in enumerate(states) if s == "todo"), len(states))
        assert len(reported) <= decided < len(queue)      # killed mid-review
        assert all(s == "todo" for s in states[decided:])
        assert all(len(approved[i]) == 1 for i in queue[:decided])
        assert all(approved[i] == [] for i in queue[decided:])
    finally:
        conn.close()
