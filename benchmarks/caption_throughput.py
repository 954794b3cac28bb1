"""Captioning throughput: photocap's pipeline against the BLIP model card's loop (goal on CPU: 3.5x).

Uses blip-base's real weights when they are downloaded, else the same architecture with random weights
(the same compute: decoding is forced to exactly 20 new tokens, greedy, in every run). The photos are
generated 12 MP JPEGs (4000x3000, quality 90).

- baseline: the model card loop, one photo at a time, fp32 (PIL open + convert, processor, generate, decode).
- photocap: Captioner.caption_paths with its automatic precision and the given batch size, and forced
  to fp32 too, so that the pipeline's gain shows apart from the precision's.
- on CUDA also fp16 at the best of batch sizes 8 to 128.

Each contender is its own process, so its peak memory (RSS) is its own; they take turns, one batch of
photos each, so that other work on the machine slows them alike. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import random_blip  # noqa: E402  (beside this script: the same random model for every benchmark)

NEW_TOKENS = 20


def make_photos(folder: Path, count: int) -> list[Path]:
    """Photo-like 12 MP JPEGs: soft gradients and shapes plus sensor-like noise (so JPEG has work to do),
    made on every core (each photo from its own seed: the same photos whatever the core count)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(count, os.cpu_count() or 1) or 1) as pool:
        return list(pool.map(make_photo, [folder] * count, range(count)))


def make_photo(folder: Path, i: int) -> Path:
    rnd = random.Random(7 + i)
    size = (4000, 3000)
    channels = [
        Image.linear_gradient("L").rotate(rnd.uniform(0, 360)).resize(size, Image.Resampling.BILINEAR),
        Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR),
        Image.linear_gradient("L").rotate(rnd.uniform(0, 360)).resize(size, Image.Resampling.BILINEAR),
    ]
    im = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x, y, r = rnd.randrange(size[0]), rnd.randrange(size[1]), rnd.randrange(100, 900)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
    im = im.filter(ImageFilter.GaussianBlur(3))
    noise = Image.merge("RGB", [Image.effect_noise(size, 40) for _ in range(3)])
    path = folder / f"IMG_{i:04d}.jpg"
    Image.blend(im, noise, 0.15).save(path, quality=90)
    return path


def model_folder(scratch: Path) -> tuple[Path, str]:
    """blip-base's real files if downloaded, else a saved random-weight model of the same architecture."""
    from photocap.vision import registry

    found = registry.find_local(registry.resolve("blip-base"))
    if found is not None and registry.has_weights(found):
        return found, "real blip-base weights"
    folder = random_blip.build(scratch / "blip-base-random", "BlipForConditionalGeneration")
    return folder, "random weights, blip-base architecture"


# ---- contenders: each a child process that captions the lists of photos it is sent ----------------


def baseline(folder: Path, device: str, warm: Path):
    """The model card's loop: one image at a time, fp32."""
    from transformers import BlipForConditionalGeneration, BlipProcessor

    processor = BlipProcessor.from_pretrained(folder)
    model = BlipForConditionalGeneration.from_pretrained(folder, use_safetensors=True).to(device)

    def caption(path: Path) -> str:
        raw = Image.open(path).convert("RGB")
        inputs = processor(raw, return_tensors="pt").to(device)
        out = model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, num_beams=1)
        return processor.decode(out[0], skip_special_tokens=True)

    caption(warm)
    return (lambda paths: [caption(p) for p in paths]), "fp32", 1


def photocap(folder: Path, device: str, warm: Path, precision: str, batch_size: int, workers: int):
    import torch

    from photocap.library.images import open_image
    from photocap.vision.captioner import Captioner, CaptionOptions
    from photocap.vision.loader import load

    loaded = load(str(folder), device=device, precision=precision)
    options = CaptionOptions(num_beams=1, min_new_tokens=NEW_TOKENS, max_new_tokens=NEW_TOKENS, repetition_penalty=1.0)
    captioner = Captioner(loaded, options, batch_size=batch_size)
    captioner.caption_images([open_image(warm, max_side=2 * loaded.image_size)] * batch_size)

    def caption(paths):
        results = list(captioner.caption_paths(paths, decode_workers=workers))
        assert all(isinstance(r, list) for _, r in results), results

    names = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
    return caption, names[loaded.dtype], batch_size


def serve(args: argparse.Namespace) -> None:
    """Child side: load and warm up, then caption each JSON list of paths read from stdin."""
    import torch

    if args.child == "baseline":
        caption, precision, batch_size = baseline(args.folder, args.device, args.warm)
    else:
        caption, precision, batch_size = photocap(
            args.folder, args.device, args.warm, args.precision, args.batch_size, args.decode_workers
        )
    print("READY", flush=True)
    for line in sys.stdin:
        paths = [Path(p) for p in json.loads(line)]
        cpu, start = _cpu_seconds(), time.perf_counter()
        caption(paths)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        print("RESULT " + json.dumps({"images": len(paths), "seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu}),
              flush=True)
    peak = {"precision": precision, "batch_size": batch_size,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if args.device.startswith("cuda"):
        peak["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    print("DONE " + json.dumps(peak), flush=True)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Contender:
    """Driver side of one child process."""

    def __init__(self, args: argparse.Namespace, mode: str, warm: Path, **options):
        command = [sys.executable, __file__, "--child", mode, "--folder", str(args.folder), "--device", args.device,
                   "--decode-workers", str(args.decode_workers), "--warm", str(warm)]
        for key, value in options.items():
            command += [f"--{key.replace('_', '-')}", str(value)]
        self.mode = mode
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.totals = {"images": 0, "seconds": 0.0, "cpu_seconds": 0.0}
        self._expect("READY")

    def caption(self, paths: list[Path]) -> None:
        self.proc.stdin.write(json.dumps([str(p) for p in paths]) + "\n")
        self.proc.stdin.flush()
        result = json.loads(self._expect("RESULT "))
        for key in self.totals:
            self.totals[key] += result[key]

    def finish(self) -> dict:
        self.proc.stdin.close()
        report = {**self.totals, **json.loads(self._expect("DONE "))}
        self.proc.wait()
        report["ips"] = report["images"] / report["seconds"]
        return report

    def _expect(self, prefix: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line[len(prefix):]
        sys.exit(f"the {self.mode} run stopped unexpectedly (its error is above)")


def take_turns(contenders: list[Contender], paths: list[Path], chunk: int) -> list[dict]:
    for start in range(0, len(paths), chunk):
        for contender in contenders:
            contender.caption(paths[start : start + chunk])
    return [c.finish() for c in contenders]


def show(label: str, r: dict) -> None:
    print(f"{label:<28} {r['ips']:.3f} images/s  ({r['seconds'] / r['images']:.2f} s/image, {r['precision']}, "
          f"batch {r['batch_size']}, {r['cpu_seconds'] / r['images']:.1f} CPU s/image, "
          f"peak RSS {r['peak_rss_mb']} MB)", flush=True)


def cuda_sweep(args: argparse.Namespace, paths: list[Path]) -> dict:
    """fp16 at batch sizes 8..128, each over several batches (the same files again where needed)."""
    best = None
    for batch_size in (8, 16, 32, 64, 128):
        many = [paths[i % len(paths)] for i in range(max(len(paths), 4 * batch_size))]
        contender = Contender(args, "photocap", paths[0], precision="fp16", batch_size=batch_size)
        (r,) = take_turns([contender], many, len(many))
        show(f"photocap fp16, batch {batch_size}", r)
        if best is None or r["ips"] > best["ips"]:
            best = r
    return {"cuda_fp16_best_ips": round(best["ips"], 3), "cuda_fp16_best_batch": best["batch_size"],
            "cuda_fp16_peak_gpu_mb": best.get("peak_gpu_mb")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16, help="how many 12 MP photos (default 16)")
    parser.add_argument("--batch-size", type=int, default=8, help="photocap's batch size (default 8)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--decode-workers", type=int, help="photocap's JPEG decoding threads (default: 2 on CPU, "
                        "one per core up to 16 on a GPU, which would otherwise wait for JPEGs)")
    for hidden in ("--child", "--folder", "--precision", "--warm"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.folder, args.warm, args.batch_size = Path(args.folder), Path(args.warm), int(args.batch_size)
        args.decode_workers = int(args.decode_workers)
        return serve(args)

    import torch

    from photocap.vision.loader import DeviceError, choose_device, choose_dtype

    try:
        args.device = choose_device(args.device)
    except DeviceError as exc:
        sys.exit(f"caption_throughput: {exc}")
    if args.decode_workers is None:
        args.decode_workers = 2 if args.device == "cpu" else min(16, os.cpu_count() or 2)
    with tempfile.TemporaryDirectory(prefix="photocap-bench-") as tmp:
        scratch = Path(tmp)
        (scratch / "photos").mkdir()
        start = time.perf_counter()
        paths = make_photos(scratch / "photos", args.images)
        print(f"{len(paths)} photos of 4000x3000 made in {time.perf_counter() - start:.0f} s", flush=True)
        args.folder, weights = model_folder(scratch)
        print(f"model: {weights}; device {args.device}; {os.cpu_count()} CPUs; "
              f"{NEW_TOKENS} new tokens per caption, greedy", flush=True)

        contenders = [Contender(args, "baseline", paths[0]),
                      Contender(args, "photocap", paths[0], precision="auto", batch_size=args.batch_size)]
        if choose_dtype(args.device) != torch.float32:
            contenders.append(Contender(args, "photocap", paths[0], precision="fp32", batch_size=args.batch_size))
        results = take_turns(contenders, paths, args.batch_size)
        base, auto = results[0], results[1]
        fp32 = results[2] if len(results) > 2 else auto
        show("baseline (model card loop)", base)
        show("photocap (auto precision)", auto)
        if len(results) > 2:
            show("photocap (forced fp32)", fp32)
        else:
            print("photocap forced to fp32: the same run, auto chose fp32 here")
        report = {
            "device": args.device,
            "weights": weights,
            "images": len(paths),
            "batch_size": args.batch_size,
            "baseline_ips": round(base["ips"], 4),
            "photocap_ips": round(auto["ips"], 4),
            "ratio": round(auto["ips"] / base["ips"], 2),
            "photocap_precision": auto["precision"],
            "photocap_fp32_ips": round(fp32["ips"], 4),
            "ratio_fp32": round(fp32["ips"] / base["ips"], 2),
            "baseline_cpu_s_per_image": round(base["cpu_seconds"] / base["images"], 2),
            "photocap_cpu_s_per_image": round(auto["cpu_seconds"] / auto["images"], 2),
            "baseline_peak_rss_mb": base["peak_rss_mb"],
            "photocap_peak_rss_mb": auto["peak_rss_mb"],
        }
        if args.device.startswith("cuda"):
            report.update(cuda_sweep(args, paths))
    print(f"photocap / baseline: {report['ratio']}x ({report['photocap_precision']}), "
          f"{report['ratio_fp32']}x in fp32 (goal on CPU: 3.5x)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
