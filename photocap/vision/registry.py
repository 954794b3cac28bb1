"""Model presets and local model folders: what a model name means and where its files are.

No torch here, so listing models stays instant. The only network access in photocap is `pull`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "blip-base"
DEFAULT_EMBED_MODEL = "blip-itm-base"
LOCAL_PREFIX = "local:"  # model ids of local folders: "local:<absolute folder>"
# Weights only as safetensors: a .bin file is a pickle and can run code when loaded.
DOWNLOAD_PATTERNS = ["*.safetensors", "*.json", "*.txt", "*.model"]


class ModelUnavailable(Exception):
    """A model that cannot be used (unknown, not downloaded, unsafe files); str() is one line for the user."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str  # hub id, or the local folder as a string
    # "blip" (captions), "blip-vqa" (answers), "blip2" (both); embeddings: "blip-itm" (BLIP retrieval),
    # "siglip" (SigLIP and SigLIP2 at a fixed resolution), "siglip2" (SigLIP2 NaFlex)
    kind: str
    can_caption: bool
    can_ask: bool
    approx_size_mb: int
    local_dir: Path | None = None
    can_embed: bool = False


PRESETS = {
    spec.name: spec
    for spec in (
        ModelSpec("blip-base", "Salesforce/blip-image-captioning-base", "blip", True, False, 990),
        ModelSpec("blip-large", "Salesforce/blip-image-captioning-large", "blip", True, False, 1880),
        ModelSpec("blip-vqa", "Salesforce/blip-vqa-base", "blip-vqa", False, True, 1540),
        ModelSpec("blip2-opt", "Salesforce/blip2-opt-2.7b", "blip2", True, True, 15500),
        ModelSpec("blip2-flan-t5", "Salesforce/blip2-flan-t5-xl", "blip2", True, True, 15800),
        ModelSpec("blip-itm-base", "Salesforce/blip-itm-base-coco", "blip-itm", False, False, 900, can_embed=True),
        ModelSpec("blip-itm-large", "Salesforce/blip-itm-large-coco", "blip-itm", False, False, 1890,
                  can_embed=True),
        # The fixed-resolution SigLIP2 checkpoints are saved as SiglipModel (model_type "siglip").
        ModelSpec("siglip2-base", "google/siglip2-base-patch16-256", "siglip", False, False, 1510, can_embed=True),
    )
}
EMBED_KINDS = ("blip-itm", "siglip", "siglip2")


def resolve(name_or_dir: str) -> ModelSpec:
    """The spec for a preset name, a preset's hub id, or a folder made with save_pretrained (its path, or
    its model id "local:<folder>")."""
    if name_or_dir.startswith(LOCAL_PREFIX):
        name_or_dir = name_or_dir[len(LOCAL_PREFIX):]
    if name_or_dir in PRESETS:
        return PRESETS[name_or_dir]
    for spec in PRESETS.values():
        if spec.source == name_or_dir:
            return spec
    folder = Path(name_or_dir).expanduser()
    if folder.is_dir():
        return _folder_spec(folder)
    if os.sep in name_or_dir or name_or_dir.startswith((".", "~")):
        raise ModelUnavailable(f"model folder {name_or_dir} does not exist")
    raise ModelUnavailable(
        f"unknown model {name_or_dir!r}: use one of {', '.join(PRESETS)}, "
        "or a local folder made with save_pretrained"
    )


def _folder_spec(folder: Path) -> ModelSpec:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelUnavailable(
            f"{folder} is not a model folder: it has no readable config.json (make one with save_pretrained)"
        ) from None
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    size_mb = sum(p.stat().st_size for p in folder.glob("*.safetensors")) // 1_000_000
    kind = _folder_kind(model_type, architectures)
    if kind is None:
        found = ", ".join(architectures) or model_type or "unknown"
        raise ModelUnavailable(
            f"{folder} holds a {found} model; photocap uses BLIP captioning, BLIP VQA, BLIP-2, "
            "BLIP retrieval (BlipForImageTextRetrieval) or SigLIP2 models"
        )
    caption, ask = kind in ("blip", "blip2"), kind in ("blip-vqa", "blip2")
    return ModelSpec(str(folder), str(folder), kind, caption, ask, size_mb, folder, can_embed=kind in EMBED_KINDS)


def _folder_kind(model_type: object, architectures: list) -> str | None:
    """The kind of model a config.json describes; None for one photocap cannot use."""
    if model_type == "blip" and "BlipForQuestionAnswering" in architectures:
        return "blip-vqa"
    if model_type == "blip" and "BlipForImageTextRetrieval" in architectures:
        return "blip-itm"
    kinds = {  # (model_type, the one class saved): an empty list is a config saved on its own
        "blip": ("blip", "BlipForConditionalGeneration"),
        "blip-2": ("blip2", "Blip2ForConditionalGeneration"),
        "siglip": ("siglip", "SiglipModel"),
        "siglip2": ("siglip2", "Siglip2Model"),
    }
    kind, class_name = kinds.get(str(model_type), (None, None))
    return kind if architectures in ([], [class_name]) else None


def model_id(name_or_dir: str) -> str:
    """The id stored with what a model made: its preset name, or "local:<absolute folder>".

    Reads nothing from disk, so it is cheap enough to ask for every query, and it holds for a model that is
    not downloaded yet. A preset's hub id is that preset.
    """
    text = name_or_dir.strip()
    if text.startswith(LOCAL_PREFIX):
        text = text[len(LOCAL_PREFIX):]
    elif text in PRESETS:
        return text
    for spec in PRESETS.values():
        if spec.source == text:
            return spec.name
    return LOCAL_PREFIX + str(Path(text).expanduser().resolve())


def spec_id(spec: ModelSpec) -> str:
    """model_id of a resolved spec."""
    return spec.name if spec.local_dir is None else LOCAL_PREFIX + str(spec.local_dir.expanduser().resolve())


def hub_cache() -> Path:
    """The Hugging Face cache folder, read from the environment now (as huggingface_hub does at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "huggingface" / "hub"


def find_local(spec: ModelSpec) -> Path | None:
    """The folder holding the model's files (a local folder or the cached snapshot), without any network."""
    if spec.local_dir is not None:
        return spec.local_dir if (spec.local_dir / "config.json").is_file() else None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(spec.source, "config.json", cache_dir=hub_cache())
    return Path(found).parent if isinstance(found, str) else None


def has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors"))


def not_found(spec: ModelSpec) -> ModelUnavailable:
    """The error for a model whose files are missing: what, where we looked, how to get it."""
    where = spec.local_dir if spec.local_dir is not None else hub_cache()
    return ModelUnavailable(
        f"model {spec.name} ({spec.source}) is not downloaded: nothing usable in {where}; "
        f"get it with `photocap models pull {spec.name}` "
        "(needs the network, so HF_HUB_OFFLINE must be unset), "
        "or pass a local folder made with save_pretrained"
    )


def list_models() -> list[dict]:
    """Every preset, with whether it is downloaded and how much disk it takes."""
    rows = []
    for spec in PRESETS.values():
        folder = find_local(spec)
        present = folder is not None and has_weights(folder)
        rows.append(
            {
                "name": spec.name,
                "source": spec.source,
                "kind": spec.kind,
                "present": present,
                "size_bytes": _folder_size(folder) if folder is not None and present else None,
                "approx_size_mb": spec.approx_size_mb,
                "can_caption": spec.can_caption,
                "can_ask": spec.can_ask,
                "can_embed": spec.can_embed,
            }
        )
    return rows


def _folder_size(folder: Path) -> int:
    # Hub snapshots are symlinks into a blob store; stat() follows them to the real sizes.
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def pull(name: str) -> Path:
    """Download a preset's safetensors weights, config and tokenizer into the Hugging Face cache."""
    spec = resolve(name)
    if spec.local_dir is not None:
        return spec.local_dir
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ModelUnavailable(
            f"cannot download {spec.name} ({spec.source}): offline mode is on (HF_HUB_OFFLINE); "
            f"unset it and run `photocap models pull {spec.name}` again"
        )
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(spec.source, cache_dir=hub_cache(), allow_patterns=DOWNLOAD_PATTERNS))
    except Exception as exc:  # noqa: BLE001  network, auth, disk full: all mean "not downloaded"
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ModelUnavailable(f"cannot download {spec.name} ({spec.source}): {reason}") from None
    if not has_weights(folder):
        raise ModelUnavailable(
            f"{spec.source} has no .safetensors weights; "
            "photocap does not load .bin files (pickles can run code)"
        )
    return folder
