"""User hints (issue 16): parsing, rasterizing, the simulated user and the naive baselines."""

import json

import numpy as np
import pytest
from PIL import Image

from vidcolor import color
from vidcolor import hints as H
from vidcolor.errors import VidcolorError


def test_hex_colour_gives_its_chroma():
    ab = H.parse_color("#a03020")
    expected = color.rgb_to_lab(np.array([[[0xA0, 0x30, 0x20]]], np.uint8))[1].reshape(2)
    assert np.allclose(ab, expected) and ab[0] > 30  # a warm red
    assert np.allclose(H.parse_color("A03020"), ab)
    assert np.allclose(H.parse_color("#808080"), 0, atol=0.5)
    for bad in ("#a0302", "red", "#gg0000", 12, None):
        with pytest.raises(ValueError, match="bad colour"):
            H.parse_color(bad)


def test_points_cover_their_square_clipped_to_the_picture():
    hints = H.parse_points({"points": [{"x": 5, "y": 4, "radius": 2, "color": "#a03020"},
                                       {"x": 0, "y": 0, "radius": 1, "color": "#2040a0"},
                                       {"x": 9, "y": 9, "color": "#20a040"}]}, (10, 12))
    ab, mask = H.raster(hints)
    assert mask.shape == (10, 12, 1) and ab.shape == (10, 12, 2)
    assert mask.sum() == 25 + 4 + 1  # 5x5, a 3x3 clipped to 2x2, one pixel
    assert mask[2:7, 3:8].all() and not mask[1, 5] and not mask[4, 8]
    assert np.allclose(ab[4, 5], H.parse_color("#a03020"), atol=1e-4)
    assert np.all(ab[mask[..., 0] == 0] == 0)


@pytest.mark.parametrize("points, problem", [
    ([{"x": 12, "y": 0, "color": "#ffffff"}], "outside the 12x10 picture"),
    ([{"x": 0, "y": 10, "color": "#ffffff"}], "outside"),
    ([{"x": 1, "y": 1, "color": "#fffff"}], "point 0: bad colour"),
    ([{"x": 1, "y": 1}], "no 'color'"),
    ([{"y": 1, "color": "#ffffff"}], "no 'x'"),
    ([{"x": -1, "y": 1, "color": "#ffffff"}], "'x' must be a whole number"),
    ([{"x": 1.5, "y": 1, "color": "#ffffff"}], "'x' must be a whole number"),
    ([{"x": True, "y": 1, "color": "#ffffff"}], "'x' must be a whole number"),
    ([{"x": 1, "y": 1, "radius": -2, "color": "#ffffff"}], "'radius'"),
    ([{"x": 1, "y": 1, "color": "#ffffff"}, "nope"], "point 1: expected an object"),
])
def test_bad_points_name_the_problem(points, problem):
    with pytest.raises(ValueError, match=problem):
        H.parse_points({"points": points}, (10, 12))


def test_json_files_errors_are_one_line_naming_the_file(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"points": [{"x": 1, "y": 2, "radius": 1, "color": "#102030"}]}))
    assert len(H.read_json(good, (8, 8))) == 9
    assert H.read_json(good, None) is None  # checked only
    cases = {"broken.json": "{\"points\": [", "shape.json": "[1, 2]",
             "far.json": json.dumps({"points": [{"x": 50, "y": 2, "color": "#102030"}]})}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(VidcolorError) as e:
            H.read_json(tmp_path / name, (8, 8))
        assert str(tmp_path / name) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(VidcolorError, match="cannot read hints"):
        H.read_json(tmp_path / "missing.json", (8, 8))


def test_hint_image_alpha_marks_the_hints_and_its_size_must_match(tmp_path):
    rgba = np.zeros((6, 9, 4), np.uint8)
    rgba[..., :3] = (0x20, 0x40, 0xA0)
    rgba[1:3, 2:5, 3] = 255
    rgba[5, 8, 3] = 1
    Image.fromarray(rgba).save(tmp_path / "h.png")
    hints = H.read_hint_image(tmp_path / "h.png", (6, 9))
    ab, mask = H.raster(hints)
    assert mask.sum() == 7 and mask[5, 8] and not mask[0, 0]
    assert np.allclose(ab[1, 2], H.parse_color("#2040a0"), atol=0.5)
    with pytest.raises(VidcolorError, match="hint image is 9x6, the picture is 10x6"):
        H.read_hint_image(tmp_path / "h.png", (6, 10))


def test_raster_averages_when_shrinking_and_repeats_when_growing():
    hints = H.Hints((4, 4), np.array([0, 0, 3]), np.array([0, 1, 3]),
                    np.array([[10, 0], [30, 0], [-20, 40]], np.float32))
    ab, mask = H.raster(hints, (2, 2))
    assert mask[..., 0].tolist() == [[1, 0], [0, 1]]
    assert np.allclose(ab[0, 0], [20, 0]) and np.allclose(ab[1, 1], [-20, 40])
    ab, mask = H.raster(hints, (8, 8))
    assert mask.sum() == 12 and np.allclose(ab[7, 7], [-20, 40])
    ab, mask = H.raster(H.Hints.empty((4, 4)), (3, 3))
    assert not mask.any() and not ab.any()


def test_the_simulated_user_is_reproducible_and_gives_patch_means():
    rng = np.random.default_rng(5)
    ab_true = rng.normal(0, 30, (40, 50, 2)).astype(np.float32)
    a = H.sample_hints(ab_true, 12, np.random.default_rng(1))
    b = H.sample_hints(ab_true, 12, np.random.default_rng(1))
    c = H.sample_hints(ab_true, 12, np.random.default_rng(2))
    assert np.array_equal(a.rows, b.rows) and np.array_equal(a.ab, b.ab)
    assert not (len(a) == len(c) and np.array_equal(a.rows, c.rows))
    assert 12 <= len(a) <= 12 * 81
    # Every pixel of a square carries the square's mean true colour.
    flat = H.sample_hints(np.broadcast_to(np.float32([7, -3]), (40, 50, 2)), 5, rng)
    assert np.allclose(flat.ab, [7, -3])
    assert len(H.sample_hints(ab_true, 0, rng)) == 0


def test_baselines_shift_the_prediction_towards_the_hints():
    ab_pred = np.zeros((60, 80, 2), np.float32)
    hints = H.square_hints((60, 80), np.array([[10, 10]]), np.array([1]), np.float32([[40, -20]]))
    shifted = H.global_shift(ab_pred, hints)
    assert np.allclose(shifted, [40, -20], atol=1e-4)
    local = H.local_shift(ab_pred, hints)
    assert np.allclose(local[10, 10], [40, -20], atol=0.5)  # one hint: everywhere its colour
    two = H.square_hints((60, 80), np.array([[10, 5], [50, 75]]), np.array([0, 0]),
                         np.float32([[40, 0], [-40, 0]]))
    local = H.local_shift(ab_pred, two)
    assert local[10, 5, 0] > 30 and local[50, 75, 0] < -30 and abs(local[30, 40, 0]) < 15
    empty = H.Hints.empty((60, 80))
    assert H.global_shift(ab_pred, empty) is ab_pred and H.local_shift(ab_pred, empty) is ab_pred
