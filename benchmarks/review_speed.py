"""Review mode at speed: from a key press to the next photo fully shown, and the GUI thread's stalls.

The photos are 12 MP JPEGs (4000 x 3000): a handful of distinct ones are made (smooth shapes and
fine grain, about the size a camera writes), then copied to 2,000 files with distinct names (each
copy gets a few different bytes after the image, so no two files are equal). The library is real,
built with the library's own functions: every photo recorded with three machine captions and tags
(no model is needed). Review mode opens offscreen at a laptop window's size over all of them, and
synthetic key presses drive it (QTest.keyClick: Enter mostly, Space now and then), with a short
pause after each photo is shown, as a person reads it (--think-ms).

Measured:
  - next_*: from the key press to the next photo painted with its picture decoded at the view's size;
  - max_stall_ms: the longest gap between the ticks of a 5 ms QTimer on the GUI thread, over the run;
  - the same review with preloading switched off (each picture decoded on demand, by the same
    helper processes) over the first --baseline photos, as the baseline, and the ratio of their p95.
The GUI thread's CPU time during its longest stall tells work on it from waiting for a core.
Goal: next_p95_ms <= 50 and max_stall_ms <= 50.

    python benchmarks/review_speed.py                # 2,000 photos (about 3 minutes on 2 cores)
    python benchmarks/review_speed.py --photos 200   # quick

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from embed_overhead import cpu_name  # noqa: E402  (beside this script: lscpu's model name)
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from photocap.gui.lanes import DbLane  # noqa: E402
from photocap.gui.review import ReviewMode  # noqa: E402
from photocap.gui.review_images import decode_to_fit  # noqa: E402
from photocap.library import db, photos  # noqa: E402

SIZE = (4000, 3000)
DISTINCT = 6
WINDOW = (1280, 820)
CAPTIONS = ["a man riding a bike down a street", "a person on a bicycle in the city", "a cyclist"]


def camera_like(seed: int) -> Image.Image:
    """A 12 MP picture that compresses like a photo: soft shapes over a gradient, with grain."""
    small = Image.linear_gradient("L").resize((400, 300)).convert("RGB")
    draw = ImageDraw.Draw(small)
    for k in range(12):
        x, y = (seed * 97 + k * 53) % 400, (seed * 61 + k * 37) % 300
        draw.ellipse((x - 40, y - 30, x + 40, y + 30), fill=((k * 40 + seed * 30) % 256, (k * 90) % 256, 160))
    big = small.filter(ImageFilter.GaussianBlur(6)).resize(SIZE, Image.Resampling.BILINEAR)
    grain = Image.effect_noise(SIZE, 30).convert("RGB")
    return Image.blend(big, grain, 0.25)


def make_photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for seed in range(DISTINCT):
        path = folder / f"source_{seed}.jpg"
        camera_like(seed).save(path, "JPEG", quality=92)
        sources.append(path.read_bytes())
    made = []
    for i in range(count):
        path = folder / f"IMG_{i:05d}.jpg"
        path.write_bytes(sources[i % DISTINCT] + i.to_bytes(4, "big"))   # after the image's end: ignored
        made.append(path)
    return made


def build_library(db_path: Path, files: list[Path]) -> list[int]:
    conn = db.connect(db_path)
    ids = []
    for i, path in enumerate(files):
        st = path.stat()
        info = photos.FileInfo(size=st.st_size, mtime=st.st_mtime, hash=f"bench{i:08d}", width=SIZE[0],
                               height=SIZE[1])
        photo_id = photos.add(conn, str(path), info, None)
        photos.set_auto_captions(conn, photo_id, CAPTIONS, model="blip-base", tags=["bike", "street"])
        ids.append(photo_id)
    conn.close()
    return ids


class StallMeter:
    """A 5 ms timer on the GUI thread: the longest gap between two ticks is the longest stall."""

    def __init__(self):
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.worst = self.worst_cpu = 0.0
        self.last_cpu = time.thread_time()
        self.over_50ms = 0

    def start(self) -> None:
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        self.worst = self.worst_cpu = 0.0
        self.over_50ms = 0
        self.timer.start()

    def _tick(self) -> None:
        # The GUI thread's own CPU time in the gap tells work on it from waiting (for a core, the GIL).
        now, cpu = time.perf_counter(), time.thread_time()
        if now - self.last > self.worst:
            self.worst, self.worst_cpu = now - self.last, cpu - self.last_cpu
        self.over_50ms += now - self.last > 0.05
        self.last, self.last_cpu = now, cpu

    def stop(self) -> float:
        self.timer.stop()
        self._tick()
        return self.worst * 1000


def spin(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def review_run(app: QApplication, db_path: Path, ids: list[int], *, ahead: int, think: float,
               meter: StallMeter) -> tuple[list[float], float]:
    """Drive review mode over `ids`; the key-to-shown times (ms) and the longest GUI stall (ms)."""
    conn = db.connect(db_path)
    lane = DbLane(db_path)
    widget = ReviewMode(conn, lane, ids, ahead=ahead, title="benchmark")
    widget.resize(*WINDOW)
    widget.show()
    painted: list[int] = []
    widget.view.painted.connect(painted.append)
    spin(app, 0.5)                                    # laid out, the first pictures decoded
    deadline = time.perf_counter() + 30
    while widget.view.showing() != ids[0] and time.perf_counter() < deadline:
        spin(app, 0.01)
    times = []
    meter.start()
    for step in range(len(ids) - 1):
        expected = ids[step + 1]
        painted.clear()
        start = time.perf_counter()
        QTest.keyClick(widget, Qt.Key.Key_Space if step % 7 == 3 else Qt.Key.Key_Return)
        while expected not in painted:
            app.processEvents()
            if time.perf_counter() - start > 10:
                raise SystemExit(f"photo {expected} was not shown within 10 s")
            if expected not in painted:
                time.sleep(0.0005)
        times.append((time.perf_counter() - start) * 1000)
        spin(app, think)
    stall = meter.stop()
    print(f"  stalls over 50 ms: {meter.over_50ms}; the GUI thread ran {meter.worst_cpu * 1000:.1f} ms of the "
          f"longest; load average {os.getloadavg()[0]:.1f}")
    lane.wait()
    spin(app, 0.2)
    widget.stop()
    widget.close()
    lane.close()
    conn.close()
    return times, stall


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--baseline", type=int, default=200, help="photos reviewed without preloading")
    parser.add_argument("--think-ms", type=float, default=100.0, help="pause after each photo is shown")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="photocap-review-bench-") as tmp:
        folder = Path(tmp) / "Pictures"
        t0 = time.perf_counter()
        files = make_photos(folder, args.photos)
        db_path = Path(tmp) / "library.db"
        ids = build_library(db_path, files)
        print(f"{len(ids):,} photos of {SIZE[0]}x{SIZE[1]} ({files[0].stat().st_size / 1e6:.1f} MB each) "
              f"and their library made in {time.perf_counter() - t0:.1f} s")
        os.sync()       # the setup's gigabytes go to disk now, not while the review is measured
        from PySide6.QtCore import QSize
        box = QSize(760, 700)
        decode = [0.0] * 5
        for k in range(5):
            s = time.perf_counter()
            decode_to_fit(str(files[k]), box)
            decode[k] = (time.perf_counter() - s) * 1000
        print(f"decoding one photo to the view's size on this thread: {statistics.median(decode):.0f} ms")

        meter = StallMeter()
        think = args.think_ms / 1000
        base_ids = ids[:min(args.baseline, len(ids))]
        base, base_stall = review_run(app, db_path, base_ids, ahead=0, think=think, meter=meter)
        print(f"baseline, decoded on demand ({len(base_ids):,} photos): next photo p50 {pct(base, 50):.1f} ms, "
              f"p95 {pct(base, 95):.1f} ms; longest stall {base_stall:.1f} ms")
        t1 = time.perf_counter()
        times, stall = review_run(app, db_path, ids, ahead=4, think=think, meter=meter)
        print(f"preloaded ({len(ids):,} photos, {time.perf_counter() - t1:.0f} s): next photo p50 "
              f"{pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms, max {max(times):.1f} ms; "
              f"longest stall {stall:.1f} ms")
    p95 = pct(times, 95)
    result = {"photos": len(ids), "megapixels": SIZE[0] * SIZE[1] / 1e6, "think_ms": args.think_ms,
              "next_p50_ms": round(pct(times, 50), 1), "next_p95_ms": round(p95, 1),
              "next_max_ms": round(max(times), 1), "max_stall_ms": round(stall, 1),
              "baseline_photos": len(base_ids), "baseline_next_p50_ms": round(pct(base, 50), 1),
              "baseline_next_p95_ms": round(pct(base, 95), 1), "baseline_max_stall_ms": round(base_stall, 1),
              "baseline_over_preloaded_p95": round(pct(base, 95) / max(p95, 0.01), 1),
              "decode_ms": round(statistics.median(decode), 1), "cpu": cpu_name(), "cores": os.cpu_count()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
