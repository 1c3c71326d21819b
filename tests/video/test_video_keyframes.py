"""Colour keyframes for film: --keyframe propagation through shots, and --export-keyframes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support import KEY_AB, MODEL_AB, Flat, write_x264
from vidcolor import color
from vidcolor.errors import VidcolorError
from vidcolor.imageio import write_image
from vidcolor.options import Keyframe, VideoOptions, keyframe_name, parse_keyframe
from vidcolor.video.pipeline import work_paths


class FineFlat(Flat):
    render_size = 128  # flow at the clip's own size


class FlowOnly(FineFlat):
    """No match features: the keyframes' colour travels along the flow alone (no
    correspondence)."""

    def match_features(self, L):
        return None


class CoarseFlat(Flat):
    render_size = 32  # a quarter of the clip's width


def is_key(ab) -> bool:
    return ab[0] > 15 and ab[1] > 10


def is_model(ab) -> bool:
    return ab[0] < -5 and ab[1] < -10


def test_keyframe_fills_its_shot_not_the_next(tmp_path, make_clip, read_video, run_video,
                                              paint_keyframe, mean_ab):
    src = make_clip(tmp_path / "cut.mp4", n=12, cut_at=7)
    _, frames = read_video(src)
    key = paint_keyframe(frames[0], KEY_AB, tmp_path / "k.png")
    dst = tmp_path / "out.mp4"
    result = run_video(src, dst, model=Flat(), keyframes=(Keyframe(str(key), 0.0),))
    assert result.frames == 12
    _, out = read_video(dst)
    for i in range(7):
        assert is_key(mean_ab(out[i])), (i, mean_ab(out[i]))
    for i in range(7, 12):
        assert is_model(mean_ab(out[i])), (i, mean_ab(out[i]))  # not across the cut


def test_keyframe_mid_shot_reaches_back_to_the_shots_start(tmp_path, make_clip, read_video,
                                                           run_video, paint_keyframe, mean_ab):
    src = make_clip(tmp_path / "cut.mp4", n=14, cut_at=4, rate=24)
    _, frames = read_video(src)
    key = paint_keyframe(frames[10], KEY_AB, tmp_path / "k.png")
    dst = tmp_path / "out.mp4"
    run_video(src, dst, model=Flat(), keyframes=(Keyframe(str(key), 10 / 24),))
    _, out = read_video(dst)
    for i in range(4, 14):  # before the keyframe (backwards) and after it (forwards)
        assert is_key(mean_ab(out[i])), (i, mean_ab(out[i]))
    for i in range(4):  # the shot before the cut
        assert is_model(mean_ab(out[i])), (i, mean_ab(out[i]))


def _moving_square(i: int, h: int = 96, w: int = 128) -> np.ndarray:
    """Textured dark background, a lighter square moving right 3 pixels a frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 30, (h // 4, w // 4)).repeat(4, 0).repeat(4, 1)
    img = (40 + 20 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + noise).astype(np.uint8)
    x0 = 10 + 3 * i
    img[40:64, x0:x0 + 24] = 160  # mid-grey: the keyframe's colour fits the gamut there
    return np.repeat(img[..., None], 3, -1)


def _write_clip(path: Path, images: list[np.ndarray], rate: int = 24) -> Path:
    return write_x264(path, images, rate=rate, crf=10)


def test_moving_square_keeps_its_colour_as_it_moves(tmp_path, read_video, run_video,
                                                    paint_keyframe, mean_ab):
    src = _write_clip(tmp_path / "square.mkv", [_moving_square(i) for i in range(9)])
    _, frames = read_video(src)
    square0 = np.zeros(frames[0].shape[:2], bool)
    square0[40:64, 10:34] = True
    key = paint_keyframe(frames[0], KEY_AB, tmp_path / "k.png", mask=square0)
    dst = tmp_path / "out.mkv"
    run_video(src, dst, model=FineFlat(), keyframes=(Keyframe(str(key), 0.0),), stabilize=False,
              codec="ffv1")
    _, out = read_video(dst)
    last = out[8]  # the square moved 24 pixels: now at x 34..58
    now = np.zeros_like(square0)
    now[44:60, 38:54] = True  # its inside (the upsampler softens its edges)
    left_behind = np.zeros_like(square0)
    left_behind[44:60, 12:30] = True  # where it was, background now
    assert is_key(mean_ab(last, now)), mean_ab(last, now)
    assert mean_ab(last, left_behind)[0] < 5, mean_ab(last, left_behind)  # not a copy


def _interrupt_then_resume(run_video, src, dst, keyframes, **kw):
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, model=Flat(interrupt_after=12), keyframes=keyframes, **kw)
    assert (work_paths(dst)[0] / "progress.json").exists()
    return run_video(src, dst, model=Flat(), keyframes=keyframes, resume=True, **kw)


def test_resume_with_keyframes_matches_one_run(tmp_path, one_finisher, make_clip, read_video,
                                               run_video, paint_keyframe, mean_ab):
    src = make_clip(tmp_path / "in.mp4", n=24)
    _, frames = read_video(src)
    keys = (Keyframe(str(paint_keyframe(frames[2], KEY_AB, tmp_path / "a.png")), 2 / 24),
            Keyframe(str(paint_keyframe(frames[18], (20.0, 50.0), tmp_path / "b.png")), 18 / 24))
    kw = dict(batch_size=1, segment_frames=4, codec="ffv1")
    dst = tmp_path / "out.mkv"
    result = _interrupt_then_resume(run_video, src, dst, keys, **kw)
    assert 0 < result.resumed_frames < 24 and result.frames == 24
    ref = tmp_path / "ref.mkv"
    run_video(src, ref, model=Flat(), keyframes=keys, **kw)
    _, a = read_video(dst)
    _, b = read_video(ref)
    assert max(np.abs(x.astype(int) - y.astype(int)).max() for x, y in zip(a, b)) <= 1
    assert is_key(mean_ab(a[0])) and mean_ab(a[23])[1] > 30  # both keyframes took part


def test_resume_refuses_a_changed_keyframe(tmp_path, one_finisher, make_clip, read_video, run_video,
                                           paint_keyframe):
    src = make_clip(tmp_path / "in.mp4", n=24)
    _, frames = read_video(src)
    path = paint_keyframe(frames[0], KEY_AB, tmp_path / "a.png")
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, model=Flat(interrupt_after=12), keyframes=(Keyframe(str(path), 0.0),),
                  batch_size=1, segment_frames=4)
    paint_keyframe(frames[0], (10.0, 10.0), path)  # repainted: the same name, other colours
    with pytest.raises(VidcolorError, match="other settings"):
        run_video(src, dst, model=Flat(), keyframes=(Keyframe(str(path), 0.0),), batch_size=1,
                  segment_frames=4, resume=True)


def test_keyframe_options_round_trip(tmp_path, make_clip, read_video, paint_keyframe):
    _, frames = read_video(make_clip(tmp_path / "in.mp4", n=2))
    path = paint_keyframe(frames[0], KEY_AB, tmp_path / "00-00-01.500.png")
    key = parse_keyframe(str(path))
    assert key.time == 1.5 and key == parse_keyframe(f"{path}@0:01.5")
    options = VideoOptions(keyframes=(key,))
    assert VideoOptions.from_dict(options.to_dict()) == options
    assert options.to_dict()["keyframes"] == [{"path": str(path), "time": 1.5,
                                               "sha256": key.sha256}]
    assert keyframe_name(3723.4567) == "01-02-03.457"


@pytest.mark.parametrize("case", ["wrong_size", "unreadable", "missing", "outside",
                                  "same_frame", "no_time"])
def test_bad_keyframe_is_one_line_and_writes_nothing(tmp_path, capsys, fake_model, case, make_clip,
                                                     read_video, video_cli, paint_keyframe):
    src = make_clip(tmp_path / "in.mp4", n=6, rate=24)
    _, frames = read_video(src)
    good = paint_keyframe(frames[0], KEY_AB, tmp_path / "good.png")
    keys = [f"{good}@0"]
    if case == "wrong_size":
        write_image(tmp_path / "wide.png", np.zeros((48, 96, 3), np.uint8), mark="x")
        keys = [f"{tmp_path / 'wide.png'}@0"]
    elif case == "unreadable":
        (tmp_path / "text.png").write_text("not a picture")
        keys = [f"{tmp_path / 'text.png'}@0"]
    elif case == "missing":
        keys = [f"{tmp_path / 'none.png'}@0"]
    elif case == "outside":
        keys = [f"{good}@5"]
    elif case == "same_frame":
        keys = [f"{good}@0", f"{good}@0.01"]
    elif case == "no_time":
        keys = [str(good)]
    out = tmp_path / "o.mp4"
    args = [a for k in keys for a in ("--keyframe", k)]
    code, err = video_cli(src, "-o", out, "--quiet", *args)
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:"), err
    assert not out.exists() and not work_paths(out)[0].exists()
    assert not work_paths(out)[1].exists()


def test_a_keyframe_of_half_the_size_is_resized(tmp_path, make_clip, read_video, run_video,
                                                paint_keyframe, mean_ab):
    src = make_clip(tmp_path / "in.mp4", n=4)
    _, frames = read_video(src)
    key = paint_keyframe(frames[0][::2, ::2], KEY_AB, tmp_path / "half.png")
    dst = tmp_path / "out.mp4"
    run_video(src, dst, model=Flat(), keyframes=(Keyframe(str(key), 0.0),))
    assert is_key(mean_ab(read_video(dst)[1][0]))


def test_export_keyframes_one_per_shot_and_every(tmp_path, capsys, make_clip, video_cli):
    src = make_clip(tmp_path / "cut.mp4", n=30, cut_at=10, rate=10)
    folder = tmp_path / "keys"
    code, err = video_cli(src, "--export-keyframes", folder, "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["00-00-00.000.png", "00-00-01.000.png"]
    code, err = video_cli(src, "--export-keyframes", folder, "--quiet")
    assert code == 1 and "already exist" in err and len(err.splitlines()) == 1
    code, err = video_cli(src, "--export-keyframes", folder, "--every", "0.8",
                          "--quiet", "--overwrite")
    assert code == 0, err
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["00-00-00.000.png", "00-00-00.800.png", "00-00-01.000.png",
                     "00-00-01.800.png", "00-00-02.600.png"]
    assert not list(tmp_path.glob(".keys*"))  # nothing staged is left
    rgb = read_image_rgb(folder / "00-00-01.000.png")
    assert rgb.shape == (48, 64, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])  # grey
    # Handing one back names its frame by itself.
    assert parse_keyframe(str(folder / "00-00-01.800.png")).time == pytest.approx(1.8)


def _hidden_cut_clip(path: Path) -> Path:
    """Two textures of the same lightness statistics, each panning 1 pixel a frame: a change
    of content at frame 5 the histogram cut detector does not see."""
    def texture(seed):
        blocks = np.random.default_rng(seed).integers(30, 160, (24, 32)).astype(np.uint8)
        return np.repeat(blocks.repeat(4, 0).repeat(4, 1)[..., None], 3, -1)

    first, second = texture(1), texture(2)
    return _write_clip(path, [np.roll(first, i, 1) for i in range(5)]
                       + [np.roll(second, i, 1) for i in range(5)], rate=10)


def test_export_adds_the_frame_the_last_ones_colour_no_longer_reaches(tmp_path):
    from vidcolor.video.shots import export_keyframes

    src = _hidden_cut_clip(tmp_path / "hidden_cut.mkv")
    report = export_keyframes(src, tmp_path / "keys")
    assert report.shots == 1  # the cut detector saw one shot
    assert [p.name for p in report.files] == ["00-00-00.000.png", "00-00-00.500.png"]
    shots_only = export_keyframes(src, tmp_path / "shots", reach=None)
    assert [p.name for p in shots_only.files] == ["00-00-00.000.png"]


def test_export_request_checked_when_made_then_the_one_argument(tmp_path):
    from vidcolor.errors import OptionError
    from vidcolor.video.shots import ExportRequest, export_keyframes

    with pytest.raises(OptionError, match="^--every must be a number of seconds above 0") as e:
        ExportRequest(tmp_path / "none.mp4", tmp_path / "keys", every=0)
    assert e.value.field == "every"
    for bad in (dict(reach=1.5), dict(render_size=0), dict(window=(0, 1)), dict(every="1")):
        with pytest.raises(VidcolorError):  # before any file is looked at
            ExportRequest(tmp_path / "none.mp4", tmp_path / "keys", **bad)
    src = _hidden_cut_clip(tmp_path / "hidden_cut.mkv")
    request = ExportRequest(str(src), str(tmp_path / "shots"), reach=None)
    assert (request.input, request.folder) == (src, tmp_path / "shots")
    seen = []
    report = export_keyframes(request, lambda done, total: seen.append(done))
    assert [p.name for p in report.files] == ["00-00-00.000.png"] and seen[-1] == report.frames


def read_image_rgb(path: Path) -> np.ndarray:
    from vidcolor.imageio import read_image

    return read_image(path).rgb


def test_export_colour_hand_back(tmp_path, capsys, monkeypatch, make_clip, read_video, video_cli,
                                 paint_keyframe, mean_ab):
    """The workflow: export a shot's frame, colour it, hand it back by its name alone."""
    import vidcolor.models.store as store

    monkeypatch.setattr(store, "load_model", lambda directory=None: Flat())
    src = make_clip(tmp_path / "cut.mp4", n=16, cut_at=8, rate=8)
    code, err = video_cli(src, "--export-keyframes", tmp_path / "keys", "--quiet")
    assert code == 0, err
    second = tmp_path / "keys" / "00-00-01.000.png"  # the second shot's first frame
    paint_keyframe(read_image_rgb(second), KEY_AB, second)
    out = tmp_path / "o.mp4"
    code, err = video_cli(src, "-o", out, "--quiet", "--preset", "ultrafast",
                          "--keyframe", second)
    assert code == 0, err
    _, frames = read_video(out)
    assert all(is_model(mean_ab(f)) for f in frames[:8])
    assert all(is_key(mean_ab(f)) for f in frames[8:])


def test_colour_fades_to_the_model_where_the_flow_loses_it(tmp_path, read_video, run_video,
                                                           paint_keyframe, mean_ab):
    """A cut the histogram misses (same lightness statistics, other content): the flow no
    longer agrees, so the carried colour does not recolour the new shot. (With match
    features, content that looks like the keyframe's takes its colour by correspondence: the
    two textures here differ only in their random blocks, so this is the flow alone.)"""
    src = _hidden_cut_clip(tmp_path / "hidden_cut.mkv")
    _, frames = read_video(src)
    key = paint_keyframe(frames[0], KEY_AB, tmp_path / "k.png")
    dst = tmp_path / "out.mkv"
    result = run_video(src, dst, model=FlowOnly(), keyframes=(Keyframe(str(key), 0.0),),
                       codec="ffv1")
    assert result.cuts == 1  # the detector saw only the first frame's shot
    _, out = read_video(dst)
    assert all(is_key(mean_ab(f)) for f in out[:5])
    assert all(is_model(mean_ab(f)) for f in out[5:]), [mean_ab(f) for f in out[5:]]


def test_output_or_export_is_needed(tmp_path, capsys, make_clip, video_cli):
    from vidcolor import cli

    src = make_clip(tmp_path / "in.mp4", n=2)
    for extra in ([], ["-o", str(tmp_path / "o.mp4"), "--every", "2"]):
        with pytest.raises(SystemExit) as e:
            cli.main(["video", str(src), *extra])
        assert e.value.code == 2
    capsys.readouterr()
    code, err = video_cli(src, "--export-keyframes", tmp_path / "k", "-o", tmp_path / "o")
    assert code == 1 and len(err.splitlines()) == 1 and not (tmp_path / "k").exists()
    (tmp_path / "out").mkdir()
    code, err = video_cli(src, src, "-o", tmp_path / "out", "--keyframe", f"{src}@0")
    assert code == 1 and "one input film" in err and len(err.splitlines()) == 1
    assert not list((tmp_path / "out").iterdir())


def _stripes(shape, width: int, first, second) -> np.ndarray:
    """a/b (h, w, 2) in vertical stripes ``width`` pixels wide, alternating two colours."""
    h, w = shape
    odd = (np.arange(w) // width) % 2 == 1
    ab = np.empty((h, w, 2), np.float32)
    ab[:, ~odd], ab[:, odd] = first, second
    return ab


def _keyframe_with(rgb: np.ndarray, ab: np.ndarray, path: Path) -> np.ndarray:
    """Write the frame's lightness with a/b ``ab`` as a keyframe; the a/b it reads back as."""
    write_image(path, color.lab_to_rgb(color.rgb_to_l(rgb), ab), mark="test keyframe",
                overwrite=True)
    return color.rgb_to_lab(read_image_rgb(path))[1]


def _mid_grey_texture(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(3).integers(0, 20, (h // 4, w // 4)).repeat(4, 0).repeat(4, 1)
    img = (115 + 20 * np.sin(xx / 6.0) * np.cos(yy / 9.0) + noise).astype(np.uint8)
    return np.repeat(img[..., None], 3, -1)


def test_still_shot_keeps_the_keyframes_full_resolution_colour(tmp_path, read_video, run_video):
    """Colour detail finer than the render size (stripes half a render pixel wide that
    lightness does not show) survives on every frame of a still shot: it is sampled from the
    keyframe itself, not carried at render size (which would average the stripes away). The
    stripes are two pixels wide, as the output's 4:2:0 chroma keeps no finer detail."""
    src = _write_clip(tmp_path / "still.mkv", [_mid_grey_texture()] * 8)
    _, frames = read_video(src)
    key_ab = _keyframe_with(frames[0], _stripes(frames[0].shape[:2], 2, (18, 10), (-12, 16)),
                            tmp_path / "k.png")
    dst = tmp_path / "out.mkv"
    run_video(src, dst, model=CoarseFlat(), keyframes=(Keyframe(str(tmp_path / "k.png"), 0.0),),
              codec="ffv1")
    _, out = read_video(dst)
    assert len(out) == 8
    for i, rgb in enumerate(out):
        error = np.abs(color.rgb_to_lab(rgb)[1] - key_ab)[2:-2, 2:-2]
        assert error.mean() < 2.0 and np.percentile(error, 99) < 6.0, (i, error.mean())


def _pan(i: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A block texture panning right 3 pixels a frame."""
    blocks = np.random.default_rng(1).integers(60, 200, (h // 4, w // 4 + 8)).astype(np.uint8)
    img = np.roll(blocks.repeat(4, 0).repeat(4, 1), 3 * i, 1)[:, :w]
    return np.repeat(img[..., None], 3, -1)


def test_moving_detail_is_sampled_where_it_moved(tmp_path, read_video, run_video):
    """Colour stripes on a pan of 3 pixels a frame (stripes the lightness does not show): on
    the last frame they are found shifted by the motion, not left in place."""
    src = _write_clip(tmp_path / "pan.mkv", [_pan(i) for i in range(9)])
    _, frames = read_video(src)
    key_ab = _keyframe_with(frames[0], _stripes(frames[0].shape[:2], 8, (25.0, 20.0),
                                                (-15.0, 25.0)), tmp_path / "k.png")
    dst = tmp_path / "out.mkv"
    run_video(src, dst, model=Flat(), keyframes=(Keyframe(str(tmp_path / "k.png"), 0.0),),
              stabilize=False, codec="ffv1")
    _, out = read_video(dst)
    last = color.rgb_to_lab(out[8])[1][8:-8, 40:-8]  # away from where new content entered

    def error(shift: int) -> float:
        return float(np.abs(last - key_ab[8:-8, 40 - shift:-8 - shift]).mean())

    # Half a stripe period less motion would put the other colour on every stripe.
    assert error(24) < 4.0 and error(16) > 4 * error(24), (error(24), error(16))


def test_colour_fades_with_a_fade_to_black(tmp_path, read_video, run_video, paint_keyframe,
                                           mean_ab):
    """A still shot fading out: the keyframe's chroma shrinks with the lightness, as a
    lighting change's does in Lab (in proportion to L + 16), instead of staying as saturated
    on ever darker frames."""
    still = _mid_grey_texture().astype(np.float32)
    images = [np.clip(still * (1.0 - 0.05 * i) + 0.5, 0, 255).astype(np.uint8) for i in range(9)]
    src = _write_clip(tmp_path / "fade.mkv", images)
    _, frames = read_video(src)
    paint_keyframe(frames[0], KEY_AB, tmp_path / "k.png")
    dst = tmp_path / "out.mkv"
    run_video(src, dst, model=Flat(), keyframes=(Keyframe(str(tmp_path / "k.png"), 0.0),),
              codec="ffv1")
    _, out = read_video(dst)
    L0, Ln = (float(color.rgb_to_l(frames[i]).mean()) for i in (0, 8))
    chroma0, chroma_n = (float(np.hypot(*mean_ab(out[i]))) for i in (0, 8))
    assert chroma_n / chroma0 == pytest.approx((Ln + 16) / (L0 + 16), rel=0.15), \
        (chroma_n / chroma0, (Ln + 16) / (L0 + 16))
    assert is_key(mean_ab(out[8]) * (L0 + 16) / (Ln + 16))  # the keyframe's hue, darker


def test_content_entering_a_shot_keeps_the_colour_it_got(tmp_path, paint_keyframe):
    """Where no keyframe colour is trusted (content the pan brings in), what the frame before
    had there follows the motion: content that entered early keeps the colour the model gave
    it then, even as the model's colour changes from frame to frame."""
    from vidcolor.video.keyframes import KeyframeGuide, PlacedKeyframe

    lightness = [color.rgb_to_l(_pan(i)) for i in range(9)]
    key = paint_keyframe(_pan(0), KEY_AB, tmp_path / "k.png")
    guide = KeyframeGuide([PlacedKeyframe(Keyframe(str(key), 0.0), 0)], None,
                          lightness[0].shape, spread=lambda L, ab, target, trust: ab)
    for i, L in enumerate(lightness):
        model = np.broadcast_to(np.float32((-20.0 + 5 * i, -30.0)), L.shape + (2,)).copy()
        ab, overlay = guide(i, L, model)
    entered = (slice(8, -8), slice(12, 20))  # came in at the left edge at frames 2 to 4
    assert overlay.share[entered].max() < 0.1  # no keyframe colour there
    # The model now says a = 20 there, said -10 to 0 when it came in.
    assert ab[entered][..., 0].mean() < 10.0, ab[entered][..., 0].mean()


def _leaving_and_returning(i: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A flat dark background; a light textured square moving right 6 pixels a frame, out of
    the picture by frame 10, back from the right edge from frame 12 (left 6 a frame)."""
    img = np.full((h, w), 60, np.uint8)
    texture = np.random.default_rng(3).integers(150, 230, (6, 6)).repeat(4, 0).repeat(4, 1)
    x0 = 70 + 6 * i if i <= 11 else w - 6 * (i - 11)
    left, right = max(x0, 0), min(x0 + 24, w)
    if right > left:
        img[40:64, left:right] = texture[:, left - x0:right - x0]
    return np.repeat(img[..., None], 3, -1)


def _returning_square_ab(tmp_path, model, read_video, run_video, paint_keyframe, mean_ab):
    """The mean a/b inside the square on the last frame, once it came back."""
    src = tmp_path / "returning.mkv"
    if not src.exists():
        _write_clip(src, [_leaving_and_returning(i) for i in range(19)])
    _, frames = read_video(src)
    square0 = np.zeros(frames[0].shape[:2], bool)
    square0[40:64, 70:94] = True
    key = paint_keyframe(frames[0], KEY_AB, tmp_path / "k.png", mask=square0)
    dst = tmp_path / f"out_{type(model).__name__}.mkv"
    result = run_video(src, dst, model=model, keyframes=(Keyframe(str(key), 0.0),),
                       codec="ffv1")
    assert result.cuts == 1  # one shot: the square's leaving is no cut
    _, out = read_video(dst)
    inside = np.zeros_like(square0)
    inside[44:60, 90:106] = True  # the square is at x 86..110 on frame 18
    return mean_ab(out[18], inside)


def test_content_that_comes_back_gets_the_keyframes_colour_back(tmp_path, read_video,
                                                                run_video, paint_keyframe,
                                                                mean_ab):
    """The flow loses the square when it leaves the picture; when it comes back, the
    correspondence with the keyframe gives it the keyframe's colour again."""
    kw = dict(read_video=read_video, run_video=run_video, paint_keyframe=paint_keyframe,
              mean_ab=mean_ab)
    flow_only = _returning_square_ab(tmp_path, FlowOnly(), **kw)
    assert not is_key(flow_only), flow_only  # the flow alone: the model's colour
    matched = _returning_square_ab(tmp_path, FineFlat(), **kw)
    assert is_key(matched), matched


def test_correspondence_colour_never_crosses_a_cut(tmp_path):
    """A keyframe's exemplar serves its own shot only: after a cut, the same content gets
    the model's colour."""
    from vidcolor.propagate import FILM_SPREAD
    from vidcolor.video.analysis import FrameAnalyzer
    from vidcolor.video.keyframes import KeyframeGuide, PlacedKeyframe

    L0 = color.rgb_to_l(_leaving_and_returning(0))
    key = tmp_path / "k.png"
    ab = np.broadcast_to(np.float32(KEY_AB), L0.shape + (2,))
    write_image(key, color.lab_to_rgb(L0, ab), mark="test keyframe")
    model = FineFlat()
    guide = KeyframeGuide([PlacedKeyframe(Keyframe(str(key), 0.0), 0)], None, L0.shape,
                          FILM_SPREAD, features=model.match_features)
    analyzer = FrameAnalyzer()
    ab_model = np.broadcast_to(np.float32(MODEL_AB), L0.shape + (2,)).copy()
    black = np.zeros_like(L0)
    out = []
    assert guide.wants_features(0)
    for pts, L in enumerate([L0, black, L0]):  # the black frame: two cuts
        feats = model.match_features(L[None])[0]
        out.append(guide.step(pts, analyzer(L), ab_model, feats))
    assert out[0][1] is not None  # the keyframe's own frame
    assert np.allclose(out[2][0], MODEL_AB) and out[2][1] is None
    assert not guide.wants_features(3)  # the keyframe's shot is over


def test_resume_with_correspondence_matches_one_run(tmp_path, one_finisher, read_video,
                                                    run_video, paint_keyframe, mean_ab):
    """Interrupted while the square is out of the picture and resumed: the frames after it
    came back are those of one run (the shot's keyframes travel in the guide's state)."""
    src = _write_clip(tmp_path / "returning.mkv", [_leaving_and_returning(i) for i in range(19)])
    _, frames = read_video(src)
    square0 = np.zeros(frames[0].shape[:2], bool)
    square0[40:64, 70:94] = True
    keys = (Keyframe(str(paint_keyframe(frames[0], KEY_AB, tmp_path / "k.png", mask=square0)),
                     0.0),)
    kw = dict(batch_size=1, segment_frames=4, codec="ffv1")
    dst = tmp_path / "out.mkv"
    result = _interrupt_then_resume(run_video, src, dst, keys, **kw)
    assert 0 < result.resumed_frames < 19 and result.frames == 19
    ref = tmp_path / "ref.mkv"
    run_video(src, ref, model=Flat(), keyframes=keys, **kw)
    _, a = read_video(dst)
    _, b = read_video(ref)
    assert max(np.abs(x.astype(int) - y.astype(int)).max() for x, y in zip(a, b)) <= 1
    inside = np.zeros_like(square0)
    inside[44:60, 90:106] = True
    assert is_key(mean_ab(a[18], inside))  # the correspondence took part
