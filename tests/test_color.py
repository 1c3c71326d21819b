"""vidcolor.color: sRGB <-> Lab against scikit-image, round trips, ranges, 16-bit, batches."""

import cv2
import numpy as np
import pytest
from skimage import color as skcolor

from support import DATA
from vidcolor import color


def _random(shape, dtype, seed=0):
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_agrees_with_scikit_image_on_random_pixels(dtype):
    rgb = _random((120, 170, 3), dtype)
    L, ab = color.rgb_to_lab(rgb)
    ref = skcolor.rgb2lab(rgb)
    assert L.dtype == np.float32 and ab.dtype == np.float32
    assert np.abs(L - ref[..., 0]).max() < 0.5
    assert np.abs(ab - ref[..., 1:]).max() < 0.5


def test_agrees_with_scikit_image_on_a_real_photo():
    path = DATA / "seed" / "woman.jpg"
    if not path.is_file():
        pytest.skip("shared data not present")
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    L, ab = color.rgb_to_lab(rgb)
    ref = skcolor.rgb2lab(rgb)
    assert np.abs(np.dstack([L, ab]) - ref).max() < 0.5
    back = color.lab_to_rgb(L, ab)
    ref_back = (skcolor.lab2rgb(ref) * 255).round()
    assert np.abs(back.astype(float) - ref_back).max() <= 1


def test_lab_to_rgb_agrees_with_scikit_image_including_out_of_gamut():
    rng = np.random.default_rng(1)
    L = rng.uniform(0, 100, (64, 64)).astype(np.float32)
    ab = rng.uniform(-110, 110, (64, 64, 2)).astype(np.float32)
    ours = color.lab_to_rgb(L, ab, np.uint16).astype(np.float64) / 65535
    ref = np.clip(skcolor.lab2rgb(np.dstack([L, ab]).astype(np.float64)), 0, 1)
    assert np.abs(ours - ref).max() < 2e-3


def test_every_8bit_grey_and_primary_round_trips_exactly():
    v = np.arange(256, dtype=np.uint8)
    zeros = np.zeros_like(v)
    rgb = np.stack([np.stack([v, v, v], -1), np.stack([v, zeros, zeros], -1),
                    np.stack([zeros, v, zeros], -1), np.stack([zeros, zeros, v], -1)])
    L, ab = color.rgb_to_lab(rgb)
    np.testing.assert_array_equal(color.lab_to_rgb(L, ab), rgb)


def test_random_8bit_round_trip_is_exact():
    rgb = _random((300, 400, 3), np.uint8, seed=3)
    np.testing.assert_array_equal(color.lab_to_rgb(*color.rgb_to_lab(rgb)), rgb)


def test_16bit_round_trip_within_a_few_levels():
    rgb = _random((200, 300, 3), np.uint16, seed=4)
    back = color.lab_to_rgb(*color.rgb_to_lab(rgb), dtype=np.uint16)
    assert back.dtype == np.uint16
    # float32 arithmetic on 16-bit data: well under an eighth of an 8-bit level (257 / 8).
    assert np.abs(back.astype(int) - rgb).max() < 32
    assert np.abs(back.astype(int) - rgb).mean() < 2


def test_ranges_black_white_and_neutral_greys():
    L, ab = color.rgb_to_lab(np.array([[[0, 0, 0], [255, 255, 255], [128, 128, 128]]], np.uint8))
    np.testing.assert_allclose(L[0], [0.0, 100.0, 53.585], atol=0.01)
    assert np.abs(ab).max() < 0.01
    L16, _ = color.rgb_to_lab(np.array([[65535, 65535, 65535]], np.uint16))
    assert abs(L16[0] - 100) < 0.01


def test_rgb_to_l_matches_full_conversion():
    rgb = _random((50, 60, 3), np.uint8, seed=5)
    np.testing.assert_allclose(color.rgb_to_l(rgb), color.rgb_to_lab(rgb)[0], atol=0.01)


def test_grey_rgb_has_the_requested_lightness_and_no_chroma():
    L = np.linspace(0, 100, 101, dtype=np.float32)
    grey = color.l_to_grey_rgb(L)
    assert (grey[:, 0] == grey[:, 1]).all() and (grey[:, 1] == grey[:, 2]).all()
    assert np.abs(color.rgb_to_l(grey) - L).max() < 0.3


def test_batches_of_frames_keep_their_shape():
    frames = _random((3, 16, 24, 3), np.uint8)
    L, ab = color.rgb_to_lab(frames)
    assert L.shape == (3, 16, 24) and ab.shape == (3, 16, 24, 2)
    for i in range(3):
        np.testing.assert_array_equal(L[i], color.rgb_to_lab(frames[i])[0])
    assert color.lab_to_rgb(L, ab).shape == frames.shape


def test_bad_inputs_are_rejected_clearly():
    with pytest.raises(TypeError, match="uint8 or uint16"):
        color.rgb_to_lab(np.zeros((2, 2, 3), np.float64))
    with pytest.raises(ValueError, match="3 channels"):
        color.rgb_to_lab(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        color.lab_to_rgb(np.zeros((2, 2)), np.zeros((2, 3, 2)))


def test_fit_gamut_keeps_lightness_hue_and_in_gamut_colours():
    rng = np.random.default_rng(7)
    L = rng.uniform(0, 100, (80, 90)).astype(np.float32)
    ab = rng.normal(0, 40, (80, 90, 2)).astype(np.float32)
    fitted = color.fit_gamut(L, ab)
    assert fitted.shape == ab.shape and fitted.dtype == np.float32
    # Lightness survives the trip through 16-bit RGB (clipping would have changed it).
    back = color.rgb_to_l(color.lab_to_rgb(L, fitted, np.uint16))
    assert np.abs(back - L).max() < 0.1
    clipped = color.rgb_to_l(color.lab_to_rgb(L, ab, np.uint16))
    assert np.abs(clipped - L).max() > 5  # the test really has out-of-gamut colours
    # Hue kept: only a common scale in [0, 1] per pixel.
    scale = np.linalg.norm(fitted, axis=-1) / np.maximum(np.linalg.norm(ab, axis=-1), 1e-6)
    assert scale.min() >= 0 and scale.max() <= 1 + 1e-6
    np.testing.assert_allclose(fitted, ab * scale[..., None], atol=1e-3)
    # In-gamut colours are untouched, and shrinking stops at the gamut's edge.
    small = ab * 0.05
    np.testing.assert_array_equal(color.fit_gamut(L, small)[np.abs(L - 50) < 30],
                                  small[np.abs(L - 50) < 30])
    shrunk = scale < 0.99
    slightly_more = color.fit_gamut(L, fitted * 1.02)
    assert (np.linalg.norm(slightly_more[shrunk], axis=-1)
            < np.linalg.norm(fitted[shrunk] * 1.02, axis=-1) - 1e-4).mean() > 0.9


def test_gamut_rgb_is_the_fitted_conversion_in_one_pass():
    rng = np.random.default_rng(3)
    L = rng.uniform(0, 100, (60, 70)).astype(np.float32)
    ab = rng.normal(0, 45, (60, 70, 2)).astype(np.float32)  # many colours outside sRGB
    reference = color.lab_to_rgb(L, color.fit_gamut(L, ab))
    ours = color.gamut_rgb(L, ab)
    assert ours.dtype == np.uint8 and ours.shape == (60, 70, 3)
    assert np.abs(ours.astype(int) - reference).max() <= 1
    assert np.mean(ours != reference) < 0.01
    # The output keeps the asked lightness, even where the asked chroma was out of gamut.
    assert np.abs(color.rgb_to_l(ours) - L).max() < 0.5
    np.testing.assert_array_equal(color.gamut_rgb(L, ab, np.uint16),
                                  color.lab_to_rgb(L, color.fit_gamut(L, ab), np.uint16))


def test_nearest_in_gamut_keeps_lightness_and_lands_nearer_the_truth_than_scaling():
    # Truths inside the gamut, estimated with an error that takes many of them outside (a
    # colour copy's chroma, upsampled): brought back in at the truth's lightness.
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 256, (120, 100, 3), dtype=np.uint8)
    L, ab_true = color.rgb_to_lab(truth)
    estimate = (ab_true + rng.normal(0, 12, ab_true.shape)).astype(np.float32)
    outside = color.gamut_scale(L, estimate) < 1.0
    assert outside.mean() > 0.2  # the test really has colours to bring in
    near = color.nearest_in_gamut(estimate, L)
    assert near.shape == estimate.shape and near.dtype == np.float32
    # Colours inside are left as they are; what is brought in needs (almost) no scaling more.
    np.testing.assert_array_equal(near[~outside], estimate[~outside])
    assert color.gamut_scale(L, near)[outside].mean() > 0.99
    ours = color.gamut_rgb(L, near)
    assert np.abs(color.rgb_to_l(ours) - L).max() < 0.5  # the lightness asked for
    scaled = color.gamut_rgb(L, estimate)  # towards grey

    def error(rgb):
        return ((rgb.astype(float) - truth) ** 2).sum(-1)[outside].mean()

    clipped = color.lab_to_rgb(L, estimate)  # nearest in RGB, but off the lightness
    assert error(ours) < 0.95 * error(scaled)
    assert error(ours) < error(clipped)  # with the truth's lightness kept, nearer still


def test_smoothed_gamut_scale_stays_inside_and_spreads_the_clip():
    # An upscaled bright edge: L climbs from 70 to a wall clipped at 100, which holds no chroma.
    x = np.arange(120, dtype=np.float32)
    L = np.tile(np.clip(70 + 2.5 * (x - 50), 70, 100), (40, 1)).astype(np.float32)
    L += np.random.default_rng(2).uniform(-0.5, 0, L.shape).astype(np.float32)
    ab = np.zeros((40, 120, 2), np.float32)
    ab[..., 0], ab[..., 1] = 12, 18
    own = color.gamut_scale(L, ab)
    assert own.min() < 0.1 and own.max() == 1  # the edge really leaves the gamut
    for radius in (1, 2, 3):
        smooth = color.gamut_scale(L, ab, radius=radius)
        assert smooth.shape == L.shape and (smooth <= own + 1e-6).all()
        fitted = color.fit_gamut(L, ab, radius=radius)
        assert np.abs(color.rgb_to_l(color.lab_to_rgb(L, fitted, np.uint16)) - L).max() < 0.1
        reference = color.lab_to_rgb(L, fitted)
        assert np.abs(color.gamut_rgb(L, ab, radius=radius).astype(int) - reference).max() <= 1

    def steepest(radius):  # the largest mean chroma change between neighbouring columns
        return np.abs(np.diff(color.fit_gamut(L, ab, radius=radius), axis=1)).mean(axis=(0, 2)).max()

    assert steepest(3) < 0.75 * steepest(0)
    assert steepest(2) < steepest(1) < steepest(0)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_rgb_to_l_follows_the_cie_formula(dtype):
    rgb = _random((50, 40, 3), dtype, seed=4)
    linear = color._DECODE_LUTS[np.dtype(dtype)][rgb].astype(np.float64)
    y = linear @ np.array([0.212671, 0.715160, 0.072169])
    expected = np.where(y > 0.008856, 116.0 * np.cbrt(y) - 16.0, 903.3 * y)
    np.testing.assert_allclose(color.rgb_to_l(rgb), expected, atol=1e-4)
