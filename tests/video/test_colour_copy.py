"""--colour-from: a low-resolution colour copy's chroma on the black-and-white master."""

from __future__ import annotations

import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from support import MODEL_AB, Flat
from vidcolor import color
from vidcolor.options import ColourCopy
from vidcolor.video.analysis import FrameAnalyzer
from vidcolor.video.colour_copy import (MIN_NOISE, ColourCopyStep, agreement, align_copy,
                                        blockiness, choose_drift, chromaticity,
                                        fitted_where_flat, fused,
                                        global_motion, guided_ab, match_error, noise_level,
                                        smoothed_where_flat, work_shape)
from vidcolor.video.pipeline import work_paths
from vidcolor.video.probe import probe

H, W = 144, 192
BACK_AB = (25.0, 25.0)     # the background's true colour: brown-orange
SQUARE_AB = (-40.0, 35.0)  # the square's: green
N = 16


class FineFlat(Flat):
    render_size = 128


def _scene(i: int, x0: int | None = None) -> np.ndarray:
    """The true colour frame ``i``: a textured background and a lighter square moving right
    5 pixels a frame (or at ``x0``), each of one colour. uint8 (H, W, 3)."""
    yy, xx = np.mgrid[0:H, 0:W]
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 12, (H // 8, W // 8)).repeat(8, 0).repeat(8, 1)
    L = (45 + 12 * np.sin(xx / 9.0) * np.cos(yy / 11.0) + noise).astype(np.float32)
    ab = np.empty((H, W, 2), np.float32)
    ab[:] = BACK_AB
    x0 = 10 + 5 * i if x0 is None else x0
    L[50:94, x0:x0 + 44] = 70.0
    ab[50:94, x0:x0 + 44] = SQUARE_AB
    return color.lab_to_rgb(L, ab)


def _square(i: int) -> np.ndarray:
    """The inside of frame ``i``'s square (its edges softened by the copy's size)."""
    mask = np.zeros((H, W), bool)
    x0 = 10 + 5 * i
    mask[58:86, x0 + 8:x0 + 36] = True
    return mask


def _write(path: Path, frames: list[np.ndarray], pts: list[int] | None = None,
           rate: int = 24) -> Path:
    """An x264 (4:4:4, near lossless) clip of ``frames`` at ``pts`` (default 0, 1, ...) in
    ticks of 1/``rate`` s."""
    with av.open(os.fspath(path), "w") as out:
        s = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "8"})
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv444p"
        for p, image in zip(pts or range(len(frames)), frames):
            f = av.VideoFrame.from_ndarray(image, format="rgb24")
            f.pts = p
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def _master(path: Path, n: int = N, bars: int = 0) -> Path:
    """The grey master; with ``bars``, in a taller frame with black bars of that many lines
    above and below (a letterbox)."""
    frames = [color.l_to_grey_rgb(color.rgb_to_l(_scene(i))) for i in range(n)]
    return _write(path, [np.pad(f, ((bars, bars), (0, 0), (0, 0))) for f in frames])


def _copy(path: Path, late: int = 0, keep=None, n: int = N, bars: int = 0) -> Path:
    """A copy at a quarter of the size, ``late`` frames late (frames before the film's
    start lead it); only the copy frames ``keep`` says (all by default); with ``bars``, in a
    wider frame with black bars of that many columns either side (a pillarbox)."""
    import cv2

    frames = [np.pad(cv2.resize(_scene(i - late), (W // 4, H // 4),
                                interpolation=cv2.INTER_AREA), ((0, 0), (bars, bars), (0, 0)))
              for i in range(n + late)]
    pts = [k for k in range(n + late) if keep is None or keep(k)]
    return _write(path, [frames[k] for k in pts], pts)


def _ab(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return color.rgb_to_lab(rgb)[1][mask].mean(0)


def _near(ab, target, tol=8.0) -> bool:
    return bool(np.abs(np.asarray(ab) - target).max() < tol)


def _check_colours(out: list[np.ndarray], frames=range(N)) -> None:
    background = np.zeros((H, W), bool)
    background[4:40, 4:-4] = True
    for i in frames:
        assert _near(_ab(out[i], _square(i)), SQUARE_AB), (i, _ab(out[i], _square(i)))
        assert _near(_ab(out[i], background), BACK_AB), (i, _ab(out[i], background))


def test_copy_colours_the_master_with_its_own_lightness(tmp_path, run_video, read_video,
                                                       caplog):
    master, copy = _master(tmp_path / "bw.mkv"), _copy(tmp_path / "copy.mkv")
    dst = tmp_path / "out.mkv"
    result = run_video(master, dst, model=FineFlat(), codec="ffv1",
                       colour_from=ColourCopy(str(copy)))
    assert result.frames == N
    assert f"colour copy: of {N} frames, {N} coloured from their own copy frame" in caplog.text
    _, out = read_video(dst)
    _, grey = read_video(master)
    _check_colours(out)
    for o, g in zip(out, grey):  # the output's lightness is the master's, not the copy's
        assert np.abs(color.rgb_to_l(o) - color.rgb_to_l(g)).mean() < 1.0
    assert not _near(_ab(out[5], _square(5)), MODEL_AB, 30.0)


@pytest.mark.parametrize("master_bars, copy_bars", [(0, 8), (24, 0)])
def test_black_bars_on_either_film_are_left_out(tmp_path, run_video, read_video, master_bars,
                                               copy_bars):
    # A copy pillarboxed (its frame wider than its picture), a master letterboxed: without
    # their bars the two pictures are the same, and the copy colours the master.
    master = _master(tmp_path / "bw.mkv", bars=master_bars)
    copy = _copy(tmp_path / "copy.mkv", bars=copy_bars)
    dst = tmp_path / "out.mkv"
    run_video(master, dst, model=FineFlat(), codec="ffv1", colour_from=ColourCopy(str(copy)))
    _, out = read_video(dst)
    _check_colours([o[master_bars:master_bars + H] for o in out])
    if master_bars:  # and the master's bars stay black, not tinted
        assert max(int(o[:master_bars - 2].max()) for o in out) <= 1


SHOT = 14  # frames a shot of the three-shot film
SHOT_AB = [(BACK_AB, SQUARE_AB), ((-20.0, -30.0), (40.0, 10.0)), ((30.0, -25.0), (-30.0, -10.0))]


def _shot_scene(k: int, i: int) -> np.ndarray:
    """Frame ``i`` of shot ``k`` of a three-shot film: each shot's own texture and colours,
    a lighter square moving right. uint8 (H, W, 3)."""
    yy, xx = np.mgrid[0:H, 0:W]
    noise = np.random.default_rng(k).integers(0, 12, (H // 8, W // 8)).repeat(8, 0).repeat(8, 1)
    L = (30 + 12 * k + 12 * np.sin(xx / (6.0 + 4 * k) + 2 * k) * np.cos(yy / (13.0 - 3 * k))
         + noise).astype(np.float32)
    back, square = SHOT_AB[k]
    ab = np.empty((H, W, 2), np.float32)
    ab[:] = back
    x0 = 10 + 5 * i
    L[50:94, x0:x0 + 44] = 70.0
    ab[50:94, x0:x0 + 44] = square
    return color.lab_to_rgb(L, ab)


@pytest.mark.parametrize("edit", ["shot cut out", "break added"])
def test_a_copy_of_another_cut_is_found_again_after_its_edit(tmp_path, run_video, read_video,
                                                             caplog, edit):
    # A TV version: the copy lacks the film's second shot, so its third comes SHOT frames
    # early; or a break of another picture comes before the second, which comes SHOT frames
    # late. Either is far beyond the drift search.
    film = [(k, i) for k in range(3) for i in range(SHOT)]
    master = _write(tmp_path / "bw.mkv", [color.l_to_grey_rgb(color.rgb_to_l(
        _shot_scene(k, i))) for k, i in film])
    small = [cv2.resize(_shot_scene(k, i), (W // 4, H // 4), interpolation=cv2.INTER_AREA)
             for k, i in film]
    if edit == "shot cut out":
        copy_frames, coloured = small[:SHOT] + small[2 * SHOT:], [0, 2]
    else:
        grey_card = [np.full_like(small[0], 90)] * SHOT
        copy_frames, coloured = small[:SHOT] + grey_card + small[SHOT:], [0, 1, 2]
    copy = _write(tmp_path / "copy.mkv", copy_frames)
    dst = tmp_path / "out.mkv"
    run_video(master, dst, model=FineFlat(), codec="ffv1", colour_from=ColourCopy(str(copy)))
    assert "followed to 1 place(s) far off" in caplog.text
    out = read_video(dst)[1]
    background = np.zeros((H, W), bool)
    background[4:40, 4:-4] = True
    for k in coloured:  # the copy's colours from each shot's first frame (cut: searched)
        for i in range(SHOT):
            frame = out[k * SHOT + i]
            assert _near(_ab(frame, background), SHOT_AB[k][0]), (k, i)
            assert _near(_ab(frame, _square(i)), SHOT_AB[k][1]), (k, i)


def _steps(master: Path, copy: ColourCopy, features: bool = False,
           out: list | None = None, restorer="shipped") -> ColourCopyStep:
    """The copy step run over the master's frames alone (model colour: Flat's); with
    ``features``, given Flat's match features; each frame's a/b appended to ``out``."""
    from vidcolor.colorize import render_shape, resize_l
    from vidcolor.propagate import FILM_SPREAD
    from vidcolor.video.decode import decode_frames

    info = probe(master)
    shape = render_shape(info.height, info.width, 128, 16)
    step = ColourCopyStep(copy, info, shape, FILM_SPREAD.for_film(), restorer=restorer)
    analyzer = FrameAnalyzer()
    for f in decode_frames(info):
        L = resize_l(color.rgb_to_l(f.rgb), shape)
        feats = Flat().match_features(L[None])[0] if features else None
        ab, _ = step.step(f.pts, analyzer(L),
                          np.broadcast_to(np.float32(MODEL_AB), shape + (2,)), feats)
        if out is not None:
            out.append((L, ab))
    step.close()
    return step


def test_offset_and_a_drift_of_two_frames_are_found(tmp_path, run_video, read_video):
    master = _master(tmp_path / "bw.mkv")
    copy = _copy(tmp_path / "copy.mkv", late=7)
    assert _steps(master, ColourCopy(str(copy), offset=7)).drift == 0
    step = _steps(master, ColourCopy(str(copy), offset=5))  # 2 frames more: the drift
    assert step.drift == 2 and step.found == N
    dst = tmp_path / "out.mkv"
    run_video(master, dst, model=FineFlat(), codec="ffv1",
              colour_from=ColourCopy(str(copy), offset=5))
    _check_colours(read_video(dst)[1])


def test_frames_the_copy_lacks_fall_back_without_error(tmp_path, run_video, read_video):
    master = _master(tmp_path / "bw.mkv")
    # The copy lacks frames 6 to 9 and everything from 13 on.
    copy = _copy(tmp_path / "copy.mkv", keep=lambda k: not 6 <= k <= 9 and k < 13)
    step = _steps(master, ColourCopy(str(copy)))
    # Those frames are coloured from the nearest copy frames that look alike, or not at all.
    assert step.found == N - 7 and step.borrowed + step.missed == 7 and step.drift == 0
    dst = tmp_path / "out.mkv"
    result = run_video(master, dst, model=FineFlat(), codec="ffv1",
                       colour_from=ColourCopy(str(copy)))
    assert result.frames == N
    out = read_video(dst)[1]
    _check_colours(out, [i for i in range(N) if not 6 <= i <= 9 and i < 13])
    background = np.zeros((H, W), bool)
    background[4:40, 4:-4] = True
    for i in (6, 7, 13, 15):  # the still background keeps the colour carried from before
        assert _near(_ab(out[i], background), BACK_AB, 10.0), (i, _ab(out[i], background))


JUMP = 9      # from this frame on the square is far to the right: no flow follows it there
JUMP_X = 130


def _jumping(i: int) -> np.ndarray:
    return _scene(i, JUMP_X if i >= JUMP else None)


def test_missing_and_damaged_frames_take_colour_by_correspondence(tmp_path):
    import cv2

    master = _write(tmp_path / "bw.mkv", [color.l_to_grey_rgb(color.rgb_to_l(_jumping(i)))
                                          for i in range(N)])
    frames = [cv2.resize(_jumping(i), (W // 4, H // 4), interpolation=cv2.INTER_AREA)
              for i in range(N)]
    frames[13][:] = (0, 255, 0)  # damaged beyond use: nothing like the master
    # The copy lacks frames 6 to 12 (the square's jump at 9 is more than DRIFT_SEARCH from
    # any copy frame that has it) and frame 13 is damaged.
    pts = [k for k in range(N) if not 6 <= k <= 12]
    copy = ColourCopy(str(_write(tmp_path / "copy.mkv", [frames[k] for k in pts], pts)))
    plain, matched = [], []
    _steps(master, copy, features=False, out=plain)
    step = _steps(master, copy, features=True, out=matched)
    assert step.matched >= 1
    inside = np.zeros((H, W), bool)
    inside[58:86, JUMP_X + 8:JUMP_X + 36] = True
    mask = cv2.resize(inside.astype(np.float32), plain[0][0].shape[::-1],
                      interpolation=cv2.INTER_AREA) > 0.99
    # The square where it jumped to takes the colour it had in the last good frames (found
    # by correspondence), not the background's carried there nor the model's.
    got, without = matched[JUMP][1][mask].mean(0), plain[JUMP][1][mask].mean(0)
    assert _near(got, SQUARE_AB, 12.0), got
    assert not _near(without, SQUARE_AB, 12.0), without
    restored = ColourCopyStep.__new__(ColourCopyStep)  # the matches' frames survive a resume
    restored.set_state(step.get_state())
    assert [e.grid for e in restored._exemplars] == [e.grid for e in step._exemplars]
    assert np.array_equal(restored._exemplars[-1].ab, step._exemplars[-1].ab)


def test_a_run_of_damaged_copy_frames_does_not_move_the_drift(tmp_path):
    import cv2

    master = _master(tmp_path / "bw.mkv")
    frames = [cv2.resize(_scene(i), (W // 4, H // 4), interpolation=cv2.INTER_AREA)
              for i in range(N)]
    for k in range(5, 11):  # the middle torn out, a flat patch: the frame before looks best
        frames[k][H // 12:H // 6, W // 12:W // 6] = (200, 30, 90)
    step = _steps(master, ColourCopy(str(_write(tmp_path / "copy.mkv", frames))))
    assert step.drift == 0 and step.found == N


def test_a_damaged_copy_frame_is_not_trusted(tmp_path):
    master = _master(tmp_path / "bw.mkv", n=4)
    frames = [np.zeros((H // 4, W // 4, 3), np.uint8) for _ in range(4)]
    frames[0][:] = (0, 255, 0)  # a flat bright green frame: nothing like the master
    copy = _write(tmp_path / "copy.mkv", frames)
    step = _steps(master, ColourCopy(str(copy)))
    assert step.found == 0 and step.missed == 4


def test_resume_with_a_copy_matches_one_run(tmp_path, one_finisher, run_video, read_video):
    master = _master(tmp_path / "bw.mkv", n=24)
    copy = ColourCopy(str(_copy(tmp_path / "copy.mkv", late=1, n=24,
                                keep=lambda k: not 10 <= k <= 12)))
    kw = dict(batch_size=1, segment_frames=4, codec="ffv1", colour_from=copy)
    dst = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        run_video(master, dst, model=FineFlat(interrupt_after=12), **kw)
    assert (work_paths(dst)[0] / "progress.json").exists()
    result = run_video(master, dst, model=FineFlat(), resume=True, **kw)
    assert 0 < result.resumed_frames < 24 and result.frames == 24
    ref = tmp_path / "ref.mkv"
    run_video(master, ref, model=FineFlat(), **kw)
    _, a = read_video(dst)
    _, b = read_video(ref)
    assert max(np.abs(x.astype(int) - y.astype(int)).max() for x, y in zip(a, b)) <= 1


@pytest.mark.parametrize("case", ["no_video", "unreadable", "missing", "folder", "cluster",
                                  "still"])
def test_bad_copy_is_one_line_and_writes_nothing(tmp_path, fake_model, make_audio_only,
                                                 video_cli, case):
    master = _master(tmp_path / "bw.mkv", n=3)
    copy = _copy(tmp_path / "copy.mkv", n=3)
    extra = []
    if case == "no_video":
        copy = make_audio_only(tmp_path / "audio.mp4")
    elif case == "unreadable":
        copy = tmp_path / "text.mkv"
        copy.write_text("not a film")
    elif case == "missing":
        copy = tmp_path / "none.mkv"
    elif case == "folder":
        copy = tmp_path
    elif case == "cluster":
        extra = ["--cluster", "local:1"]
    elif case == "still":
        from vidcolor.imageio import write_image

        copy = tmp_path / "photo.png"
        write_image(copy, np.full((16, 16, 3), 90, np.uint8), mark="test still")
    out = tmp_path / "o.mkv"
    code, err = video_cli(master, "-o", out, "--quiet", "--colour-from", copy, *extra)
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:"), err
    assert case != "still" or "a still picture, not a film" in err
    assert not out.exists() and not work_paths(out)[0].exists()


def test_a_copy_late_by_more_than_the_drift_search_is_found_from_the_first_frame(
        tmp_path, run_video, read_video, caplog):
    master = _master(tmp_path / "bw.mkv")
    copy = _copy(tmp_path / "copy.mkv", late=20)  # a leader the run is not told of
    dst = tmp_path / "out.mkv"
    run_video(master, dst, model=FineFlat(), codec="ffv1", colour_from=ColourCopy(str(copy)))
    assert f"of {N} frames, {N} coloured from their own copy frame" in caplog.text
    assert "followed to 1 place(s) far off" in caplog.text
    _check_colours(read_video(dst)[1])


def test_the_cli_passes_the_copy_and_its_offset(tmp_path, fake_model, video_cli, read_video):
    master = _master(tmp_path / "bw.mkv", n=6)
    copy = _copy(tmp_path / "copy.mkv", late=3, n=6)
    out = tmp_path / "o.mkv"
    code, err = video_cli(master, "-o", out, "--quiet", "--colour-from", copy,
                          "--colour-offset", 3, "--codec", "ffv1")
    assert code == 0, err
    _, frames = read_video(out)
    assert _near(_ab(frames[2], _square(2)), SQUARE_AB, 10.0)
    code, err = video_cli(master, "-o", tmp_path / "p.mkv", "--colour-offset", 3)
    assert code == 1 and "--colour-offset goes with --colour-from" in err
    # A copy of another picture colours nothing, and the run says so.
    other = _write(tmp_path / "other.mkv", [np.full((H // 4, W // 4, 3), 200, np.uint8)] * 6)
    code, err = video_cli(master, "-o", tmp_path / "q.mkv", "--colour-from", other,
                          "--codec", "ffv1")
    assert code == 0, err
    assert "warning: colour copy: of 6 frames, 0 coloured" in err and "6 not" in err


def test_drift_hysteresis_and_match_error():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 100, (36, 64)).astype(np.float32)
    assert match_error(a, a) == 0.0
    assert match_error(a, 0.5 * a + 20) < 0.05  # the tone hardly counts
    assert match_error(a, rng.uniform(0, 100, (36, 64)).astype(np.float32)) > 0.5
    assert choose_drift({-1: 0.3, 0: 0.32, 1: 0.5}, 4) == 4  # not clearly better: stays
    assert choose_drift({-1: 0.1, 0: 0.32, 1: 0.5}, 4) == 3
    assert choose_drift({2: 0.2}, 0) == 0  # the current frame missing: a gap, not a drift
    assert choose_drift({}, 1) == 1


def test_a_copy_no_larger_than_the_render_is_worked_at_its_own_size():
    # A 480-line film's 1/4 copy against its render (192 x 352, a rounder aspect): resizing
    # it would smear the compression blocks the restorer knows.
    assert work_shape((120, 213), (192, 352)) == (120, 213)
    assert work_shape((192, 352), (192, 352)) == (192, 352)
    # Larger (in either side): the render's aspect, no larger than the render or the copy.
    assert work_shape((270, 480), (192, 352)) == (192, 352)
    assert work_shape((200, 300), (192, 352)) == (164, 300)


def _misfit(level: float, seed: int) -> np.ndarray:
    """A copy frame's squared lightness misfit to the master: compression noise of variance
    ``level`` (squared L units)."""
    noise = np.random.default_rng(seed).normal(0, np.sqrt(level), (40, 40))
    return (noise ** 2).astype(np.float32)


def test_agreement_is_relative_to_the_copys_noise():
    valid = np.ones((40, 40), bool)
    inside, outside = (slice(12, 18), slice(12, 18)), (slice(25, 40), slice(25, 40))
    for level in (0.3, 8.0):
        own, theirs = _misfit(level, 1), _misfit(level, 2)
        theirs[10:20, 10:20] += 6.0  # misplaced by the flow there: fits worse by 6 L^2
        agree = agreement(theirs, own, valid)
        assert agree[outside].mean() > 0.95, level  # as good a fit, up to the noise
        if level < 1:
            assert agree[inside].max() < 0.01  # a clean copy: the worse fit is motion
        else:
            assert agree[inside].mean() > 0.5  # a noisy one: within its noise
    no_noise = agreement(_misfit(0.3, 2), np.zeros((40, 40), np.float32), valid)
    assert no_noise.min() > 0.0 and agreement(own, own, ~valid).min() == 1.0


def test_noise_level_is_the_copys_own_misfit_where_trusted():
    valid = np.ones((40, 40), bool)
    clean, noisy = noise_level(_misfit(0.3, 1), valid), noise_level(_misfit(8.0, 1), valid)
    assert 0.2 < clean < 0.35 and 5.5 < noisy < 9.0
    damaged = _misfit(0.3, 1)
    damaged[:, 20:] += 500.0  # a torn-out half, not trusted: its misfit does not count
    valid[:, 18:] = False  # (the local mean reaches 2 pixels into it)
    assert abs(noise_level(damaged, valid) - clean) < 0.05
    assert noise_level(np.zeros((40, 40), np.float32), valid) == MIN_NOISE
    assert noise_level(damaged, np.zeros((40, 40), bool)) == MIN_NOISE


def test_guided_filter_smooths_as_much_as_the_noise_level():
    """A clean copy's level keeps chroma detail that follows the master's lightness; a noisy
    one's averages it away."""
    rng = np.random.default_rng(2)
    L = (50 + 10 * rng.normal(0, 1, (40, 40))).astype(np.float32)  # textured master
    detail = np.stack([L - 50, 50 - L], -1).astype(np.float32)  # chroma following L
    kept = [np.abs(guided_ab(detail, L, eps=eps) - detail).mean() for eps in (0.3, 6.0, 600.0)]
    assert kept[0] < kept[1] < kept[2]
    assert kept[0] < 0.05 * np.abs(detail).mean() < kept[2]


def _jpeg_lab(rgb: np.ndarray, quality: int) -> np.ndarray:
    """The Lab (h, w, 3) of ``rgb`` (uint8) after JPEG at ``quality``, 4:2:0."""
    ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    rgb = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    L, ab = color.rgb_to_lab(np.ascontiguousarray(rgb))
    return np.concatenate([L[..., None], ab], -1).astype(np.float32)


def _jpeg_chroma(rgb: np.ndarray, quality: int) -> np.ndarray:
    """The chromaticity of ``rgb`` (uint8) after JPEG at ``quality``, 4:2:0."""
    return chromaticity(_jpeg_lab(rgb, quality))


def _grey_sky(h: int = 96, w: int = 160, grain: float = 1.0) -> np.ndarray:
    """A flat, faintly blue-grey gradient with a film's grain (uint8 RGB), an overcast sky."""
    t = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    rgb = np.array([168, 176, 186], np.float32) + t * np.array([-12, -2, 14], np.float32)
    rgb = rgb + np.random.default_rng(6).normal(0, grain, (h, w, 3))
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def _chroma_of(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    L, ab = color.rgb_to_lab(rgb)
    return L, chromaticity(np.concatenate([L[..., None], ab], -1))


def test_blockiness_tells_compression_blocks_from_texture():
    rng = np.random.default_rng(4)
    texture = rng.normal(0, 3, (96, 160, 2)).astype(np.float32)
    assert blockiness(texture) < 0.1
    blocks = np.kron(rng.normal(0, 3, (6, 10, 2)), np.ones((16, 16, 1))).astype(np.float32)
    assert blockiness(blocks) > 0.95
    sky = _grey_sky()
    assert blockiness(_jpeg_chroma(sky, 30)) > 0.5  # a q30 sky is a staircase of blocks
    assert blockiness(_chroma_of(sky)[1]) < 0.1


def test_smoothing_where_flat_takes_out_a_skys_blocks_and_keeps_texture():
    sky = _grey_sky()
    L_sky = _chroma_of(sky)[0]
    truth = _chroma_of(_grey_sky(grain=0.0))[1]  # the sky's colour, not its grain's
    worn = _jpeg_chroma(sky, 30)
    smooth = smoothed_where_flat(worn, L_sky, eps=1.0, strength=blockiness(worn))
    assert np.abs(smooth - truth).mean() < 0.8 * np.abs(worn - truth).mean()
    # Without blocks (strength 0), or where the master has texture, the chroma is kept.
    np.testing.assert_array_equal(smoothed_where_flat(worn, L_sky, 1.0, 0.0), worn)
    rng = np.random.default_rng(5)
    L = (50 + 10 * rng.normal(0, 1, (96, 160))).astype(np.float32)
    detail = rng.normal(0, 3, (96, 160, 2)).astype(np.float32)
    kept = smoothed_where_flat(detail, L, eps=1.0, strength=1.0)
    assert np.abs(kept - detail).mean() < 0.05 * np.abs(detail).mean()


def test_a_fit_where_flat_takes_out_a_skys_wide_patches_and_keeps_a_flat_object():
    # A sky's chroma quantized into patches about two blocks wide (the blocks agree with each
    # other) over its lightness gradient: smoothing within a block leaves their steps.
    h, w = 96, 160
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :].repeat(h, 0)
    L = 70.0 + 10.0 * x
    truth = np.stack([-8.0 + 16.0 * x, -12.0 + 12.0 * x], -1).astype(np.float32)
    worn = (np.round(truth / 3.0) * 3.0).astype(np.float32)
    fitted = fitted_where_flat(worn, L, eps=1.0, strength=0.9)
    assert np.abs(fitted - truth).mean() < 0.4 * np.abs(worn - truth).mean()
    smoothed = smoothed_where_flat(worn, L, eps=1.0, strength=0.9)
    assert np.abs(smoothed - truth).mean() > 0.4 * np.abs(worn - truth).mean()
    np.testing.assert_array_equal(fitted_where_flat(worn, L, 1.0, 0.0), worn)  # a clean copy
    # A flat object of another colour on the same lightness keeps its colour.
    balloon = worn.copy()
    balloon[30:60, 60:90] = (25.0, 20.0)
    kept = fitted_where_flat(balloon, L, eps=1.0, strength=0.9)
    assert np.abs(kept - balloon)[35:55, 65:85].mean() < 0.1 * 25.0


def test_global_motion_is_the_frames_own_despite_an_object_moving_apart():
    h, w = 120, 213
    motion = np.array([[1.01, -0.02, 3.0], [0.02, 1.01, -2.0]])  # a copy framed otherwise
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    to_copy = np.stack([motion[0, 0] * xs + motion[0, 1] * ys + motion[0, 2] - xs,
                        motion[1, 0] * xs + motion[1, 1] * ys + motion[1, 2] - ys], -1)
    to_copy = to_copy + np.random.default_rng(7).normal(0, 0.1, to_copy.shape)
    to_copy[40:80, 50:120] += 7.0  # something moving on its own
    to_copy = to_copy.astype(np.float32)
    consistent = np.zeros((h, w), np.float32)
    found = global_motion(to_copy, consistent)
    np.testing.assert_allclose(found, motion, atol=0.05)
    np.testing.assert_array_equal(global_motion(to_copy, consistent), found)  # fixed seed
    assert global_motion(to_copy, np.full((h, w), 4.0, np.float32)) is None  # no consistent flow


def test_a_grey_skys_copy_is_trusted_and_left_in_place():
    """A flat sky gives the flow nothing to go by (its flows disagree both ways): the
    frame's one motion places the copy, and its lightness fit trusts it."""
    sky = _grey_sky(384, 640, grain=2.0)
    L_master = cv2.resize(color.rgb_to_l(sky), (160, 96), interpolation=cv2.INTER_AREA)
    lab = _jpeg_lab(cv2.resize(sky, (160, 96), interpolation=cv2.INTER_AREA), 30)
    chroma, trust, _, _, _ = align_copy(lab, L_master)
    assert (trust > 0).mean() > 0.95  # by the local flow alone: about half
    assert np.abs(chroma - chromaticity(lab)).mean() < 0.02  # not moved (by the flow: 0.08)


def test_fused_keeps_the_own_frame_where_a_neighbour_fits_worse():
    rng = np.random.default_rng(3)
    own = rng.normal(0, 0.5, (40, 40, 2)).astype(np.float32)
    neighbour = rng.normal(0, 0.5, (40, 40, 2)).astype(np.float32)
    neighbour[10:20, 10:20] = 30.0
    ones = np.ones((40, 40), np.float32)
    fit, worse = _misfit(0.3, 4), _misfit(0.3, 5)
    worse[10:20, 10:20] += 20.0
    chroma, trust = fused([(own, ones, ones, fit), (neighbour, ones, ones, worse)], centre=0)
    assert np.abs(chroma[12:18, 12:18]).max() < 2.0  # the own frame kept
    far = (slice(25, 40), slice(25, 40))
    np.testing.assert_allclose(chroma[far], (own[far] + neighbour[far]) / 2, atol=0.2)
    assert trust.min() == 1.0
    # Where the own frame is damaged (not trusted), the neighbour gives the colour alone.
    damaged = ones.copy()
    damaged[10:20, 10:20] = 0.0
    chroma, trust = fused([(own, damaged, damaged, fit), (neighbour, ones, ones, worse)])
    np.testing.assert_allclose(chroma[12:18, 12:18], 30.0, atol=1e-3)
    assert trust[12:18, 12:18].min() == 1.0


def test_a_keyframe_wins_over_the_copy_in_its_shot(tmp_path, run_video, read_video,
                                                   paint_keyframe):
    from support import KEY_AB
    from vidcolor.options import Keyframe

    master, copy = _master(tmp_path / "bw.mkv", n=6), _copy(tmp_path / "copy.mkv", n=6)
    _, grey = read_video(master)
    key = paint_keyframe(grey[0], KEY_AB, tmp_path / "k.png")
    dst = tmp_path / "out.mkv"
    run_video(master, dst, model=FineFlat(), codec="ffv1", colour_from=ColourCopy(str(copy)),
              keyframes=(Keyframe(str(key), 0.0),))
    out = read_video(dst)[1]
    for i in (0, 3):
        assert _near(_ab(out[i], _square(i)), KEY_AB, 12.0), (i, _ab(out[i], _square(i)))


def test_resume_refuses_a_changed_copy(tmp_path, one_finisher, run_video):
    from vidcolor.errors import VidcolorError
    master, copy = _master(tmp_path / "bw.mkv", n=24), _copy(tmp_path / "copy.mkv", n=24)
    kw = dict(batch_size=1, segment_frames=4, codec="ffv1")
    dst = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        run_video(master, dst, model=FineFlat(interrupt_after=12),
                  colour_from=ColourCopy(str(copy)), **kw)
    assert (work_paths(dst)[0] / "progress.json").exists()
    _copy(copy, late=1, n=24)  # another copy under the same name
    with pytest.raises(VidcolorError, match="other settings"):
        run_video(master, dst, model=FineFlat(), resume=True,
                  colour_from=ColourCopy(str(copy)), **kw)


def test_the_copys_wear_is_taken_out_by_the_restorer_with_the_copys_own_lightness(tmp_path):
    """Each frame's fused chromaticity goes through the restorer at the work size with the
    centre copy frame's aligned lightness and the master's; what it answers is what is
    upsampled (a restorer that shifts the chroma shifts the output)."""
    from vidcolor import copy_restore

    master, copy = _master(tmp_path / "bw.mkv"), _copy(tmp_path / "copy.mkv")
    calls = []

    def shifting(chroma, L_copy, L_master):
        calls.append((chroma.shape, L_copy.shape, L_master.shape,
                      float(np.abs(L_copy - L_master).mean())))
        return chroma + 40.0

    plain, shifted = [], []
    _steps(master, ColourCopy(str(copy)), out=plain, restorer=lambda c, *_: c)
    _steps(master, ColourCopy(str(copy)), out=shifted, restorer=shifting)
    assert len(calls) == N
    shape, L_copy_shape, L_master_shape, diff = calls[0]
    assert shape == L_copy_shape + (2,) and L_copy_shape == L_master_shape
    assert diff < 10.0  # the copy's lightness, aligned and tone-matched to the master's
    (L, a), (_, b) = plain[3], shifted[3]
    lifted = (b - a)[..., 0] / ((L + 16.0) / 100.0)
    assert np.median(lifted) > 30.0  # the restored chroma, relit, is what the frame got
    step = ColourCopyStep(ColourCopy(str(copy)), probe(master), (64, 96), lambda *a: a[1])
    assert (step.restorer is not None) == copy_restore.available()
    step.close()


def test_a_copy_coloured_frame_comes_into_the_gamut_near_its_colour():
    # A copy's chroma estimates colours inside the gamut: a frame it coloured is finished by
    # color.nearest_in_gamut (tests/test_color.py: nearer such colours than scaling towards
    # grey), pixel by pixel, at the frame's own lightness; a frame it did not, as before.
    from vidcolor.upsample import upsample_ab
    from vidcolor.video.frames import Frame, FrameColorizer

    rng = np.random.default_rng(5)
    L = cv2.GaussianBlur(rng.uniform(20, 80, (128, 128)).astype(np.float32), (0, 0), 2)
    ab = rng.normal(0, 45, (8, 8, 2)).repeat(8, 0).repeat(8, 1).astype(np.float32)
    small = cv2.resize(L, (64, 64), interpolation=cv2.INTER_AREA)
    up = upsample_ab(ab, small, L)
    outside = color.gamut_scale(L, up) < 1
    assert outside.mean() > 0.2  # the test really has colours to bring in
    colorizer = FrameColorizer(FineFlat(), stabilizer=None)
    copied = colorizer.finish(Frame(0, L, small, ab.copy(), full_chroma=True))
    model = colorizer.finish(Frame(0, L, small, ab.copy()))
    expected = color.gamut_rgb(L, color.nearest_in_gamut(up, L))
    assert np.abs(copied.astype(int) - expected).max() <= 1
    assert np.abs(color.rgb_to_l(copied) - L).max() < 0.5
    differs = np.abs(copied.astype(int) - model).max(-1) > 2
    # (the model's fit smooths its scale over a pixel or so around what it brings in)
    far_inside = cv2.dilate(outside.astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
    assert differs[outside].mean() > 0.5 and not differs[far_inside].any()
    # 16-bit output (and a frame a keyframe reaches too) takes the other path, alike.
    deep = colorizer.finish(Frame(0, L, small, ab.copy(), full_chroma=True), np.uint16)
    assert np.abs(deep / 257.0 - expected).max() <= 1.0


def test_copy_search_finds_a_frame_far_off_and_reads_back_for_an_earlier_one(tmp_path):
    from vidcolor.video.copy_search import CopySearch

    rng = np.random.default_rng(5)
    pictures = [rng.integers(0, 256, (H // 4 // 6, W // 4 // 6, 3), np.uint8).repeat(6, 0)
                .repeat(6, 1) for _ in range(40)]
    copy = _write(tmp_path / "copy.mkv", pictures)
    search = CopySearch(probe(copy), (H // 4) / (W // 4))
    search.reach = 15  # copy frames either side (3 minutes in a film)

    def L(k):
        return color.rgb_to_l(pictures[k])

    assert search.find(L(30), 25)[0] == 30
    assert search.find(L(3), 10)[0] == 3  # behind what was kept: read again
    assert search.find(L(39), 38)[0] == 39
    assert search.find(L(2), 38)[0] != 2  # out of reach
    search.close()
