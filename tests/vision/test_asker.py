"""Questions: BLIP VQA alone, BLIP-2 with earlier questions and answers as context."""

from __future__ import annotations

import pytest

from photocap.vision.asker import Asker, clean_answer, qa_prompt
from photocap.vision.registry import ModelUnavailable


def test_prompt_without_context():
    assert qa_prompt("what is this?") == "Question: what is this? Answer:"


def test_prompt_carries_earlier_pairs_like_the_model_card():
    history = [("which city is this?", "singapore"), ("why?", "it has a statue of a merlion.")]
    assert qa_prompt("where is it?", history) == (
        "Question: which city is this? Answer: singapore. "
        "Question: why? Answer: it has a statue of a merlion. "
        "Question: where is it? Answer:"
    )


def test_an_invented_next_turn_is_cut_off():
    assert clean_answer("  singapore \n Question: why? Answer: because") == "singapore"
    assert clean_answer("two cats") == "two cats"


def test_blip_vqa_answers(vqa, images):
    answer = Asker(vqa, max_new_tokens=4).ask(images[0], "what is in the picture?")
    assert answer and 1 <= len(answer.split()) <= 4
    # BLIP VQA cannot use context: the same question gets the same answer with or without it.
    with_context = Asker(vqa, max_new_tokens=4).ask(images[0], "what is in the picture?", [("who?", "a man")])
    assert with_context == answer


def _prompt_seen_by_the_language_model(loaded):
    """Record the token ids the BLIP-2 language model is first given, decoded."""
    seen = []
    embeddings = loaded.model.get_input_embeddings()

    def hook(module, args):
        if not seen:
            seen.append(loaded.processor.tokenizer.decode(args[0][0], skip_special_tokens=True))

    return seen, embeddings.register_forward_pre_hook(hook)


@pytest.mark.parametrize("history", [[], [("what colour is the car?", "red"), ("is it moving?", "no")]])
def test_blip2_answers_with_the_context_in_its_prompt(blip2, images, history):
    seen, handle = _prompt_seen_by_the_language_model(blip2)
    try:
        answer = Asker(blip2, max_new_tokens=5, min_new_tokens=2).ask(images[1], "where is it?", history)
    finally:
        handle.remove()
    assert answer
    assert seen == [qa_prompt("where is it?", history)]
    assert "Question:" not in answer


def test_a_caption_only_model_cannot_answer(blip):
    with pytest.raises(ModelUnavailable) as err:
        Asker(blip)
    assert "blip-vqa" in str(err.value) and "\n" not in str(err.value)


def test_an_empty_question_is_refused(vqa, images):
    with pytest.raises(ValueError, match="empty"):
        Asker(vqa).ask(images[0], "   ")
