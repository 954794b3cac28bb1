"""Two Ray nodes on one machine (ray.cluster_utils.Cluster): both caption, the rows are one machine's,
and nodes without the model are named while the photos stay queued."""

from __future__ import annotations

import os

import pytest
from cluster_helpers import claimed_jobs, library_rows
from helpers import make_photos

from photocap.cluster import ClusterOptions, ClusterRun
from photocap.config import Settings
from photocap.engine import Engine
from photocap.vision.registry import ModelUnavailable


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """A head (1 CPU) and a second node (2 CPUs), each with its own empty model cache: each node's
    processes read the HF_HUB_CACHE they were started with, so no preset model is on either."""
    import ray
    from ray.cluster_utils import Cluster

    caches = tmp_path_factory.mktemp("caches")
    saved = os.environ.get("HF_HUB_CACHE")
    try:
        os.environ["HF_HUB_CACHE"] = str(caches / "head")
        # One CPU on the head: it holds one caption worker (1 CPU each here), so the other must run on the
        # second node; decoding goes where there is room.
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                                "object_store_memory": 150 * 2**20})
        os.environ["HF_HUB_CACHE"] = str(caches / "second")
        cluster.add_node(num_cpus=2, resources={"second": 1}, object_store_memory=150 * 2**20)
    finally:
        os.environ.pop("HF_HUB_CACHE")
        if saved is not None:
            os.environ["HF_HUB_CACHE"] = saved
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    # This session's Ray Data starts a pool's work once all of its actors are up: on a busy machine the
    # head's actor could otherwise caption the few photos here before the second node's is ready.
    ray.data.DataContext.get_current().wait_for_min_actors_s = 120
    yield [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    ray.shutdown()
    cluster.shutdown()


def _settings(db, model, embed) -> Settings:
    # Captions slow enough (about 70 ms a batch, against Ray's 40 to 60 ms between decoded batches) that
    # a batch arrives while a caption worker is busy and goes to the other. With 2 to 4 greedy tokens
    # (6 ms a batch) one worker kept up with every batch, and the second node captioned none in about
    # half the runs.
    return Settings(db=str(db), model=str(model), embed_model=str(embed), min_new_tokens=48, max_new_tokens=48,
                    num_beams=4, batch_size=2)


def _run(settings: Settings, folder):
    with Engine(settings) as engine:
        engine.index([str(folder)])
        with ClusterRun(engine, ClusterOptions(address="auto")) as run:
            return run.run()


@pytest.mark.timeout(240)
def test_both_nodes_caption_and_the_rows_are_one_machines(tmp_path, two_nodes, tiny_blip_dir, tiny_itm_dir):
    for side in ("one", "ray"):
        make_photos(tmp_path / side, 40)       # enough batches that Ray Data hands both workers some
    with Engine(_settings(tmp_path / "one.db", tiny_blip_dir, tiny_itm_dir)) as engine:
        engine.index([str(tmp_path / "one")])
        engine.caption_pending()
    progress = _run(_settings(tmp_path / "ray.db", tiny_blip_dir, tiny_itm_dir), tmp_path / "ray")

    assert library_rows(tmp_path / "ray.db") == library_rows(tmp_path / "one.db")
    assert progress.base.done == 40
    assert len(progress.per_node) == 2, progress.per_node          # both nodes did work
    assert all(any(f"node {node_id[:8]}" in node for node in progress.per_node) for node_id in two_nodes)


@pytest.mark.timeout(240)
def test_a_node_without_the_model_is_named_and_its_photos_stay_queued(tmp_path, two_nodes, tiny_itm_dir):
    make_photos(tmp_path / "pics", 12)
    # blip-large is in neither node's model cache.
    with pytest.raises(ModelUnavailable) as raised:
        _run(_settings(tmp_path / "lib.db", "blip-large", tiny_itm_dir), tmp_path / "pics")
    message = str(raised.value)
    assert "\n" not in message
    assert any(f"node {node_id[:8]}" in message for node_id in two_nodes)
    assert "cannot caption, its photos stay queued" in message and "blip-large" in message
    assert "photocap models pull" in message and "--model FOLDER" in message
    rows = library_rows(tmp_path / "lib.db")
    assert [r["status"] for r in rows.values()] == ["pending"] * 12          # queued, not failed
    assert all(r["captions"] == [] for r in rows.values())
    assert claimed_jobs(tmp_path / "lib.db") == 0
