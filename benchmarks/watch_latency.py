"""Watch latency and burst throughput of the daemon's machinery (librarian + caption loop).

1. Latency: from a file's last byte written to the photo being found by search with its caption,
   minus the time the model itself took to caption it (goal: under 2 s at the default settle time).
2. Throughput: a burst of N files copied into a watched folder until all are captioned, against
   copying the same files and running `photocap index` on them (ratio of photos per second;
   goal >= 0.9). Both clocks start when the first file is copied.

A tiny BLIP model (built here, as the tests do) keeps the model's share small, so the figures
show the watching overhead. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tiny_models import build_tiny_blip  # noqa: E402

from photocap import config  # noqa: E402
from photocap.engine import Engine  # noqa: E402
from photocap.librarian import Librarian  # noqa: E402
from photocap.library.search import keyword  # noqa: E402


def make_files(folder: Path, n: int, prefix: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"{prefix}{i:05d}.jpg"
        Image.new("RGB", (64, 48), ((i * 37) % 256, (i * 11) % 256, 99)).save(path, quality=90)
        out.append(path)
    return out


class Running:
    """Librarian + caption loop on a thread, as `photocap watch` runs them."""

    def __init__(self, settings: config.Settings):
        self.engine_settings = settings
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.caption_seconds: list[float] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with Engine(self.engine_settings) as engine:
            captioner = engine.models.captioner()
            original = captioner.caption_images

            def timed(images):
                t0 = time.perf_counter()
                out = original(images)
                self.caption_seconds.append(time.perf_counter() - t0)
                return out
            captioner.caption_images = timed
            engine.caption_pending(self.stop, forever=True, wake=self.wake)

    def __enter__(self):
        self.librarian = Librarian(self.engine_settings.db_path(), self.engine_settings, wake=self.wake)
        self.librarian.start()
        self.librarian.ready.wait()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.wake.set()
        self.thread.join(30)
        self.librarian.stop()


def captioned(db_path: Path) -> int:
    from photocap.library import db
    conn = db.connect(db_path, readonly=True)
    try:
        return conn.execute("SELECT count(*) FROM photos WHERE status = 'done'").fetchone()[0]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--latency-samples", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="photocap-watch-bench-"))
    try:
        model = build_tiny_blip(tmp / "model")
        base = config.Settings(model=str(model), num_beams=1, min_new_tokens=2, max_new_tokens=4,
                               batch_size=8)

        # -- latency ------------------------------------------------------------------------------
        pics = tmp / "latency"
        pics.mkdir()
        lib = tmp / "latency.db"
        with Engine(base.replace(db=str(lib))) as e:
            e.index([str(pics)])
        latencies = []
        with Running(base.replace(db=str(lib))) as running:
            conn = Engine(base.replace(db=str(lib))).conn
            for i in range(args.latency_samples):
                src = make_files(tmp / "staging", 1, f"late{i}_")[0]
                data = src.read_bytes()
                target = pics / src.name
                n_before = len(running.caption_seconds)
                with open(target, "wb") as f:
                    f.write(data)
                written = time.perf_counter()
                while True:
                    hits = keyword.search(conn, f'"{src.stem}"', limit=1)
                    if hits and hits[0].caption:
                        break
                    time.sleep(0.005)
                found = time.perf_counter()
                model_s = sum(running.caption_seconds[n_before:])
                latencies.append(found - written - model_s)
                time.sleep(0.2)
        lat_p50 = statistics.median(latencies)
        lat_max = max(latencies)

        # -- throughput: photocap index ----------------------------------------------------------
        # Both contenders start when the files start arriving: copied in, then indexed.
        burst_src = make_files(tmp / "burst-src", args.files, "b")
        index_dir = tmp / "index-pics"
        index_dir.mkdir()
        t0 = time.perf_counter()
        for src in burst_src:
            shutil.copy(src, index_dir / src.name)
        with Engine(base.replace(db=str(tmp / "index.db"))) as e:
            e.index([str(index_dir)])
            e.caption_pending()
        index_s = time.perf_counter() - t0
        assert captioned(tmp / "index.db") == args.files

        # -- throughput: a burst into a watched folder -------------------------------------------
        watch_dir = tmp / "watch-pics"
        watch_dir.mkdir()
        lib = tmp / "watch.db"
        with Engine(base.replace(db=str(lib))) as e:
            e.index([str(watch_dir)])
        with Running(base.replace(db=str(lib))):
            t0 = time.perf_counter()
            for src in burst_src:
                shutil.copy(src, watch_dir / src.name)
            while captioned(lib) < args.files:
                time.sleep(0.05)
            watch_s = time.perf_counter() - t0
        ratio = index_s / watch_s
        print(f"latency, last byte to found by search, model time excluded (settle {base.settle_seconds} s):")
        print(f"  p50 {lat_p50 * 1000:.0f} ms, max {lat_max * 1000:.0f} ms over {len(latencies)} files"
              " (goal < 2000 ms)")
        print(f"burst of {args.files} files: photocap index {index_s:.1f} s ({args.files / index_s:.1f}/s), "
              f"watched folder {watch_s:.1f} s ({args.files / watch_s:.1f}/s)")
        print(f"throughput ratio watch / index: {ratio:.2f} (goal >= 0.9)")
        print(json.dumps({"latency_p50_ms": round(lat_p50 * 1000, 1), "latency_max_ms": round(lat_max * 1000, 1),
                          "index_s": round(index_s, 2), "watch_s": round(watch_s, 2),
                          "throughput_ratio": round(ratio, 3), "files": args.files}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
