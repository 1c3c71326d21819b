"""benchmarks.colour_copy's baseline is stored as the output is, and the check of it."""

from __future__ import annotations

import numpy as np
import pytest


def _frames(n=3, shape=(32, 48)):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape + (3,), dtype=np.uint8) for _ in range(n)]


def test_stored_baseline_shares_the_outputs_format_and_a_different_one_is_refused(tmp_path):
    from benchmarks import colour_copy as bc
    from benchmarks.keyframes import stored, write_grey

    frames = _frames()
    grey = write_grey(tmp_path / "grey.mkv", frames, 25.0)
    stored(tmp_path / "a.mkv", frames, grey)
    stored(tmp_path / "b.mkv", frames[::-1], grey)
    fmt = bc.same_format(tmp_path / "a.mkv", tmp_path / "b.mkv")
    assert fmt["codec"] == "ffv1" and fmt["bits"] == 8 and fmt["width"] == 48
    rgb = bc.write_copy(tmp_path / "rgb.mkv", frames, [0, 1, 2], 25.0)  # lossless RGB
    with pytest.raises(SystemExit, match="stored differently"):
        bc.same_format(tmp_path / "a.mkv", rgb)


def test_bilinear_baseline_renders_with_the_given_conversion():
    from benchmarks import colour_copy as bc
    from vidcolor import color

    grey = _frames(2)
    copy = {0: _frames(1, (8, 12))[0]}
    plain = list(bc.bilinear(grey, copy))
    fitted = list(bc.bilinear(grey, copy, color.gamut_rgb))
    assert plain[0].shape == grey[0].shape and plain[0].dtype == np.uint8
    # Frame 1 has no copy frame of its own: the nearest earlier one's colour.
    _, ab1 = color.rgb_to_lab(plain[1])
    assert np.abs(ab1).mean() > 1.0
    assert not np.array_equal(plain[0], fitted[0])  # random colour leaves the gamut


def test_gain_above_storage_takes_the_shared_error_out_of_both():
    from benchmarks.colour_copy import above_storage_db

    # Errors 2.0 and 1.5 over a shared storage error of 1.0: 1.25 dB plainly, 3 dB above it.
    assert np.isclose(10 * np.log10(2.0 / 1.5), 1.249, atol=1e-3)
    assert np.isclose(above_storage_db(1.5, 2.0, 1.0), 10 * np.log10(2.0), atol=1e-9)
    assert above_storage_db(2.0, 2.0, 1.0) == 0.0
    assert above_storage_db(3.0, 2.0, 1.0) < 0.0  # worse than the baseline


def test_another_cut_of_the_film_lacks_a_scene_or_adds_a_break():
    from benchmarks.colour_copy import edited

    assert edited(6) == [0, 1, 2, 3, 4, 5]
    assert edited(6, cut=(2, 4)) == [0, 1, 4, 5]  # the rest comes 2 frames earlier
    assert edited(6, insert=(2, 3)) == [0, 1, -1, -2, -3, 2, 3, 4, 5]
    assert edited(6, cut=(1, 2), insert=(4, 1)) == [0, 2, 3, -1, 4, 5]
