"""Captioning on Ray against one machine: images/s locally, on Ray with 1 and 2 workers, and the driver's limits.

The same photos (generated 12 MP JPEGs) and the same model (blip-base's architecture with random weights,
or its real weights when downloaded; exactly 20 new tokens, greedy) are captioned three ways, each into its
own fresh library, in this one run:

- local: photocap's own pipeline on this machine (Engine.caption_pending: CaptionLoop and Captioner), no Ray;
- ray1:  `--cluster local:1` (photocap.cluster.ClusterRun): Ray started here, one caption worker;
- ray2:  `--cluster local:2`: two caption workers.

Threads: the local pipeline uses torch's default (one thread per core). A Ray worker gets a fair share of the
cores: `local:N` gives each of its N workers cores // N torch threads (torch.set_num_threads in the actor),
and Ray one logical CPU more for reading and decoding, so ray1 has what the local pipeline has and ray2 splits
it in two. Images/s are steady-state: from the first finished batch to the last, by when each batch was finished
(Ray's workers stamp it; Ray hands results over a task at a time, sometimes several together). Model
loading and Ray's start come before the first batch and are reported apart, as the time to the first
result; end-to-end images/s count them in. The overhead Ray adds per photo is
(1/ray1_ips - 1/local_ips) * 1000 ms; the scaling is ray2_ips / ray1_ips.

Then the driver's limits, for sizing a large cluster: how many results per second the library's one writer
records (the write path alone: claim, CaptionLoop.record with a caption, tags and a 256-d vector; no model),
and how many MB/s of file bytes --ship-files moves out of this machine (read where the library is, handed
to another Ray worker process through Ray's object store).

The last line is one JSON object: local_ips, ray1_ips, ray2_ips, overhead_ms_per_photo, scaling_1_to_2,
writer_results_per_s, ship_mb_per_s, and the cpu, device, photos, batch size and threads per worker.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from caption_throughput import NEW_TOKENS, make_photos, model_folder  # noqa: E402  (the same photos and model)
from embed_overhead import cpu_name  # noqa: E402  (lscpu's model name)

from photocap.config import Settings  # noqa: E402
from photocap.engine import Engine  # noqa: E402


def settings(db: Path, model: Path, args: argparse.Namespace) -> Settings:
    # No embedding model: both sides caption only (the same work), without a search model to load.
    return Settings(db=str(db), model=str(model), embed_model=str(db.parent / "no-embedding-model"),
                    device=args.device, batch_size=args.batch_size, num_beams=1,
                    min_new_tokens=NEW_TOKENS, max_new_tokens=NEW_TOKENS)


class Clock:
    """Steady-state rate: photos per second from the first finished batch to the last, by the times the
    batches were finished (wall clock; Ray's workers stamp their own, since Ray hands results over a task
    at a time, sometimes several together). Model loading and Ray's start fall before the first batch and
    are reported apart (time to the first result); end-to-end images/s count them in."""

    def __init__(self) -> None:
        self.start = time.time()
        self.batches: list[tuple[float, int]] = []      # (finished, photos)
        self.last_recorded = self.start

    def tick(self, finished: Iterable[tuple[float, int]]) -> None:
        self.batches = sorted(finished)
        self.last_recorded = time.time()

    def result(self) -> dict:
        assert len(self.batches) >= 3, "too few batches for a steady rate: use more photos"
        (t0, _), (t1, _) = self.batches[0], self.batches[-1]
        photos = sum(n for _, n in self.batches)
        wall = self.last_recorded - self.start
        return {"ips": (photos - self.batches[0][1]) / (t1 - t0), "startup_s": t0 - self.start,
                "photos": photos, "wall_s": wall, "end_to_end_ips": photos / wall}


def run_local(scratch: Path, photos: Path, model: Path, args: argparse.Namespace) -> dict:
    clock = Clock()
    with Engine(settings(scratch / "local" / "lib.db", model, args)) as engine:
        engine.index([str(photos)])
        clock = Clock()
        batches: list[tuple[float, int]] = []

        def tick(p) -> None:
            batches.append((time.time(), p.done - sum(n for _, n in batches)))
            clock.tick(batches)

        engine.caption_pending(on_progress=tick)
    return clock.result()


def run_ray(scratch: Path, photos: Path, model: Path, args: argparse.Namespace, workers: int) -> dict:
    from photocap.cluster import ClusterOptions, ClusterRun

    clock = Clock()
    with Engine(settings(scratch / f"ray{workers}" / "lib.db", model, args)) as engine:
        engine.index([str(photos)])
        clock = Clock()
        with ClusterRun(engine, ClusterOptions(address=f"local:{workers}"),
                        on_progress=lambda p: clock.tick(p.finished)) as run:
            threads = run.plan.threads if run.plan else 0
            run.run()
    return {**clock.result(), "threads_per_worker": threads}


def writer_rate(scratch: Path, count: int) -> float:
    """Results per second through the library's one writer, no model: claim, then CaptionLoop.record."""
    import numpy as np

    from photocap.captioning import CaptionLoop
    from photocap.library import db, jobs
    from photocap.vision.captioner import CaptionOptions

    folder = scratch / "writer-photos"
    folder.mkdir()
    source = scratch / "writer-source.jpg"
    from PIL import Image
    Image.new("RGB", (48, 36), "gray").save(source)
    for i in range(count):
        os.link(source, folder / f"w{i:06d}.jpg")    # real files for the scan, one inode
    with Engine(Settings(db=str(scratch / "writer" / "lib.db"))) as engine:
        engine.index([str(folder)])
        conn: db.Library = engine.conn
        loop = CaptionLoop(conn, engine.models)
        options = CaptionOptions.from_settings(engine.settings).to_dict()
        rng = np.random.default_rng(0)
        start = time.monotonic()
        done = 0
        while claimed := jobs.claim(conn, loop.worker, 64):
            rows = [(job, [f"a photography of a w{job.photo_id % 97} on a w{job.photo_id % 89} with a w7"],
                     rng.standard_normal(256).astype(np.float32)) for job in claimed]
            loop.record(rows, model="blip-base", options=options, embed_model="blip-itm-base")
            done += len(rows)
        return done / (time.monotonic() - start)


def ship_rate(scratch: Path, photo: Path, megabytes: int) -> float:
    """MB/s of file bytes that --ship-files reads on this machine and hands to another Ray worker."""
    import ray

    from photocap.cluster_workers import read_files

    folder = scratch / "ship"
    folder.mkdir()
    size = photo.stat().st_size
    count = max(4, megabytes * 2**20 // size)
    files = []
    for i in range(count):
        shutil.copyfile(photo, folder / f"s{i:05d}.jpg")     # separate files: each read from its own
        files.append(str(folder / f"s{i:05d}.jpg"))

    def sizes(batch):                      # another process: the bytes crossed the object store
        return {"n": [len(b) for b in batch["data"]]}

    def move(paths: list[str]) -> int:
        ds = (ray.data.from_items([{"photo_id": i, "path": p} for i, p in enumerate(paths)],
                                  override_num_blocks=max(2, len(paths) // 4))
              .map_batches(read_files, fn_kwargs={"max_bytes": 512 * 2**20}, batch_size=4, num_cpus=0,
                           concurrency=2, resources={here: 0.001})
              .map_batches(sizes, batch_size=4, num_cpus=1))
        return sum(int(n) for batch in ds.iter_batches(batch_size=None, batch_format="numpy") for n in batch["n"])

    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        here = f"node:{ray.util.get_node_ip_address()}"
        move(files[:8])                      # Ray's worker processes started and warm, as in a long run
        start = time.monotonic()
        moved = move(files)
        seconds = time.monotonic() - start
    finally:
        ray.shutdown()
    assert moved == count * size
    return moved / 2**20 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=32, help="how many 12 MP photos (default 32)")
    parser.add_argument("--batch-size", type=int, default=4, help="photocap's batch size (default 4)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: the caption workers' device")
    parser.add_argument("--writer-results", type=int, default=5000,
                        help="results the writer test records (default 5000)")
    parser.add_argument("--ship-mb", type=int, default=256, help="MB of files the ship test moves (default 256)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("photocap").setLevel(logging.ERROR)   # no per-photo lines, no missing-model notes

    scratch = Path(tempfile.mkdtemp(prefix="photocap-cluster-bench-"))
    try:
        photos = scratch / "photos"
        photos.mkdir()
        made = make_photos(photos, args.photos)
        model, kind = model_folder(scratch)
        print(f"{args.photos} photos (12 MP), {kind}, {NEW_TOKENS} new tokens, batch size {args.batch_size}, "
              f"device {args.device}, cpu {cpu_name()} ({os.cpu_count()} cores)", flush=True)
        results = {}
        for name, work in (("local", lambda: run_local(scratch, photos, model, args)),
                           ("ray1", lambda: run_ray(scratch, photos, model, args, 1)),
                           ("ray2", lambda: run_ray(scratch, photos, model, args, 2))):
            results[name] = work()
            r = results[name]
            print(f"{name:6} {r['ips']:.2f} images/s steady, {r['end_to_end_ips']:.2f} end to end "
                  f"(first result after {r['startup_s']:.1f} s, {r['photos']} photos in {r['wall_s']:.1f} s)",
                  flush=True)
        local, ray1, ray2 = (results[k]["ips"] for k in ("local", "ray1", "ray2"))
        overhead = (1 / ray1 - 1 / local) * 1000
        print(f"Ray with one worker: {ray1 / local:.1%} of local; overhead {overhead:.1f} ms per photo; "
              f"1 -> 2 workers: x{ray2 / ray1:.2f}", flush=True)
        writer = writer_rate(scratch, args.writer_results)
        print(f"driver's writer: {writer:.0f} results/s (library write path alone)", flush=True)
        ship = ship_rate(scratch, made[0], args.ship_mb)
        print(f"--ship-files: {ship:.0f} MB/s of file bytes out of this machine's node", flush=True)
        print(json.dumps({
            "local_ips": round(local, 3), "ray1_ips": round(ray1, 3), "ray2_ips": round(ray2, 3),
            "overhead_ms_per_photo": round(overhead, 1), "scaling_1_to_2": round(ray2 / ray1, 3),
            "ray1_vs_local": round(ray1 / local, 3),
            "writer_results_per_s": round(writer), "ship_mb_per_s": round(ship),
            "end_to_end_ips": {k: round(v["end_to_end_ips"], 3) for k, v in results.items()},
            "startup_s": {k: round(v["startup_s"], 1) for k, v in results.items()},
            "load_average": round(os.getloadavg()[0], 1),
            "cpu": cpu_name(), "cores": os.cpu_count(), "device": args.device, "photos": args.photos,
            "batch_size": args.batch_size, "new_tokens": NEW_TOKENS, "model": kind,
            "threads_per_worker": {"local": "torch default", "ray1": results["ray1"]["threads_per_worker"],
                                   "ray2": results["ray2"]["threads_per_worker"]},
        }))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
