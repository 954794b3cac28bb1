"""Captioning throughput: photocap's pipeline against the BLIP model card's loop (goal on CPU: 3.5x).

Uses blip-base's real weights when they are downloaded, else the same architecture with random weights
(the same compute: decoding is forced to exactly 20 new tokens, greedy, in every run). The photos are
generated 12 MP JPEGs (4000x3000, quality 90).

- baseline: the model card loop, one photo at a time, fp32 (PIL open + convert, processor, generate, decode).
- photocap: Captioner.caption_paths with its automatic precision and the given batch size, then forced
  to fp32 so the pipeline's gain shows apart from the precision's.
- on CUDA also fp16 at the best of batch sizes 8 to 128.

Each run is a child process, so its peak memory (RSS) is its own. The last line is one JSON object.
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

NEW_TOKENS = 20


def make_photos(folder: Path, count: int) -> list[Path]:
    """Photo-like 12 MP JPEGs: soft gradients and shapes plus sensor-like noise (so JPEG has work to do)."""
    rnd = random.Random(7)
    size = (4000, 3000)
    paths = []
    for i in range(count):
        channels = [
            Image.linear_gradient("L").rotate(rnd.uniform(0, 360)).resize(size, Image.Resampling.BILINEAR),
            Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR),
            Image.linear_gradient("L").rotate(rnd.uniform(0, 360)).resize(size, Image.Resampling.BILINEAR),
        ]
        im = Image.merge("RGB", channels)
        draw = ImageDraw.Draw(im)
        for _ in range(12):
            x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
            r = rnd.randrange(100, 900)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
        im = im.filter(ImageFilter.GaussianBlur(3))
        noise = Image.merge("RGB", [Image.effect_noise(size, 40) for _ in range(3)])
        im = Image.blend(im, noise, 0.15)
        path = folder / f"IMG_{i:04d}.jpg"
        im.save(path, quality=90)
        paths.append(path)
    return paths


def model_folder(scratch: Path) -> tuple[Path, str]:
    """blip-base's real files if downloaded, else a saved random-weight model of the same architecture."""
    from photocap.vision import registry

    found = registry.find_local(registry.resolve("blip-base"))
    if found is not None and registry.has_weights(found):
        return found, "real blip-base weights"
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    folder = scratch / "blip-base-random"
    folder.mkdir()
    config = BlipConfig(vision_config={"initializer_range": 0.02})  # realistic magnitudes, no denormals
    text = config.text_config
    # A word-piece vocabulary with BLIP's ids where they matter: [PAD] 0, [SEP] 102, [DEC] 30522.
    vocab = [f"w{i}" for i in range(text.vocab_size)]
    vocab[0], vocab[100], vocab[101], vocab[text.sep_token_id], vocab[103] = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
    vocab[text.bos_token_id], vocab[text.bos_token_id + 1] = "[DEC]", "[ENC]"
    vocab_file = scratch / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab_file), bos_token="[DEC]")  # positional: vocab_file= is ignored
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    BlipProcessor(image_processor=BlipImageProcessorPil(), tokenizer=tokenizer).save_pretrained(folder)
    return folder, "random weights, blip-base architecture"


# ---- runs (each in its own process) ----------------------------------------------------------------


def run_baseline(folder: Path, paths: list[Path], device: str) -> None:
    """The model card's loop: one image at a time, fp32."""
    import torch
    from transformers import BlipForConditionalGeneration, BlipProcessor

    processor = BlipProcessor.from_pretrained(folder)
    model = BlipForConditionalGeneration.from_pretrained(folder, use_safetensors=True).to(device)

    def caption(path: Path) -> str:
        raw = Image.open(path).convert("RGB")
        inputs = processor(raw, return_tensors="pt").to(device)
        out = model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, num_beams=1)
        return processor.decode(out[0], skip_special_tokens=True)

    caption(paths[0])  # warm-up
    _timed(lambda: [caption(p) for p in paths], len(paths), "fp32", 1, device, torch)


def run_photocap(folder: Path, paths: list[Path], device: str, precision: str, batch_size: int, workers: int) -> None:
    import torch

    from photocap.library.images import open_image
    from photocap.vision.captioner import CaptionOptions, Captioner
    from photocap.vision.loader import load

    loaded = load(str(folder), device=device, precision=precision)
    options = CaptionOptions(num_beams=1, min_new_tokens=NEW_TOKENS, max_new_tokens=NEW_TOKENS, repetition_penalty=1.0)
    captioner = Captioner(loaded, options, batch_size=batch_size)
    warm = [open_image(p, max_side=2 * loaded.image_size) for p in paths[:batch_size]]
    captioner.caption_images(warm)  # warm-up: one batch of the real shape

    def work():
        results = list(captioner.caption_paths(paths, decode_workers=workers))
        assert all(isinstance(r, list) for _, r in results)

    precision_name = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[loaded.dtype]
    _timed(work, len(paths), precision_name, batch_size, loaded.device, torch)


def _timed(work, count: int, precision: str, batch_size: int, device: str, torch) -> None:
    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    work()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "images": count,
        "seconds": round(seconds, 2),
        "ips": round(count / seconds, 4),
        "cpu_seconds": round(_cpu_seconds() - cpu0, 1),
        "precision": precision,
        "batch_size": batch_size,
        "device": device,
        "peak_rss_mb": round(peak_kb / 1024),
    }
    if device.startswith("cuda"):
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    print("RESULT " + json.dumps(result), flush=True)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- driver ------------------------------------------------------------------------------------------


def child(args: argparse.Namespace, mode: str, paths: list[Path], **extra) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--folder", str(args.folder), "--device", args.device,
               "--decode-workers", str(args.decode_workers)]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    command += ["--paths", *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def show(label: str, r: dict) -> None:
    print(f"{label:<34} {r['ips']:.3f} images/s  ({r['seconds'] / r['images']:.2f} s/image, {r['precision']}, "
          f"batch {r['batch_size']}, {r['cpu_seconds']} CPU s, peak RSS {r['peak_rss_mb']} MB)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16, help="how many 12 MP photos (default 16)")
    parser.add_argument("--batch-size", type=int, default=8, help="photocap's batch size (default 8)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--decode-workers", type=int, help="photocap's JPEG decoding threads (default: 2 on CPU, "
                        "one per core up to 16 on a GPU, which would otherwise wait for JPEGs)")
    parser.add_argument("--child", choices=["baseline", "photocap"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "baseline":
        return run_baseline(args.folder, args.paths, args.device)
    if args.child == "photocap":
        return run_photocap(args.folder, args.paths, args.device, args.precision, args.batch_size, args.decode_workers)

    from photocap.vision.loader import choose_device

    args.device = choose_device(args.device)
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

        baseline = child(args, "baseline", paths)
        show("baseline (model card loop)", baseline)
        auto = child(args, "photocap", paths, batch_size=args.batch_size, precision="auto")
        show("photocap (auto precision)", auto)
        if auto["precision"] == "fp32":
            fp32 = auto
            print("photocap forced to fp32: auto already chose fp32 here", flush=True)
        else:
            fp32 = child(args, "photocap", paths, batch_size=args.batch_size, precision="fp32")
            show("photocap (forced fp32)", fp32)

        report = {
            "device": args.device,
            "weights": weights,
            "images": len(paths),
            "batch_size": args.batch_size,
            "baseline_ips": baseline["ips"],
            "photocap_ips": auto["ips"],
            "ratio": round(auto["ips"] / baseline["ips"], 2),
            "photocap_precision": auto["precision"],
            "photocap_fp32_ips": fp32["ips"],
            "ratio_fp32": round(fp32["ips"] / baseline["ips"], 2),
            "baseline_peak_rss_mb": baseline["peak_rss_mb"],
            "photocap_peak_rss_mb": auto["peak_rss_mb"],
        }
        if args.device.startswith("cuda"):
            report.update(cuda_sweep(args, paths))
    print(f"photocap / baseline: {report['ratio']}x ({report['photocap_precision']}), "
          f"{report['ratio_fp32']}x in fp32 (goal on CPU: 3.5x)")
    print(json.dumps(report))


def cuda_sweep(args: argparse.Namespace, paths: list[Path]) -> dict:
    """fp16 at batch sizes 8..128; enough photos (the same files again) for several batches of each."""
    best = None
    for batch_size in (8, 16, 32, 64, 128):
        many = [paths[i % len(paths)] for i in range(max(len(paths), 4 * batch_size))]
        r = child(args, "photocap", many, batch_size=batch_size, precision="fp16")
        show(f"photocap fp16, batch {batch_size}", r)
        if best is None or r["ips"] > best["ips"]:
            best = r
    return {"cuda_fp16_best_ips": best["ips"], "cuda_fp16_best_batch": best["batch_size"],
            "cuda_fp16_peak_gpu_mb": best.get("peak_gpu_mb")}


if __name__ == "__main__":
    main()
