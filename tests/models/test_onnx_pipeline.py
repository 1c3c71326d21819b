"""An ONNX colorizer (a tiny DDColor-convention network) through vidcolor's temporal and guided
features: stabilization's temporal bars, colour keyframes, reference photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from support import EXAMPLE_PHOTO, KEY_AB, tiny_onnx_colorizer
from vidcolor import color
from vidcolor.models.runtimes import load_color_model
from vidcolor.options import Keyframe
from vidcolor.video.frames import FrameColorizer
from vidcolor.video.stabilize import Stabilizer


def tiny(tmp_path, kind="ddcolor"):
    """A tiny network (64 x 64) of ``kind``'s convention whose colours follow the content."""
    rgb = kind == "deoldify"
    path = tiny_onnx_colorizer(tmp_path / f"{kind}.onnx", out_channels=3 if rgb else 2,
                               gain=0.4 if rgb else 25.0)
    return load_color_model(path, kind=kind)


@pytest.fixture
def model(tmp_path):
    return tiny(tmp_path)


def colour_film(n=14, h=96, w=128, step=2, grain=4.0):
    """A colour 'film' (ground truth): the example photo's lightness, painted with smooth
    colour fields, panning ``step`` pixels a frame; its grey frames carry film grain
    (``grain`` levels, fresh each frame), which makes a per-frame network flicker."""
    grey = np.asarray(Image.open(EXAMPLE_PHOTO).convert("L").resize((w + step * n, h)),
                      np.float32)
    yy, xx = np.mgrid[:h, :w + step * n].astype(np.float32)
    L = 25 + grey * (50 / 255)
    ab = np.stack([20 * np.sin(xx / 23), 20 * np.cos(yy / 17 + xx / 41)], -1)
    truth = color.lab_to_rgb(L, ab.astype(np.float32))
    rng = np.random.default_rng(0)
    films, greys = [], []
    for i in range(n):
        frame = np.ascontiguousarray(truth[:, step * i:step * i + w])
        films.append(frame)
        noisy = color.rgb_to_l(frame) + rng.normal(0, grain * 100 / 255, (h, w))
        greys.append(color.l_to_grey_rgb(np.clip(noisy, 0, 100)))
    return films, greys


@pytest.mark.parametrize("kind", ["ddcolor", "deoldify"])
def test_temporal_bars_hold_with_stabilization(tmp_path, kind):
    """The video issue's bars (benchmarks/RESULTS.md, "Temporal stability"), stabilized
    against per frame: a/b warp ratio <= 0.5 (the bar proposed on chroma: the output keeps
    each frame's own grainy lightness, a floor for the RGB warp error), PSNR change
    >= -0.2 dB, colourfulness ratio >= 0.9; and the RGB warp error falls. (The CDC bar,
    ratio <= 0.7, is not asked: no chroma stabilization meets it on grainy lightness, as with
    the shipped model.)"""
    from benchmarks.temporal import gt_flows, metrics

    model = tiny(tmp_path, kind)
    truth, greys = colour_film()
    per_frame = list(FrameColorizer(model, stabilizer=None).colorize_frames(greys, 4))
    steady = list(FrameColorizer(model, stabilizer=Stabilizer()).colorize_frames(greys, 4))
    flows = gt_flows(truth)
    a, b = metrics(per_frame, truth, flows), metrics(steady, truth, flows)
    assert a["warp_error_ab"] > 1.0  # the network does flicker with the grain
    assert b["warp_error_ab"] <= 0.5 * a["warp_error_ab"], (a, b)
    assert b["psnr"] >= a["psnr"] - 0.2, (a, b)
    assert b["colourfulness"] >= 0.9 * a["colourfulness"], (a, b)
    assert b["warp_error"] < a["warp_error"], (a, b)


def test_keyframe_colour_is_carried_through_the_shot(tmp_path, model, make_clip, read_video,
                                                     run_video, paint_keyframe, mean_ab):
    src = make_clip(tmp_path / "clip.mp4", n=10, size=(64, 96))
    _, frames = read_video(src)
    key = paint_keyframe(frames[0], KEY_AB, tmp_path / "k.png")
    run_video(src, tmp_path / "auto.mp4", model=model)
    run_video(src, tmp_path / "keyed.mp4", model=model, keyframes=(Keyframe(str(key), 0.0),))
    _, automatic = read_video(tmp_path / "auto.mp4")
    _, keyed = read_video(tmp_path / "keyed.mp4")
    for i in (0, 5, 9):
        got, auto = mean_ab(keyed[i]), mean_ab(automatic[i])
        assert np.hypot(*(got - KEY_AB)) < 0.5 * np.hypot(*(auto - KEY_AB)), (i, got, auto)
        assert got[0] > 15 and got[1] > 10, (i, got)


def test_reference_colour_reaches_the_matching_regions(tmp_path, model):
    """``--reference`` with an ONNX model: its match features are the shipped network's, and
    the reference's colour reaches the content it shows."""
    from vidcolor.colorize import ImageColorizer
    from vidcolor.imageio import write_image
    from vidcolor.options import ImageOptions, Reference

    grey = np.asarray(Image.open(EXAMPLE_PHOTO).convert("RGB").resize((160, 120)))
    L = color.rgb_to_l(grey)
    painted = np.zeros(L.shape + (2,), np.float32)
    painted[:, :80] = (-30.0, 35.0)  # the left half green-yellow, the right half violet
    painted[:, 80:] = (35.0, -30.0)
    reference = tmp_path / "reference.png"
    write_image(reference, color.lab_to_rgb(L, painted), mark="test reference")
    features = model.match_features(L[None])
    assert features.shape[:3] == (1, 15, 20)
    automatic = color.rgb_to_lab(ImageColorizer(model).colorize(grey))[1]
    options = ImageOptions(references=(Reference(str(reference)),))
    guided = color.rgb_to_lab(ImageColorizer(model, options).colorize(grey))[1]
    for side, want in ((slice(10, 70), (-30.0, 35.0)), (slice(90, 150), (35.0, -30.0))):
        got, auto = guided[20:100, side].mean((0, 1)), automatic[20:100, side].mean((0, 1))
        assert np.hypot(*(got - want)) < 0.5 * np.hypot(*(auto - want)), (want, got, auto)


def test_kept_pictures_are_bounded_and_a_lost_one_still_finishes(tmp_path, monkeypatch):
    """DeOldify's 8-bit pictures are kept for the stretch back within a byte bound; a render
    whose picture was let go gets its chroma stretched instead (close, not exact)."""
    from vidcolor.colorize import colorize_image
    from vidcolor.models import onnx_resize

    model = tiny(tmp_path, "deoldify")
    monkeypatch.setattr(onnx_resize, "KEPT_BYTES", 2 * 64 * 64 * 3)
    _, greys = colour_film(n=4)
    exact = [colorize_image(g, model) for g in greys]
    assert len(model.resampler._pictures) == 2  # the last two
    again = colorize_image(greys[0], model)
    assert np.array_equal(again, exact[0])
    L = color.rgb_to_l(greys[1])
    own = model.resampler
    L_small = own.shrink(lambda rows: L[rows], L.shape, (64, 64))
    ab = model.predict_ab(L_small[None])[0]
    own._pictures.clear()
    lost = own.upsampler(ab, L_small, L.shape)(L, slice(0, L.shape[0]))
    kept_ab = color.rgb_to_lab(exact[1])[1]
    assert np.abs(lost - kept_ab).mean() < 1.0
