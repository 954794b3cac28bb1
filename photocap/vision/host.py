"""The loaded models of one process: loaded lazily, once, and unloadable to free memory.

Use it from one long-lived thread (torch keeps per-thread state): the CLI's main thread, the
daemon's loop, or the GUI's caption worker thread.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

from photocap.config import Settings
from photocap.vision import loader, registry
from photocap.vision.asker import Asker
from photocap.vision.captioner import Captioner, CaptionOptions
from photocap.vision.embedder import Embedder

log = logging.getLogger(__name__)

# A search model that failed to load is not tried again for this long: the caption loop asks for it every
# batch, and a damaged folder costs a full read of its weights each time. One pulled meanwhile is found then.
EMBED_RETRY_SECONDS = 60.0


class ModelHost:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._clock = clock
        self._captioner: Captioner | None = None
        self._caption_model: loader.LoadedModel | None = None
        self._asker: Asker | None = None
        self._embedder: Embedder | None = None
        self._embed_failure: tuple[float, str] | None = None  # (when, the one-line reason)

    @property
    def caption_model_name(self) -> str:
        return self.settings.model

    def vqa_model_name(self) -> str:
        """The question model: as set, else the caption model if it can answer, else blip-vqa."""
        if self.settings.vqa_model:
            return self.settings.vqa_model
        spec = registry.resolve(self.settings.model)
        return self.settings.model if spec.can_ask else "blip-vqa"

    def captioner(self) -> Captioner:
        if self._captioner is None:
            loaded = self._caption_model or loader.load(self.settings.model, device=self.settings.device,
                                                        precision=self.settings.precision)
            if not loaded.spec.can_caption:
                raise loader.ModelUnavailable(
                    f"model {loaded.spec.name} answers questions but cannot caption; "
                    "choose a caption model such as blip-base")
            log.info("caption model %s on %s (%s)", loaded.spec.name, loaded.device, loaded.dtype)
            # Kept even when the options do not fit it (too many new tokens): a retry costs no reload.
            self._caption_model = loaded
            self._captioner = Captioner(loaded, CaptionOptions.from_settings(self.settings),
                                        batch_size=self.settings.batch_size)
        return self._captioner

    def asker(self) -> Asker:
        if self._asker is None:
            name = self.vqa_model_name()
            cap = self._captioner
            if cap is not None and name == self.settings.model:
                loaded = cap.loaded            # BLIP-2 captions and answers with one set of weights
            else:
                loaded = loader.load(name, device=self.settings.device, precision=self.settings.precision)
            self._asker = Asker(loaded)
        return self._asker

    def embed_model_name(self) -> str:
        """The id vectors of the search model are stored under ("blip-itm-base", "local:/abs/folder"),
        without loading anything: searches filter on it even when the model is missing."""
        return registry.model_id(self.settings.embed_model)

    def embedder(self) -> Embedder:
        """The search model, loaded once; ModelUnavailable (one line saying how to get it) when it cannot be."""
        if self._embedder is None:
            failure = self._embed_failure
            if failure is not None and self._clock() - failure[0] < EMBED_RETRY_SECONDS:
                raise registry.ModelUnavailable(failure[1])
            try:
                self._embedder = self._load_embedder()
            except registry.ModelUnavailable as exc:
                self._embed_failure = (self._clock(), str(exc))
                raise
            self._embed_failure = None
        return self._embedder

    def _load_embedder(self) -> Embedder:
        name = self.settings.embed_model
        spec = registry.resolve(name)
        if not spec.can_embed:  # refused before its weights are read
            raise registry.ModelUnavailable(
                f"model {spec.name} cannot embed photos for search; set the search model (embed_model, "
                "--embed-model) to an embedding model such as blip-itm-base, blip-itm-large or siglip2-base")
        loaded = loader.load(spec, device=self.settings.device, precision=self.settings.precision)
        log.info("search model %s on %s (%s)", loaded.spec.name, loaded.device, loaded.dtype)
        return Embedder(loaded, batch_size=self.settings.batch_size)

    def describe(self) -> str:
        """What is loaded, for status lines: "blip-base on cpu (bfloat16)"."""
        cap = self._captioner
        if cap is None:
            return f"{self.settings.model} (not loaded)"
        dtype = str(cap.loaded.dtype).replace("torch.", "")
        return f"{cap.loaded.spec.name} on {cap.loaded.device} ({dtype})"

    def unload(self) -> None:
        self._captioner = None
        self._caption_model = None
        self._asker = None
        self._embedder = None
        self._embed_failure = None
        gc.collect()
        try:
            import torch
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
