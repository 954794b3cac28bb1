"""What a cluster run's Ray Data pipeline runs on the nodes, in Ray's worker processes: reading the files
(--ship-files), decoding the photos as one machine does, and the caption actors. The driver, which
claims the jobs, builds the pipeline and records the results, is photocap.cluster."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from functools import lru_cache
from typing import Any

import numpy as np

from photocap.captioning import embed_or_none
from photocap.library.files import NotRegularFile, open_regular
from photocap.library.images import ImageError, open_image
from photocap.vision.registry import ModelUnavailable, find_local, resolve

DEFAULT_SIDE = 768                # decode size when a node cannot read the model's config (2 x BLIP's 384)


def node_name() -> str:
    """This node as the user knows it: host name and address (and Ray's node id, for nodes on one host)."""
    import ray
    return (f"{socket.gethostname()} ({ray.util.get_node_ip_address()}, "
            f"node {ray.get_runtime_context().get_node_id()[:8]})")


def _error_columns(n: int) -> dict[str, Any]:
    return {"error": np.array([""] * n, dtype=object), "transient": np.zeros(n, dtype=bool)}


def read_files(batch: dict[str, np.ndarray], max_bytes: int) -> dict[str, np.ndarray]:
    """--ship-files, on the library's machine: each file's bytes and mtime, or why not (over `max_bytes`
    is refused from its size, before anything is read)."""
    out = {**batch, **_error_columns(len(batch["path"]))}
    data, mtimes = [], []
    for i, path in enumerate(batch["path"]):
        blob, mtime = b"", 0.0
        try:
            with open_regular(str(path)) as fh:
                st = os.fstat(fh.fileno())
                mtime = st.st_mtime
                if st.st_size > max_bytes:
                    out["error"][i] = (f"too large to send to the cluster: {st.st_size / 2**20:.0f} MiB "
                                       f"(at most {max_bytes / 2**20:.0f} MiB)")
                else:
                    blob = fh.read(max_bytes + 1)[:max_bytes]
        except NotRegularFile as exc:
            out["error"][i] = f"not a file: {exc.kind}"
        except FileNotFoundError:
            out["error"][i] = "file not found"
        except PermissionError:
            out["error"][i], out["transient"][i] = "cannot read: permission denied or locked", True
        except OSError as exc:
            out["error"][i], out["transient"][i] = f"cannot read: {exc.strerror or exc}", True
        data.append(blob)
        mtimes.append(mtime)
    out["data"] = np.array(data, dtype=object)
    out["mtime"] = np.array(mtimes, dtype=float)
    return out


@lru_cache(maxsize=8)
def decode_side(model: str) -> int:
    """The longest side photos are decoded to for `model`: twice its vision input, as Captioner does."""
    try:
        folder = find_local(resolve(model))
        config = json.loads((folder / "config.json").read_text(encoding="utf-8")) if folder else {}
    except (ModelUnavailable, OSError, ValueError):
        return DEFAULT_SIDE
    size = (config.get("vision_config") or {}).get("image_size")
    if isinstance(size, (list, tuple)):
        size = max(size)
    return 2 * int(size) if isinstance(size, int) and size > 0 else DEFAULT_SIDE


def _decode_one(path: str, data: Any, mtime: float, side: int) -> Any:
    if data is None or not len(data):
        return open_image(path, max_side=side)
    # Shipped bytes go through the same decoder (a file) so caps, errors and pixels match one machine.
    suffix = os.path.splitext(path)[1][:16]
    with tempfile.NamedTemporaryFile(prefix="photocap-ship-", suffix=suffix) as tmp:
        tmp.write(bytes(data))
        tmp.flush()
        os.utime(tmp.name, (mtime, mtime))       # "still being written?" is judged by the original's age
        return open_image(tmp.name, max_side=side)


def decode_images(batch: dict[str, np.ndarray], model: str) -> dict[str, np.ndarray]:
    """Decode each photo (path or shipped bytes) to RGB pixels, or carry its error."""
    n = len(batch["photo_id"])
    errors = batch.get("error")
    out: dict[str, Any] = {"photo_id": batch["photo_id"], **_error_columns(n)}
    if errors is not None:
        out["error"], out["transient"] = batch["error"].copy(), batch["transient"].copy()
    pixels, widths, heights = [], [], []
    side = decode_side(model)
    for i in range(n):
        blob, width, height = b"", 0, 0
        if not out["error"][i]:
            try:
                image = _decode_one(str(batch["path"][i]), batch["data"][i] if "data" in batch else None,
                                    float(batch["mtime"][i]) if "mtime" in batch else 0.0, side)
                image = image if image.mode == "RGB" else image.convert("RGB")
                blob, (width, height) = image.tobytes(), image.size
            except ImageError as exc:
                out["error"][i], out["transient"][i] = exc.reason, exc.transient
        pixels.append(blob)
        widths.append(width)
        heights.append(height)
    out.update(pixels=np.array(pixels, dtype=object), width=np.array(widths), height=np.array(heights))
    return out


class CaptionWorker:
    """A caption actor: loads the models once (photocap's loader, this node's device and precision) and
    captions and embeds the decoded photos of each batch."""

    def __init__(self, settings: Any, threads: int, shape: int):
        from photocap.vision.host import ModelHost

        if threads:
            import torch
            torch.set_num_threads(threads)      # this worker's share of the node's cores
        self.node = node_name()
        self.shape = shape
        self.host = ModelHost(settings)
        self.problem = ""
        self.embed_problem = ""
        self.captioner: Any = None
        self.embedder: Any = None
        try:
            self.captioner = self.host.captioner()
        except ModelUnavailable as exc:
            self.problem = str(exc)
            return
        try:
            self.embedder = self.host.embedder()
        except ModelUnavailable as exc:
            self.embed_problem = str(exc)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from PIL import Image

        n = len(batch["photo_id"])
        out: dict[str, Any] = {"photo_id": batch["photo_id"], "error": batch["error"],
                               "transient": batch["transient"], "node": np.array([self.node] * n, dtype=object),
                               "pid": np.full(n, os.getpid()),
                               "unavailable": np.array([self.problem] * n, dtype=object),
                               "embed_problem": np.array([self.embed_problem] * n, dtype=object)}
        captions = [""] * n
        vectors = [b""] * n
        good = [i for i in range(n) if not batch["error"][i]]
        if self.captioner is not None and good:
            images = [Image.frombytes("RGB", (int(batch["width"][i]), int(batch["height"][i])),
                                      batch["pixels"][i]) for i in good]
            # The batch shape of one machine (the last image repeated): the same numbers, the same captions.
            padded = images + [images[-1]] * (self.shape - len(images))
            made = self.captioner.caption_images(padded)[:len(images)]
            for i, texts in zip(good, made, strict=True):
                captions[i] = json.dumps(texts)
            for i, vector in zip(good, embed_or_none(self.embedder, images), strict=True):
                vectors[i] = b"" if vector is None else np.asarray(vector, dtype=np.float32).tobytes()
        out["captions"] = np.array(captions, dtype=object)
        out["vector"] = np.array(vectors, dtype=object)
        out["finished"] = np.full(n, time.time())     # when the worker was done (results can arrive together)
        return out
