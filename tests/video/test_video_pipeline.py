"""`vidcolor video` end to end on tiny synthetic clips, with a fake (numpy) colorizer."""

from __future__ import annotations

import os
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from support import REPO, TESTS, FakeColorizer, write_x264
from vidcolor import cli
from vidcolor.errors import VidcolorError
from vidcolor.options import EncoderOptions, VideoOptions, Window
from vidcolor.video import frames as video_frames, stages
from vidcolor.video.pipeline import work_paths


def test_frames_timestamps_audio_rotation_kept(tmp_path, capsys, make_clip, read_video,
                                               stream_summary, run_video):
    src = make_clip(tmp_path / "in.mp4", n=20, audio=True, rotation=90,
                    sample_aspect_ratio=Fraction(4, 3))
    dst = tmp_path / "out.mp4"
    result = run_video(src, dst, batch_size=3, segment_frames=7)  # 3 segments, ragged batches
    assert result.frames == 20
    t_in, f_in = read_video(src)
    t_out, f_out = read_video(dst)
    assert t_out == pytest.approx(t_in, abs=1e-6)
    assert f_out[0].shape == f_in[0].shape
    # Colour was added: the output has chroma, the lightness is the input's.
    out_rgb = f_out[5].astype(float)
    assert np.abs(out_rgb[..., 0] - out_rgb[..., 1]).mean() > 5
    s_in, s_out = stream_summary(src), stream_summary(dst)
    assert s_out["types"] == ["video", "audio"]
    assert s_out["codecs"][1] == "aac"
    assert s_out["packets"][1] == s_in["packets"][1]  # audio copied packet for packet
    assert "colorized by vidcolor" in s_out["metadata"]["comment"]
    assert "model fake" in s_out["metadata"]["comment"]
    with av.open(os.fspath(dst)) as c:
        frame = next(c.decode(video=0))
        assert frame.rotation == 90
        assert c.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
    work, partial = work_paths(dst)
    assert not work.exists() and not partial.exists()


def test_vfr_timestamps_survive_segment_boundaries(tmp_path, make_clip, read_video, run_video):
    # Irregular gaps, in a 1/90000 time base, with B-frames crossing segment boundaries.
    pts = [0, 3000, 9000, 10000, 30000, 33000, 36000, 37500, 45000, 60000, 61000, 70000, 71000]
    src = make_clip(tmp_path / "vfr.mp4", pts=pts, time_base=Fraction(1, 90000), rate=30)
    for ext in ("mp4", "mov", "mkv"):
        dst = tmp_path / f"out.{ext}"
        run_video(src, dst, segment_frames=4)
        t_out, _ = read_video(dst)
        tol = 1e-3 if ext == "mkv" else 1e-6  # Matroska stores milliseconds
        assert t_out == pytest.approx([p / 90000 for p in pts], abs=tol), ext


def test_start_time_kept(tmp_path, make_clip, read_video, run_video):
    pts = [4500 + 3750 * i for i in range(8)]  # first frame at 0.05 s
    src = make_clip(tmp_path / "late.mp4", pts=pts, time_base=Fraction(1, 90000), rate=24)
    dst = tmp_path / "out.mp4"
    run_video(src, dst)
    t_out, _ = read_video(dst)
    assert t_out[0] == pytest.approx(0.05, abs=1e-6)
    assert len(t_out) == 8


def test_window_start_duration(tmp_path, make_clip, read_video, run_video):
    src = make_clip(tmp_path / "in.mp4", n=48, rate=24, audio=True)
    dst = tmp_path / "out.mp4"
    result = run_video(src, dst, start=0.5, duration=1.0)
    t_out, _ = read_video(dst)
    assert result.frames == len(t_out) == 24
    assert t_out[0] == pytest.approx(0.0, abs=1e-6)  # the window starts the output
    with av.open(os.fspath(dst)) as c:
        audio = c.streams.audio[0]
        seconds = sum(p.duration or 0 for p in c.demux(audio) if p.size) * audio.time_base
    assert float(seconds) == pytest.approx(1.0, abs=0.1)


def test_mkv_keeps_subtitles_and_attachments_mp4_notes_drop(tmp_path, capsys, make_clip,
                                                            stream_summary, run_video):
    src = make_clip(tmp_path / "in.mkv", n=12, audio=True, subtitles=True, attachment=True)
    s_in = stream_summary(src)
    assert s_in["types"] == ["video", "audio", "subtitle", "attachment"]
    dst = tmp_path / "out.mkv"
    run_video(src, dst)
    s_out = stream_summary(dst)
    assert s_out["types"] == s_in["types"]
    assert s_out["packets"].get(2) == s_in["packets"][2]  # every subtitle event
    assert s_out["attachments"] == ["font.ttf"]
    capsys.readouterr()
    dst4 = tmp_path / "out.mp4"
    result = run_video(src, dst4)
    err = capsys.readouterr().err
    assert stream_summary(dst4)["types"] == ["video", "audio"]
    assert "attachments need .mkv" in err and "subtitle" in err
    assert set(result.report.dropped) == {2, 3}


def test_webm_reencodes_audio_with_a_note(tmp_path, capsys, make_clip, read_video, stream_summary,
                                          run_video):
    src = make_clip(tmp_path / "in.mp4", n=6, audio=True)
    dst = tmp_path / "out.webm"
    result = run_video(src, dst, crf=40)
    err = capsys.readouterr().err
    s = stream_summary(dst)
    assert s["codecs"] == ["vp9", "opus"]
    assert "re-encoded to libopus" in err
    assert result.report.reencoded == {1: "libopus"}
    assert len(read_video(dst)[0]) == 6


def test_existing_output_needs_overwrite(tmp_path, make_clip, read_video, run_video):
    src = make_clip(tmp_path / "in.mp4", n=4)
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"precious")
    with pytest.raises(VidcolorError, match="already exists"):
        run_video(src, dst)
    assert dst.read_bytes() == b"precious"
    run_video(src, dst, overwrite=True)
    assert len(read_video(dst)[0]) == 4


def test_interrupt_leaves_no_output_and_resume_finishes(tmp_path, one_finisher, capsys, make_clip,
                                                        read_video, run_video):
    src = make_clip(tmp_path / "in.mp4", n=30, audio=True)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, model=FakeColorizer(noise=3, interrupt_after=20), batch_size=2,
                  segment_frames=8)
    work, partial = work_paths(dst)
    assert not dst.exists() and not partial.exists()
    # How far encoding got behind the model is up to the threads; bounded queues keep it
    # within a segment or two, and only whole segments are kept.
    segments = sorted(p.name for p in work.glob("seg*"))
    assert segments in (["seg00000.vseg"], ["seg00000.vseg", "seg00001.vseg"])
    assert "--resume" in capsys.readouterr().err
    fresh = FakeColorizer(noise=3)
    result = run_video(src, dst, model=fresh, batch_size=2, segment_frames=8, resume=True)
    assert result.resumed_frames == 8 * len(segments) and result.frames == 30
    assert fresh.frames == 30 - result.resumed_frames  # only the missing frames
    # Same result as an uninterrupted run (noise is seeded per frame count: align it).
    ref = tmp_path / "ref.mp4"
    run_video(src, ref, model=FakeColorizer(noise=3), batch_size=2, segment_frames=8)
    t_a, f_a = read_video(dst)
    t_b, f_b = read_video(ref)
    assert t_a == t_b
    assert max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(f_a, f_b)) < 1.0
    assert not work.exists()


def test_resume_refuses_other_settings(tmp_path, one_finisher, make_clip, run_video):
    src = make_clip(tmp_path / "in.mp4", n=40)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        # The model runs at most ~10 frames ahead of the encoder (bounded queues, batch 2),
        # so a few segments of 4 are done when it stops at 24.
        run_video(src, dst, model=FakeColorizer(interrupt_after=24), batch_size=2,
                  segment_frames=4)
    assert (work_paths(dst)[0] / "progress.json").exists()
    with pytest.raises(VidcolorError, match="other settings"):
        run_video(src, dst, crf=30, batch_size=2, segment_frames=4, resume=True)


def test_stabilization_reduces_flicker(tmp_path, make_clip, read_video, run_video):
    src = make_clip(tmp_path / "in.mp4", n=16)

    def flicker(dst, **kw):
        run_video(src, dst, model=FakeColorizer(noise=12), batch_size=4, **kw)
        _, frames = read_video(dst)
        f = np.stack(frames).astype(float)
        return np.abs(np.diff(f, axis=0)).mean()

    off = flicker(tmp_path / "off.mp4", stabilize=False)
    on = flicker(tmp_path / "on.mp4")
    assert on < 0.6 * off


def test_scene_cut_stops_colour_leaking(tmp_path, make_clip, read_video, run_video):
    # Before the cut the model says red, after it blue; a stabilizer without the cut reset
    # would drag red into the first frames of the new shot.
    class ShotColorizer(FakeColorizer):
        def predict_ab(self, L):
            dark = L.mean(axis=(1, 2)) < 40  # the second shot is darker
            ab = np.where(dark[:, None, None, None], [[[[0.0, -40.0]]]], [[[[50.0, 20.0]]]])
            return np.broadcast_to(ab, L.shape + (2,)).astype(np.float32)

    src = make_clip(tmp_path / "cut.mp4", n=10, cut_at=5)
    dst = tmp_path / "out.mp4"
    result = run_video(src, dst, model=ShotColorizer(), stabilize_strength=1.0)
    assert result.cuts == 2  # the first frame and the cut
    _, frames = read_video(dst)
    first_after = frames[5].astype(float)
    assert first_after[..., 2].mean() > first_after[..., 0].mean() + 10  # blue, not red


# --- the command line ------------------------------------------------------------------------


def test_cli_colorizes_and_reports(tmp_path, capsys, fake_model, make_clip, read_video, video_cli):
    src = make_clip(tmp_path / "in.mp4", n=8, audio=True)
    code, err = video_cli(src, "-o", tmp_path / "o.mkv", "--quiet", "--preset",
                          "ultrafast", "--stabilize-strength", "0.5", "--batch-size", "3")
    assert code == 0, err
    assert "8 frames" in err
    assert len(read_video(tmp_path / "o.mkv")[0]) == 8


@pytest.mark.parametrize("case", ["missing", "text", "empty", "audio_only", "bad_ext",
                                  "exists", "strength", "bad_time", "window_after_end",
                                  "no_folder", "same_file"])
def test_cli_bad_input_is_one_line(tmp_path, capsys, fake_model, case, make_clip, read_video,
                                   video_cli):
    src = make_clip(tmp_path / "in.mp4", n=4)
    out = tmp_path / "o.mp4"
    extra: list = []
    if case == "missing":
        src = tmp_path / "nope.mp4"
    elif case == "text":
        src = tmp_path / "t.mp4"
        src.write_text("hello")
    elif case == "empty":
        src = tmp_path / "e.mkv"
        src.write_bytes(b"")
    elif case == "audio_only":
        src = tmp_path / "a.wav"
        with av.open(os.fspath(src), "w") as c:
            a = c.add_stream("pcm_s16le", rate=8000)
            af = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                            layout="mono")
            af.sample_rate = 8000
            af.pts = 0
            for p in a.encode(af):
                c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    elif case == "bad_ext":
        out = tmp_path / "o.gif"
    elif case == "exists":
        out.write_bytes(b"x")
    elif case == "strength":
        extra = ["--stabilize-strength", "1.5"]
    elif case == "bad_time":
        extra = ["--start", "soon"]
    elif case == "window_after_end":
        extra = ["--start", "100"]
    elif case == "no_folder":
        out = tmp_path / "missing" / "o.mp4"
    elif case == "same_file":
        out = src
        extra = ["--overwrite"]
    if case == "bad_time":
        with pytest.raises(SystemExit) as e:
            cli.main(["video", str(src), "-o", str(out), *extra])
        assert e.value.code == 2
        return
    code, err = video_cli(src, "-o", out, "--quiet", *extra)
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:"), err
    assert "Traceback" not in err
    if case not in ("exists", "same_file"):
        assert not out.exists()
    if case == "same_file":
        assert len(read_video(src)[0]) == 4  # untouched
    assert not work_paths(out)[0].exists() and not work_paths(out)[1].exists()


def test_truncated_input_gives_the_frames_that_decode(tmp_path, capsys, fake_model, make_clip,
                                                      read_video, video_cli):
    src = make_clip(tmp_path / "in.mkv", n=60, size=(96, 128), audio=True)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    code, err = video_cli(cut, "-o", tmp_path / "o.mp4", "--quiet", "--preset",
                          "ultrafast")
    assert code == 0, err
    n = len(read_video(tmp_path / "o.mp4")[0])
    assert 10 < n < 60
    assert "Traceback" not in err


def test_undecodable_audio_packets_dropped_with_warning(tmp_path, capsys, fake_model, make_clip,
                                                        read_video, stream_summary, video_cli):
    src = make_clip(tmp_path / "in.mkv", n=24, audio=True, audio_codec="mp2")
    # Remux with every 5th audio packet's payload replaced by garbage.
    bad = tmp_path / "bad.mkv"
    rng = np.random.default_rng(0)
    n_audio = n_bad = 0
    with av.open(os.fspath(src)) as inp, av.open(os.fspath(bad), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for p in inp.demux():
            if not p.size:
                continue
            index = p.stream.index
            if p.stream.type == "audio":
                n_audio += 1
                if n_audio % 5 == 0:
                    q = av.Packet(b"\xff" + rng.integers(0, 256, p.size - 1, np.uint8).tobytes())
                    q.pts, q.dts, q.time_base = p.pts, p.dts, p.time_base
                    q.duration = p.duration
                    p, n_bad = q, n_bad + 1
            p.stream = streams[index]
            out.mux(p)
    assert n_bad >= 3
    code, err = video_cli(bad, "-o", tmp_path / "o.mp4", "--quiet", "--preset",
                          "ultrafast")
    assert code == 0, err
    assert len(read_video(tmp_path / "o.mp4")[0]) == 24
    s = stream_summary(tmp_path / "o.mp4")
    assert s["types"] == ["video", "audio"]
    import re

    m = re.search(r"stream 1: (\d+) undecodable packet\(s\) left out", err)
    assert m, err
    dropped = int(m.group(1))
    assert dropped >= 3  # the demuxer's parser may split or merge garbage packets
    assert s["packets"][1] == stream_summary(bad)["packets"][1] - dropped
    assert "Traceback" not in err


def test_video_options_from_flat_fields():
    # What the CLI and the server's form both build: the window, the encoder, the rest.
    options = VideoOptions.from_fields(start=1.5, duration=2, codec="libx264", crf=20,
                                       preset="fast", render_size=128, stabilize=False)
    assert options == VideoOptions(render_size=128, stabilize=False, window=Window(1.5, 2),
                                   encoder=EncoderOptions("libx264", 20, "fast"))
    assert VideoOptions.from_fields() == VideoOptions()
    read = []

    def keyframes():  # read only once the window and the encoder are checked
        read.append(True)
        yield from ()

    with pytest.raises(VidcolorError, match="--crf"):
        VideoOptions.from_fields(crf=-1, keyframes=keyframes())
    with pytest.raises(VidcolorError, match="--start"):
        VideoOptions.from_fields(start=-1, crf=-1)
    assert not read


def test_default_batch_size_without_gpu():
    assert video_frames.default_batch_size() in (8, 32)


@pytest.mark.parametrize("jax_backend, expected", [("gpu", 32), ("cpu", 8)])
def test_default_batch_size_keras_on_jax(monkeypatch, jax_backend, expected):
    # Keras on JAX: the GPU is JAX's, whatever TensorFlow (absent here) would say.
    from types import SimpleNamespace

    keras = SimpleNamespace(backend=SimpleNamespace(backend=lambda: "jax"))
    monkeypatch.setitem(sys.modules, "keras", keras)
    monkeypatch.setitem(sys.modules, "jax", SimpleNamespace(default_backend=lambda: jax_backend))
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    assert video_frames.default_batch_size() == expected


def test_chapters_kept(tmp_path, make_clip, run_video):
    src = make_clip(tmp_path / "plain.mkv", n=24)
    chaptered = tmp_path / "chapters.mkv"
    with av.open(os.fspath(src)) as inp, av.open(os.fspath(chaptered), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        ms = Fraction(1, 1000)
        out.set_chapters([
            {"id": 1, "start": 0, "end": 500, "time_base": ms, "metadata": {"title": "One"}},
            {"id": 2, "start": 500, "end": 1000, "time_base": ms, "metadata": {"title": "Two"}},
        ])
        for p in inp.demux():
            if p.size:
                p.stream = streams[p.stream.index]
                out.mux(p)
    for ext in ("mkv", "mp4"):
        dst = tmp_path / f"out.{ext}"
        run_video(chaptered, dst)
        with av.open(os.fspath(dst)) as c:
            chapters = c.chapters()
        assert [ch["metadata"]["title"] for ch in chapters] == ["One", "Two"], ext
        assert float(chapters[1]["start"] * chapters[1]["time_base"]) == pytest.approx(0.5)


def test_high_bit_depth_input_stays_10_bit(tmp_path, run_video):
    ramp = np.linspace(0, 65535, 64 * 48 * 3).reshape(48, 64, 3)
    src = write_x264(tmp_path / "ten.mkv", [(ramp * (i + 1) / 5).astype(np.uint16) for i in range(5)],
                      "rgb48le", "yuv420p10le")
    dst = tmp_path / "out.mkv"
    assert run_video(src, dst).frames == 5
    with av.open(os.fspath(dst)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p10le"


def test_avi_output_keeps_frames_and_audio(tmp_path, make_clip, read_video, stream_summary,
                                           run_video):
    src = make_clip(tmp_path / "in.mp4", n=12, audio=True)
    dst = tmp_path / "out.avi"
    run_video(src, dst, segment_frames=5)
    assert len(read_video(dst)[0]) == 12
    assert stream_summary(dst)["types"] == ["video", "audio"]


_SLOW_CLI = """
import sys, time
sys.path.insert(0, {tests!r})
from support import FakeColorizer
import vidcolor.models.store as store
import dataclasses
from vidcolor.video import pipeline

class Slow(FakeColorizer):
    def predict_ab(self, L):
        time.sleep(0.15)
        return super().predict_ab(L)

store.load_model = lambda directory=None: Slow()
full_length = pipeline.colorize_video
def four_frame_segments(input, output, model=None, options=None, **kw):
    return full_length(input, output, model, dataclasses.replace(options, segment_frames=4), **kw)
pipeline.colorize_video = four_frame_segments
from vidcolor import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_in_a_real_process_then_resume(tmp_path, make_clip, read_video, run_video):
    import signal
    import subprocess

    from benchmarks.fuzz import default_sigint
    import sys
    import time

    src = make_clip(tmp_path / "in.mp4", n=64, audio=True)
    dst = tmp_path / "out.mp4"
    work, partial = work_paths(dst)
    script = _SLOW_CLI.format(tests=os.fspath(TESTS))
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "video", os.fspath(src), "-o", os.fspath(dst), "--quiet",
         "--preset", "ultrafast", "--batch-size", "2"],
        stderr=subprocess.PIPE, text=True, cwd=REPO,
        preexec_fn=default_sigint)  # Ctrl-C's effect even where pytest runs in the background
    deadline = time.time() + 60
    while not (work / "progress.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    assert (work / "progress.json").exists(), proc.stderr.read() if proc.poll() else ""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "vidcolor: interrupted"
    assert "--resume" in err and "Traceback" not in err
    assert not dst.exists() and not partial.exists()
    assert not list(work.glob("*.tmp*"))
    result = run_video(src, dst, resume=True, segment_frames=4, batch_size=2)
    assert 0 < result.resumed_frames < 64 and result.frames == 64
    assert len(read_video(dst)[0]) == 64


def test_stream_the_muxer_refuses_is_dropped_with_a_note(tmp_path, capsys, make_clip, read_video,
                                                         stream_summary, run_video):
    # MPEG-TS with a KLV data track: MP4 cannot hold it; the job still completes.
    plain = make_clip(tmp_path / "plain.mp4", n=12, audio=True)
    src = tmp_path / "klv.ts"
    with av.open(os.fspath(plain)) as inp, av.open(os.fspath(src), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        data = out.add_data_stream("klv")
        for p in inp.demux():
            if p.size:
                p.stream = streams[p.stream.index]
                out.mux(p)
        for i in range(3):
            q = av.Packet(b"\x06\x0e\x2b\x34" + bytes(12))
            q.stream, q.time_base = data, Fraction(1, 90000)
            q.pts = q.dts = i * 22500
            out.mux(q)
    assert stream_summary(src)["types"] == ["video", "audio", "data"]
    dst = tmp_path / "out.mp4"
    result = run_video(src, dst)
    assert stream_summary(dst)["types"] == ["video", "audio"]
    assert 2 in result.report.dropped
    assert "stream 2 left out" in capsys.readouterr().err
    assert len(read_video(dst)[0]) == 12


def test_unwritable_folder_is_a_one_line_error(tmp_path, capsys, fake_model, make_clip, video_cli):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    src = make_clip(tmp_path / "in.mp4", n=4)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, err = video_cli(src, "-o", ro / "o.mp4", "--quiet")
    finally:
        ro.chmod(0o700)
    assert code == 1 and err.startswith("vidcolor: error:") and len(err.splitlines()) == 1


def test_resume_inside_a_window(tmp_path, one_finisher, make_clip, read_video, run_video):
    src = make_clip(tmp_path / "in.mp4", n=72, rate=24, audio=True)
    dst = tmp_path / "out.mkv"
    window = dict(start=0.5, duration=1.5, segment_frames=8, batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, model=FakeColorizer(interrupt_after=30), **window)
    result = run_video(src, dst, resume=True, **window)
    assert result.resumed_frames in (8, 16, 24) and result.frames == 36
    t_out, _ = read_video(dst)
    assert t_out == pytest.approx([i / 24 for i in range(36)], abs=1e-3)


def test_parallel_finishing_keeps_frame_order(tmp_path, monkeypatch, make_clip, read_video,
                                              run_video):
    src = make_clip(tmp_path / "in.mp4", n=20)
    monkeypatch.setattr(stages, "_finish_threads", lambda: 1)
    run_video(src, tmp_path / "one.mkv", codec="ffv1", segment_frames=6)
    monkeypatch.setattr(stages, "_finish_threads", lambda: 4)
    run_video(src, tmp_path / "four.mkv", codec="ffv1", segment_frames=6)
    t1, f1 = read_video(tmp_path / "one.mkv")
    t4, f4 = read_video(tmp_path / "four.mkv")
    assert t1 == t4 and len(f1) == 20
    for a, b in zip(f1, f4):
        np.testing.assert_array_equal(a, b)  # lossless codec: identical frames, same order


@pytest.mark.parametrize("size,tag,expect", [((48, 64), None, 6), ((48, 64), 1, 1),
                                             ((720, 1280), None, 1)])
def test_colours_survive_the_yuv_matrix(tmp_path, size, tag, expect, run_video):
    """The output is tagged with the matrix it was encoded with, and decodes to the colours
    the model asked for: BT.709 for tagged or HD input, BT.601 for small untagged input."""
    from vidcolor import color

    class Constant(FakeColorizer):
        def predict_ab(self, L):
            return np.broadcast_to(np.float32([30.0, 25.0]), L.shape + (2,)).copy()

    src = tmp_path / "flat.mp4"
    h, w = size
    with av.open(os.fspath(src), "w") as out:
        s = out.add_stream("libx264", rate=24, options={"preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        if tag is not None:
            s.codec_context.colorspace = tag
        for i in range(3):
            f = av.VideoFrame.from_ndarray(np.full((h, w, 3), 120, np.uint8), format="rgb24")
            f = f.reformat(format="yuv420p", dst_colorspace="ITU709" if tag else None)
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    dst = tmp_path / "out.mp4"
    run_video(src, dst, model=Constant(), stabilize=False)
    with av.open(os.fspath(dst)) as c:
        assert c.streams.video[0].codec_context.colorspace == expect
        got = next(c.decode(video=0)).to_ndarray(format="rgb24")
    with av.open(os.fspath(src)) as c:
        frame = next(c.decode(video=0))
        matrix = "ITU709" if (tag or h >= 720) else "ITU601"
        L = color.rgb_to_l(frame.to_ndarray(format="rgb24", src_colorspace=matrix))
    want = color.lab_to_rgb(L, np.broadcast_to(np.float32([30.0, 25.0]), L.shape + (2,)))
    assert np.abs(got.astype(int) - want.astype(int)).mean(axis=(0, 1)).max() < 2.5


def test_output_keeps_each_frames_lightness(tmp_path, make_clip, read_video, run_video):
    # Even where the model asks for colours sRGB cannot show at that lightness.
    from vidcolor import color

    class Loud(FakeColorizer):
        def predict_ab(self, L):
            return np.broadcast_to(np.float32([90.0, -90.0]), L.shape + (2,)).copy()

    src = make_clip(tmp_path / "in.mkv", n=3, codec="ffv1")
    dst = tmp_path / "out.mkv"
    run_video(src, dst, model=Loud(), codec="ffv1", stabilize=False)
    _, f_in = read_video(src)
    _, f_out = read_video(dst)
    dL = np.abs(color.rgb_to_l(f_out[1]) - color.rgb_to_l(f_in[1]))
    assert np.median(dL) < 1.5 and np.percentile(dL, 95) < 4  # yuv420p chroma subsampling


def test_odd_sized_video_keeps_its_size(tmp_path, read_video, run_video):
    src = write_x264(tmp_path / "odd.mkv", [np.full((49, 65, 3), 60 * i, np.uint8) for i in range(4)],
                      "rgb24", "yuv444p")
    for ext in ("mkv", "mp4"):
        dst = tmp_path / f"out.{ext}"
        run_video(src, dst)
        _, frames = read_video(dst)
        assert len(frames) == 4 and frames[0].shape == (49, 65, 3), ext


def test_every_model_call_has_the_batch_size(tmp_path, make_clip, run_video):
    """A clip's short last batch is padded, so a compiled model never traces a new shape."""

    class Recording(FakeColorizer):
        def __init__(self):
            super().__init__()
            self.shapes = set()

        def predict_ab(self, L):
            self.shapes.add(np.shape(L))
            return super().predict_ab(L)

    src = make_clip(tmp_path / "in.mp4", n=10)
    model = Recording()
    result = run_video(src, tmp_path / "out.mp4", model=model, batch_size=4)  # 4 + 4 + 2
    assert result.frames == 10
    assert len(model.shapes) == 1 and next(iter(model.shapes))[0] == 4
    core = video_frames.FrameColorizer(FakeColorizer())
    L = [np.full((32, 48), v, np.float32) for v in (10.0, 50.0, 90.0)]
    np.testing.assert_array_equal(core.predict(L, batch_size=8), core.predict(L))
