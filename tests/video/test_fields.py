"""Interlaced transfers: field order found from the stream and from the frames, fields coloured
one by one and woven back (kept, with their order and flags, without colour combing), and
--deinterlace at the frame and the field rate."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import VideoReformatter
from support import (FakeColorizer, interlaced_scene, read_fields, woven_frames,
                     write_interlaced)

from vidcolor import color
from vidcolor.errors import VidcolorError
from vidcolor.options import VideoOptions
from vidcolor.video.fields import (detect_field_order, frame_vote, rgb_by_field, split_fields,
                                   weave, yuv_by_field, yuv_frame)
from vidcolor.video.workdir import work_paths

H, W, RATE = 96, 128, 25


def ab_comb(ab: np.ndarray) -> float:
    """Colour combing of a frame's a/b (H, W, 2): mean |a/b of row 2k - a/b of row 2k+1|."""
    return float(np.abs(ab[0::2] - ab[1::2]).mean())


# --- fields and their YUV --------------------------------------------------------------------


@pytest.mark.parametrize("order", ["tt", "bb"])
@pytest.mark.parametrize("height", [8, 9])
def test_split_and_weave_are_inverse(order, height):
    rgb = np.random.default_rng(0).integers(0, 255, (height, 5, 3), np.uint8)
    first, second = split_fields(rgb, order)
    assert np.array_equal(first, rgb[0::2] if order == "tt" else rgb[1::2])
    assert np.array_equal(weave(first, second, order), rgb)


@pytest.mark.parametrize("height, pix_fmt", [(H, "yuv420p"), (90, "yuv420p"),
                                             (91, "yuv444p"), (H, "yuv420p10le")])
def test_yuv_by_field_keeps_each_fields_colour(height, pix_fmt):
    rgb = np.empty((height, W, 3), np.uint8)
    rgb[0::2], rgb[1::2] = (200, 20, 20), (20, 20, 200)  # a red and a blue field
    back = rgb_by_field(yuv_by_field(rgb, pix_fmt, "ITU601", "MPEG"))
    assert np.abs(back.astype(int) - rgb).max() <= 3
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[0::2], rgb[1::2] = (200, 20, 20), (20, 20, 200)
    # A progressive 4:2:0 conversion mixes the fields' colour: what yuv_by_field avoids.
    mixed = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    assert np.abs(rgb_by_field(mixed).astype(int) - rgb).max() > 60


@pytest.mark.parametrize("dtype, pix_fmt, matrix", [(np.uint8, "yuv420p", "ITU709"),
                                                    (np.uint16, "yuv420p10le", "ITU601")])
@pytest.mark.parametrize("convert", [yuv_frame, yuv_by_field])
def test_a_kept_scaler_converts_as_each_frames_own(dtype, pix_fmt, matrix, convert):
    rng = np.random.default_rng(1)
    top = 255 if dtype == np.uint8 else 65535
    kept = VideoReformatter()
    for _ in range(3):  # the kept scaler's later frames too
        rgb = rng.integers(0, top + 1, (H, W, 3)).astype(dtype)
        own = convert(rgb, pix_fmt, matrix, "MPEG")
        with_kept = convert(rgb, pix_fmt, matrix, "MPEG", kept)
        assert np.array_equal(with_kept.to_ndarray(), own.to_ndarray())


# --- detection -----------------------------------------------------------------------------


def test_frame_vote_tells_the_order_and_progressive_frames():
    gray = [f[..., 0].astype(np.float32) for f in woven_frames(3, "tt")]
    assert frame_vote(gray[0], gray[1]) == "tt"
    gray = [f[..., 0].astype(np.float32) for f in woven_frames(3, "bb")]
    assert frame_vote(gray[0], gray[1]) == "bb"
    gray = [interlaced_scene(2 * i)[..., 0].astype(np.float32) for i in range(2)]
    assert frame_vote(gray[0], gray[1]) == "progressive"
    assert frame_vote(gray[0], gray[0]) is None  # no motion: nothing to tell


def test_a_progressive_film_of_fine_texture_is_not_taken_for_fields(tmp_path):
    # Dense grass panned slowly: each frame's own rows alternate as much as any weave of its
    # fields with the frame before's, which is no sign of fields.
    texture = np.random.default_rng(3).integers(0, 256, (96, 200)).astype(np.uint8)
    frames = [np.repeat(texture[:, i:i + 128, None], 3, -1) for i in range(12)]
    gray = [f[..., 0].astype(np.float32) for f in frames]
    assert frame_vote(gray[0], gray[1]) not in ("tt", "bb")
    found = detect_field_order(write_interlaced(tmp_path / "in.mkv", frames, None, "ffv1"))
    assert found.order == "progressive"


@pytest.mark.parametrize("order", ["tt", "bb"])
def test_detects_the_order_from_the_stream(tmp_path, order):
    for codec, name in (("libx264", "in.mp4"), ("ffv1", "in.mkv")):
        clip = write_interlaced(tmp_path / name, woven_frames(6, order), order, codec)
        found = detect_field_order(clip)
        assert (found.order, found.how) == (order, "stream")


@pytest.mark.parametrize("order", ["tt", "bb"])
def test_detects_the_order_from_the_frames(tmp_path, order):
    found = detect_field_order(write_interlaced(tmp_path / "in.mp4", woven_frames(12, order), None))
    assert (found.order, found.how) == (order, "frames")


def test_progressive_films_stay_progressive(tmp_path, make_clip):
    found = detect_field_order(make_clip(tmp_path / "a.mp4", n=12))
    assert found.order == "progressive"
    clip = write_interlaced(tmp_path / "b.mp4", [interlaced_scene(2 * i) for i in range(12)], None)
    assert detect_field_order(clip).order == "progressive"


def test_interlaced_options_are_checked():
    with pytest.raises(VidcolorError, match="--interlaced must be one of"):
        VideoOptions(interlaced="yes")
    with pytest.raises(VidcolorError, match="--deinterlace must be one of"):
        VideoOptions(deinterlace="both")


# --- fields coloured and woven back ----------------------------------------------------------


@pytest.mark.parametrize("order", ["tt", "bb"])
def test_fields_are_kept_with_their_order_and_flags_without_colour_combing(tmp_path, order,
                                                                           run_video):
    src = write_interlaced(tmp_path / "in.mp4", woven_frames(8, order), order)
    dst = tmp_path / "out.mkv"
    # A model whose colour flickers from picture to picture (3 a/b units): the two fields of
    # a frame are given other colours, which the pairing must not let through as combing.
    result = run_video(src, dst, crf=0, model=FakeColorizer(noise=3))
    assert result.frames == 8
    t_in, f_in, _, _ = read_fields(src)
    t_out, f_out, interlaced, field_order = read_fields(dst)
    assert t_out == t_in and all(interlaced) and field_order == {"tt": 2, "bb": 3}[order]
    fake = FakeColorizer()
    for a, b in zip(f_in, f_out):
        L_in, (L_out, ab_out) = color.rgb_to_l(a), color.rgb_to_lab(b)
        for k in (0, 1):  # each output field is its input field, not the other one
            same = np.abs(L_out[k::2] - L_in[k::2]).mean()
            other = np.abs(L_out[k::2] - L_in[1 - k::2][:L_out[k::2].shape[0]]).mean()
            assert same < 1.5 and other > 3 * same
        # The colour of each field is its own, and the fields of a frame agree: its rows
        # alternate no more than the fake model's colour of the input's own pixels does.
        truth = fake.predict_ab(L_in[None])[0]
        assert ab_comb(ab_out) <= ab_comb(truth) + 0.3


def test_pairing_gives_a_second_field_its_first_fields_colour_where_they_agree():
    from vidcolor.video.analysis import FrameAnalyzer
    from vidcolor.video.interlaced import FieldPairing


    analyzer, pairing = FrameAnalyzer(), FieldPairing()
    L = np.tile(np.linspace(20, 80, 64, dtype=np.float32), (48, 1))
    moved = L.copy()
    moved[16:24, 24:32] = 95  # something new in the second field
    first_ab = np.full((48, 64, 2), 10, np.float32)
    assert pairing.step(0, analyzer(L), first_ab) is first_ab
    own = np.full((48, 64, 2), -10, np.float32)
    paired = pairing.step(1, analyzer(moved * 0.95 + 2), own)  # a fade between the fields
    # Where they agree, the first's colour (at least 90 % of it), the new thing its own.
    assert paired[30:].min() > 8 and paired[18:22, 26:30].max() < -9.5
    # The next frame's first field is its own again.
    assert pairing.step(2, analyzer(L), own) is own


def test_interlaced_no_colours_whole_frames(tmp_path, run_video):
    src = write_interlaced(tmp_path / "in.mp4", woven_frames(6, "tt"), "tt")
    dst = tmp_path / "out.mp4"
    model = FakeColorizer(record_shapes=True)
    run_video(src, dst, interlaced="no", model=model, batch_size=2)
    _, _, interlaced, _ = read_fields(dst)
    assert not any(interlaced) and model.frames == 6
    frame_shapes = {s[1:] for s in model.shapes}
    fields = tmp_path / "fields.mp4"
    model = FakeColorizer(record_shapes=True)
    run_video(src, fields, model=model, batch_size=2)
    # Twice the pictures, each field's render copy of the frame's shape.
    assert model.frames == 12 and {s[1:] for s in model.shapes} == frame_shapes


def test_an_interrupted_field_job_resumes(tmp_path, run_video, one_finisher):
    src = write_interlaced(tmp_path / "in.mp4", woven_frames(16, "tt"), "tt")
    dst, ref = tmp_path / "out.mp4", tmp_path / "ref.mp4"
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, model=FakeColorizer(interrupt_after=20), batch_size=2,
                  segment_frames=4)
    assert sorted(p.name for p in work_paths(dst)[0].glob("seg*"))
    result = run_video(src, dst, batch_size=2, segment_frames=4, resume=True)
    assert result.resumed_frames % 4 == 0 and 0 < result.resumed_frames < 16
    run_video(src, ref, batch_size=2, segment_frames=4)
    t_a, f_a, i_a, _ = read_fields(dst)
    t_b, f_b, _, _ = read_fields(ref)
    assert t_a == t_b and all(i_a)
    assert max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(f_a, f_b)) < 1.0


def test_a_keyframe_colours_its_frames_fields(tmp_path, run_video, paint_keyframe, mean_ab):
    src = write_interlaced(tmp_path / "in.mp4", woven_frames(8, "tt"), "tt")
    _, frames, _, _ = read_fields(src)
    key = paint_keyframe(frames[2], (40.0, 40.0), tmp_path / "key.png")
    dst = tmp_path / "out.mp4"
    run_video(src, dst, keyframes=[_keyframe(key, 2 / RATE)])
    _, out, interlaced, _ = read_fields(dst)
    assert all(interlaced)
    for k in (0, 1):  # both fields of the keyframe's frame take its colour
        a, b = mean_ab(out[2][k::2])
        assert a > 20 and b > 20


def _keyframe(path: Path, time: float):
    from vidcolor.options import Keyframe

    return Keyframe(os.fspath(path), time)


# --- --deinterlace ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode, per_frame", [("frame", 1), ("field", 2)])
def test_deinterlace_writes_progressive_frames(tmp_path, run_video, mode, per_frame):
    src = write_interlaced(tmp_path / "in.mp4", woven_frames(6, "bb"), "bb")
    dst = tmp_path / "out.mp4"
    result = run_video(src, dst, deinterlace=mode)
    assert result.frames == 6 * per_frame
    times, frames, interlaced, _ = read_fields(dst)
    assert not any(interlaced) and len(frames) == 6 * per_frame
    assert times == pytest.approx([i / (RATE * per_frame) for i in range(6 * per_frame)])
    # A progressive frame combs no more than a frame of one moment.
    L = color.rgb_to_l(frames[2])
    assert np.abs(L[:-2] + L[2:] - 2 * L[1:-1]).mean() < 2.0


def test_deinterlace_field_needs_a_time_between_frames():
    from fractions import Fraction

    from vidcolor.video.fields import check_field_rate
    from vidcolor.video.probe import VideoInfo

    info = VideoInfo("in.h264", "h264", 0, "h264", W, H, Fraction(1, RATE), Fraction(RATE),
                     0.0, None, 0, False, None, None, field_order="tt")
    with pytest.raises(VidcolorError, match="--deinterlace field: the input's time base"):
        check_field_rate(info)
    check_field_rate(dataclasses.replace(info, time_base=Fraction(1, 1000)))


def test_deinterlace_on_a_progressive_film_changes_nothing(tmp_path, make_clip, run_video,
                                                            capsys):
    src = make_clip(tmp_path / "in.mp4", n=6)
    result = run_video(src, tmp_path / "out.mp4", deinterlace="field")
    assert result.frames == 6 and "changes nothing" in capsys.readouterr().err


def test_cli_takes_the_interlace_options(tmp_path, video_cli, fake_model):
    src = write_interlaced(tmp_path / "in.mp4", woven_frames(4, "tt"), "tt")
    code, err = video_cli(src, "-o", tmp_path / "out.mp4", "--deinterlace", "--quiet",
                          "--preset", "ultrafast")
    assert code == 0, err
    assert not any(read_fields(tmp_path / "out.mp4")[2])
    code, err = video_cli(src, "-o", tmp_path / "out2.mp4", "--interlaced", "bff", "--quiet")
    assert code == 0 and read_fields(tmp_path / "out2.mp4")[3] == 3


def test_an_interrupted_field_rate_job_resumes(tmp_path, run_video, one_finisher):
    src = write_interlaced(tmp_path / "in.mp4", woven_frames(12, "tt"), "tt")
    dst, ref = tmp_path / "out.mp4", tmp_path / "ref.mp4"
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, model=FakeColorizer(interrupt_after=14), batch_size=1,
                  segment_frames=4, deinterlace="field")
    result = run_video(src, dst, batch_size=1, segment_frames=4, deinterlace="field",
                       resume=True)
    assert 0 < result.resumed_frames < 24 and result.frames == 24
    run_video(src, ref, batch_size=1, segment_frames=4, deinterlace="field")
    t_a, f_a, _, _ = read_fields(dst)
    t_b, f_b, _, _ = read_fields(ref)
    assert t_a == t_b and len(t_a) == 24
    assert max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(f_a, f_b)) < 1.0
