"""benchmarks.gpu (the prepared GPU run) on the CPU: its dry run, its figures, its clip trim."""

from __future__ import annotations

import json
import subprocess

import av
import pytest

from benchmarks import gpu
from support import REPO, FakeColorizer, make_clip

STAGES = {"decode", "network", "temporal", "finish", "encode"}


def _stages(**fps):
    base = {"decode_fps": 200.0, "transcode_fps": 50.0, "model_fps": 100.0,
            "stabilize_fps": 300.0, "finish_fps": 20.0, "end_to_end_fps": 60.0}
    return {**base, **fps}


def test_encode_bounds_when_slowest():
    summary = gpu.summarize(_stages(), finish_threads=4)
    rates = summary["thread_fps"]
    assert rates["encode"] == pytest.approx(1 / (1 / 50 - 1 / 200))  # 66.7
    assert rates["finish"] == 80.0
    assert summary["bound"] == "encode"
    assert summary["end_to_end_over_bound"] == pytest.approx(60 / rates["encode"])
    assert summary["network_fps"] == 100.0


def test_network_bounds_when_slowest():
    assert gpu.summarize(_stages(model_fps=30.0), 4)["bound"] == "network"
    assert gpu.summarize(_stages(decode_fps=55.0, transcode_fps=54.0), 4)["bound"] == "decode"


def test_encode_not_separable_is_left_out():
    # A transcode timed faster than the decode alone (noise): no encode rate to compare.
    summary = gpu.summarize(_stages(transcode_fps=210.0, finish_fps=5.0), 4)
    assert summary["thread_fps"]["encode"] is None
    assert summary["bound"] == "finish"


def test_measure_on_a_small_clip(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", n=10, size=(96, 128))
    r = gpu.measure(clip, 10, 4, FakeColorizer())
    g = r["gpu"]
    assert set(g["thread_fps"]) == STAGES
    assert g["bound"] in STAGES
    assert g["network_fps"] == r["model_fps"] > 0
    assert g["end_to_end_fps"] == r["end_to_end_fps"] > 0
    assert 0 < g["end_to_end_over_bound"]
    assert "bound: " + g["bound"] in gpu.format_summary("480p", r)


def test_dry_run_reports_both_clips(tmp_path, tiny_model_dir, capsys):
    clip = make_clip(tmp_path / "clip.mp4", n=12, size=(96, 128))
    out = tmp_path / "out"
    rc = gpu.main(["--dry-run", "--clip-480p", str(clip), "--synthetic-size", "128x72",
                   "--frames", "10", "--frames-1080p", "4", "--batch-size", "4",
                   "--render-size", "64", "--model", str(tiny_model_dir), "--out", str(out)])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["dry_run"] is True
    assert report["device"]["keras_backend"] in ("tensorflow", "jax", "torch")
    assert report["default_batch_size"] in (8, 32)
    assert set(report["clips"]) == {"480p", "1080p"}
    assert report["clips"]["1080p"]["size"] == [128, 72]
    # Whole batches: 10 frames asked, 8 timed (a short last batch would recompile).
    assert report["clips"]["480p"]["frames"] == 8
    assert report["clips"]["1080p"]["frames"] == 4
    for r in report["clips"].values():
        assert r["batch_size"] == 4
        assert r["gpu"]["network_fps"] > 0 and r["gpu"]["end_to_end_fps"] > 0
    assert any(line.startswith("480p: network") for line in lines)
    assert any(line.startswith("1080p: network") for line in lines)
    assert json.loads((out / "gpu_report.json").read_text())["clips"].keys() == {"480p", "1080p"}
    assert "bound: " in (out / "gpu_report.txt").read_text()


def test_without_dry_run_needs_a_gpu(tmp_path, tiny_model_dir, capsys):
    if gpu.describe_backend()["gpus"]:
        pytest.skip("a GPU is visible here")
    clip = make_clip(tmp_path / "clip.mp4", n=4, size=(96, 128))
    rc = gpu.main(["--clip-480p", str(clip), "--model", str(tiny_model_dir)])
    assert rc == 2
    assert "no GPU visible" in capsys.readouterr().err


def test_missing_clip_is_told(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        gpu.main(["--dry-run", "--clip-480p", str(tmp_path / "none.mp4")])
    assert exc.value.code == 2
    assert "no such clip" in capsys.readouterr().err


def test_trim_keeps_the_first_seconds(tmp_path):
    src = make_clip(tmp_path / "src.mp4", n=24, rate=24, audio=True)
    dst = tmp_path / "first.mp4"
    assert gpu.trim_clip(src, dst, 0.5) == 12
    with av.open(str(dst)) as c:
        assert [s.type for s in c.streams] == ["video"]
        assert sum(1 for _ in c.decode(video=0)) == 12
    assert not list(tmp_path.glob(".*part*"))


def test_script_help():
    out = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu.sh"), "--help"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "gpu.sh prepare" in out.stdout and "gpu.sh run" in out.stdout
