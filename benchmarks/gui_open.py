"""The desktop app on a 100,000-photo library: time to the first painted grid, and GUI-thread stalls.

Builds a library that looks like real data (benchmarks/search.py's generator: BLIP-style captions,
tags, dates, camera names, mostly captioned, about 3,000 pending), gives the first screenful and
the pending photos real JPEG files (the rest show placeholders), and opens the main window
offscreen, captioning paused. Then it

  1. times creating the window until the grid has painted rows          (goal: open_s < 1.5)
  2. scrolls the grid from top to bottom in scrollbar steps, then runs a few searches, while a
     5 ms QTimer measures the longest gap between its ticks: the longest GUI-thread stall
  3. resumes captioning (a tiny real model on the worker thread, batches of 8, results written
     and shown as they come) and scrolls and searches again              (goal: max_stall_ms < 50)

    python benchmarks/gui_open.py                # 100,000 photos
    python benchmarks/gui_open.py --rows 20000   # quick

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from PIL import Image  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from photocap.config import Settings  # noqa: E402

SEARCHES = ["dog", "beach -dog", "tag:cat", "woman bench park", "", "after:2020 dog", ""]
REAL_FILES = 300


def load_search_benchmark():
    spec = importlib.util.spec_from_file_location("search_benchmark", REPO / "benchmarks" / "search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def give_real_files(db_path: Path, folder: Path, count: int) -> int:
    """The newest photos (the first screenful) and the pending ones get real JPEG files; the
    others stay absent. Captioning starts paused. Returns how many photos are pending."""
    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    newest = conn.execute("SELECT id FROM photos WHERE status != 'missing'"
                          " ORDER BY taken_at DESC, id DESC LIMIT ?", (count,)).fetchall()
    pending = conn.execute("SELECT id FROM photos WHERE status = 'pending'").fetchall()
    noise = Image.effect_noise((400, 300), 50).convert("RGB")
    conn.execute("BEGIN")
    for i, (photo_id,) in enumerate(newest):
        path = folder / f"IMG_{i:05d}.jpg"
        noise.rotate(i * 7).save(path, "JPEG", quality=85)
        conn.execute("UPDATE photos SET path = ? WHERE id = ?", (str(path), photo_id))
    template = folder / "template.jpg"
    noise.save(template, "JPEG", quality=85)
    for (photo_id,) in pending:
        path = folder / f"pending_{photo_id}.jpg"
        shutil.copyfile(template, path)
        conn.execute("UPDATE photos SET path = ? WHERE id = ?", (str(path), photo_id))
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('captioning_paused', '1')")
    conn.execute("COMMIT")
    conn.close()
    return len(pending)


class PaintWatch(QObject):
    """Notes when the grid's viewport paints while the model has rows."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.painted = False

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint and self.model.rowCount() > 0:
            self.painted = True
        return False


class StallMeter:
    """A 5 ms timer on the GUI thread: the longest gap between two ticks is the longest stall."""

    def __init__(self):
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.worst = 0.0

    def start(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def stop(self) -> float:
        self.timer.stop()
        self._tick()
        return self.worst * 1000


def scroll_and_search(app: QApplication, window, steps: int,
                      meter: StallMeter) -> tuple[float, float, bool]:
    """Scroll top to bottom, then search; the longest stalls of each, and whether it got down."""
    bar = window.grid.verticalScrollBar()
    meter.start()
    bottom = bar.maximum()
    for step in range(steps + 1):
        bar.setValue(bottom * step // steps)
        spin(app, 0.012)
    scroll_stall = meter.stop()
    at_bottom = bar.value() == bar.maximum()
    meter.start()
    for query in SEARCHES:
        window.search.setText(query)
        spin(app, 0.8)
        bar.setValue(bar.maximum() // 2)
        spin(app, 0.1)
    return scroll_stall, meter.stop(), at_bottom


def spin(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=400, help="scrollbar positions from top to bottom")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
            os.environ[var] = str(tmp / var.lower())
        db_path = tmp / "library.db"
        print(f"building a library of {args.rows:,} photos ...", file=sys.stderr, flush=True)
        built = load_search_benchmark().build(db_path, args.rows)
        pending = give_real_files(db_path, tmp / "files", REAL_FILES)
        from tiny_models import build_tiny_blip
        model_dir = build_tiny_blip(tmp / "tiny-blip")
        print(f"built in {built:.1f} s", file=sys.stderr, flush=True)
        settings = Settings(db=str(db_path), model=str(model_dir), min_new_tokens=2, max_new_tokens=5,
                            num_beams=1, batch_size=8)

        app = QApplication([])
        from photocap.gui.main_window import MainWindow
        meter = StallMeter()
        meter.start()
        started = time.perf_counter()
        window = MainWindow(settings)
        watch = PaintWatch(window.model)
        window.grid.viewport().installEventFilter(watch)
        window.show()
        while not watch.painted:
            app.processEvents()
        open_s = time.perf_counter() - started
        spin(app, 2.0)                              # the batched layout finishes
        open_stall = meter.stop()
        rows = window.model.rowCount()
        idle = scroll_and_search(app, window, args.steps, meter)

        window.status.pause_button.click()          # resume: the worker loads the model, captions
        spin(app, 3.0)
        busy = scroll_and_search(app, window, args.steps, meter)
        captioned = window.status.progress_label.text()
        window.close()

    result = {"rows": rows, "open_s": round(open_s, 3),
              "max_stall_ms": round(max(*idle[:2], *busy[:2]), 1),
              "idle_scroll_stall_ms": round(idle[0], 1), "idle_search_stall_ms": round(idle[1], 1),
              "busy_scroll_stall_ms": round(busy[0], 1), "busy_search_stall_ms": round(busy[1], 1),
              "open_phase_stall_ms": round(open_stall, 1), "scrolled_to_bottom": idle[2] and busy[2]}
    print(f"first painted grid:  {open_s:.3f} s (goal < 1.5 s)")
    print(f"longest stalls, captioning paused:  scrolling {idle[0]:.1f} ms, searching {idle[1]:.1f} ms")
    print(f"longest stalls, captioning {pending:,} photos: scrolling {busy[0]:.1f} ms, "
          f"searching {busy[1]:.1f} ms (goal < 50 ms; at the end: {captioned})")
    print(f"longest stall while opening (layout, worker start-up): {open_stall:.1f} ms")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
