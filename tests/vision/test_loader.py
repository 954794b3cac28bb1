"""Device and precision choice; loading from safetensors only; the errors a user sees."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import torch

from photocap.vision import loader
from photocap.vision.loader import DeviceError, ModelUnavailable, choose_device, choose_dtype, load


def test_loaded_model(blip, tiny_blip_dir):
    assert blip.device == "cpu" and blip.dtype == torch.float32
    assert blip.spec.kind == "blip" and blip.spec.local_dir == tiny_blip_dir
    assert not blip.model.training
    assert blip.image_size == 32
    assert type(blip.model).__name__ == "BlipForConditionalGeneration"
    assert type(blip.processor).__name__ == "BlipProcessor"


def test_each_kind_gets_its_model_class(vqa, blip2):
    assert type(vqa.model).__name__ == "BlipForQuestionAnswering"
    assert type(blip2.model).__name__ == "Blip2ForConditionalGeneration"
    assert blip2.processor.tokenizer.padding_side == "left"


def test_bf16_is_loaded_as_bf16(tiny_blip_dir):
    loaded = load(str(tiny_blip_dir), device="cpu", precision="bf16")
    assert loaded.dtype == torch.bfloat16
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


def test_missing_preset_offline_error_is_one_helpful_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailable) as err:
        load("blip-base")
    text = str(err.value)
    assert "\n" not in text
    assert "blip-base" in text and "Salesforce/blip-image-captioning-base" in text
    assert str(tmp_path / "empty-cache") in text
    assert "photocap models pull blip-base" in text and "HF_HUB_OFFLINE" in text and "save_pretrained" in text


def test_a_folder_with_only_pickled_weights_is_refused(tmp_path, tiny_blip_dir):
    folder = tmp_path / "bin-only"
    shutil.copytree(tiny_blip_dir, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not even read")
    with pytest.raises(ModelUnavailable) as err:
        load(str(folder))
    text = str(err.value)
    assert ".bin" in text and "safetensors" in text and "refuses" in text and "\n" not in text


class _Trap:
    """Unpickling this creates a file: proof that someone unpickled it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (self.marker.touch, ())


def test_pickled_weights_beside_safetensors_are_never_unpickled(tmp_path, tiny_blip_dir):
    folder = tmp_path / "both"
    shutil.copytree(tiny_blip_dir, folder)
    marker = tmp_path / "unpickled"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Trap(marker)))
    pickle.loads((folder / "pytorch_model.bin").read_bytes())  # the trap works ...
    assert marker.exists()
    marker.unlink()
    load(str(folder), device="cpu", precision="fp32")
    assert not marker.exists()  # ... and loading never sprang it


def test_a_broken_weights_file_is_a_one_line_error(tmp_path, tiny_blip_dir):
    folder = tmp_path / "broken"
    shutil.copytree(tiny_blip_dir, folder)
    (folder / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelUnavailable) as err:
        load(str(folder), device="cpu")
    assert str(err.value).startswith(f"cannot load {folder}") and "\n" not in str(err.value)


def test_choose_device():
    expected = "cuda" if torch.cuda.is_available() else "mps" if loader._mps_available() else "cpu"
    assert choose_device("auto") == expected
    assert choose_device("") == expected
    assert choose_device("CPU") == "cpu"
    with pytest.raises(DeviceError, match="unknown device"):
        choose_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_absent_cuda_is_a_clear_error():
    with pytest.raises(DeviceError) as err:
        choose_device("cuda")
    assert "no CUDA GPU" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.skipif(loader._mps_available(), reason="this machine has MPS")
def test_asking_for_absent_mps_is_a_clear_error():
    with pytest.raises(DeviceError, match="MPS"):
        choose_device("mps")


def test_choose_dtype():
    assert choose_dtype("cuda") == torch.float16
    assert choose_dtype("cuda:1") == torch.float16
    assert choose_dtype("mps") == torch.float16
    assert choose_dtype("cpu", "fp32") == torch.float32
    assert choose_dtype("cpu", "bf16") == torch.bfloat16
    assert choose_dtype("cuda", "fp32") == torch.float32
    assert choose_dtype("cpu", "fp16") == torch.float16
    with pytest.raises(DeviceError, match="unknown precision"):
        choose_dtype("cpu", "int4")


def test_cpu_auto_picks_bf16_only_when_measured_faster():
    auto = choose_dtype("cpu", "auto")
    assert auto == (torch.bfloat16 if loader.cpu_bf16_is_faster() else torch.float32)
    assert loader.cpu_bf16_is_faster.cache_info().currsize == 1  # measured once, then remembered


def test_fused_vision_attention_matches_the_eager_one(blip, images):
    from transformers import BlipForConditionalGeneration

    eager = BlipForConditionalGeneration.from_pretrained(blip.spec.local_dir, use_safetensors=True).eval()
    pixels = blip.processor(images=images, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        fused_out = blip.model.vision_model(pixel_values=pixels).last_hidden_state
        eager_out = eager.vision_model(pixel_values=pixels).last_hidden_state
    assert blip.model.vision_model.encoder.layers[0].self_attn.forward.__name__ == "_sdpa_attention"
    assert torch.allclose(fused_out, eager_out, atol=1e-5)
    assert eager.vision_model.encoder.layers[0].self_attn.forward.__name__ == "forward"


def _damaged_copy(source: Path, folder: Path, *, drop: str | None = None, add: str | None = None) -> Path:
    """A copy of a tiny model folder whose weights file lost a tensor, or gained a stray one."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, folder)
    tensors = load_file(folder / "model.safetensors")
    if drop is not None:
        name = next(name for name in sorted(tensors) if drop in name)
        del tensors[name]
    if add is not None:
        tensors[add] = torch.zeros(3)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.mark.parametrize(("drop", "add"), [("vision_model.encoder.layers.1.mlp.fc1.weight", None),
                                           ("word_embeddings", None),
                                           (None, "text_decoder.stray.weight")])
def test_a_folder_with_missing_or_unexpected_weights_is_refused(tmp_path, tiny_blip_dir, drop, add, capfd):
    folder = _damaged_copy(tiny_blip_dir, tmp_path / "damaged", drop=drop, add=add)
    capfd.readouterr()
    with pytest.raises(ModelUnavailable) as err:
        load(str(folder), device="cpu", precision="fp32")
    text = str(err.value)
    assert "\n" not in text and str(folder) in text
    assert ("missing" if drop else "unexpected") in text
    assert "LOAD REPORT" not in capfd.readouterr().err  # the one line is all the user sees


def test_blip2_missing_a_tensor_is_refused(tmp_path, tiny_blip2_dir):
    folder = _damaged_copy(tiny_blip2_dir, tmp_path / "damaged2", drop="qformer.encoder.layer.0")
    with pytest.raises(ModelUnavailable, match="missing"):
        load(str(folder), device="cpu", precision="fp32")


@pytest.mark.parametrize("kind", ["blip", "blip2"])
@pytest.mark.parametrize("removed", [("tokenizer.json",), ("tokenizer.json", "tokenizer_config.json")])
def test_a_folder_without_its_tokenizer_is_refused(tmp_path, tiny_blip_dir, tiny_blip2_dir, kind, removed):
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_blip_dir if kind == "blip" else tiny_blip2_dir, folder)
    for name in removed:
        (folder / name).unlink()
    with pytest.raises(ModelUnavailable) as err:
        load(str(folder), device="cpu", precision="fp32")
    text = str(err.value)
    assert "\n" not in text and str(folder) in text and "tokenizer" in text


def test_a_broken_processor_file_is_model_unavailable(tmp_path, tiny_blip_dir):
    folder = tmp_path / "bad-processor"
    shutil.copytree(tiny_blip_dir, folder)
    (folder / "processor_config.json").write_text('{"image_processor": {"image_processor_type": 7}}')
    with pytest.raises(ModelUnavailable) as err:
        load(str(folder), device="cpu", precision="fp32")
    assert str(folder) in str(err.value) and "\n" not in str(err.value)

