"""Image and text embeddings in one space, L2-normalised and compared by cosine (search by meaning).

Each vector is the model's own, so photocap's cosine is the model's own similarity:
- BLIP retrieval (BlipForImageTextRetrieval): image = vision_proj of the vision encoder's CLS token, text =
  text_proj of the text encoder's CLS token (the text encoder run without the image), both L2-normalised:
  the two vectors whose dot product the model's forward returns with use_itm_head=False.
- SigLIP / SigLIP2: get_image_features and get_text_features, L2-normalised as the model's forward does
  before its logit scale and bias. Text is lowercased and padded on the right to 64 tokens with no attention
  mask, as SigLIP2 was trained: its text tower pools the last position, which padding reaches.
Images come decoded by the caller (the caption loop decodes each photo once for both models).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

from photocap.vision.loader import LoadedModel
from photocap.vision.registry import ModelUnavailable, spec_id

# BLIP's retrieval code tokenizes text to at most 35 tokens (its training length); queries are shorter.
BLIP_TEXT_TOKENS = 35
# SigLIP2's text length (the model card and Siglip2Processor both pad to it).
SIGLIP_TEXT_TOKENS = 64


class Embedder:
    """Embeddings of images and texts. Use it from one thread: the one that owns the model."""

    def __init__(self, loaded: LoadedModel, batch_size: int = 8):
        if not loaded.spec.can_embed:
            raise ModelUnavailable(
                f"model {loaded.spec.name} cannot embed photos for search; "
                "use an embedding model such as blip-itm-base (see `photocap models`)"
            )
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {batch_size}")
        self.loaded = loaded
        self.batch_size = batch_size
        self.model_id: str = spec_id(loaded.spec)
        self.image_size: int = loaded.image_size
        self.dim: int = _dimension(loaded)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """(n, dim) float32 rows of unit length, one per image, in order."""
        return self._batched(list(images), self._image_batch)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32 rows of unit length, one per text, in order."""
        return self._batched([str(text) for text in texts], self._text_batch)

    def _batched(self, items: list, embed: Callable[[list], torch.Tensor]) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        with torch.inference_mode():
            for start in range(0, len(items), self.batch_size):
                features = embed(items[start : start + self.batch_size])
                # Normalised in fp32: fp16 sums of squares lose digits the cosine needs.
                parts.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy())
        return np.concatenate(parts).astype(np.float32, copy=False)

    def _image_batch(self, images: list[Image.Image]) -> torch.Tensor:
        images = [image if image.mode == "RGB" else image.convert("RGB") for image in images]
        model = self.loaded.model
        inputs = self.loaded.to_device(self.loaded.processor(images=images, return_tensors="pt"))
        if self.loaded.spec.kind == "blip-itm":
            hidden = model.vision_model(pixel_values=inputs["pixel_values"]).last_hidden_state
            return model.vision_proj(hidden[:, 0, :])
        return _pooled(model.get_image_features(**inputs))

    def _text_batch(self, texts: list[str]) -> torch.Tensor:
        model = self.loaded.model
        tokenizer = self.loaded.processor.tokenizer
        if self.loaded.spec.kind == "blip-itm":
            tokens = tokenizer(texts, padding="longest", truncation=True, max_length=BLIP_TEXT_TOKENS,
                               return_tensors="pt").to(self.loaded.device)
            hidden = model.text_encoder(input_ids=tokens["input_ids"],
                                        attention_mask=tokens["attention_mask"]).last_hidden_state
            return model.text_proj(hidden[:, 0, :])
        length = min(SIGLIP_TEXT_TOKENS, model.config.text_config.max_position_embeddings)
        tokens = tokenizer([text.lower() for text in texts], padding="max_length", truncation=True,
                           max_length=length, padding_side="right", return_tensors="pt")
        return _pooled(model.get_text_features(input_ids=tokens["input_ids"].to(self.loaded.device)))


def _pooled(output: Any) -> torch.Tensor:
    # transformers 5 returns the pooled features inside an output object; 4.x returned the tensor itself.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _dimension(loaded: LoadedModel) -> int:
    config = loaded.model.config
    if loaded.spec.kind == "blip-itm":
        return int(config.image_text_hidden_size)
    return int(config.vision_config.hidden_size)  # SigLIP's pooled image width, its text head's width too
