"""What embedding adds to captioning, per photo (goal on CPU: at most half the caption time).

Full-size models with random weights, built from their configurations (nothing is downloaded): blip-base's
captioner (BlipForConditionalGeneration, BlipConfig defaults) and blip-itm-base's retrieval model
(BlipForImageTextRetrieval: the same BlipConfig defaults, 384 px images, 256-wide projections). Random
weights cost what real ones cost, with one exception that the benchmark removes: they never write the end
token, so every caption is forced to exactly --tokens new tokens (a BLIP caption is about ten words).

The photos are decoded once, as the caption loop does (at most twice the model's side), and the same
images are captioned alone, then embedded; rounds alternate so that other work on the machine slows both
alike. Both models run with photocap's automatic precision and its fused vision attention. The last line
is one JSON object: caption_ms_per_photo, embed_ms_per_photo, overhead_ratio (embed / caption).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import random_blip  # noqa: E402  (beside this script: the same random model for every benchmark)


def photos(count: int, side: int) -> list[Image.Image]:
    """Decoded photo-like images (gradients, shapes, noise), 4:3, `side` pixels on the long edge."""
    rnd = random.Random(7)
    size = (side, side * 3 // 4)
    images = []
    for _ in range(count):
        im = Image.merge("RGB", [Image.linear_gradient("L").rotate(rnd.uniform(0, 360)).resize(size)
                                 for _ in range(3)])
        draw = ImageDraw.Draw(im)
        for _ in range(8):
            x, y, r = rnd.randrange(size[0]), rnd.randrange(size[1]), rnd.randrange(20, side // 4)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
        noise = Image.merge("RGB", [Image.effect_noise(size, 40) for _ in range(3)])
        images.append(Image.blend(im.filter(ImageFilter.GaussianBlur(2)), noise, 0.15))
    return images


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    names = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")]
    return names[0] if names else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=12, help="new tokens per caption (forced)")
    parser.add_argument("--beams", type=int, default=3, help="beam width (the settings' default is 3)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    import torch

    from photocap.vision.captioner import Captioner, CaptionOptions
    from photocap.vision.embedder import Embedder
    from photocap.vision.loader import load

    with tempfile.TemporaryDirectory() as scratch:
        caption_model = load(str(random_blip.build(Path(scratch) / "blip-base", "BlipForConditionalGeneration")),
                             device=args.device, precision=args.precision)
        embed_model = load(str(random_blip.build(Path(scratch) / "blip-itm-base", "BlipForImageTextRetrieval")),
                           device=args.device, precision=args.precision)
    options = CaptionOptions(num_beams=args.beams, min_new_tokens=args.tokens, max_new_tokens=args.tokens,
                             repetition_penalty=1.0)
    captioner = Captioner(caption_model, options, batch_size=args.batch_size)
    embedder = Embedder(embed_model, batch_size=args.batch_size)
    images = photos(args.photos, 2 * caption_model.image_size)

    def timed(work) -> float:
        start = time.perf_counter()
        work()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1000 / len(images)

    warm = images[: args.batch_size]
    captioner.caption_images(warm)
    embedder.embed_images(warm)
    caption_ms, embed_ms = [], []
    for _ in range(args.rounds):
        caption_ms.append(timed(lambda: captioner.caption_images(images)))
        embed_ms.append(timed(lambda: embedder.embed_images(images)))
    caption, embed = statistics.median(caption_ms), statistics.median(embed_ms)
    dtype = str(embed_model.dtype).replace("torch.", "")
    print(f"CPU: {cpu_name()} ({torch.get_num_threads()} torch threads); device {args.device}, {dtype}")
    print(f"{args.photos} photos x {args.rounds} rounds, batches of {args.batch_size}; captions of {args.tokens} "
          f"tokens, {args.beams} beam(s)")
    print(f"caption alone      {caption:8.1f} ms/photo")
    print(f"embedding added    {embed:8.1f} ms/photo  ({embed / caption:.2f} of the caption time)")
    print(json.dumps({"caption_ms_per_photo": round(caption, 1), "embed_ms_per_photo": round(embed, 1),
                      "overhead_ratio": round(embed / caption, 3)}))


if __name__ == "__main__":
    main()
