"""How many 12 MP JPEGs a node can read and decode for the models per second: the CPU side of captioning.

A GPU captions faster than one core decodes 12 MP JPEGs, so a node's decode rate, not its GPU, can set the
pace. Measured here, for 1 thread up to one per core:

- baseline: a plain decode (PIL open, full-size decode, convert, then resize to the model's 2x side);
- photocap: `open_image(path, max_side=...)`, which lets the JPEG decoder scale down while it decodes
  (draft mode) and refuses oversized files before reading them.

The photos are generated 12 MP JPEGs (4000x3000, quality 90, as in caption_throughput.py), read from the page
cache after a first pass (a file server's own rate is measured apart as raw MB/s). The last line is one
JSON object: baseline and photocap images/s at each thread count, the best photocap rate, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from caption_throughput import make_photos  # beside this script: the same photos for every benchmark
from embed_overhead import cpu_name
from PIL import Image

SIDE = 2 * 384                       # what the caption loop asks for: twice BLIP's 384 px input


def plain(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im = im.convert("RGB")
    im.thumbnail((SIDE, SIDE), Image.Resampling.BICUBIC)
    return im


def photocap_open(path: Path) -> Image.Image:
    from photocap.library.images import open_image
    return open_image(path, max_side=SIDE)


def rate(decode, paths: list[Path], threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for im in pool.map(decode, paths):
            assert max(im.size) <= SIDE, im.size
    return len(paths) / (time.perf_counter() - start)


def raw_mb_per_s(paths: list[Path], threads: int) -> float:
    def read(path: Path) -> int:
        return len(path.read_bytes())

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(read, paths))
    return total / 2**20 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24, help="distinct 12 MP photos (default 24)")
    parser.add_argument("--passes", type=int, default=4, help="each thread count reads them this many times")
    parser.add_argument("--max-threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    counts = sorted({t for t in (1, 2, 4, 8, 16, 32, args.max_threads) if t <= args.max_threads})
    with tempfile.TemporaryDirectory(prefix="photocap-decode-") as tmp:
        paths = make_photos(Path(tmp), args.photos)
        size_mb = sum(p.stat().st_size for p in paths) / 2**20 / len(paths)
        work = paths * args.passes
        rate(photocap_open, paths, 1)                  # warm the page cache and imports
        print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; {args.photos} photos of 4000x3000 "
              f"({size_mb:.1f} MB each) x {args.passes} passes, decoded to at most {SIDE} px", flush=True)
        table = {}
        for threads in counts:
            base = rate(plain, work, threads)
            ours = rate(photocap_open, work, threads)
            table[threads] = {"baseline_ips": round(base, 1), "photocap_ips": round(ours, 1)}
            print(f"{threads:3d} threads: baseline {base:7.1f} images/s, photocap {ours:7.1f} images/s "
                  f"({ours / base:.1f}x)", flush=True)
        raw = raw_mb_per_s(work, counts[-1])
        print(f"raw reads from the page cache: {raw:.0f} MB/s ({raw / size_mb:.0f} files/s)")
    best = max(table.values(), key=lambda r: r["photocap_ips"])
    base_best = max(r["baseline_ips"] for r in table.values())
    print(json.dumps({"cpu": cpu_name(), "cores": os.cpu_count(), "threads": table,
                      "photocap_best_ips": best["photocap_ips"], "baseline_best_ips": base_best,
                      "ratio": round(best["photocap_ips"] / base_best, 2), "raw_mb_per_s": round(raw),
                      "mb_per_photo": round(size_mb, 2)}))


if __name__ == "__main__":
    main()
