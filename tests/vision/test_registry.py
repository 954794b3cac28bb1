"""Model names, local folders, the Hugging Face cache and the offline download error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from photocap.vision import registry
from photocap.vision.registry import ModelUnavailable, find_local, list_models, pull, resolve


def test_presets():
    assert set(registry.PRESETS) == {"blip-base", "blip-large", "blip-vqa", "blip2-opt", "blip2-flan-t5",
                                     "blip-itm-base", "blip-itm-large", "siglip2-base"}
    assert registry.DEFAULT_MODEL == "blip-base"
    base = resolve("blip-base")
    assert base.source == "Salesforce/blip-image-captioning-base" and base.kind == "blip"
    assert base.can_caption and not base.can_ask and base.local_dir is None
    vqa = resolve("blip-vqa")
    assert vqa.kind == "blip-vqa" and vqa.can_ask and not vqa.can_caption
    assert resolve("blip2-flan-t5").source == "Salesforce/blip2-flan-t5-xl"
    assert resolve("blip2-opt").can_ask and resolve("blip2-opt").can_caption


def test_a_hub_id_of_a_preset_resolves_to_it():
    assert resolve("Salesforce/blip-vqa-base").name == "blip-vqa"


def test_local_folders_are_recognised(tiny_blip_dir, tiny_vqa_dir, tiny_blip2_dir):
    blip, vqa, blip2 = resolve(str(tiny_blip_dir)), resolve(str(tiny_vqa_dir)), resolve(str(tiny_blip2_dir))
    assert (blip.kind, blip.can_caption, blip.can_ask) == ("blip", True, False)
    assert (vqa.kind, vqa.can_caption, vqa.can_ask) == ("blip-vqa", False, True)
    assert (blip2.kind, blip2.can_caption, blip2.can_ask) == ("blip2", True, True)
    assert blip.local_dir == tiny_blip_dir and blip.source == str(tiny_blip_dir)
    assert find_local(blip) == tiny_blip_dir


def test_unknown_name_lists_the_choices():
    with pytest.raises(ModelUnavailable) as err:
        resolve("blip-huge")
    text = str(err.value)
    assert "blip-huge" in text and "blip-base" in text and "save_pretrained" in text and "\n" not in text


def test_missing_folder_and_foreign_folder(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        resolve(str(tmp_path / "nothing-here"))
    with pytest.raises(ModelUnavailable, match="no readable config.json"):
        resolve(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    with pytest.raises(ModelUnavailable, match="BertModel"):
        resolve(str(tmp_path))


def _fake_hub_snapshot(cache, repo_id, source_dir):
    """Lay out a model like huggingface_hub's cache: refs/main names the snapshot folder."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(source_dir, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    return snapshot


def test_find_local_and_list_models_see_the_hub_cache(tmp_path, monkeypatch, tiny_blip_dir):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert find_local(resolve("blip-base")) is None
    snapshot = _fake_hub_snapshot(cache, "Salesforce/blip-image-captioning-base", tiny_blip_dir)
    assert find_local(resolve("blip-base")) == snapshot
    rows = {row["name"]: row for row in list_models()}
    assert rows["blip-base"]["present"] is True
    assert rows["blip-base"]["size_bytes"] == sum(p.stat().st_size for p in snapshot.iterdir())
    assert rows["blip-large"]["present"] is False and rows["blip-large"]["size_bytes"] is None
    assert {"name", "source", "present", "size_bytes", "can_caption", "can_ask"} <= set(rows["blip-vqa"])


def test_hub_cache_follows_hf_home(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert registry.hub_cache() == tmp_path / "hf" / "hub"


def test_pull_offline_names_the_model_and_the_command(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as err:
        pull("blip-large")
    text = str(err.value)
    assert "blip-large" in text and "photocap models pull blip-large" in text and "HF_HUB_OFFLINE" in text
    assert "\n" not in text


def test_pull_of_a_local_folder_is_that_folder(tiny_blip_dir):
    assert pull(str(tiny_blip_dir)) == tiny_blip_dir


def test_registry_does_not_import_torch():
    code = "import sys, photocap.vision.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_embedding_presets():
    assert registry.DEFAULT_EMBED_MODEL == "blip-itm-base"
    sources = {name: resolve(name).source for name in ("blip-itm-base", "blip-itm-large", "siglip2-base")}
    assert sources == {"blip-itm-base": "Salesforce/blip-itm-base-coco",
                       "blip-itm-large": "Salesforce/blip-itm-large-coco",
                       "siglip2-base": "google/siglip2-base-patch16-256"}
    embedders = {name for name, spec in registry.PRESETS.items() if spec.can_embed}
    assert embedders == set(sources)
    for name in sources:
        spec = resolve(name)
        assert not spec.can_caption and not spec.can_ask
    assert resolve("google/siglip2-base-patch16-256").name == "siglip2-base"


def test_local_embedding_folders_are_recognised(tiny_itm_dir, tiny_siglip2_dir, tiny_siglip2_naflex_dir):
    kinds = {folder: resolve(str(folder)) for folder in (tiny_itm_dir, tiny_siglip2_dir, tiny_siglip2_naflex_dir)}
    assert [(s.kind, s.can_embed, s.can_caption, s.can_ask) for s in kinds.values()] == [
        ("blip-itm", True, False, False), ("siglip", True, False, False), ("siglip2", True, False, False)]
    # A model id names the same folder again.
    assert resolve(f"local:{tiny_itm_dir}").local_dir == tiny_itm_dir


def test_caption_folders_do_not_embed(tiny_blip_dir, tiny_vqa_dir, tiny_blip2_dir):
    assert not any(resolve(str(f)).can_embed for f in (tiny_blip_dir, tiny_vqa_dir, tiny_blip2_dir))


def test_a_siglip_vision_tower_alone_is_not_an_embedding_model(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "siglip", "architectures": ["SiglipVisionModel"]}))
    with pytest.raises(ModelUnavailable) as err:
        resolve(str(tmp_path))
    assert "SiglipVisionModel" in str(err.value) and "BlipForImageTextRetrieval" in str(err.value)


def test_model_ids(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert registry.model_id("blip-itm-base") == "blip-itm-base"
    assert registry.model_id("Salesforce/blip-itm-large-coco") == "blip-itm-large"
    assert registry.model_id("models/mine") == f"local:{tmp_path / 'models' / 'mine'}"   # absolute, not yet there
    assert registry.model_id(f"local:{tmp_path}/x/../y") == f"local:{tmp_path / 'y'}"


def test_list_models_says_which_embed(tmp_path, monkeypatch, tiny_itm_dir):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    _fake_hub_snapshot(cache, "Salesforce/blip-itm-base-coco", tiny_itm_dir)
    rows = {row["name"]: row for row in list_models()}
    assert rows["blip-itm-base"]["present"] and rows["blip-itm-base"]["can_embed"]
    assert not rows["siglip2-base"]["present"] and rows["siglip2-base"]["can_embed"]
    assert not rows["blip-base"]["can_embed"]


def test_pull_offline_of_an_embedding_preset(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="photocap models pull siglip2-base"):
        pull("siglip2-base")
