"""Image and text embeddings: photocap's cosine is the model's own similarity, on tiny real models."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pytest
import torch
import transformers
from PIL import Image
from safetensors.torch import load_file, save_file

from photocap.config import Settings
from photocap.vision.embedder import Embedder
from photocap.vision.host import EMBED_RETRY_SECONDS, ModelHost
from photocap.vision.loader import load
from photocap.vision.registry import ModelUnavailable

TEXTS = ["a dog on the beach", "red", "a man standing on a rock near the sea with a blue boat", ""]


@pytest.fixture(scope="module")
def itm(tiny_itm_dir) -> Embedder:
    return Embedder(load(str(tiny_itm_dir), device="cpu", precision="fp32"), batch_size=3)


@pytest.fixture(scope="module")
def siglip(tiny_siglip2_dir) -> Embedder:
    return Embedder(load(str(tiny_siglip2_dir), device="cpu", precision="fp32"), batch_size=3)


@pytest.fixture(scope="module")
def naflex(tiny_siglip2_naflex_dir) -> Embedder:
    return Embedder(load(str(tiny_siglip2_naflex_dir), device="cpu", precision="fp32"), batch_size=3)


def _reference(model_class: str, folder):
    """The model as transformers alone loads it: none of photocap's loading or attention changes."""
    model = getattr(transformers, model_class).from_pretrained(folder, dtype=torch.float32).eval()
    return model, transformers.AutoProcessor.from_pretrained(folder)


def test_blip_cosine_is_the_retrieval_models_own(itm, tiny_itm_dir, images):
    model, processor = _reference("BlipForImageTextRetrieval", tiny_itm_dir)
    inputs = processor(images=images, text=TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = model(**inputs, use_itm_head=False).itm_score.numpy()   # (images, texts) cosines
    ours = itm.embed_images(images) @ itm.embed_texts(TEXTS).T
    assert ours.shape == (len(images), len(TEXTS))
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    assert np.ptp(ours) > 1e-3        # the tiny model tells the pairs apart: the match is not trivially flat


@pytest.mark.parametrize(("name", "model_class"), [("siglip", "SiglipModel"), ("naflex", "Siglip2Model")])
def test_siglip2_vectors_are_the_models_normalised_features(request, name, model_class, images):
    embedder = request.getfixturevalue(name)
    model, processor = _reference(model_class, embedder.loaded.spec.local_dir)
    pixels = processor(images=images, return_tensors="pt")
    # As SigLIP2 was trained: lowercased, right-padded to 64 tokens, and no attention mask.
    ids = processor(text=[t.lower() for t in TEXTS], padding="max_length", max_length=64,
                    return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        image_features = model.get_image_features(**pixels).pooler_output
        text_features = model.get_text_features(input_ids=ids).pooler_output
        logits = model(input_ids=ids, **pixels).logits_per_image
    image_vectors, text_vectors = embedder.embed_images(images), embedder.embed_texts(TEXTS)
    np.testing.assert_allclose(image_vectors, torch.nn.functional.normalize(image_features, dim=-1), atol=1e-5)
    np.testing.assert_allclose(text_vectors, torch.nn.functional.normalize(text_features, dim=-1), atol=1e-5)
    # The model's own logits are this cosine, scaled and shifted by its learnt scale and bias.
    scaled = (image_vectors @ text_vectors.T) * model.logit_scale.exp().item() + model.logit_bias.item()
    np.testing.assert_allclose(scaled, logits.numpy(), atol=1e-4)


def test_siglip2_text_is_lowercased_like_its_training(siglip):
    tokenizer = siglip.loaded.processor.tokenizer
    assert tokenizer("A Dog")["input_ids"] != tokenizer("a dog")["input_ids"]   # the checkpoint's tokenizer keeps case
    upper, lower = siglip.embed_texts(["A Dog On The BEACH", "a dog on the beach"])
    np.testing.assert_allclose(upper, lower, atol=1e-6)


@pytest.mark.parametrize("name", ["itm", "siglip", "naflex"])
def test_unit_length_and_batching_changes_nothing(request, name, images, tiny_itm_dir):
    embedder = request.getfixturevalue(name)
    assert (embedder.dim, embedder.image_size) == (32, 256 if name == "naflex" else 32)
    assert embedder.model_id == f"local:{embedder.loaded.spec.local_dir.resolve()}"
    tall = Image.frombytes("RGB", (20, 90), random.Random(9).randbytes(20 * 90 * 3))
    mixed = [*images, images[0].convert("L"), tall]   # grey and tall photos too
    together = embedder.embed_images(mixed)
    texts = embedder.embed_texts(TEXTS)
    for vectors, count in ((together, len(mixed)), (texts, len(TEXTS))):
        assert vectors.dtype == np.float32 and vectors.shape == (count, embedder.dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([embedder.embed_images([image]) for image in mixed])
    np.testing.assert_allclose(one_by_one, together, atol=1e-5)
    np.testing.assert_allclose(np.concatenate([embedder.embed_texts([t]) for t in TEXTS]), texts, atol=1e-5)
    assert embedder.embed_images([]).shape == (0, embedder.dim)
    assert not np.allclose(together[0], together[1], atol=1e-3)   # different photos, different vectors


def _settings(embed_model, tmp_path) -> Settings:
    return Settings(db=str(tmp_path / "l.db"), embed_model=str(embed_model), device="cpu", precision="fp32")


def test_the_host_loads_the_search_model_once(tiny_itm_dir, tmp_path):
    host = ModelHost(_settings(tiny_itm_dir, tmp_path))
    first = host.embedder()
    assert host.embedder() is first
    assert host.embed_model_name() == first.model_id == f"local:{tiny_itm_dir.resolve()}"
    host.unload()
    assert host.embedder() is not first


def test_a_damaged_folder_is_refused_in_one_line(tiny_itm_dir, tmp_path):
    folder = tmp_path / "damaged"
    shutil.copytree(tiny_itm_dir, folder)
    weights = load_file(folder / "model.safetensors")
    del weights["vision_proj.weight"]            # e.g. a save cut short
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelUnavailable) as err:
        ModelHost(_settings(folder, tmp_path)).embedder()
    text = str(err.value)
    assert "\n" not in text and str(folder) in text and "vision_proj.weight" in text and "missing" in text
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)   # and a file that is not safetensors at all
    with pytest.raises(ModelUnavailable) as err:
        ModelHost(_settings(folder, tmp_path)).embedder()
    assert "\n" not in str(err.value) and f"cannot load {folder}" in str(err.value)


def test_a_missing_preset_says_how_to_pull_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    host = ModelHost(_settings("blip-itm-large", tmp_path))
    with pytest.raises(ModelUnavailable) as err:
        host.embedder()
    text = str(err.value)
    assert "\n" not in text and "Salesforce/blip-itm-large-coco" in text
    assert "photocap models pull blip-itm-large" in text
    assert host.embed_model_name() == "blip-itm-large"     # the id is known without the model


def test_a_caption_model_is_not_a_search_model(tiny_blip_dir, tmp_path):
    with pytest.raises(ModelUnavailable) as err:
        ModelHost(_settings(tiny_blip_dir, tmp_path)).embedder()
    text = str(err.value)
    assert "\n" not in text and "cannot embed" in text and "blip-itm-base" in text


def test_a_failed_load_waits_before_it_is_tried_again(tiny_itm_dir, tmp_path):
    """The caption loop asks every batch: a missing model is not looked for each time, and one that
    arrives later is used once the wait is over (a fake clock: no sleeping)."""
    now = [1000.0]
    folder = tmp_path / "arrives-later"
    host = ModelHost(_settings(folder, tmp_path), clock=lambda: now[0])
    with pytest.raises(ModelUnavailable, match="does not exist"):
        host.embedder()
    shutil.copytree(tiny_itm_dir, folder)
    now[0] += EMBED_RETRY_SECONDS - 1
    with pytest.raises(ModelUnavailable, match="does not exist"):
        host.embedder()
    now[0] += 2
    assert host.embedder().dim == 32


def test_a_preset_in_the_hub_cache_is_found_and_named_by_its_preset(tiny_siglip2_dir, tmp_path, monkeypatch):
    # Laid out as huggingface_hub's cache does: refs/main names the snapshot folder.
    repo = tmp_path / "hub" / "models--google--siglip2-base-patch16-256"
    shutil.copytree(tiny_siglip2_dir, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    embedder = ModelHost(_settings("siglip2-base", tmp_path)).embedder()
    assert embedder.model_id == "siglip2-base" and type(embedder.loaded.model).__name__ == "SiglipModel"
    assert embedder.embed_texts(["sea"]).shape == (1, 32)
