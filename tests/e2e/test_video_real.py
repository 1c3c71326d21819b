"""`vidcolor video` on the real clips of ../shared/data/video (skipped when absent), and one
end-to-end run with a real (tiny, untrained) Keras network.

Real clips are cut to a short window with --start/--duration (or are short already) and encoded
with preset ultrafast, to keep the suite fast on two shared cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest

from support import DATA
from vidcolor import cli

VIDEO = DATA / "video"


def clip(name: str) -> Path:
    path = VIDEO / name
    if not path.is_file():
        pytest.skip(f"{path} not available (set VIDCOLOR_DATA)")
    return path


def run_cli(capsys, *args) -> tuple[int, str]:
    code = cli.main(["video", *map(str, args), "--quiet", "--preset", "ultrafast"])
    return code, capsys.readouterr().err


def frame_times(path: Path, start: float = 0.0, duration: float | None = None) -> list[float]:
    """Display times of the video frames of a window of a file (no pixel decoding)."""
    with av.open(os.fspath(path)) as c:
        vs = c.streams.video[0]
        times = sorted(float(p.pts * p.time_base) for p in c.demux(vs)
                       if p.size and p.pts is not None)
    t0 = times[0] if times else 0.0
    return [t - t0 - start for t in times
            if t - t0 >= start - 1e-6 and (duration is None or t - t0 < start + duration - 1e-6)]


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_real_vfr_clip_keeps_timestamps_and_audio(tmp_path, capsys, fake_model, ext, read_video,
                                                  stream_summary):
    src = clip("vfr_fire_720p.mp4")
    out = tmp_path / f"out{ext}"
    code, err = run_cli(capsys, src, "-o", out)
    assert code == 0, err
    t_out, _ = read_video(out)
    tol = 1e-6 if ext == ".mp4" else 1e-3
    assert t_out == pytest.approx(frame_times(src), abs=tol)
    assert len(t_out) == 25
    assert stream_summary(out)["types"] == ["video", "audio"]


def test_real_mkv_keeps_subtitles_and_attachments(tmp_path, capsys, fake_model, read_video,
                                                  stream_summary):
    src = clip("multistream_subs_attachments_1080p.mkv")
    out = tmp_path / "out.mkv"
    code, err = run_cli(capsys, src, "-o", out, "--duration", "0.5")
    assert code == 0, err
    s_in, s_out = stream_summary(src), stream_summary(out)
    assert s_out["types"] == s_in["types"]
    assert s_out["types"].count("subtitle") == 3
    assert s_out["attachments"] == s_in["attachments"] and len(s_out["attachments"]) == 6
    with av.open(os.fspath(src)) as a, av.open(os.fspath(out)) as b:
        for sa, sb in zip(a.streams, b.streams):
            assert sa.metadata.get("language") == sb.metadata.get("language")
            assert sa.metadata.get("title") == sb.metadata.get("title")
            if sa.type == "subtitle":
                assert sa.codec_context.extradata == sb.codec_context.extradata  # ASS header
    assert len(read_video(out)[0]) == 12  # 0.5 s at 23.976 fps


def test_real_mkv_to_mp4_notes_what_it_leaves_out(tmp_path, capsys, fake_model, stream_summary):
    src = clip("multistream_subs_attachments_1080p.mkv")
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, src, "-o", out, "--duration", "0.25")
    assert code == 0, err
    assert stream_summary(out)["types"] == ["video", "audio"]
    assert err.count("left out") == 9  # 3 subtitle tracks, 6 attachments


def test_real_broken_audio_clip_completes(tmp_path, capsys, fake_model, read_video,
                                          stream_summary):
    src = clip("broken_audio_tail.mp4")
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, src, "-o", out, "--start", "9", "--duration", "2.5")
    assert code == 0, err
    times = frame_times(src, 9, 2.5)
    t_out, _ = read_video(out)
    assert len(t_out) == len(times) > 50
    s = stream_summary(out)
    assert s["types"] == ["video", "audio"] and s["packets"][1] > 50
    assert "Traceback" not in err


@pytest.mark.parametrize("name,ext", [("bbb_480p_30s_5.1.mp4", ".mov"),
                                      ("bw_archival_abomb_432x320.mp4", ".mp4")])
def test_real_clips_window(tmp_path, capsys, fake_model, name, ext, read_video, stream_summary):
    src = clip(name)
    out = tmp_path / f"out{ext}"
    code, err = run_cli(capsys, src, "-o", out, "--start", "1", "--duration", "1")
    assert code == 0, err
    t_out, _ = read_video(out)
    expect = frame_times(src, 1, 1)
    assert t_out == pytest.approx(expect, abs=1e-6)
    s_in, s_out = stream_summary(src), stream_summary(out)
    assert s_out["types"] == s_in["types"]
    if "audio" in s_in["types"]:
        with av.open(os.fspath(out)) as c:
            assert c.streams.audio[0].codec_context.channels == 6  # 5.1 copied as is


def test_real_model_end_to_end(tmp_path, capsys, make_clip, read_video, stream_summary,
                               tiny_model_dir):
    """A real Keras network (alpha, untrained) through the whole command."""
    src = make_clip(tmp_path / "in.mp4", n=10, audio=True)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, src, "-o", out, "--model", tiny_model_dir, "--batch-size", "4")
    assert code == 0, err
    assert len(read_video(out)[0]) == 10
    assert "model test" in stream_summary(out)["metadata"]["comment"]
