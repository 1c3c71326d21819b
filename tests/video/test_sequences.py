"""Image sequences in and out of ``vidcolor video``: DPX, TIFF, OpenEXR and PNG frames made
here, checked for frame numbers, bit depth, timecode, rate, lightness kept, gaps, resume and
bad input."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from support import FakeColorizer, frame_image, write_sequence
from vidcolor import color
from vidcolor.errors import VidcolorError
from vidcolor.options import VideoOptions, parse_keyframe
from vidcolor.video.image_headers import read_header
from vidcolor.video.job import FilmJob

NTSC = Fraction(30000, 1001)


def _deep_frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """uint16 frames using every bit: the test frames plus a fine ramp."""
    ramp = np.linspace(0, 255, w, dtype=np.float64)[None, :, None]
    return [np.clip(frame_image(i, h, w).astype(np.float64) * 256 + ramp, 0, 65535)
            .astype(np.uint16) for i in range(n)]


def _decode(path: Path) -> av.VideoFrame:
    ctx = av.CodecContext.create({".dpx": "dpx", ".tif": "tiff", ".exr": "exr",
                                  ".png": "png"}[path.suffix], "r")
    frames = [*ctx.decode(av.Packet(path.read_bytes())), *ctx.decode(None)]
    return frames[0]


def _lightness(frame: av.VideoFrame) -> np.ndarray:
    return color.rgb_to_l(frame.to_ndarray(format="rgb48le"))


def _frames(folder: Path, suffix: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == suffix and not
                  p.name.startswith("."))


def _run(src, dst, model=None, overwrite=False, resume=False, **fields):
    from vidcolor.video.pipeline import colorize_video

    fields.setdefault("preset", "ultrafast")
    return colorize_video(src, dst, model or FakeColorizer(), VideoOptions.from_fields(**fields),
                          overwrite=overwrite, resume=resume)


def test_ten_bit_dpx_keeps_numbers_depth_rate_timecode_and_lightness(tmp_path):
    src_frames = _deep_frames(6)
    pattern = write_sequence(tmp_path / "scan", src_frames, "dpx", "gbrp10le", first=100,
                             rate=NTSC, timecode="01:00:00;00")
    result = _run(str(pattern), tmp_path / "out" / "col_%06d.dpx", segment_frames=4)
    written = _frames(tmp_path / "out", ".dpx")
    assert result.frames == 6
    assert [p.name for p in written] == [f"col_{n:06d}.dpx" for n in range(100, 106)]
    for i, path in enumerate(written):
        header = read_header(path.read_bytes(), "dpx")
        assert header.bits == 10 and header.rate == NTSC
        frame = _decode(path)
        assert frame.format.name.startswith("gbrp10")
        assert frame.metadata["timecode"] == f"01:00:00;{i:02d}"  # FFmpeg's own reading
        src = _decode(tmp_path / "scan" / f"scan_{100 + i:06d}.dpx")
        dL = np.abs(_lightness(frame) - _lightness(src))
        assert dL.max() <= 0.5
        assert np.abs(frame.to_ndarray(format="rgb48le").astype(int)
                      - src.to_ndarray(format="rgb48le")).max() > 1000  # it was coloured
    assert not any(p.name.startswith(".") for p in (tmp_path / "out").iterdir())


def test_sixteen_bit_tiff_into_a_folder_stays_sixteen_bit(tmp_path):
    pattern = write_sequence(tmp_path / "scan", _deep_frames(4), "tiff", "rgb48le", first=7,
                             digits=4)
    _run(str(tmp_path / "scan"), tmp_path / "out", sequence="tiff")
    written = _frames(tmp_path / "out", ".tif")
    assert [p.name for p in written] == [f"scan_{n:06d}.tif" for n in range(7, 11)]
    for i, path in enumerate(written):
        frame = _decode(path)
        assert frame.format.name == "rgb48le"
        src = _decode(Path(str(pattern) % (7 + i)))
        assert np.abs(_lightness(frame) - _lightness(src)).max() <= 0.5


def test_half_exr_with_rate_and_timecode_in_and_out(tmp_path):
    linear = [(f.astype(np.float32) / 65535) ** 2.2 for f in _deep_frames(3)]
    write_sequence(tmp_path / "scan", linear, "exr", "gbrpf32le", first=1, rate=Fraction(25),
                   timecode="10:00:00:00", options={"format": "half"})
    _run(str(tmp_path / "scan" / "scan_000001.exr"), tmp_path / "out" / "f_%04d.exr")
    written = _frames(tmp_path / "out", ".exr")
    assert [p.name for p in written] == ["f_0001.exr", "f_0002.exr", "f_0003.exr"]
    for i, path in enumerate(written):
        header = read_header(path.read_bytes(), "exr")
        assert header.bits == 16 and header.rate == 25
        assert header.timecode == 0x10000000 + i
        out = _decode(path).to_ndarray(format="gbrpf32le")
        src = _decode(tmp_path / "scan" / f"scan_{i + 1:06d}.exr").to_ndarray(format="gbrpf32le")
        # Lightness of the display-referred (sRGB-encoded) pictures, as they are coloured.
        L = lambda x: color.rgb_to_l(np.round(np.clip(x, 0, 1) ** (1 / 2.2) * 65535)  # noqa
                                     .astype(np.uint16))
        assert np.abs(L(out) - L(src)).max() <= 0.5


def test_sequence_to_video_has_one_video_stream_rate_and_timecode(tmp_path):
    write_sequence(tmp_path / "scan", _deep_frames(5), "dpx", "gbrp10le", first=86400,
                   rate=Fraction(24), timecode="01:00:00:00")
    result = _run(str(tmp_path / "scan"), tmp_path / "out.mov", start=2 / 24)
    assert result.frames == 3
    with av.open(os.fspath(tmp_path / "out.mov")) as c:
        v = c.streams.video[0]
        assert [s.type for s in c.streams] == ["video", "data"]  # the tmcd track only
        assert v.average_rate == 24 and v.codec_context.pix_fmt == "yuv420p10le"
        assert v.metadata["timecode"] == "01:00:00:02"


def test_video_to_dpx_numbers_from_zero(tmp_path, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=5)
    _run(src, tmp_path / "out", sequence="dpx")
    written = _frames(tmp_path / "out", ".dpx")
    assert [p.name for p in written] == [f"in_{n:06d}.dpx" for n in range(5)]
    assert read_header(written[0].read_bytes(), "dpx").bits == 8


def test_png_gap_is_refused_naming_the_missing_numbers_unless_allowed(tmp_path):
    frames = [frame_image(i) for i in range(5)]
    write_sequence(tmp_path / "scan", frames, "png", numbers=[1, 2, 5, 6, 9])
    with pytest.raises(VidcolorError, match=r"frames 3, 4, 7, 8 missing .*--allow-gaps"):
        _run(str(tmp_path / "scan"), tmp_path / "out.mkv")
    assert sorted(os.listdir(tmp_path)) == ["scan"]
    _run(str(tmp_path / "scan"), tmp_path / "out.mkv", allow_gaps=True)
    with av.open(os.fspath(tmp_path / "out.mkv")) as c:
        times = [round(float(f.pts * f.time_base) * 24) for f in c.decode(video=0)]
    assert times == [0, 1, 4, 5, 8]  # the timing keeps the gaps
    _run(str(tmp_path / "scan"), tmp_path / "seq" / "p_%03d.png", allow_gaps=True)
    assert [p.name for p in _frames(tmp_path / "seq", ".png")] == \
        ["p_001.png", "p_002.png", "p_005.png", "p_006.png", "p_009.png"]


def test_an_interrupted_sequence_job_resumes_keeping_finished_frames(tmp_path, one_finisher):
    write_sequence(tmp_path / "scan", _deep_frames(20), "dpx", "gbrp10le", first=1)
    out = tmp_path / "out" / "c_%04d.dpx"
    with pytest.raises(KeyboardInterrupt):
        # With one finisher and batches of 1 the writer is at most 8 frames behind the model
        # (three channels of 2, a frame in hand, 2 finishing): 16 coloured, 8 or more written.
        _run(str(tmp_path / "scan"), out, FakeColorizer(interrupt_after=16), segment_frames=4,
             batch_size=1)
    kept = {p.name: p.stat().st_mtime_ns for p in _frames(tmp_path / "out", ".dpx")}
    assert len(kept) >= 8
    result = _run(str(tmp_path / "scan"), out, segment_frames=4, batch_size=1, resume=True)
    assert result.resumed_frames >= 8 and result.frames == 20
    names = [p.name for p in _frames(tmp_path / "out", ".dpx")]
    assert names == [f"c_{n:04d}.dpx" for n in range(1, 21)]
    first_unit = [f"c_{n:04d}.dpx" for n in range(1, result.resumed_frames + 1)]
    assert all((tmp_path / "out" / n).stat().st_mtime_ns == kept[n] for n in first_unit)
    assert not any(p.name.startswith(".") for p in (tmp_path / "out").iterdir())
    # The same frames as an uninterrupted run.
    _run(str(tmp_path / "scan"), tmp_path / "once" / "c_%04d.dpx", segment_frames=4,
         batch_size=1)
    for n in names:
        a = _decode(tmp_path / "out" / n).to_ndarray(format="rgb48le").astype(int)
        b = _decode(tmp_path / "once" / n).to_ndarray(format="rgb48le").astype(int)
        assert np.abs(a - b).max() <= 64


def test_existing_frames_are_not_overwritten_without_overwrite(tmp_path):
    write_sequence(tmp_path / "scan", [frame_image(i) for i in range(3)], "png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "scan_000001.png").write_bytes(b"mine")
    with pytest.raises(VidcolorError, match="already exist.*--overwrite"):
        _run(str(tmp_path / "scan"), tmp_path / "out", sequence="png")
    assert sorted(os.listdir(tmp_path / "out")) == ["scan_000001.png"]
    _run(str(tmp_path / "scan"), tmp_path / "out", sequence="png", overwrite=True)
    assert len(_frames(tmp_path / "out", ".png")) == 3


@pytest.mark.parametrize("case", ["mixed sizes", "mixed depths", "unreadable", "truncated",
                                  "no match", "two sequences"])
def test_bad_sequences_are_one_line_errors_and_write_nothing(tmp_path, case):
    scan = tmp_path / "scan"
    frames = [frame_image(i) for i in range(4)]
    if case == "mixed sizes":
        write_sequence(scan, frames[:3], "png")
        write_sequence(scan, [frame_image(3, 32, 64)], "png", first=3)
    elif case == "mixed depths":
        write_sequence(scan, frames[:3], "dpx", "rgb24")
        write_sequence(scan, [_deep_frames(1)[0]], "dpx", "gbrp10le", first=3)
    elif case == "unreadable":
        write_sequence(scan, frames, "png")
        (scan / "scan_000002.png").write_bytes(b"not a picture at all")
    elif case == "truncated":
        write_sequence(scan, frames, "dpx", "gbrp10le")
        data = (scan / "scan_000002.dpx").read_bytes()
        (scan / "scan_000002.dpx").write_bytes(data[:len(data) // 2])
    elif case == "two sequences":
        write_sequence(scan, frames, "png")
        write_sequence(scan, frames, "png", prefix="other_")
    src = str(scan / "nothing_%04d.png") if case == "no match" else str(scan)
    scan.mkdir(exist_ok=True)
    with pytest.raises(VidcolorError) as e:
        _run(src, tmp_path / "out.mp4")
    assert "\n" not in str(e.value)
    assert sorted(os.listdir(tmp_path)) == ["scan"]


def test_keyframe_by_frame_number_is_placed_on_that_frame(tmp_path, save_picture):
    pattern = write_sequence(tmp_path / "scan", [frame_image(i) for i in range(8)], "png",
                             first=100)
    key = save_picture(tmp_path / "key.png", frame_image(3))
    options = VideoOptions(keyframes=(parse_keyframe(f"{key}@#103"),))
    placed = FilmJob(str(pattern), tmp_path / "out.mp4", options).check().placed
    assert [p.pts for p in placed] == [3]
    bad = VideoOptions(keyframes=(parse_keyframe(f"{key}@#90"),))
    with pytest.raises(VidcolorError, match="#90.*100 to 107"):
        FilmJob(str(pattern), tmp_path / "out.mp4", bad).check()


def test_cli_sequence_in_video_out_says_the_assumed_rate(tmp_path, fake_model, video_cli):
    pattern = write_sequence(tmp_path / "scan", [frame_image(i) for i in range(4)], "png")
    code, err = video_cli(pattern, "-o", tmp_path / "out.mp4", "--quiet", "--preset",
                          "ultrafast")
    assert code == 0 and "no frame rate in the frames' headers; 24 frames/s assumed" in err
    code, err = video_cli(pattern, "-o", tmp_path / "out30.mp4", "--quiet", "--fps", "30")
    assert code == 0 and "assumed" not in err
    with av.open(os.fspath(tmp_path / "out30.mp4")) as c:
        assert c.streams.video[0].average_rate == 30
    code, err = video_cli(pattern, "-o", tmp_path / "out.mkv", "--cluster", "local:1")
    assert code == 1 and "--cluster" in err and len(err.strip().splitlines()) == 1


def test_export_keyframes_from_a_sequence(tmp_path, video_cli):
    frames = [frame_image(i, cut_at=5) for i in range(8)]
    pattern = write_sequence(tmp_path / "scan", frames, "png", first=10)
    code, err = video_cli(pattern, "--export-keyframes", tmp_path / "keys", "--quiet")
    assert code == 0
    assert sorted(os.listdir(tmp_path / "keys")) == ["00-00-00.000.png", "00-00-00.208.png"]


@pytest.mark.parametrize("codec, pix_fmt, bits", [("dpx", "rgb24", 8), ("dpx", "gbrp12le", 12),
                                                  ("dpx", "rgb48le", 16), ("png", "rgb48be", 16),
                                                  ("mjpeg", "yuvj444p", 8),
                                                  ("exr", "gbrpf32le", 32)])
def test_each_frame_format_reads_at_its_depth(tmp_path, codec, pix_fmt, bits):
    from vidcolor.video.sequence import probe_input

    frames = _deep_frames(3) if bits > 8 else [frame_image(i) for i in range(3)]
    if codec == "exr":
        frames = [f.astype(np.float32) / 65535 for f in frames]
    pattern = write_sequence(tmp_path / "scan", frames, codec, pix_fmt, first=5)
    info = probe_input(str(pattern))
    assert (info.bit_depth, info.frames, info.sequence.first) == (bits, 3, 5)
    result = _run(str(pattern), tmp_path / "out.mkv", codec="ffv1")
    assert result.frames == 3


def test_frames_never_replace_the_input_and_fps_is_for_sequences(tmp_path, make_clip):
    pattern = write_sequence(tmp_path / "scan", [frame_image(i) for i in range(3)], "png")
    before = {p.name: p.read_bytes() for p in (tmp_path / "scan").iterdir()}
    with pytest.raises(VidcolorError, match="input's frames"):
        _run(str(pattern), str(pattern), overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "scan").iterdir()} == before
    with pytest.raises(VidcolorError, match="--fps sets an image sequence's rate"):
        _run(make_clip(tmp_path / "in.mp4", n=3), tmp_path / "out.mp4", fps="25")


def test_sequence_into_a_video_file_name_is_refused(tmp_path):
    pattern = write_sequence(tmp_path / "scan", [frame_image(i) for i in range(2)], "png")
    with pytest.raises(VidcolorError, match="--sequence dpx: frames go into a folder"):
        _run(str(pattern), tmp_path / "out.mp4", sequence="dpx")
    assert sorted(os.listdir(tmp_path)) == ["scan"]
