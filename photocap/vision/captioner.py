"""Batched captioning with the options from the settings, images decoded ahead in a thread pool."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from PIL import Image

from photocap.config import Settings, parse_setting
from photocap.library.images import ImageError, open_image
from photocap.vision.loader import LoadedModel
from photocap.vision.registry import ModelUnavailable


@dataclass
class CaptionOptions:
    """The caption options of the settings (config.CAPTION_OPTIONS), with the settings' defaults."""
    prompt: str = Settings.prompt  # conditional prefix, e.g. "a photography of"; kept in the caption
    num_beams: int = Settings.num_beams
    do_sample: bool = Settings.do_sample
    top_p: float = Settings.top_p
    temperature: float = Settings.temperature
    num_captions: int = Settings.num_captions
    max_new_tokens: int = Settings.max_new_tokens
    min_new_tokens: int = Settings.min_new_tokens
    repetition_penalty: float = Settings.repetition_penalty

    def __post_init__(self) -> None:
        # The ranges are the settings' own (photocap.config.LIMITS): declared once.
        for f in fields(self):
            try:
                parse_setting(f.name, getattr(self, f.name))
            except ValueError as exc:
                raise ValueError(f"caption option {f.name} {exc}") from None
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(f"caption option min_new_tokens ({self.min_new_tokens}) cannot be more than "
                             f"max_new_tokens ({self.max_new_tokens})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: Any) -> CaptionOptions:
        """The caption options of a photocap.config.Settings (same field names)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": self.min_new_tokens,
            "repetition_penalty": self.repetition_penalty,
            "num_return_sequences": self.num_captions,
        }
        if self.do_sample:
            kwargs.update(do_sample=True, num_beams=1, top_p=self.top_p, temperature=self.temperature)
        else:
            # Several captions without sampling are the best beams, so there must be at least that many.
            kwargs.update(do_sample=False, num_beams=max(self.num_beams, self.num_captions))
        return kwargs


class Captioner:
    """Captions for images or files. Use it from one thread: the one that owns the model."""

    def __init__(self, loaded: LoadedModel, options: CaptionOptions | None = None, batch_size: int = 8):
        if not loaded.spec.can_caption:
            raise ModelUnavailable(
                f"model {loaded.spec.name} answers questions but does not write captions; "
                "use a captioning model such as blip-base"
            )
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {batch_size}")
        self.loaded = loaded
        self.options = options or CaptionOptions()
        self.batch_size = batch_size
        self._check_length()
        self._prompt_cache: dict[str, torch.Tensor] | None = None
        self._generate_kwargs = self.options.generate_kwargs()
        if suppressed := self._never_generated():
            self._generate_kwargs["suppress_tokens"] = suppressed

    def _check_length(self) -> None:
        """More new tokens than the text decoder has positions crash every batch: refuse them now, as a
        model problem (photos stay queued), with the range this model and prompt allow."""
        text_config = self.loaded.model.config.get_text_config()
        positions = getattr(text_config, "max_position_embeddings", None)
        if not positions:
            return  # relative positions (T5): no fixed end
        # The last token written needs no position of its own, hence the + 1.
        allowed = positions - self._prompt_positions() + 1
        wanted = self.options.max_new_tokens
        if wanted <= allowed:
            return
        name = self.loaded.spec.name
        if allowed < 1:
            raise ModelUnavailable(f"the prompt is too long for {name}: it leaves no room for a caption")
        raise ModelUnavailable(
            f"max_new_tokens {wanted} is more than {name} can write"
            f"{' after this prompt' if self.options.prompt.strip() else ''}: use 1 to {allowed}"
        )

    def _prompt_positions(self) -> int:
        """Decoder positions taken before the first new token, as generate() lays them out."""
        config = self.loaded.model.config
        if self.loaded.spec.kind == "blip2" and config.text_config.is_encoder_decoder:
            return 1  # the decoder starts from its start token; the prompt goes to the encoder
        prompt = self.options.prompt.strip()
        if not prompt:
            # BLIP starts from [DEC]; BLIP-2 from the image's query tokens and <s>.
            return 1 if self.loaded.spec.kind != "blip2" else config.num_query_tokens + 1
        side = self.loaded.image_size
        blank = Image.new("RGB", (side, side))
        ids = self.loaded.processor(images=[blank], text=[prompt], return_tensors="pt")["input_ids"]
        if self.loaded.spec.kind != "blip2":
            return ids.shape[1] - 1  # BLIP's generate() drops the prompt's closing [SEP]
        # Processors saved before image tokens were expanded in the text leave the queries to generate().
        image_token = getattr(config, "image_token_index", None)
        has_queries = image_token is not None and bool((ids[0] == image_token).any())
        return ids.shape[1] + (0 if has_queries else config.num_query_tokens)

    def _never_generated(self) -> list[int]:
        """Special tokens ([PAD], [UNK], [MASK], ...) are never words of a caption; the end token is
        the only special a caption may produce. Suppressing the rest keeps captions made of words."""
        tokenizer = getattr(self.loaded.processor, "tokenizer", None)
        if tokenizer is None:
            return []
        ends = self.loaded.model.generation_config.eos_token_id
        ends = set(ends if isinstance(ends, list) else [ends])
        ends |= {tokenizer.sep_token_id, tokenizer.eos_token_id}
        return sorted(set(tokenizer.all_special_ids) - ends - {None})

    def caption_images(self, images: list[Image.Image]) -> list[list[str]]:
        """`num_captions` captions for each RGB image, in order."""
        images = list(images)
        shape = min(self.batch_size, len(images))
        captions: list[list[str]] = []
        for start in range(0, len(images), max(shape, 1)):
            captions += self._caption_batch(images[start : start + shape], shape)
        return captions

    def caption_paths(
        self, paths: Iterable[str | os.PathLike], decode_workers: int = 2
    ) -> Iterator[tuple[str | os.PathLike, list[str] | ImageError]]:
        """(path, captions) or (path, ImageError) for each path, in input order, one batch at a time.

        Files are decoded ahead in a small thread pool so the model never waits for JPEG decoding;
        a file that cannot be read fails alone and the rest of its batch is captioned.
        """
        for path, outcome, _image in self.caption_paths_with_images(paths, decode_workers):
            yield path, outcome

    def caption_paths_with_images(
        self, paths: Iterable[str | os.PathLike], decode_workers: int = 2
    ) -> Iterator[tuple[str | os.PathLike, list[str] | ImageError, Image.Image | None]]:
        """As caption_paths, with each decoded image (None for a failure): the caption loop embeds
        the very image it captioned, so a photo is decoded once."""
        side = 2 * self.loaded.image_size  # headroom for the processor's own resize
        pool = ThreadPoolExecutor(max(1, decode_workers), thread_name_prefix="photocap-decode")
        source = iter(paths)
        ahead: deque[tuple[Any, Future]] = deque()

        def fill() -> None:
            # The next batch decodes while the model works on this one; more would only hold memory.
            while len(ahead) < self.batch_size:
                path = next(source, None)
                if path is None:
                    return
                ahead.append((path, pool.submit(self._decode_for_model, path, side)))

        try:
            fill()
            shape = min(self.batch_size, len(ahead))
            while ahead:
                batch = [ahead.popleft() for _ in range(min(self.batch_size, len(ahead)))]
                fill()
                decoded = [(path, _decoded(future)) for path, future in batch]
                good = [made for _, made in decoded if not isinstance(made, ImageError)]
                captions = iter(self._caption_pixels([pixels for _, pixels in good], shape) if good else ())
                for path, made in decoded:
                    if isinstance(made, ImageError):
                        yield path, made, None
                    else:
                        yield path, next(captions), made[0]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _decode_for_model(self, path: str | os.PathLike, side: int) -> tuple[Image.Image, torch.Tensor]:
        """On a decode thread: the image and its model input. The image processor's resize and
        normalisation cost about as much as the model on a GPU; run here, they are spread over the
        decode threads instead of holding the model's thread."""
        image = open_image(path, max_side=side)
        return image, self.pixels(image)

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """One image's pixel values (1, channels, height, width), exactly as the processor makes them."""
        processor = self.loaded.processor
        image_processor = getattr(processor, "image_processor", processor)
        return image_processor(images=[image], return_tensors="pt")["pixel_values"]

    def _caption_batch(self, images: list[Image.Image], shape: int) -> list[list[str]]:
        return self._caption_pixels([self.pixels(im) for im in images], shape)

    def _caption_pixels(self, pixels: list[torch.Tensor], shape: int) -> list[list[str]]:
        # Every batch has the same shape (the last one padded by repeating an image): compiled kernels,
        # CUDA caches and memory use stay steady. The padding's captions are dropped.
        count = len(pixels)
        padded = pixels + [pixels[-1]] * (shape - count)
        inputs = self._inputs_from_pixels(padded)
        with torch.inference_mode():
            ids = self.loaded.model.generate(**inputs, **self._generate_kwargs)
        texts = self._texts(ids, inputs)
        per_image = self.options.num_captions
        return [texts[i * per_image : (i + 1) * per_image] for i in range(count)]

    def _inputs_from_pixels(self, pixels: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The processor's output for these images: their pixels, and the prompt's tokens (which do
        not depend on the image) once per image."""
        inputs = {"pixel_values": torch.cat(pixels)}
        for key, value in self._prompt_inputs().items():
            inputs[key] = value.repeat(len(pixels), 1)      # a copy: BLIP writes into its input_ids
        return self.loaded.to_device(inputs)

    def _prompt_inputs(self) -> dict[str, torch.Tensor]:
        """The processor's text inputs for one image and the prompt (none without a prompt)."""
        if self._prompt_cache is None:
            prompt = self.options.prompt.strip()
            self._prompt_cache = {}
            if prompt:
                side = self.loaded.image_size
                made = self.loaded.processor(images=[Image.new("RGB", (side, side))], text=[prompt],
                                             return_tensors="pt")
                self._prompt_cache = {k: v for k, v in made.items() if k != "pixel_values"}
        return self._prompt_cache

    def _inputs(self, images: list[Image.Image]) -> dict[str, torch.Tensor]:
        """The processor's own output for a batch (what _inputs_from_pixels must equal)."""
        prompt = self.options.prompt.strip()
        text = {"text": [prompt] * len(images)} if prompt else {}
        return self.loaded.to_device(self.loaded.processor(images=images, return_tensors="pt", **text))

    def _texts(self, ids: torch.Tensor, inputs: dict[str, torch.Tensor]) -> list[str]:
        prompt = self.options.prompt.strip()
        if self.loaded.spec.kind != "blip2":
            # BLIP's output starts with the prompt tokens, so captions keep the prefix text.
            return [_tidy(t) for t in self.loaded.processor.batch_decode(ids, skip_special_tokens=True)]
        decoder_only = not self.loaded.model.config.text_config.is_encoder_decoder
        if decoder_only and "input_ids" in inputs:
            ids = ids[:, inputs["input_ids"].shape[1] :]
        texts = [_tidy(t) for t in self.loaded.processor.batch_decode(ids, skip_special_tokens=True)]
        return [_tidy(f"{prompt} {t}") for t in texts] if prompt else texts


def _decoded(future: Future) -> tuple[Image.Image, torch.Tensor] | ImageError:
    try:
        return future.result()
    except ImageError as exc:
        return exc


def _tidy(text: str) -> str:
    return " ".join(text.split())
