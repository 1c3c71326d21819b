"""PyAV input/output of `vidcolor video`, and the tiny synthetic clips the video tests share.

The clips are made here with PyAV (no data files): colour bars and moving shapes, a cut, an
audio tone, VFR timestamps, rotation, subtitles and attachments.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidcolor.errors import VidcolorError
from vidcolor.options import EncoderOptions, Window
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import encoder_settings, output_format
from vidcolor.video.probe import probe

# --- shared clip builders (imported by the other test_video_* files) ------------------------


def frame_image(i: int, h: int = 48, w: int = 64, cut_at: int | None = None) -> np.ndarray:
    """A colour test frame: bars with a bright square moving right; after `cut_at` a
    different, darker scene (a scene cut). uint8 (h, w, 3)."""
    img = np.zeros((h, w, 3), np.uint8)
    if cut_at is not None and i >= cut_at:
        yy, xx = np.mgrid[0:h, 0:w]
        img[...] = (20 + 40 * ((xx // 8 + yy // 8) % 2))[..., None].astype(np.uint8)
        img[..., 2] += 30
        return img
    bars = np.array([[200, 200, 200], [200, 200, 20], [20, 200, 200], [20, 200, 20],
                     [200, 20, 200], [200, 20, 20], [20, 20, 200], [30, 30, 30]], np.uint8)
    img[:] = bars[(np.arange(w) * len(bars)) // w][None]
    x0 = (3 * i) % max(w - 12, 1)
    img[h // 3:h // 3 + 12, x0:x0 + 12] = (250, 240, 230)
    return img


def make_clip(path: Path, n: int = 12, size: tuple[int, int] = (48, 64), rate: int = 24,
              pts: list[int] | None = None, time_base: Fraction | None = None,
              audio: bool = False, audio_codec: str = "aac", rotation: float | None = None,
              subtitles: bool = False, attachment: bool = False, cut_at: int | None = None,
              codec: str = "libx264", sample_aspect_ratio: Fraction | None = None) -> Path:
    """Write a small clip.

    Parameters
    ----------
    pts : list of int, optional
        Explicit (e.g. variable-rate) timestamps in `time_base`; default regular at `rate`.
    audio : bool
        A 440 Hz tone as long as the video.
    subtitles, attachment : bool
        An ASS subtitle track with one event per 4 frames / a font-like attachment (mkv only).
    """
    path = Path(path)
    h, w = size
    out = av.open(os.fspath(path), "w")
    vs = out.add_stream(codec, rate=rate, options={"preset": "ultrafast"} if codec == "libx264"
                        else {})
    vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
    tb = time_base or Fraction(1, rate * 100)
    vs.time_base = tb
    vs.codec_context.time_base = tb
    if sample_aspect_ratio is not None:
        vs.codec_context.sample_aspect_ratio = sample_aspect_ratio
    if rotation is not None:
        vs.set_display_rotation(rotation)
    if pts is None:
        step = int(round(1 / (rate * tb)))
        pts = [i * step for i in range(n)]
    n = len(pts)
    seconds = float(pts[-1] * tb) + 1 / rate
    aus = None
    if audio:
        aus = out.add_stream(audio_codec, rate=48000 if audio_codec == "libopus" else 44100)
        aus.layout = "stereo"
    sub = None
    if subtitles:
        sub = out.add_stream("ass")
        sub.codec_context.subtitle_header = (
            b"[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, "
            b"Fontsize\nStyle: Default,Arial,20\n\n[Events]\nFormat: Layer, Start, End, "
            b"Style, Text\n")
    if attachment:
        out.add_attachment("font.ttf", "application/x-truetype-font", b"FAKEFONT" * 100)
    packets = []
    for i, p in enumerate(pts):
        frame = av.VideoFrame.from_ndarray(frame_image(i, h, w, cut_at), format="rgb24")
        frame.pts, frame.time_base = p, tb
        packets += vs.encode(frame)
    packets += vs.encode(None)
    if aus is not None:
        sr = aus.codec_context.sample_rate
        t = np.arange(int(seconds * sr)) / sr
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        chunk = 1024
        for k in range(0, len(tone), chunk):
            data = np.stack([tone[k:k + chunk]] * 2)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="fltp",
                                            layout="stereo")
            af.sample_rate, af.pts, af.time_base = sr, k, Fraction(1, sr)
            packets += aus.encode(af)
        packets += aus.encode(None)
    if sub is not None:
        for k, p in enumerate(pts[::4]):
            pkt = av.Packet(f"{k},0,Default,,0,0,0,,line {k}".encode())
            pkt.stream = sub
            pkt.time_base = tb
            pkt.pts = pkt.dts = p
            pkt.duration = int(round(0.1 / tb))
            packets.append(pkt)
    packets.sort(key=lambda q: float(q.dts * q.time_base) if q.dts is not None else -1)
    for q in packets:
        out.mux(q)
    out.close()
    return path


def make_audio_only(path: Path) -> Path:
    """An MP4 holding a short silent AAC stream and no video."""
    with av.open(os.fspath(path), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=44100)
        for k in range(10):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                            layout="mono")
            af.sample_rate, af.pts = 44100, k * 1024
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    return path


def read_video(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Decoded frame times (seconds) and RGB frames of a file's first video stream."""
    with av.open(os.fspath(path)) as c:
        vs = c.streams.video[0]
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(vs)]
    return [t for t, _ in frames], [f for _, f in frames]


def stream_summary(path: Path) -> dict:
    """Types, codecs and packet counts of a file's streams, plus container metadata."""
    with av.open(os.fspath(path)) as c:
        counts: dict[int, int] = {}
        for p in c.demux():
            if p.size:
                counts[p.stream.index] = counts.get(p.stream.index, 0) + 1
        return {
            "types": [s.type for s in c.streams],
            "codecs": [s.codec_context.name if s.codec_context else None for s in c.streams],
            "packets": counts,
            "metadata": {k.lower(): v for k, v in c.metadata.items()},
            "attachments": [s.metadata.get("filename") for s in c.streams
                            if s.type == "attachment"],
        }


# --- tests of vidcolor.video.probe, .decode and .encode ------------------------------------


def test_output_format_from_extension(tmp_path):
    assert output_format(tmp_path / "a.MP4") == "mp4"
    assert output_format(tmp_path / "a.mkv") == "matroska"
    assert output_format(tmp_path / "a.webm") == "webm"
    with pytest.raises(VidcolorError, match="unknown output extension"):
        output_format(tmp_path / "a.gif")


def test_probe_reads_size_rate_rotation_and_aspect(tmp_path):
    clip = make_clip(tmp_path / "r.mp4", n=6, rotation=90, sample_aspect_ratio=Fraction(4, 3))
    info = probe(clip)
    assert (info.width, info.height) == (64, 48)
    assert info.frames == 6
    assert info.display_matrix is not None
    assert info.sample_aspect_ratio == Fraction(4, 3)
    assert float(info.rate) == pytest.approx(24, rel=0.05)


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 10])
def test_probe_rejects_non_video(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(VidcolorError, match="bad.mp4"):
        probe(bad)


def test_probe_rejects_audio_only(tmp_path):
    path = make_audio_only(tmp_path / "tone.m4a")
    with pytest.raises(VidcolorError, match="no video stream"):
        probe(path)


def test_decode_frames_window_and_resume_point(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n=24, rate=24)
    info = probe(clip)
    all_pts = [f.pts for f in decode_frames(info)]
    assert len(all_pts) == 24 and all_pts == sorted(all_pts)
    window = [f.pts for f in decode_frames(info, Window(0.25, 0.5))]
    assert window == [p for p in all_pts if 0.25 <= p * info.time_base < 0.75]
    resumed = [f.pts for f in decode_frames(info, from_pts=all_pts[10])]
    assert resumed == all_pts[10:]
    frame = next(decode_frames(info))
    assert frame.rgb.shape == (48, 64, 3) and frame.rgb.dtype == np.uint8


def test_encoder_settings_check_container(tmp_path):
    s = encoder_settings("webm", EncoderOptions(), False)
    assert s.codec == "libvpx-vp9"
    s = encoder_settings("mp4", EncoderOptions(), False)
    assert (s.codec, s.crf, s.preset, s.pix_fmt) == ("libx264", 18, "veryfast", "yuv420p")
    with pytest.raises(VidcolorError, match="cannot hold"):
        encoder_settings("webm", EncoderOptions(codec="libx264"), False)
    with pytest.raises(VidcolorError, match="unknown video encoder"):
        encoder_settings("mp4", EncoderOptions(codec="no-such-codec"), False)
