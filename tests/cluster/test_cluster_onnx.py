"""`vidcolor video --cluster` with another project's network: the workers load the ONNX file
from its path, and the film equals one process's. Skipped without Ray."""

from __future__ import annotations

import functools

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("onnxruntime")

from support import tiny_onnx_colorizer  # noqa: E402
from vidcolor.models.runtimes import load_color_model  # noqa: E402
from vidcolor.video.cluster import ClusterSession  # noqa: E402
from vidcolor.video.pipeline import colorize_video  # noqa: E402

pytestmark = pytest.mark.usefixtures("local_ray")


def test_cluster_runs_an_onnx_file_as_one_process_does(tmp_path, make_clip, read_video,
                                                       stream_summary, lossless_options):
    net = tiny_onnx_colorizer(tmp_path / "net.onnx")
    src = make_clip(tmp_path / "in.mp4", n=40, size=(64, 64), cut_at=12)
    options = lossless_options(segment_frames=10, stabilize=False)
    load = functools.partial(load_color_model, str(net), "auto", "ddcolor")
    one = colorize_video(src, tmp_path / "one.mp4", load(), options)
    with ClusterSession("local:2", load) as session:
        many = session.colorize_video(src, tmp_path / "many.mp4", options)
    assert many.frames == one.frames == 40
    _, f_one = read_video(tmp_path / "one.mp4")
    _, f_many = read_video(tmp_path / "many.mp4")
    assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(f_one, f_many)) <= 1
    assert "ONNX, sha256 " in stream_summary(tmp_path / "many.mp4")["metadata"]["comment"]
