"""The finishing step of every picture and film frame: render-size chroma to full-resolution
RGB whose lightness is the input's own.

The chroma is upsampled guided by the full-resolution lightness (:mod:`vidcolor.upsample`),
fitted into the sRGB gamut and encoded (:func:`vidcolor.color.gamut_rgb`). For 8-bit output
with vidcolor's own upsampler the two run as one kernel, a strip of rows at a time, so the
full-resolution float chroma is never written out and read back; any other case (16-bit
output, another network's own resize, the keyframes' overlay on the full-resolution chroma)
goes through the full-resolution chroma. Both run the same numba functions, with IEEE
arithmetic kept (no reassociation or fused multiply-adds), so they give the same colours.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from vidcolor import color, scratch
from vidcolor.upsample import GuidedUpsampler, guided_rows, upsampler

__all__ = ["gamut_radius", "finish_rgb", "finish_rows"]


def gamut_radius(full_rows: int, small_rows: int) -> int:
    """Radius (full-resolution pixels) over which :func:`vidcolor.color.fit_gamut` smooths its
    chroma scale: the window spans about one pixel of the resolution the chroma was predicted
    at, detail the network never gave. Measured (benchmarks/RESULTS.md, large stills): on a
    12-megapixel scan the worst colour line scored 5.63 with radius 0, 2.91 with 1, 2.20 with
    2; on CBSD68 radius 1 costs 0.08 of colourfulness and no PSNR."""
    return max(1, math.ceil(full_rows / small_rows / 4))


def finish_rgb(ab_small: np.ndarray, L_small: np.ndarray, L_full: np.ndarray,
               dtype=np.uint8, upsample=upsampler, overlay=None,
               radius: int | None = None, nearest: bool = False) -> np.ndarray:
    """Full-resolution sRGB from render-size chroma and the full-resolution lightness.

    The chroma is upsampled guided by ``L_full`` (:func:`vidcolor.upsample.upsample_ab`; or by
    ``upsample``, another network's own resize) and fitted into the gamut (smoothly, see
    :func:`gamut_radius`), so the output's lightness is ``L_full`` itself
    (:func:`vidcolor.color.gamut_rgb`).

    Parameters
    ----------
    ab_small : ndarray of float32, shape (h, w, 2)
    L_small : ndarray of float32, shape (h, w), in [0, 100]
        The lightness the network saw.
    L_full : ndarray of float32, shape (H, W), in [0, 100]
    dtype : numpy.uint8 or numpy.uint16
    upsample : callable
        :func:`vidcolor.upsample.upsampler` or a model's own
        (:func:`vidcolor.colorize.model_upsampler`).
    overlay : callable, optional
        ``overlay(ab (H, W, 2), L_full) -> ab``: colour laid over the upsampled chroma before
        the gamut fit (a keyframe's, :class:`vidcolor.video.keyframes.KeyframeOverlay`).
    radius : int, optional
        Of the gamut fit's smoothing; default :func:`gamut_radius` (0: pixel by pixel, for
        chroma with detail finer than the render).
    nearest : bool
        Bring the chroma into the gamut near its colour first
        (:func:`vidcolor.color.nearest_in_gamut`), for chroma that estimates colours inside
        it (a colour copy's); the gamut fit then scales only what is left outside.

    Returns
    -------
    ndarray of `dtype`, shape (H, W, 3)
    """
    H = L_full.shape[0]
    if radius is None:
        radius = gamut_radius(H, L_small.shape[0])
    # vidcolor's own upsampler lives only in this call: its render planes can be this
    # thread's kept ones.
    kept = {"render": _render_space(L_small.shape)} if upsample is upsampler else {}
    up = upsample(ab_small, L_small, L_full.shape, **kept)
    return finish_rows(up, L_full, slice(0, H), dtype, radius, overlay, nearest)


def finish_rows(upsample, L_rows: np.ndarray, rows: slice, dtype=np.uint8, radius: int = 0,
                overlay=None, nearest: bool = False) -> np.ndarray:
    """:func:`finish_rgb` for some rows of a picture (strips of a large still).

    Parameters
    ----------
    upsample : callable
        A made upsampler, ``f(L_rows, rows) -> ab (rows, W, 2)``
        (:func:`vidcolor.upsample.upsampler`'s result or a model's own).
    L_rows : ndarray of float32, shape (n, W), in [0, 100]
        The full-resolution lightness of ``rows``.
    rows : slice
        Of the full-resolution picture, with start and stop.
    dtype, radius, overlay, nearest
        As for :func:`finish_rgb`; the gamut's smoothing sees only these rows (a caller that
        wants strips to equal the whole gives each strip ``2 * radius`` more rows each side).

    Returns
    -------
    ndarray of `dtype`, shape (n, W, 3)
    """
    if overlay is None and np.dtype(dtype) == np.uint8 and isinstance(upsample, GuidedUpsampler):
        return _guided_rgb8(upsample, np.ascontiguousarray(L_rows, np.float32), rows, radius,
                            nearest)
    ab = upsample(L_rows, rows)
    if overlay is not None:
        ab = overlay(ab, L_rows)
    if nearest:
        ab = color.nearest_in_gamut(ab, L_rows)
    return color.gamut_rgb(L_rows, ab, dtype, radius)


def _guided_rgb8(upsample: GuidedUpsampler, L: np.ndarray, rows: slice,
                 radius: int, nearest: bool) -> np.ndarray:
    """:func:`finish_rows` for 8-bit output from vidcolor's own upsampler, in one kernel."""
    n, W = L.shape
    out = np.empty((n, W, 3), np.uint8)
    if out.size == 0:
        return out
    strip = min(color.GAMUT_STRIP_ROWS, n)
    space = _workspace(n, W, strip)
    planes = upsample.planes(rows, space.get("planes"))
    space["planes"] = planes[0]
    own = space["own"]
    fitted = _guided_rgb8_kernel(*planes, L, out, own, space["chroma"], space["work"],
                                 *space["gamut"], *color.GAMUT8_CONSTANTS, nearest,
                                 *color.NEAREST_CONSTANTS)
    if radius > 0 and fitted:  # all inside: the smoothing would lower no scale
        smooth = color.smooth_scale(own, radius, space["smooth"])
        _refit8_kernel(*planes, L, own, smooth, out, space["chroma"], space["work"],
                       *color.GAMUT8_CONSTANTS, nearest, *color.NEAREST_CONSTANTS)
    return out


def _render_space(shape: tuple[int, int]) -> np.ndarray:
    """This thread's kept render planes (5, h, w) float32."""
    return scratch.kept("finish.render", tuple(shape),
                        lambda: np.empty((5,) + tuple(shape), np.float32))


def _workspace(n: int, W: int, strip: int) -> dict:
    """This thread's work arrays for ``n`` rows of ``W`` (the last size asked for)."""
    return scratch.kept("finish.space", (n, W, strip), lambda: {
        "own": np.empty((n, W), np.float32), "smooth": np.empty((2, n, W), np.float32),
        "chroma": np.empty((2, strip, W), np.float32), "work": np.empty((3, W), np.float32),
        "gamut": color.gamut_scratch(W, strip)})


# numba's cache checks only this file: after changing the kernels these call
# (color.gamut_rows8, upsample.guided_rows...), touch this file so they are compiled again.
# Of fastmath only what cannot change a finite result: with reassociation and contraction a
# kernel compiled afresh and the same kernel read from numba's cache rounded pixels a level
# apart, so a cluster's workers and the process that started them gave other frames.
_KERNEL = dict(nogil=True, cache=True, fastmath={"nnan", "ninf", "nsz"}, error_model="numpy")


@numba.njit(**_KERNEL)
def _guided_rgb8_kernel(planes, first, taps, weights, L, out, own, chroma, work, rgbe, lanes,
                        index, m, white, steps, tol, levels, nearest, inverse, rounds):
    # Strip by strip: the strip's chroma (vidcolor.upsample), with `nearest` brought in near
    # its colour, then its fit and encoding (vidcolor.color); returns how many pixels needed
    # a chroma scale below 1.
    step = chroma.shape[1]
    fitted = 0
    for i in range(0, L.shape[0], step):
        j = min(i + step, L.shape[0])
        a, b = chroma[0, :j - i], chroma[1, :j - i]
        guided_rows(planes, first, taps[i:j], weights[i:j], L[i:j], a, b, work)
        if nearest:
            color.nearest_rows(L[i:j], a, b, m, inverse, white, rounds, tol)
        fitted += color.gamut_rows8(L[i:j], a, b, out[i:j], own[i:j], rgbe, lanes, index, m,
                                    white, steps, tol, levels)
    return fitted


@numba.njit(**_KERNEL)
def _refit8_kernel(planes, first, taps, weights, L, own, smooth, out, chroma, work, m, white,
                   steps, tol, levels, nearest, inverse, rounds):
    # Rows where the smoothing lowered a scale get their chroma again and those pixels
    # encoded again (a fraction of the rows, near the gamut's clips).
    for i in range(L.shape[0]):
        lowered = 0
        for x in range(L.shape[1]):
            lowered += smooth[i, x] < own[i, x]
        if lowered:
            a, b = chroma[0, :1], chroma[1, :1]
            guided_rows(planes, first, taps[i:i + 1], weights[i:i + 1], L[i:i + 1], a, b, work)
            if nearest:
                color.nearest_rows(L[i:i + 1], a, b, m, inverse, white, rounds, tol)
            color.rescale_row8(L[i], a[0], b[0], own[i], smooth[i], out[i], m, white, steps,
                               tol, levels)
