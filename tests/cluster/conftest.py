"""A real Ray for the cluster tests: one session per module, stopped (with all its processes) at its end."""

from __future__ import annotations

import os

import pytest

# Before Ray is imported: no usage reports, one line per worker message, no uv-run environments.
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_DEDUP_LOGS"] = "0"
os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"


@pytest.fixture(scope="module")
def ray_local():
    """Ray started here with 3 logical CPUs (one caption worker with 2 threads, one for decoding)."""
    import ray
    # address="local": a Ray of this test run's own, never one that runs on the machine already.
    ray.init(address="local", num_cpus=3, include_dashboard=False, object_store_memory=200 * 2**20,
             log_to_driver=False)
    yield ray
    ray.shutdown()
