"""Shared fixtures: temp libraries, real photos, and tiny BLIP / BLIP-2 models built on the spot."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"          # tests never download
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# The tiny test models are all overhead: one torch thread each keeps pytest and the daemons it
# starts from fighting over two cores (set before torch is imported; subprocesses inherit it).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
from hypothesis import settings as hypothesis_settings
from tiny_models import *  # noqa: E402,F401,F403  (session fixtures: tiny_blip_dir, tiny_vqa_dir, ...)

# CI explores the same examples every run, so a red run is this change's and can be rerun as it was;
# runs elsewhere search anew (and keep what they find in the local example database).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch):
    """Keep every test away from the real user's config, data and cache folders."""
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "_user" / var.lower()))
    for var in [v for v in os.environ if v.startswith("PHOTOCAP_")]:
        monkeypatch.delenv(var)
