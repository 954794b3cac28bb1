"""Rescan of an unchanged tree as a fraction of the first scan (goal: under 10%).

Builds a tree of N distinct small JPEGs in folders of 100, scans it into a fresh library, then
scans it again. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from photocap.library import db, scan  # noqa: E402


def build_tree(root: Path, count: int) -> None:
    rng = random.Random(1)
    noise = Image.effect_noise((160, 120), 60).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, "JPEG", quality=90)
    base = buf.getvalue()
    for i in range(count):
        folder = root / f"{2010 + i // 1000}" / f"event-{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        # Bytes after the JPEG end marker keep the image valid and every file distinct.
        (folder / f"IMG_{i:05d}.jpg").write_bytes(base + rng.randbytes(16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pics"
        build_tree(root, args.files)
        conn = db.connect(Path(tmp) / "lib.db")
        t0 = time.perf_counter()
        first = scan.scan_root(conn, str(root))
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = scan.scan_root(conn, str(root))
        rescan_s = time.perf_counter() - t0
    assert first.added == args.files and again.unchanged == args.files, (first, again)
    print(f"first scan of {args.files} files: {first_s:.2f} s ({args.files / first_s:.0f} files/s)")
    print(f"rescan, nothing changed:        {rescan_s:.3f} s")
    print(f"rescan / first scan:            {rescan_s / first_s:.1%} (goal: under 10%)")
    print(json.dumps({"files": args.files, "first_scan_s": round(first_s, 3),
                      "rescan_s": round(rescan_s, 3), "rescan_fraction": round(rescan_s / first_s, 4)}))


if __name__ == "__main__":
    main()
