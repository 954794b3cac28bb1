"""A BLIP model of the base presets' shape with random weights, saved like a checkpoint.

The benchmarks measure full-size models without downloading any: the architecture and the sizes are
real, only the weights are random.
"""

from __future__ import annotations

from pathlib import Path


def build(folder: Path, model_class: str) -> Path:
    """A BLIP model of the base presets' shape with random weights, saved like a checkpoint."""
    import torch
    import transformers
    from transformers import BertTokenizer, BlipConfig, BlipProcessor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    folder.mkdir(parents=True)
    config = BlipConfig(vision_config={"initializer_range": 0.02})  # realistic magnitudes, no denormals
    text = config.text_config
    # A word-piece vocabulary with BLIP's ids where they matter: [PAD] 0, [SEP] 102, [DEC] 30522.
    vocab = [f"w{i}" for i in range(text.vocab_size)]
    vocab[0], vocab[100], vocab[101], vocab[103] = "[PAD]", "[UNK]", "[CLS]", "[MASK]"
    vocab[text.sep_token_id], vocab[text.bos_token_id], vocab[text.bos_token_id + 1] = "[SEP]", "[DEC]", "[ENC]"
    vocab_file = folder / "vocab-source.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab_file), bos_token="[DEC]")  # positional: vocab_file= is ignored
    vocab_file.unlink()
    torch.manual_seed(0)
    getattr(transformers, model_class)(config).save_pretrained(folder, safe_serialization=True)
    BlipProcessor(image_processor=BlipImageProcessorPil(), tokenizer=tokenizer).save_pretrained(folder)
    return folder
