"""Loaded tiny models shared by the vision tests (fp32, CPU: exact and repeatable)."""

from __future__ import annotations

import random

import pytest
import torch
from PIL import Image

from photocap.vision.loader import load


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models gain nothing from threads, and spinning threads crawl when other jobs share the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def blip(tiny_blip_dir):
    return load(str(tiny_blip_dir), device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def vqa(tiny_vqa_dir):
    return load(str(tiny_vqa_dir), device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def blip2(tiny_blip2_dir):
    return load(str(tiny_blip2_dir), device="cpu", precision="fp32")


def noise_image(seed: int, size=(48, 40)) -> Image.Image:
    rnd = random.Random(seed)
    return Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3))


@pytest.fixture
def images():
    return [noise_image(seed) for seed in range(5)]
