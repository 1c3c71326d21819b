"""Timecode: the arithmetic (vidcolor.timecode) and a film's timecode carried to its output,
starting at the first coloured frame."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest

from support import frame_image
from vidcolor.errors import VidcolorError
from vidcolor.timecode import Timecode, parse_timecode

NTSC = Fraction(30000, 1001)


def test_non_drop_labels_count_and_wrap_at_a_day():
    tc = parse_timecode("01:00:00:00", 25)
    assert tc.frames == 90000 and str(tc) == "01:00:00:00"
    assert str(tc + 37) == "01:00:01:12"
    assert str(parse_timecode("23:59:59:23", 24) + 1) == "00:00:00:00"
    assert str(parse_timecode("00:00:00:00", 24) + -1) == "23:59:59:23"


@pytest.mark.parametrize("label, after", [("00:00:59;29", "00:01:00;02"),
                                          ("00:09:59;29", "00:10:00;00"),
                                          ("00:19:59;29", "00:20:00;00"),
                                          ("23:59:59;29", "00:00:00;00")])
def test_drop_frame_skips_two_labels_a_minute_but_each_tenth(label, after):
    assert str(parse_timecode(label, NTSC) + 1) == after


def test_drop_frame_keeps_to_real_time():
    # One hour of 29.97 video is 107892 frames: the label after that many is 01:00:00;00.
    assert parse_timecode("01:00:00;00", NTSC).frames == 107892
    assert str(Timecode(107892, 30, True)) == "01:00:00;00"


@pytest.mark.parametrize("text, rate", [("00:01:00;00", NTSC), ("00:00:00;00", 25),
                                        ("00:00:00:25", 25), ("24:00:00:00", 24),
                                        ("1:2:3", 24)])
def test_bad_labels_are_refused(text, rate):
    with pytest.raises(ValueError):
        parse_timecode(text, rate)


def test_packed_bcd_round_trip():
    tc = parse_timecode("12:34:56;08", NTSC)
    assert hex(tc.bcd()) == hex(0x12345608 | 0x40)
    assert Timecode.from_bcd(tc.bcd(), NTSC) == tc
    assert Timecode.from_bcd(0xFFFFFFFF, 24) is None


def _clip_with_timecode(path, timecode: str | None, n: int = 24, fmt: str = "mov"):
    with av.open(os.fspath(path), "w", format=fmt) as out:
        s = out.add_stream("libx264", rate=24, options={"preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        if timecode:
            s.metadata["timecode"] = timecode
        for i in range(n):
            f = av.VideoFrame.from_ndarray(frame_image(i), format="rgb24")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


def _timecodes(path) -> list[str]:
    with av.open(os.fspath(path)) as c:
        return [v for s in c.streams for k, v in s.metadata.items() if k.lower() == "timecode"]


def test_mov_timecode_starts_at_the_first_coloured_frame(tmp_path, run_video):
    src = _clip_with_timecode(tmp_path / "in.mov", "10:00:00:00")
    run_video(src, tmp_path / "out.mov", start=0.5)
    # A tmcd track (and the video stream's tag), shifted by the 12 frames --start skipped.
    assert set(_timecodes(tmp_path / "out.mov")) == {"10:00:00:12"}
    with av.open(os.fspath(tmp_path / "out.mov")) as c:
        assert [s.type for s in c.streams] == ["video", "data"]  # one timecode track
    run_video(src, tmp_path / "out.mkv")
    assert _timecodes(tmp_path / "out.mkv") == ["10:00:00:00"]


def test_timecode_option_sets_one_and_is_checked_at_the_rate(tmp_path, run_video):
    src = _clip_with_timecode(tmp_path / "in.mp4", None, fmt="mp4")
    run_video(src, tmp_path / "out.mp4", timecode="01:02:03:04")
    assert set(_timecodes(tmp_path / "out.mp4")) == {"01:02:03:04"}
    with pytest.raises(VidcolorError, match="--timecode.*drop-frame"):
        run_video(src, tmp_path / "bad.mp4", timecode="01:02:03;04")
    assert not (tmp_path / "bad.mp4").exists()
    assert np.all([not p.name.startswith(".bad") for p in tmp_path.iterdir()])


def test_a_films_timecode_goes_into_each_dpx_frame_from_the_first_coloured(tmp_path, run_video):
    from vidcolor.video.image_headers import read_header

    src = _clip_with_timecode(tmp_path / "in.mov", "00:59:59:20")
    run_video(src, tmp_path / "out", sequence="dpx", start=0.25)  # 6 frames skipped
    frames = sorted((tmp_path / "out").glob("in_*.dpx"))
    assert len(frames) == 18 and frames[0].name == "in_000000.dpx"
    labels = [Timecode.from_bcd(read_header(p.read_bytes(), "dpx").timecode, 24)
              for p in frames]
    # 00:59:59:20 + 6 frames at 24/s, then one label a frame.
    assert labels == [parse_timecode("01:00:00:02", 24) + i for i in range(18)]
    assert str(labels[-1]) == "01:00:00:19"
