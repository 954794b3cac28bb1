"""Captioning on tiny real models: options, batching, prefetching, bad files."""

from __future__ import annotations

import random
import threading

import pytest
import torch

from photocap.config import Settings
from photocap.library.images import ImageError, open_image
from photocap.vision.captioner import Captioner, CaptionOptions
from photocap.vision.registry import ModelUnavailable

GREEDY = dict(num_beams=1, repetition_penalty=1.0)
SHORT = 10  # max new tokens: enough to tell captions apart, quick to generate


def captions_of(loaded, images, batch_size=8, **options):
    options.setdefault("max_new_tokens", SHORT)
    return Captioner(loaded, CaptionOptions(**options), batch_size=batch_size).caption_images(images)


def test_options_are_the_settings_caption_options_with_their_defaults():
    from dataclasses import fields

    from photocap import config
    assert tuple(f.name for f in fields(CaptionOptions)) == config.CAPTION_OPTIONS
    assert all(f.default == getattr(Settings, f.name) for f in fields(CaptionOptions))
    assert CaptionOptions.from_settings(Settings()) == CaptionOptions()
    custom = Settings(prompt="a photography of", num_beams=5, do_sample=True, top_p=0.5, num_captions=2)
    options = CaptionOptions.from_settings(custom)
    assert (options.prompt, options.num_beams, options.do_sample, options.top_p, options.num_captions) == (
        "a photography of", 5, True, 0.5, 2,
    )
    assert CaptionOptions(**options.to_dict()) == options


@pytest.mark.parametrize("bad", [dict(num_captions=0), dict(top_p=0), dict(temperature=0), dict(num_beams=0),
                                 dict(max_new_tokens=100_000_000), dict(num_beams=17), dict(temperature=6.0),
                                 dict(repetition_penalty=0.5), dict(num_captions=11),
                                 dict(min_new_tokens=50, max_new_tokens=10)])
def test_bad_options_are_refused(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        CaptionOptions(**bad)


def test_generate_kwargs():
    beams = CaptionOptions(num_beams=2, num_captions=4).generate_kwargs()
    assert beams["num_beams"] == 4 and beams["num_return_sequences"] == 4 and not beams["do_sample"]
    assert "top_p" not in beams
    sample = CaptionOptions(do_sample=True, top_p=0.5, temperature=0.7, num_captions=3).generate_kwargs()
    chosen = (sample["do_sample"], sample["num_beams"], sample["top_p"], sample["temperature"])
    assert chosen == (True, 1, 0.5, 0.7)
    assert CaptionOptions(min_new_tokens=10, max_new_tokens=10).generate_kwargs()["min_new_tokens"] == 10


# The text decoders' positions: tiny BLIP has 64, tiny BLIP-2 128 (4 of them for the image's queries).
# BLIP's prompt "a photography of" is 4 positions ([DEC] + 3 words), BLIP-2's 21 (queries, <s>, 16 bytes).
@pytest.mark.parametrize(("model", "prompt", "limit"), [
    ("blip", "", 64), ("blip", "a photography of", 61),
    ("blip2", "", 124), ("blip2", "a photography of", 108)])
def test_max_new_tokens_beyond_the_models_positions_is_refused_with_the_range(request, images, model, prompt,
                                                                              limit):
    loaded = request.getfixturevalue(model)
    over = CaptionOptions(**GREEDY, prompt=prompt, min_new_tokens=1, max_new_tokens=limit + 1)
    with pytest.raises(ModelUnavailable) as err:
        Captioner(loaded, over)
    text = str(err.value)
    assert "\n" not in text and "max_new_tokens" in text and f"1 to {limit}" in text
    # The limit is exact: forced to write that many tokens, the model still works.
    at_limit = CaptionOptions(**GREEDY, prompt=prompt, min_new_tokens=limit, max_new_tokens=limit)
    (captions,) = Captioner(loaded, at_limit).caption_images(images[:1])
    assert captions and captions[0].strip()


def test_unconditional_captions(blip, images):
    result = captions_of(blip, images, min_new_tokens=5, max_new_tokens=8)
    assert len(result) == len(images) and all(len(c) == 1 for c in result)
    for (caption,) in result:
        assert 5 <= len(caption.split()) <= 8  # each tiny-vocab token is one word
        assert "[" not in caption  # special tokens are not shown


def test_prefixed_captions_keep_the_prefix(blip, images):
    plain = captions_of(blip, images[:2], **GREEDY)
    prefixed = captions_of(blip, images[:2], prompt="a photography of", **GREEDY)
    for (caption,) in prefixed:
        assert caption.startswith("a photography of ") and len(caption.split()) >= 3 + 5
    assert prefixed != plain


def test_several_captions_per_image_are_the_best_distinct_beams(blip, images):
    result = captions_of(blip, images[:2], num_captions=3, num_beams=3)
    assert [len(c) for c in result] == [3, 3]
    assert all(len(set(c)) == 3 for c in result)


def test_sampling_follows_the_seed(blip, images):
    def sample(seed, **extra):
        torch.manual_seed(seed)
        return captions_of(blip, images[:2], do_sample=True, top_p=1.0, temperature=1.5, **extra)

    assert sample(1) == sample(1)
    assert len({str(sample(seed)) for seed in range(4)}) > 1
    several = sample(2, num_captions=4)
    assert [len(c) for c in several] == [4, 4] and len(set(several[0])) > 1


def test_a_tiny_top_p_leaves_only_the_greedy_choice(blip, images):
    torch.manual_seed(3)
    nucleus = captions_of(blip, images[:3], do_sample=True, top_p=1e-6, temperature=1.0,
                          repetition_penalty=1.0)
    assert nucleus == captions_of(blip, images[:3], **GREEDY)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_batches_give_the_same_captions_as_one_at_a_time(blip, images, num_beams):
    one_by_one = [captions_of(blip, [im], num_beams=num_beams)[0] for im in images]
    assert len({c[0] for c in one_by_one}) > 1  # the images really are told apart
    assert captions_of(blip, images, batch_size=4, num_beams=num_beams) == one_by_one
    assert captions_of(blip, images, batch_size=2, num_beams=num_beams) == one_by_one


def _batch_shapes(loaded):
    shapes = []
    handle = loaded.model.vision_model.register_forward_pre_hook(
        lambda module, args, kwargs: shapes.append(kwargs["pixel_values"].shape[0]), with_kwargs=True
    )
    return shapes, handle


def test_the_last_batch_is_padded_to_the_same_shape(blip, images):
    shapes, handle = _batch_shapes(blip)
    try:
        result = captions_of(blip, images, batch_size=4)
        few = captions_of(blip, images[:3], batch_size=4)
    finally:
        handle.remove()
    assert shapes == [4, 4, 3]  # five images: 4 + (1 padded to 4); three images: one batch of 3
    assert len(result) == 5 and len(few) == 3


def test_blip2_captions(blip2, images):
    plain = captions_of(blip2, images[:3], **GREEDY, min_new_tokens=3, max_new_tokens=6)
    assert all(len(c) == 1 and c[0] for c in plain)
    prefixed = captions_of(blip2, images[:3], prompt="a photo of", **GREEDY, min_new_tokens=3,
                           max_new_tokens=6)
    assert all(c[0].startswith("a photo of ") and len(c[0]) > len("a photo of ") for c in prefixed)
    assert not any(c[0].startswith("a photo of a photo of") for c in prefixed)  # the prompt is not repeated
    assert captions_of(blip2, images[:3], batch_size=2, prompt="a photo of", **GREEDY, min_new_tokens=3,
                       max_new_tokens=6) == prefixed


def test_a_question_only_model_cannot_caption(vqa):
    with pytest.raises(ModelUnavailable, match="blip-base"):
        Captioner(vqa)


def _files(tmp_path, images):
    paths = []
    for i, im in enumerate(images):
        path = tmp_path / f"img{i}.png"
        im.save(path)
        paths.append(path)
    return paths


def test_caption_paths_in_order_with_bad_files_failing_alone(blip, images, tmp_path):
    good = _files(tmp_path, images)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(random.Random(0).randbytes(999))
    missing = tmp_path / "missing.jpg"
    paths = [good[0], junk, good[1], good[2], missing, good[3], good[4]]
    captioner = Captioner(blip, CaptionOptions(**GREEDY, max_new_tokens=SHORT), batch_size=3)
    results = list(captioner.caption_paths(paths, decode_workers=2))
    assert [p for p, _ in results] == paths
    assert isinstance(results[1][1], ImageError) and results[1][1].reason == "not an image"
    assert isinstance(results[4][1], ImageError) and results[4][1].reason == "file not found"
    expected = captioner.caption_images([open_image(p, max_side=64) for p in good])
    assert [r for p, r in results if p in good] == expected


def test_caption_paths_decodes_ahead_but_boundedly(blip, images, tmp_path):
    paths = _files(tmp_path, images) * 4  # 20 files
    pulled = []

    def source():
        for path in paths:
            pulled.append(path)
            yield path

    captioner = Captioner(blip, CaptionOptions(**GREEDY, max_new_tokens=SHORT), batch_size=3)
    stream = captioner.caption_paths(source(), decode_workers=2)
    next(stream)
    assert 3 < len(pulled) <= 6  # the next batch is already decoding; no more than that
    assert any(t.name.startswith("photocap-decode") for t in threading.enumerate())
    stream.close()  # stopping early leaves nothing hanging


def test_caption_paths_of_nothing(blip):
    assert list(Captioner(blip).caption_paths([])) == []
    assert Captioner(blip).caption_images([]) == []


def test_bf16_weights_caption_too(tiny_blip_dir, images):
    from photocap.vision.loader import load

    loaded = load(str(tiny_blip_dir), device="cpu", precision="bf16")
    result = captions_of(loaded, images[:2], **GREEDY)
    assert [len(c) for c in result] == [1, 1] and all(len(c[0].split()) >= 5 for c in result)


@pytest.mark.parametrize("model", ["blip", "blip2"])
@pytest.mark.parametrize("prompt", ["", "a photo of"])
def test_images_prepared_one_by_one_give_the_processors_own_batch(request, images, model, prompt):
    # Decode threads prepare each image's pixels alone; the batch must be what the processor makes of all.
    captioner = Captioner(request.getfixturevalue(model), CaptionOptions(prompt=prompt, max_new_tokens=SHORT))
    ours = captioner._inputs_from_pixels([captioner.pixels(im) for im in images])
    theirs = captioner._inputs(images)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        assert ours[key].shape == theirs[key].shape and torch.equal(ours[key], theirs[key]), key
