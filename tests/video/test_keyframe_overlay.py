"""The keyframes' full-resolution overlay (:class:`KeyframeOverlay`): its kernels against the
same arithmetic in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from vidcolor.video.keyframes.overlay import KeyframeOverlay, _overlay_reference

H, W, h, w = 60, 100, 18, 30


def _part(rng, hk: int, wk: int):
    lab = np.concatenate([rng.uniform(0, 100, (hk, wk, 1)),
                          rng.uniform(-80, 80, (hk, wk, 2))], -1).astype(np.float32)
    displacement = rng.normal(0, 3, (h, w, 2)).astype(np.float32)
    return lab, displacement, rng.uniform(0, 1, (h, w)).astype(np.float32)


@pytest.mark.parametrize("sizes", [[(H, W)], [(H, W), (45, 80)], [(90, 150), (30, 50)]])
def test_the_overlay_equals_its_numpy_arithmetic_to_the_bit(sizes):
    rng = np.random.default_rng(len(sizes))
    parts = [_part(rng, *size) for size in sizes]
    share = np.where(parts[0][2] > 0.4, parts[0][2], 0).astype(np.float32)
    overlay = KeyframeOverlay(parts, share)
    ab = rng.uniform(-60, 60, (H, W, 2)).astype(np.float32)
    L = rng.uniform(0, 100, (H, W)).astype(np.float32)
    ours = overlay.apply(ab, L)
    np.testing.assert_array_equal(ours, _overlay_reference(overlay, ab, L))
    assert ours.dtype == np.float32 and ours.shape == (H, W, 2)
    assert not np.array_equal(ours, ab)  # the keyframe's colour was laid over


def test_the_overlay_leaves_untrusted_pixels_and_keeps_no_state_between_frames():
    rng = np.random.default_rng(7)
    parts = [_part(rng, H, W)]
    share = np.zeros((h, w), np.float32)
    share[:, :10] = 1.0  # trusted on the left only
    overlay = KeyframeOverlay(parts, share)
    L = rng.uniform(0, 100, (H, W)).astype(np.float32)
    ab = rng.uniform(-60, 60, (H, W, 2)).astype(np.float32)
    first = overlay.apply(ab, L)
    np.testing.assert_array_equal(first[:, W // 2:], ab[:, W // 2:])
    # A second frame of another size, then the first again: the kept work arrays follow.
    KeyframeOverlay([_part(rng, 30, 40)], np.ones((h, w), np.float32)).apply(
        ab[:30, :40].copy(), L[:30, :40].copy())
    np.testing.assert_array_equal(overlay.apply(ab, L), first)
