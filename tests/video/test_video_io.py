"""PyAV input/output of `vidcolor video`: vidcolor.video.probe, .decode and .encode, on the
tiny synthetic clips of conftest's ``make_clip``."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vidcolor.errors import VidcolorError
from vidcolor.options import EncoderOptions, Window
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import encoder_settings, output_format
from vidcolor.video.probe import probe


def test_output_format_from_extension(tmp_path):
    assert output_format(tmp_path / "a.MP4") == "mp4"
    assert output_format(tmp_path / "a.mkv") == "matroska"
    assert output_format(tmp_path / "a.webm") == "webm"
    with pytest.raises(VidcolorError, match="unknown output extension"):
        output_format(tmp_path / "a.gif")


def test_probe_reads_size_rate_rotation_and_aspect(tmp_path, make_clip):
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


def test_probe_rejects_audio_only(tmp_path, make_audio_only):
    path = make_audio_only(tmp_path / "tone.m4a")
    with pytest.raises(VidcolorError, match="no video stream"):
        probe(path)


def test_decode_frames_window_and_resume_point(tmp_path, make_clip):
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


def test_decoded_frames_are_pyavs_own_conversion(tmp_path, make_clip):
    # decode_frames keeps one scaler for all frames: each frame as its own to_ndarray gives it.
    import av

    clip = make_clip(tmp_path / "c.mp4", n=8, size=(48, 66))
    info = probe(clip)
    with av.open(str(clip)) as container:
        own = [f.to_ndarray(format="rgb24", src_colorspace=info.matrix)
               for f in container.decode(video=0)]
    decoded = [f.rgb for f in decode_frames(info)]
    assert len(decoded) == len(own) == 8
    assert all(np.array_equal(a, b) for a, b in zip(decoded, own))


def test_encoder_settings_check_container(tmp_path):
    s = encoder_settings("webm", EncoderOptions())
    assert s.codec == "libvpx-vp9"
    s = encoder_settings("mp4", EncoderOptions())
    assert (s.codec, s.crf, s.preset, s.pix_fmt) == ("libx264", 18, "veryfast", "yuv420p")
    with pytest.raises(VidcolorError, match="cannot hold"):
        encoder_settings("webm", EncoderOptions(codec="libx264"))
    with pytest.raises(VidcolorError, match="unknown video encoder"):
        encoder_settings("mp4", EncoderOptions(codec="no-such-codec"))
