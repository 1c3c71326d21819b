"""One film on a simulated two-node Ray cluster (``ray.cluster_utils.Cluster``): a worker on
each node, the input reaching the second one only through the object store."""

from __future__ import annotations

import functools
import os

import pytest

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from support import REPO, TESTS, FakeColorizer  # noqa: E402
from vidcolor.options import VideoOptions  # noqa: E402
from vidcolor.video.cluster import ClusterSession  # noqa: E402


@pytest.fixture(scope="module")
def two_nodes():
    if ray.is_initialized():
        ray.shutdown()
    nodes = cluster_utils.Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 100 * 2**20, "include_dashboard": False})
    nodes.add_node(num_cpus=1, object_store_memory=100 * 2**20)
    path = os.pathsep.join([str(REPO), str(TESTS)])
    ray.init(address=nodes.address, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def test_one_job_on_two_nodes(tmp_path, two_nodes, make_clip, read_video, stream_summary):
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    src = make_clip(tmp_path / "in.mp4", n=30, audio=True, cut_at=14)
    dst = tmp_path / "out.mp4"
    with ClusterSession(two_nodes.address, functools.partial(FakeColorizer, noise=12)) as s:
        assert len(s.actors) == 2  # one CPU a node: one actor on each
        result = s.colorize_video(src, dst, VideoOptions.from_fields(segment_frames=8,
                                                                     preset="ultrafast"))
    assert result.frames == 30 and result.cuts == 2
    assert len(read_video(dst)[0]) == 30
    assert stream_summary(dst)["packets"][1] == stream_summary(src)["packets"][1]
