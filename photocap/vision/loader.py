"""Device and precision choice, and safe, offline model loading.

Loading never touches the network (downloading is registry.pull) and reads weights only from
.safetensors files; pickled .bin weights are refused because unpickling can run code.
"""

from __future__ import annotations

import functools
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from photocap.vision.registry import ModelSpec, ModelUnavailable, find_local, has_weights, not_found, resolve

__all__ = ["DeviceError", "LoadedModel", "ModelUnavailable", "choose_device", "choose_dtype", "load"]

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class DeviceError(ValueError):
    """A device or precision that was asked for but cannot be used; str() is one line."""


@dataclass
class LoadedModel:
    model: Any  # a transformers BLIP / BLIP-2 / SigLIP model, in eval mode on `device`
    processor: Any  # its processor: tokenizer + image processor
    spec: ModelSpec
    device: str
    dtype: torch.dtype

    def to_device(self, batch: Any) -> dict[str, torch.Tensor]:
        """A processor's output on the model's device; pixels in the model's precision."""
        return {
            key: value.to(self.device, self.dtype) if key == "pixel_values" else value.to(self.device)
            for key, value in batch.items()
        }

    @property
    def image_size(self) -> int:
        """The square side, in pixels, that the vision encoder takes."""
        vision = self.model.config.vision_config
        size = getattr(vision, "image_size", None)
        if size is None:  # SigLIP2 NaFlex: a budget of patches, about this square's worth
            return int(vision.num_patches ** 0.5 * vision.patch_size)
        return int(max(size) if isinstance(size, (list, tuple)) else size)


def choose_device(pref: str = "auto") -> str:
    """auto: CUDA, then Apple MPS, else CPU. A named device that is absent is an error, not a fallback."""
    pref = (pref or "auto").strip().lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available() else "cpu"
    kind, _, index = pref.partition(":")
    if kind == "cpu" and not index:
        return "cpu"
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(
                f"device {pref} was asked for, but this PyTorch ({torch.__version__}) sees no CUDA GPU"
            )
        if index and (not index.isdigit() or int(index) >= count):
            raise DeviceError(f"device {pref} does not exist: this machine has {count} CUDA GPU(s)")
        return pref
    if kind == "mps" and not index:
        if not _mps_available():
            raise DeviceError("device mps was asked for, but Apple Metal (MPS) is not available here")
        return "mps"
    raise DeviceError(f"unknown device {pref!r}: use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def choose_dtype(device: str, precision: str = "auto") -> torch.dtype:
    """fp16 on GPUs; on CPU bf16 only where this CPU runs it clearly faster than fp32."""
    precision = (precision or "auto").strip().lower()
    if precision in PRECISIONS:
        return PRECISIONS[precision]
    if precision != "auto":
        raise DeviceError(f"unknown precision {precision!r}: use auto, fp32, bf16 or fp16")
    if device.startswith(("cuda", "mps")):
        return torch.float16
    return torch.bfloat16 if cpu_bf16_is_faster() else torch.float32


@functools.lru_cache(maxsize=1)
def cpu_bf16_is_faster() -> bool:
    """Time a linear layer in both precisions (tens of milliseconds, once per process).

    CPUs without native bf16 (AVX512-BF16, AMX, ARM BF16) emulate it, several times slower than fp32,
    and the capability string torch reports does not say which; measuring does. Runs alternate and the
    best of each counts, so another busy process skews both alike instead of deciding the answer.
    """
    dtypes = (torch.float32, torch.bfloat16)
    inputs = {dtype: (torch.randn(64, 512, dtype=dtype), torch.randn(512, 512, dtype=dtype))
              for dtype in dtypes}
    best = dict.fromkeys(inputs, float("inf"))
    with torch.inference_mode():
        for round_ in range(9):
            for dtype, (x, w) in inputs.items():
                start = time.perf_counter()
                torch.nn.functional.linear(x, w)
                if round_:  # the first round sets kernels up
                    best[dtype] = min(best[dtype], time.perf_counter() - start)
    return best[torch.bfloat16] < 0.7 * best[torch.float32]


def load(spec_or_name: ModelSpec | str, *, device: str = "auto", precision: str = "auto") -> LoadedModel:
    """Load a model and its processor from local files only, ready for inference."""
    spec = resolve(spec_or_name) if isinstance(spec_or_name, str) else spec_or_name
    folder = find_local(spec)
    if folder is None:
        raise not_found(spec)
    _check_weights(spec, folder)
    device = choose_device(device)
    dtype = choose_dtype(device, precision)

    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no tqdm bars on the GUI's or daemon's stderr
    model_class: Any = {
        "blip": transformers.BlipForConditionalGeneration,
        "blip-vqa": transformers.BlipForQuestionAnswering,
        "blip2": transformers.Blip2ForConditionalGeneration,
        "blip-itm": transformers.BlipForImageTextRetrieval,
        "siglip": transformers.SiglipModel,
        "siglip2": transformers.Siglip2Model,
    }[spec.kind]
    where = f"{spec.name} from {folder}" if spec.local_dir is None else str(folder)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its multi-line load report would bury our one line
    try:
        model, info = model_class.from_pretrained(
            folder, dtype=dtype, use_safetensors=True, local_files_only=True, output_loading_info=True
        )
        processor = transformers.AutoProcessor.from_pretrained(
            folder, local_files_only=True, trust_remote_code=False
        )
    except Exception as exc:  # noqa: BLE001 - whatever breaks (files, versions, memory), the model is unusable
        raise ModelUnavailable(f"cannot load {where}: {_reason(exc)}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    _check_complete(where, info)
    _check_tokenizer(where, folder, model, processor)
    model.to(device).eval()
    if spec.kind in ("blip", "blip-vqa", "blip-itm"):
        _fused_vision_attention(model)
    if spec.kind == "blip2":
        processor.tokenizer.padding_side = "left"  # decoder-only LMs continue from the right edge
    return LoadedModel(model, processor, spec, device, dtype)


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _check_complete(where: str, info: dict) -> None:
    """Refuse weights that do not match the architecture exactly.

    transformers fills missing tensors with random values and drops unexpected ones, so a damaged or
    mismatched file would caption with noise. Tied and deliberately ignored keys are not reported.
    """
    found = {
        "missing": {str(key) for key in info.get("missing_keys") or ()},
        "unexpected": {str(key) for key in info.get("unexpected_keys") or ()},
        # mismatched entries are (name, shape in file, shape in model)
        "mismatched": {str(key[0] if isinstance(key, tuple) else key)
                       for key in info.get("mismatched_keys") or ()},
    }
    problems = [f"{len(keys)} {label} (e.g. {min(keys)})" for label, keys in found.items() if keys]
    if problems:
        raise ModelUnavailable(
            f"cannot load {where}: its weights do not match the model ({'; '.join(problems)} tensors); "
            "the files are damaged or incomplete: download or save the model again"
        )


def _check_tokenizer(where: str, folder: Path, model: Any, processor: Any) -> None:
    """Without its vocabulary files transformers builds an empty tokenizer that decodes every caption
    to nothing; refuse the folder instead, so photos wait for a working model rather than fail."""
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is None:
        raise ModelUnavailable(f"cannot load {where}: it has no tokenizer")
    # tokenizer.json holds a whole vocabulary for every kind; the older per-kind files do too.
    files = sorted({"tokenizer.json", *getattr(tokenizer, "vocab_files_names", {}).values()})
    if not any((folder / name).is_file() for name in files):
        raise ModelUnavailable(
            f"cannot load {where}: its tokenizer files are missing (none of {', '.join(files)}); "
            "download or save the model again"
        )
    vocab_size = getattr(model.config.get_text_config(), "vocab_size", None)
    if vocab_size and len(tokenizer) > vocab_size:
        raise ModelUnavailable(
            f"cannot load {where}: its tokenizer has {len(tokenizer)} tokens but the model only "
            f"{vocab_size}; the tokenizer belongs to another model"
        )


def _check_weights(spec: ModelSpec, folder: Path) -> None:
    if has_weights(folder):
        return
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt*")):
        fix = ("re-save it with save_pretrained" if spec.local_dir
               else f"run `photocap models pull {spec.name}`")
        raise ModelUnavailable(
            f"{spec.name}: {folder} has only PyTorch .bin weights, which photocap refuses to load "
            f"(they are pickles and can run code); {fix} to get .safetensors weights"
        )
    raise not_found(spec)


def _fused_vision_attention(model: Any) -> None:
    """Run BLIP's vision attention through torch's fused scaled_dot_product_attention.

    transformers writes BLIP's attention out by hand (matmul, softmax, matmul: "eager" only); the fused
    kernel computes the same numbers without materialising the 577x577 score matrices, which makes the
    vision encoder about a quarter faster on CPU and lets GPUs use flash attention.
    """
    from transformers.models.blip.modeling_blip import BlipAttention

    for module in model.modules():
        if isinstance(module, BlipAttention):
            module.forward = types.MethodType(_sdpa_attention, module)  # type: ignore[method-assign]


def _sdpa_attention(self: Any, hidden_states: torch.Tensor, **_: Any) -> tuple[torch.Tensor, None]:
    batch, length, width = hidden_states.shape
    qkv = self.qkv(hidden_states).view(batch, length, 3, self.num_heads, self.head_dim)
    query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    context = torch.nn.functional.scaled_dot_product_attention(query, key, value, scale=self.scale)
    return self.projection(context.transpose(1, 2).reshape(batch, length, width)), None  # no weights kept
