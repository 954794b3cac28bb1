"""Tiny BLIP / BLIP-2 models with random weights, saved like real checkpoints.

They have the real architectures and processors (tokenizer + image processor), so the real loader,
captioner and asker run on them end to end; only the sizes are small (32 px images, 8 px patches,
a few tens of thousands of parameters). Nothing is downloaded. Tests and benchmarks may import the
`build_*` functions directly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# torch and transformers are imported inside the builders: conftest imports this module for every
# test run, and tests that need no model should not pay seconds of imports.

__all__ = [
    "build_tiny_blip",
    "build_tiny_vqa",
    "build_tiny_blip2",
    "tiny_blip_dir",
    "tiny_vqa_dir",
    "tiny_blip2_dir",
    "TINY_IMAGE_SIZE",
]

TINY_IMAGE_SIZE = 32
_WORDS = (
    "a photography of there is an on in the with and dog cat man woman child car bus tree house "
    "beach sea sky red blue green white black sitting standing table street field water boat bird "
    "flower mountain city road grass snow people bicycle horse train plate food window door"
).split()
_HIDDEN = 32


def _vision() -> dict:
    return dict(
        hidden_size=_HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=TINY_IMAGE_SIZE,
        patch_size=8,
        initializer_range=0.02,
    )


def _image_processor():
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    return BlipImageProcessorPil(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE})


def _bert_tokenizer(folder: Path):
    """A BERT word-piece tokenizer laid out like BLIP's: [DEC] is the decoder's start token."""
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS, "[DEC]", "[ENC]"]
    vocab_file = folder / "vocab-source.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # The vocab path must be positional: transformers 5 ignores a vocab_file= keyword.
    tokenizer = BertTokenizer(str(vocab_file), bos_token="[DEC]", extra_special_tokens=["[ENC]"])
    vocab_file.unlink()
    return tokenizer


def _blip_config(tokenizer):
    from transformers import BlipConfig

    text = dict(
        vocab_size=len(tokenizer),
        hidden_size=_HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=64,
        bos_token_id=tokenizer.convert_tokens_to_ids("[DEC]"),
        sep_token_id=tokenizer.sep_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # Wider than BLIP's 0.02, so that a model this small still writes a different caption per image.
        initializer_range=0.2,
    )
    return BlipConfig(
        text_config=text,
        vision_config=_vision(),
        projection_dim=_HIDDEN,
        image_text_hidden_size=_HIDDEN,
        initializer_range=0.2,
    )


def _build_blip(path: Path, model_class_name: str) -> Path:
    import torch
    import transformers
    from transformers import BlipProcessor

    model_class = getattr(transformers, model_class_name)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _bert_tokenizer(path)
    torch.manual_seed(0)
    model = model_class(_blip_config(tokenizer)).eval()
    model.save_pretrained(path, safe_serialization=True)
    BlipProcessor(image_processor=_image_processor(), tokenizer=tokenizer).save_pretrained(path)
    return path


def build_tiny_blip(path: Path) -> Path:
    """A captioning BLIP (BlipForConditionalGeneration) saved in `path`."""
    return _build_blip(path, "BlipForConditionalGeneration")


def build_tiny_vqa(path: Path) -> Path:
    """A question-answering BLIP (BlipForQuestionAnswering) saved in `path`."""
    return _build_blip(path, "BlipForQuestionAnswering")


def _byte_level_tokenizer():
    """An OPT-style byte-level BPE tokenizer: every byte is a token, plus OPT's special tokens."""
    # GPT-2 maps bytes to printable characters; reuse its table so decoding round-trips.
    from transformers import GPT2Tokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    for char in bytes_to_unicode().values():
        vocab.setdefault(char, len(vocab))
    return GPT2Tokenizer(
        vocab=vocab,
        merges=[],
        bos_token="</s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        add_bos_token=True,
    )


def build_tiny_blip2(path: Path) -> Path:
    """A BLIP-2 (Blip2ForConditionalGeneration with a tiny OPT decoder) saved in `path`."""
    import torch
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, OPTConfig

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    num_query_tokens = 4
    processor = Blip2Processor(
        image_processor=_image_processor(), tokenizer=_byte_level_tokenizer(), num_query_tokens=num_query_tokens
    )
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "left"
    text = OPTConfig(
        vocab_size=len(tokenizer),
        hidden_size=_HIDDEN,
        word_embed_proj_dim=_HIDDEN,
        ffn_dim=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    qformer = dict(
        vocab_size=64,
        hidden_size=_HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        encoder_hidden_size=_HIDDEN,
        max_position_embeddings=64,
    )
    config = Blip2Config(
        vision_config=_vision(),
        qformer_config=qformer,
        text_config=text.to_dict(),
        num_query_tokens=num_query_tokens,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    torch.manual_seed(0)
    model = Blip2ForConditionalGeneration(config).eval()
    model.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_blip_dir(tmp_path_factory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture(scope="session")
def tiny_vqa_dir(tmp_path_factory) -> Path:
    return build_tiny_vqa(tmp_path_factory.mktemp("tiny-blip-vqa"))


@pytest.fixture(scope="session")
def tiny_blip2_dir(tmp_path_factory) -> Path:
    return build_tiny_blip2(tmp_path_factory.mktemp("tiny-blip2"))


# Embedding models (issue 11): BLIP retrieval and SigLIP2, as tiny as the models above.

def build_tiny_blip_itm(path: Path) -> Path:
    """A BLIP retrieval model (BlipForImageTextRetrieval) saved in `path`."""
    return _build_blip(path, "BlipForImageTextRetrieval")


def _gemma_style_tokenizer(naflex: bool):
    """SigLIP2's kind of tokenizer (Gemma: BPE with byte fallback, right padding): letters, the words
    above as merges, and the 256 byte tokens. NaFlex folders use Siglip2Tokenizer, which lowercases;
    the fixed-resolution checkpoints ship GemmaTokenizer, which does not."""
    from transformers import GemmaTokenizer
    from transformers.models.siglip2.tokenization_siglip2 import Siglip2Tokenizer

    vocab: dict[str, int] = {}
    for token in ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", *(f"<0x{i:02X}>" for i in range(256))]:
        vocab[token] = len(vocab)
    for char in "▁abcdefghijklmnopqrstuvwxyz":
        vocab.setdefault(char, len(vocab))
    merges = []
    for word in dict.fromkeys(_WORDS):
        piece = "▁"
        for char in word:
            if piece + char not in vocab:
                merges.append((piece, char))
                vocab[piece + char] = len(vocab)
            piece += char
    tokenizer_class = Siglip2Tokenizer if naflex else GemmaTokenizer
    return tokenizer_class(vocab=vocab, merges=merges, padding_side="right")


def build_tiny_siglip2(path: Path, naflex: bool = False) -> Path:
    """A SigLIP2 saved in `path` like google/siglip2-base-patch16-256 (SiglipModel, SiglipProcessor,
    Gemma tokenizer), or with `naflex` like the NaFlex checkpoints (Siglip2Model, Siglip2Processor)."""
    import torch
    import transformers

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _gemma_style_tokenizer(naflex)
    text = dict(vocab_size=len(tokenizer), hidden_size=_HIDDEN, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    vision = {**_vision(), "initializer_range": 0.2}
    if naflex:
        from transformers.models.siglip2.image_processing_pil_siglip2 import Siglip2ImageProcessorPil

        # Siglip2Processor passes its own patch size and budget (16 px, 256 patches) to the image processor.
        del vision["image_size"]
        vision.update(patch_size=16, num_patches=256)
        config = transformers.Siglip2Config(text_config=text, vision_config=vision)
        image_processor = Siglip2ImageProcessorPil(patch_size=16, max_num_patches=256)
        processor = transformers.Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer)
        model_class = transformers.Siglip2Model
    else:
        from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

        config = transformers.SiglipConfig(text_config=text, vision_config=vision)
        image_processor = SiglipImageProcessorPil(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE})
        processor = transformers.SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)
        model_class = transformers.SiglipModel
    torch.manual_seed(0)
    model = model_class(config).eval()
    model.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_itm_dir(tmp_path_factory) -> Path:
    return build_tiny_blip_itm(tmp_path_factory.mktemp("tiny-blip-itm"))


@pytest.fixture(scope="session")
def tiny_siglip2_dir(tmp_path_factory) -> Path:
    return build_tiny_siglip2(tmp_path_factory.mktemp("tiny-siglip2"))


@pytest.fixture(scope="session")
def tiny_siglip2_naflex_dir(tmp_path_factory) -> Path:
    return build_tiny_siglip2(tmp_path_factory.mktemp("tiny-siglip2-naflex"), naflex=True)


__all__ += [
    "build_tiny_blip_itm",
    "build_tiny_siglip2",
    "tiny_itm_dir",
    "tiny_siglip2_dir",
    "tiny_siglip2_naflex_dir",
]
