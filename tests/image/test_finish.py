"""The finishing step (vidcolor.finish): render chroma to full-resolution RGB, the one-kernel
8-bit path against the path through full-resolution chroma and against the formulas it
replaced (OpenCV's whole-picture bicubic resize, then lab_to_rgb of fit_gamut): within a
level, in rare pixels."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from vidcolor import color
from vidcolor.finish import finish_rgb, finish_rows, gamut_radius
from vidcolor.upsample import GuidedUpsampler, guided_fit, upsampler


def _render(h=24, w=44, H=60, W=107, seed=0, chroma=70.0):
    """Render-size L and a/b (much of it outside sRGB at full size), and a full-resolution L
    with detail the render does not have."""
    rng = np.random.default_rng(seed)
    L_full = cv2.GaussianBlur(rng.uniform(0, 100, (H, W)).astype(np.float32), (0, 0), 2.0)
    L_full = np.clip((L_full - L_full.mean()) * 6 + 55, 0, 100).astype(np.float32)
    L_full[:, W // 2:] = np.minimum(L_full[:, W // 2:] + 30, 100)  # a strong edge
    L_small = cv2.resize(L_full, (w, h), interpolation=cv2.INTER_AREA)
    ab = cv2.GaussianBlur(rng.normal(0, chroma, (h, w, 2)).astype(np.float32), (0, 0), 1.0)
    return ab.astype(np.float32), L_small, L_full


def _old_upsample(ab, L_small, L_full, radius=1, eps=256.0):
    """The upsampling as it was: one whole-picture cv2.resize of chroma and slope, one of L."""
    box, slope, _, _ = guided_fit(ab, L_small, radius, eps)
    H, W = L_full.shape
    up = cv2.resize(np.concatenate([ab, box(slope)], -1), (W, H), interpolation=cv2.INTER_CUBIC)
    L_up = cv2.resize(L_small, (W, H), interpolation=cv2.INTER_CUBIC)
    return up[..., :2] + up[..., 2:] * (L_full - L_up)[..., None]


def test_the_upsampler_is_the_whole_picture_bicubic_formula():
    ab, L_small, L_full = _render()
    ours = upsampler(ab, L_small, L_full.shape)(L_full, slice(0, L_full.shape[0]))
    np.testing.assert_allclose(ours, _old_upsample(ab, L_small, L_full), atol=2e-3)


@pytest.mark.parametrize("radius", [0, 1, 2])
def test_one_kernel_gives_the_path_through_full_resolution_chromas_colours(radius):
    ab, L_small, L_full = _render(seed=radius)
    H = L_full.shape[0]
    up = upsampler(ab, L_small, L_full.shape)
    assert isinstance(up, GuidedUpsampler)
    through_chroma = color.gamut_rgb(L_full, up(L_full, slice(0, H)), np.uint8, radius)
    assert (color.gamut_scale(L_full, up(L_full, slice(0, H))) < 1).mean() > 0.05
    ours = finish_rgb(ab, L_small, L_full, radius=radius)
    # The same functions, compiled into two kernels: fastmath lets each compilation round a
    # rare pixel the other way (a stale numba cache of one kernel did, 2 to 5 in 19,260).
    assert np.abs(ours.astype(int) - through_chroma).max() <= 1
    assert np.mean(ours != through_chroma) < 0.001


def test_the_finish_is_within_a_level_of_the_formulas_it_replaced():
    ab, L_small, L_full = _render(seed=4)
    radius = gamut_radius(L_full.shape[0], L_small.shape[0])
    ab_old = _old_upsample(ab, L_small, L_full)
    reference = color.lab_to_rgb(L_full, color.fit_gamut(L_full, ab_old, radius=radius))
    ours = finish_rgb(ab, L_small, L_full)
    assert np.abs(ours.astype(int) - reference).max() <= 1
    assert np.mean(ours != reference) < 0.01
    # 16-bit: the same chroma through the exact encoding (no one-kernel path).
    ours16 = finish_rgb(ab, L_small, L_full, np.uint16)
    reference16 = color.lab_to_rgb(L_full, color.fit_gamut(L_full, ab_old, radius=radius),
                                   np.uint16)
    assert ours16.dtype == np.uint16
    assert np.abs(ours16.astype(int) - reference16).max() <= 257  # one 8-bit level


def test_in_gamut_chroma_is_encoded_without_a_scale():
    ab, L_small, L_full = _render(seed=5, chroma=2.0)
    L_full = np.clip(L_full, 20, 80)  # no white or black, where no chroma fits
    L_small = cv2.resize(L_full, L_small.shape[::-1], interpolation=cv2.INTER_AREA)
    up = upsampler(ab, L_small, L_full.shape)(L_full, slice(0, L_full.shape[0]))
    assert color.gamut_scale(L_full, up).min() == 1.0
    ours, through_chroma = finish_rgb(ab, L_small, L_full), color.gamut_rgb(L_full, up)
    assert np.abs(ours.astype(int) - through_chroma).max() <= 1
    assert np.mean(ours != through_chroma) < 0.001


def test_strips_equal_the_whole():
    ab, L_small, L_full = _render(seed=6)
    H = L_full.shape[0]
    up = upsampler(ab, L_small, L_full.shape)
    whole_ab = up(L_full, slice(0, H))
    # OpenCV resizes a strip's render rows to full width in another grouping than the whole
    # picture's: the same to float rounding.
    for rows in (slice(0, 7), slice(7, 30), slice(29, 31), slice(55, H)):
        np.testing.assert_allclose(up(L_full[rows], rows), whole_ab[rows], rtol=0, atol=1e-4)
    radius = 1
    whole = finish_rows(up, L_full, slice(0, H), np.uint8, radius)
    halo = 2 * radius
    strips = []
    for start in range(0, H, 13):
        rows = slice(start, min(H, start + 13))
        ext = slice(max(0, rows.start - halo), min(H, rows.stop + halo))
        strip = finish_rows(up, L_full[ext], ext, np.uint8, radius)
        strips.append(strip[rows.start - ext.start:rows.stop - ext.start])
    strips = np.concatenate(strips)
    assert np.abs(strips.astype(int) - whole).max() <= 1
    assert np.mean(strips != whole) < 0.002


def test_the_overlay_is_laid_over_before_the_gamut_fit():
    ab, L_small, L_full = _render(seed=7)
    H = L_full.shape[0]
    up = upsampler(ab, L_small, L_full.shape)
    seen = {}

    def overlay(ab_full, L):
        seen["shape"] = ab_full.shape
        return np.where(np.arange(ab_full.shape[1])[None, :, None] < 20, 90.0, ab_full)

    ours = finish_rgb(ab, L_small, L_full, overlay=overlay, radius=0)
    assert seen["shape"] == L_full.shape + (2,)
    expected = color.gamut_rgb(L_full, overlay(up(L_full, slice(0, H)), L_full), np.uint8, 0)
    np.testing.assert_array_equal(ours, expected)  # the overlay goes the same way: same bytes


_FINISH_DIGEST = """
import hashlib, numpy as np
from vidcolor.finish import finish_rgb
rng = np.random.default_rng(5)
L_full = rng.uniform(0, 100, (96, 170)).astype(np.float32)
L_small = L_full[::2, ::2].copy()
ab = rng.normal(0, 60, (48, 85, 2)).astype(np.float32)  # many colours outside sRGB
print(hashlib.sha256(finish_rgb(ab, L_small, L_full).tobytes()).hexdigest())
"""


def test_a_kernel_compiled_afresh_gives_what_numbas_cached_one_gives(tmp_path):
    # A cluster's workers read kernels their parent compiled: the frames must not depend on it.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    digests = [subprocess.run([sys.executable, "-c", _FINISH_DIGEST], env=env, check=True,
                              capture_output=True, text=True).stdout.strip() for _ in range(2)]
    assert any(tmp_path.rglob("*.nbi"))  # the second run read what the first compiled
    assert digests[0] == digests[1]
