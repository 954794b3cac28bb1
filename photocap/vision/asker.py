"""Questions about one photo: BLIP VQA answers one question; BLIP-2 also sees the earlier ones."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from photocap.vision.loader import LoadedModel
from photocap.vision.registry import ModelUnavailable


def qa_prompt(question: str, history: Sequence[tuple[str, str]] = ()) -> str:
    """BLIP-2's chat prompt (from its model card): earlier pairs as context, then the new question."""
    turns = [f"Question: {q.strip()} Answer: {a.strip().rstrip('.')}." for q, a in history]
    turns.append(f"Question: {question.strip()} Answer:")
    return " ".join(turns)


class Asker:
    """Answers questions about images. Use it from the thread that owns the model."""

    def __init__(self, loaded: LoadedModel, *, max_new_tokens: int = 30, min_new_tokens: int = 1):
        if not loaded.spec.can_ask:
            raise ModelUnavailable(
                f"model {loaded.spec.name} writes captions but cannot answer questions; "
                "use blip-vqa, or a BLIP-2 model (blip2-opt, blip2-flan-t5)"
            )
        self.loaded = loaded
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = min_new_tokens

    def ask(self, image: Image.Image, question: str, history: Sequence[tuple[str, str]] = ()) -> str:
        """The answer to `question`; `history` (earlier question, answer pairs) is context for BLIP-2.

        BLIP VQA has no way to take context, so it answers the question alone.
        """
        if not question.strip():
            raise ValueError("the question is empty")
        blip2 = self.loaded.spec.kind == "blip2"
        text = qa_prompt(question, history) if blip2 else question.strip()
        inputs = self.loaded.to_device(self.loaded.processor(images=image, text=text, return_tensors="pt"))
        with torch.inference_mode():
            ids = self.loaded.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                min_new_tokens=self.min_new_tokens,
                num_beams=1,
                do_sample=False,
            )
        if blip2 and not self.loaded.model.config.text_config.is_encoder_decoder:
            ids = ids[:, inputs["input_ids"].shape[1] :]  # a decoder-only LM repeats the prompt first
        return clean_answer(self.loaded.processor.batch_decode(ids, skip_special_tokens=True)[0])


def clean_answer(text: str) -> str:
    """The answer alone: BLIP-2 sometimes goes on to invent the next turn of the chat."""
    return " ".join(text.split("Question:")[0].split())
