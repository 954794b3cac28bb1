"""A node that dies mid-run (ray.cluster_utils.Cluster.remove_node kills its raylet and every process on
it, as a machine that loses power or network would): Ray runs its work again on the node left, and every
photo is still captioned exactly once, with the rows one machine records."""

from __future__ import annotations

import pytest
from cluster_helpers import claimed_jobs, library_rows
from helpers import make_photos

from photocap.cluster import ClusterOptions, ClusterRun
from photocap.config import Settings
from photocap.engine import Engine

PHOTOS = 60


@pytest.fixture
def doomed_node():
    """A head with 3 CPUs and a second node with 2 (a caption worker and room to decode on each), so the
    head has room for the worker Ray restarts when the second node dies; yields the cluster and the node."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 3, "include_dashboard": False,
                                                            "object_store_memory": 150 * 2**20})
    node = cluster.add_node(num_cpus=2, object_store_memory=150 * 2**20)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    context = ray.data.DataContext.get_current()
    saved = context.wait_for_min_actors_s
    context.wait_for_min_actors_s = 120             # both workers up before the work starts
    try:
        yield cluster, node
    finally:
        context.wait_for_min_actors_s = saved
        ray.shutdown()
        cluster.shutdown()


def _settings(db, model, embed) -> Settings:
    return Settings(db=str(db), model=str(model), embed_model=str(embed), min_new_tokens=2, max_new_tokens=4,
                    num_beams=1, batch_size=2)


@pytest.mark.timeout(240)
def test_a_node_that_dies_mid_run_loses_and_doubles_nothing(tmp_path, doomed_node, tiny_blip_dir, tiny_itm_dir):
    cluster, node = doomed_node
    for side in ("one", "ray"):
        make_photos(tmp_path / side, PHOTOS)
    with Engine(_settings(tmp_path / "one.db", tiny_blip_dir, tiny_itm_dir)) as engine:
        engine.index([str(tmp_path / "one")])
        engine.caption_pending()

    second = f"node {node.node_id[:8]}"
    killed_after: list[int] = []

    def kill_when_the_second_node_has_worked(progress) -> None:
        # Called on the driver between recorded batches: the second node has work in flight by then.
        if not killed_after and sum(n for name, n in progress.per_node.items() if second in name) >= 2:
            killed_after.append(progress.base.done)
            cluster.remove_node(node, allow_graceful=False)

    with Engine(_settings(tmp_path / "ray.db", tiny_blip_dir, tiny_itm_dir)) as engine:
        engine.index([str(tmp_path / "ray")])
        with ClusterRun(engine, ClusterOptions(address="auto"),
                        on_progress=kill_when_the_second_node_has_worked) as run:
            progress = run.run()

    assert killed_after and killed_after[0] < PHOTOS, "the run ended before the node died: use more photos"
    rows = library_rows(tmp_path / "ray.db")
    assert [len(r["captions"]) for r in rows.values()] == [1] * PHOTOS        # each exactly once
    assert rows == library_rows(tmp_path / "one.db")
    assert claimed_jobs(tmp_path / "ray.db") == 0
    assert progress.base.done == PHOTOS and progress.base.failed == 0
    assert len(progress.per_node) == 2                                        # both worked, one died
