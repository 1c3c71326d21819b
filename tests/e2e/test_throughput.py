"""benchmarks.throughput on a tiny synthetic clip with a tiny untrained model."""

from __future__ import annotations

import json
import subprocess
import sys

from support import REPO

KEYS = ("decode_fps", "transcode_fps", "color_fps", "model_fps", "stabilize_fps",
        "end_to_end_fps")


def test_throughput_json(tiny_model_dir, capsys):
    from benchmarks import throughput

    # --size shrinks the synthetic clip so every stage runs in well under a second.
    rc = throughput.main(["--synthetic-1080p", "--size", "128x96", "--frames", "10",
                          "--batch-size", "4", "--render-size", "64",
                          "--model", str(tiny_model_dir)])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    for key in KEYS:
        assert result[key] > 0, key
    assert result["frames"] == 10
    assert set(result["cpu_ms_per_frame"]) == {"transcode", "prepare", "model", "stabilize", "finish",
                                               "end_to_end"}
    assert all(v > 0 for v in result["cpu_ms_per_frame"].values())
    assert result["all_cores_bound_fps"] > 0
    assert result["size"] == [128, 96]
    assert result["batch_size"] == 4
    assert len(result["render_shape"]) == 2
    assert result["threads"]["cpus"] >= 1
    assert "av" in result["versions"] and "vidcolor" in result["versions"]
    assert any(line.startswith("end to end") for line in lines)


def test_vidcolor_bench_hands_over():
    # `vidcolor bench` execs the benchmark module; --help reaches its parser, not vidcolor's.
    out = subprocess.run([sys.executable, "-m", "vidcolor.cli", "bench", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "benchmarks.throughput" in out.stdout
