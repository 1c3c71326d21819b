"""Archival outputs of `vidcolor video`: mezzanine and preservation codecs (ProRes, DNxHR,
FFV1, 10-bit x264), the full bit depth of 10- and 16-bit sources end to end, and the colour
tags (matrix, range, primaries, transfer) read from the source and carried to the output.

Every clip is made here, small, with PyAV (no data files)."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest

from support import FakeColorizer, write_tagged
from vidcolor import color
from vidcolor.errors import OptionError
from vidcolor.options import EncoderOptions
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import encoder_settings, pixel_format
from vidcolor.video.probe import probe


class Grey(FakeColorizer):
    """A model that says "no colour" everywhere: a grey input must come out grey."""

    def predict_ab(self, L):
        super().predict_ab(L)
        return np.zeros(np.shape(L) + (2,), np.float32)


def narrow_ramp(i: int, h: int = 48, w: int = 64) -> np.ndarray:
    """uint16 grey RGB (h, w, 3): a left-to-right ramp over 5% of the range (about 51 levels
    of 10 bits, 13 of 8: a path through 8 bits would band it), a little lighter each frame."""
    ramp = np.linspace(0.40, 0.45, w) + 0.002 * i
    return np.broadcast_to((ramp * 65535).astype(np.uint16)[None, :, None], (h, w, 3)).copy()


def decoded(path) -> list[np.ndarray]:
    """The RGB frames of a file as the pipeline decodes them (uint16 for deep sources)."""
    return [f.rgb for f in decode_frames(probe(path))]


def stream_tags(path) -> dict:
    with av.open(os.fspath(path)) as c:
        cc = c.streams.video[0].codec_context
        return dict(codec=cc.name, pix_fmt=cc.pix_fmt, range=int(cc.color_range),
                    colorspace=int(cc.colorspace), primaries=int(cc.color_primaries),
                    trc=int(cc.color_trc), profile=cc.profile)


def max_dL(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert len(a) == len(b)
    return max(float(np.abs(color.rgb_to_l(x) - color.rgb_to_l(y)).max()) for x, y in zip(a, b))


# --- pixel formats from the codec, its profile and the source's depth -------------------------


@pytest.mark.parametrize("container, options, depth, expected", [
    ("mov", EncoderOptions(codec="prores"), 10, ("prores_ks", "yuv422p10le", "hq")),
    ("mov", EncoderOptions(codec="prores"), 8, ("prores_ks", "yuv422p10le", "hq")),
    ("matroska", EncoderOptions(codec="prores_ks", profile="4444"), 10,
     ("prores_ks", "yuv444p10le", "4444")),
    ("mov", EncoderOptions(codec="dnxhr"), 8, ("dnxhd", "yuv422p", "dnxhr_hq")),
    ("mov", EncoderOptions(codec="dnxhr"), 10, ("dnxhd", "yuv422p10le", "dnxhr_hqx")),
    ("mov", EncoderOptions(codec="dnxhd", profile="444"), 10,
     ("dnxhd", "yuv444p10le", "dnxhr_444")),
    ("matroska", EncoderOptions(codec="ffv1"), 8, ("ffv1", "yuv444p", None)),
    ("matroska", EncoderOptions(codec="ffv1"), 10, ("ffv1", "yuv444p10le", None)),
    ("matroska", EncoderOptions(codec="ffv1"), 12, ("ffv1", "yuv444p12le", None)),
    ("matroska", EncoderOptions(codec="ffv1"), 16, ("ffv1", "yuv444p16le", None)),
    ("mp4", EncoderOptions(), 10, ("libx264", "yuv420p10le", None)),
    ("mp4", EncoderOptions(), 8, ("libx264", "yuv420p", None)),
])
def test_pixel_format_follows_codec_profile_and_source_depth(container, options, depth,
                                                             expected):
    s = encoder_settings(container, options, depth, (256, 128))
    assert (s.codec, s.pix_fmt, s.profile) == expected
    if s.codec == "ffv1":  # the archives' FFV1: version 3, slice CRCs, intra only
        assert {"level": "3", "slicecrc": "1", "g": "1"}.items() <= s.options().items()


def test_an_eight_bit_output_of_a_deep_source_is_said(capsys):
    encoder_settings("mov", EncoderOptions(codec="dnxhr", profile="hq"), 10, (256, 128))
    assert "dnxhd writes yuv422p here, 8 bits of the source's 10" in capsys.readouterr().err
    encoder_settings("mov", EncoderOptions(codec="dnxhr"), 10, (256, 128))
    encoder_settings("mov", EncoderOptions(codec="dnxhr"), 8, (256, 128))
    assert capsys.readouterr().err == ""


def test_x265_writes_ten_bits_for_deeper_sources():
    assert pixel_format("libx265", 12) == pixel_format("libx265", 10) == "yuv420p10le"
    assert pixel_format("libx265", 8) == "yuv420p"


@pytest.mark.parametrize("container, options, size, message", [
    ("mov", EncoderOptions(codec="prores", profile="ultra"), (64, 64),
     "^--profile ultra: prores_ks takes one of hq, proxy, lt, standard, 4444, 4444xq$"),
    ("mov", EncoderOptions(codec="dnxhr", profile="hqxx"), (256, 128),
     "^--profile hqxx: dnxhd takes one of dnxhr_hq, dnxhr_hqx, dnxhr_444, dnxhr_lb"),
    ("mp4", EncoderOptions(profile="hq"), (64, 64), "^--profile hq: only ProRes"),
    ("mp4", EncoderOptions(codec="prores"), (64, 64),
     "^--codec prores: the mp4 container cannot hold prores_ks video "
     r"\(use \.mov or \.mkv\)$"),
    ("matroska", EncoderOptions(codec="dnxhr"), (256, 128),
     r"cannot hold dnxhd video \(use \.mov\)$"),
    ("webm", EncoderOptions(codec="ffv1"), (64, 64), r"cannot hold ffv1 video \(use .*\.mkv"),
    ("mov", EncoderOptions(codec="dnxhr"), (200, 100),
     "DNxHR needs frames of at least 256x120, these are 200x100$"),
])
def test_codec_profile_and_container_refusals_name_the_way_out(container, options, size,
                                                               message):
    with pytest.raises(OptionError, match=message):
        encoder_settings(container, options, 10, size)


def test_cli_refuses_prores_in_mp4_in_one_line_and_writes_nothing(tmp_path, video_cli,
                                                                   fake_model):
    src = write_tagged(tmp_path / "in.mkv", [narrow_ramp(i) for i in range(2)])
    code, err = video_cli(src, "-o", tmp_path / "out.mp4", "--codec", "prores")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert "cannot hold prores_ks video (use .mov or .mkv)" in lines[0]
    assert sorted(os.listdir(tmp_path)) == ["in.mkv"]


# --- full bit depth ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth, pix_fmt", [(10, "yuv444p10le"), (16, "yuv444p16le")])
def test_deep_source_keeps_its_depth_and_lightness_through_ffv1(tmp_path, run_video, depth,
                                                                pix_fmt):
    src = write_tagged(tmp_path / "in.mkv", [narrow_ramp(i) for i in range(4)], "ffv1",
                       pix_fmt)
    dst = tmp_path / "out.mkv"
    assert run_video(src, dst, codec="ffv1").frames == 4
    assert stream_tags(dst)["pix_fmt"] == pix_fmt
    assert probe(dst).bit_depth == depth
    before, after = decoded(src), decoded(dst)
    assert after[0].dtype == np.uint16
    assert max_dL(before, after) <= 0.5
    # No 8-bit step: the ramp keeps its fine levels (an 8-bit copy of it has 14).
    levels = len(np.unique(after[0][..., 1]))
    assert levels > 40, levels


def test_an_rgb_scan_stays_rgb_in_ffv1(tmp_path, run_video):
    # As RAWcooked keeps a DPX scan: FFV1 RGB (gbrp10le), so a grey scan comes back as it was.
    frames = [narrow_ramp(i) for i in range(3)]
    src = write_tagged(tmp_path / "in.mkv", frames, "ffv1", "gbrp10le", "ITU709", 2, (0, 1, 13))
    assert probe(src).colorspace == 0
    dst = tmp_path / "out.mkv"
    run_video(src, dst, codec="ffv1", model=Grey())
    tags = stream_tags(dst)
    assert (tags["pix_fmt"], tags["colorspace"], tags["range"]) == ("gbrp10le", 0, 2)
    before, after = decoded(src), decoded(dst)
    # A quarter of a 10-bit level (64): a trip through 10-bit YUV moves this ramp by 36.
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(before, after)) <= 16
    x264 = tmp_path / "out.mp4"  # a YUV output of it gets the matrix it is converted with
    run_video(src, x264)
    assert (stream_tags(x264)["colorspace"], stream_tags(x264)["range"]) == (6, 1)


def test_ten_bit_source_to_prores_hq_and_x264_keeps_ten_bits(tmp_path, run_video):
    src = write_tagged(tmp_path / "in.mkv", [narrow_ramp(i) for i in range(3)])
    prores = tmp_path / "out.mov"
    run_video(src, prores, codec="prores")
    tags = stream_tags(prores)
    assert (tags["codec"], tags["pix_fmt"]) == ("prores", "yuv422p10le")
    assert tags["profile"] == "HQ"
    x264 = tmp_path / "out.mp4"
    run_video(src, x264)
    assert stream_tags(x264)["pix_fmt"] == "yuv420p10le"
    for out in (prores, x264):
        assert len(np.unique(decoded(out)[0][..., 1])) > 40


def test_dnxhr_hqx_for_a_ten_bit_source(tmp_path, run_video):
    frames = [narrow_ramp(i, 128, 256) for i in range(2)]
    src = write_tagged(tmp_path / "in.mkv", frames)
    dst = tmp_path / "out.mov"
    run_video(src, dst, codec="dnxhr")
    tags = stream_tags(dst)
    assert (tags["codec"], tags["pix_fmt"]) == ("dnxhd", "yuv422p10le")
    assert tags["profile"] == "DNXHR HQX"
    assert max_dL(decoded(src), decoded(dst)) <= 1.0


# --- colour metadata --------------------------------------------------------------------------

#: Patches of known colour (8-bit sRGB): black, white, a grey, and saturated colours whose
#: lightness a wrong matrix would move by several units.
PATCHES = np.array([[0, 0, 0], [255, 255, 255], [118, 118, 118], [200, 30, 40],
                    [30, 170, 60], [40, 60, 210]], np.uint8)


def patch_frame() -> np.ndarray:
    """(48, 96, 3) uint8: the six PATCHES side by side, 16 pixels wide each."""
    return np.repeat(np.repeat(PATCHES[None], 48, axis=0), 16, axis=1)


def patch_means(rgb: np.ndarray) -> np.ndarray:
    """Mean RGB (0..255) of each patch's inner pixels (away from chroma edges)."""
    scale = 257.0 if rgb.dtype == np.uint16 else 1.0
    return np.array([rgb[8:40, 16 * k + 4:16 * k + 12].reshape(-1, 3).mean(0)
                     for k in range(len(PATCHES))]) / scale


#: (matrix, range, tags): an SD BT.601 full-range source, an HD BT.709 video-range one.
COLOUR_CASES = {
    "bt601-full": ("ITU601", 2, (5, 5, 6)),
    "bt709-limited": ("ITU709", 1, (1, 1, 1)),
}


@pytest.mark.parametrize("case", COLOUR_CASES)
def test_source_matrix_and_range_decode_known_colours(tmp_path, case):
    matrix, color_range, tags = COLOUR_CASES[case]
    src = write_tagged(tmp_path / "in.mkv", [patch_frame()] * 2, "ffv1", "yuv444p", matrix,
                       color_range, tags)
    info = probe(src)
    assert (info.matrix, info.color_range, info.colorspace) == (matrix, color_range, tags[0])
    assert (info.color_primaries, info.color_trc) == tags[1:]
    got = patch_means(decoded(src)[0])
    # Decoded with another matrix, or a full-range frame read as video range, these would
    # be off by tens of levels (black 0 would not stay 0, the colours would shift).
    assert np.abs(got - PATCHES).max() <= 3, got.round(1)


@pytest.mark.parametrize("case", COLOUR_CASES)
@pytest.mark.parametrize("codec, ext", [("ffv1", "mkv"), ("libx264", "mp4")])
def test_colour_tags_are_kept_and_colours_right(tmp_path, run_video, case, codec, ext):
    matrix, color_range, tags = COLOUR_CASES[case]
    src = write_tagged(tmp_path / "in.mkv", [patch_frame()] * 3, "ffv1", "yuv444p", matrix,
                       color_range, tags)
    grey = tmp_path / f"grey.{ext}"
    run_video(src, grey, codec=codec, crf=0 if codec == "libx264" else None, model=Grey())
    out = stream_tags(grey)
    assert (out["range"], out["colorspace"], out["primaries"], out["trc"]) == \
        (color_range, *tags)
    rgb = patch_means(decoded(grey)[0])
    assert np.abs(rgb - rgb.mean(1, keepdims=True)).max() <= 1.5, rgb.round(1)  # grey stays
    # A colourised copy keeps each patch's lightness: the output is decoded (as a player
    # does, from its tags) to the L of the known colours.
    coloured = tmp_path / f"colour.{ext}"
    run_video(src, coloured, codec=codec, crf=0 if codec == "libx264" else None)
    known = color.rgb_to_l(PATCHES)
    got = color.rgb_to_l(np.rint(patch_means(decoded(coloured)[0])).astype(np.uint8))
    assert np.abs(got - known).max() <= 1.5, (got.round(2), known.round(2))


@pytest.mark.parametrize("codec, ext", [("ffv1", "mkv"), ("libx264", "mkv"), ("dnxhr", "mov")])
def test_an_untagged_source_gets_the_matrix_it_was_read_with(tmp_path, run_video, codec,
                                                             ext):
    # SD and untagged: read as BT.601 (what players assume), so tagged BT.601, full stop,
    # even where the segment file or the codec keeps no tag of its own.
    frames = [np.repeat(np.repeat(patch_frame(), 3, 0), 3, 1)[:144, :256]] * 2
    src = write_tagged(tmp_path / "in.mkv", frames, "ffv1", "yuv444p", "ITU601", 1, (2, 2, 2))
    dst = tmp_path / f"out.{ext}"
    run_video(src, dst, codec=codec)
    out = stream_tags(dst)
    assert (out["range"], out["colorspace"]) == (1, 6)


def test_prores_from_a_full_range_source_is_video_range(tmp_path, run_video):
    matrix, color_range, tags = COLOUR_CASES["bt601-full"]
    src = write_tagged(tmp_path / "in.mkv", [patch_frame()] * 2, "ffv1", "yuv444p", matrix,
                       color_range, tags)
    dst = tmp_path / "out.mov"
    run_video(src, dst, codec="prores", model=Grey())
    out = stream_tags(dst)
    assert (out["range"], out["colorspace"]) == (1, tags[0])
    rgb = patch_means(decoded(dst)[0])
    assert np.abs(rgb[:3] - PATCHES[:3]).max() <= 2, rgb.round(1)  # black, white, grey


def test_several_films_to_prores_go_into_mov(tmp_path, video_cli, fake_model, make_clip):
    films = tmp_path / "films"
    films.mkdir()
    make_clip(films / "a.mp4", n=3)
    make_clip(films / "b.mkv", n=3)
    code, err = video_cli(films, "-o", tmp_path / "out", "--codec", "prores", "--quiet")
    assert code == 0, err
    # .mp4 cannot hold ProRes: that film goes into ProRes's usual .mov; .mkv can and stays.
    assert sorted(os.listdir(tmp_path / "out")) == ["a.mov", "b.mkv"]
    assert stream_tags(tmp_path / "out" / "a.mov")["codec"] == "prores"


def test_interrupted_ten_bit_ffv1_job_resumes_to_the_same_film(tmp_path, run_video,
                                                               one_finisher):
    src = write_tagged(tmp_path / "in.mkv", [narrow_ramp(i % 8) for i in range(30)])
    dst, ref = tmp_path / "out.mkv", tmp_path / "ref.mkv"
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, codec="ffv1", model=FakeColorizer(interrupt_after=20),
                  batch_size=2, segment_frames=8)
    result = run_video(src, dst, codec="ffv1", batch_size=2, segment_frames=8, resume=True)
    assert result.resumed_frames >= 8 and result.frames == 30
    run_video(src, ref, codec="ffv1", batch_size=2, segment_frames=8)
    assert stream_tags(dst)["pix_fmt"] == "yuv444p10le"
    resumed, whole = decoded(dst), decoded(ref)
    assert len(resumed) == len(whole) == 30
    assert max_dL(resumed, whole) <= 0.5
