"""sRGB <-> CIE Lab (D65, 2 degree observer), vectorized, for 8- and 16-bit images.

This is the only module where colour maths lives. Conventions used throughout vidcolor:

- RGB: uint8 (0..255) or uint16 (0..65535) arrays of shape (..., 3), gamma-encoded sRGB.
- L: float32 (...) in [0, 100].
- ab: float32 (..., 2), roughly in [-110, 110] for in-gamut colours.

The results agree with :func:`skimage.color.rgb2lab` / :func:`skimage.color.lab2rgb` to well
under 0.5 Lab units but run tens of times faster: the sRGB transfer curve is an exact lookup
table for integer input, the matrix and cube-root work is OpenCV's, and everything stays float32.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

__all__ = ["rgb_to_lab", "lab_to_rgb", "rgb_to_l", "l_to_grey_rgb", "gamut_scale", "fit_gamut",
           "gamut_rgb", "nearest_in_gamut", "nearest_rows", "grey_rgb_float", "float_rgb_to_lab",
           "gamut_rows8", "rescale_row8", "gamut_scratch", "GAMUT8_CONSTANTS", "GAMUT_STRIP_ROWS",
           "NEAREST_CONSTANTS", "smooth_scale"]

# D65 white point and the sRGB primaries, as in scikit-image (and OpenCV).
_RGB_TO_Y = np.array([0.212671, 0.715160, 0.072169], dtype=np.float32)  # white Y = 1

_EPS = 0.008856  # (6/29) ** 3
_LINEAR_LUT_SIZE = 1 << 16


def _srgb_to_linear(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)


def _linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0)
    return np.where(v > 0.0031308, 1.055 * v ** (1 / 2.4) - 0.055, 12.92 * v)


_DECODE_LUTS = {
    np.dtype(np.uint8): _srgb_to_linear(np.arange(256) / 255.0).astype(np.float32),
    np.dtype(np.uint16): _srgb_to_linear(np.arange(65536) / 65535.0).astype(np.float32),
}
# Linear light -> sRGB, sampled on a fine grid; index = round(linear * (size - 1)).
_ENCODE_LUT = _linear_to_srgb(np.linspace(0.0, 1.0, _LINEAR_LUT_SIZE)).astype(np.float32)
# Finer grid near black, where the sRGB curve is steep (slope 12.92).
_DARK_LIMIT = 0.02
_ENCODE_DARK_LUT = _linear_to_srgb(np.linspace(0.0, _DARK_LIMIT, _LINEAR_LUT_SIZE)).astype(np.float32)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected RGB with 3 channels in the last axis, got shape {rgb.shape}")
    if rgb.dtype not in _DECODE_LUTS:
        raise TypeError(f"expected uint8 or uint16 RGB, got {rgb.dtype}")
    return rgb


def _output_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in _DECODE_LUTS:
        raise TypeError(f"output dtype must be uint8 or uint16, got {dtype}")
    return dtype


def _as_image(x: np.ndarray) -> np.ndarray:
    """View (..., C) as the 3-D (rows, cols, C) array OpenCV wants."""
    if x.ndim >= 3:
        return x.reshape(-1, x.shape[-2], x.shape[-1])
    return x.reshape(1, -1, x.shape[-1])


def _decode(rgb: np.ndarray) -> np.ndarray:
    """sRGB samples -> linear light, float32, by exact table lookup."""
    lut = _DECODE_LUTS[rgb.dtype]
    if rgb.dtype == np.uint8:
        return cv2.LUT(_as_image(rgb), lut).reshape(rgb.shape)
    return lut[rgb]


def rgb_to_lab(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert sRGB to CIE Lab.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (..., 3)
        Gamma-encoded sRGB; any leading shape (an image, a batch of frames).

    Returns
    -------
    L : ndarray of float32, shape (...)
        Lightness in [0, 100].
    ab : ndarray of float32, shape (..., 2)
        Chroma, roughly in [-110, 110].
    """
    rgb = _check_rgb(rgb)
    # The transfer curve by exact lookup; OpenCV's own sRGB curve is an approximation
    # that strays by up to 0.5 Lab units, its linear-RGB path does not.
    lab = cv2.cvtColor(_as_image(_decode(rgb)), cv2.COLOR_LRGB2Lab)
    L, a, b = cv2.split(lab)
    return L.reshape(rgb.shape[:-1]), cv2.merge([a, b]).reshape(rgb.shape[:-1] + (2,))


def rgb_to_l(rgb: np.ndarray) -> np.ndarray:
    """Lightness only: the cheap part of :func:`rgb_to_lab`.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (..., 3)

    Returns
    -------
    L : ndarray of float32, shape (...), in [0, 100]
    """
    rgb = _check_rgb(rgb)
    flat = np.ascontiguousarray(rgb).reshape(-1, 3)
    out = np.empty(flat.shape[0], np.float32)
    _rgb_to_l_kernel(flat, _DECODE_LUTS[rgb.dtype], _RGB_TO_Y, _L_OF_Y, out)
    return out.reshape(rgb.shape[:-1])


# L as a function of luminance Y in [0, 1], read with linear interpolation: within 3e-5 of
# the formula (the cube root is the costly part of a per-pixel conversion).
_Y_GRID = np.linspace(0.0, 1.0, (1 << 14) + 1)
_L_OF_Y = np.where(_Y_GRID > _EPS, 116.0 * np.cbrt(_Y_GRID) - 16.0, 903.3 * _Y_GRID).astype(np.float32)


@numba.njit(nogil=True, cache=True, fastmath=True)
def _rgb_to_l_kernel(rgb, decode, weights, table, out):
    n = table.shape[0] - 1
    for i in range(rgb.shape[0]):
        y = (decode[rgb[i, 0]] * weights[0] + decode[rgb[i, 1]] * weights[1]
             + decode[rgb[i, 2]] * weights[2])
        t = min(max(y, np.float32(0.0)), np.float32(1.0)) * np.float32(n)
        j = min(int(t), n - 1)
        out[i] = table[j] + (t - np.float32(j)) * (table[j + 1] - table[j])


def _encode(linear: np.ndarray) -> np.ndarray:
    """Linear light in float32 -> gamma-encoded sRGB in [0, 1], via lookup tables."""
    np.clip(linear, 0.0, 1.0, out=linear)
    size = _LINEAR_LUT_SIZE - 1
    dark = linear < _DARK_LIMIT
    out = _ENCODE_LUT[np.rint(linear * size).astype(np.int32)]
    if dark.any():
        out[dark] = _ENCODE_DARK_LUT[np.rint(linear[dark] * (size / _DARK_LIMIT)).astype(np.int32)]
    return out


def lab_to_rgb(L: np.ndarray, ab: np.ndarray, dtype=np.uint8) -> np.ndarray:
    """Convert CIE Lab to sRGB, clipping out-of-gamut colours.

    Parameters
    ----------
    L : ndarray, shape (...)
        Lightness in [0, 100].
    ab : ndarray, shape (..., 2)
        Chroma.
    dtype : {numpy.uint8, numpy.uint16}
        Output sample type.

    Returns
    -------
    rgb : ndarray of `dtype`, shape (..., 3)
    """
    dtype = _output_dtype(dtype)
    L = np.asarray(L, dtype=np.float32)
    ab = np.asarray(ab, dtype=np.float32)
    if ab.shape != L.shape + (2,):
        raise ValueError(f"L shape {L.shape} and ab shape {ab.shape} do not match")
    L2 = _as_image(L[..., None])[..., 0]
    a, b = cv2.split(_as_image(ab))
    # As scikit-image does, clip negative Z (b too large for L) before the matrix, so
    # out-of-gamut predictions clip the same way in both.
    b = cv2.min(b, cv2.addWeighted(L2, 200.0 / 116.0, L2, 0.0, 16.0 * 200.0 / 116.0))
    lab = cv2.merge([np.ascontiguousarray(L2), a, b])
    if dtype == np.uint8:
        # OpenCV's sRGB curve is within 0.1 of a level at 8 bits: good enough, and fast.
        rgb = cv2.convertScaleAbs(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), alpha=255.0)
    else:
        srgb = _encode(cv2.cvtColor(lab, cv2.COLOR_Lab2LRGB))
        rgb = np.rint(srgb * np.float32(65535.0)).astype(np.uint16)
    return rgb.reshape(L.shape + (3,))


def l_to_grey_rgb(L: np.ndarray, dtype=np.uint8) -> np.ndarray:
    """The neutral grey sRGB image with lightness `L` (a = b = 0).

    Parameters
    ----------
    L : ndarray, shape (...), in [0, 100]
    dtype : {numpy.uint8, numpy.uint16}

    Returns
    -------
    rgb : ndarray of `dtype`, shape (..., 3)
    """
    L = np.asarray(L, dtype=np.float32)
    return lab_to_rgb(L, np.zeros(L.shape + (2,), np.float32), dtype)


# XYZ (D65) -> linear sRGB, and the white point, for the kernels below.
_XYZ_TO_LINEAR = np.array([[3.24048134, -1.53715152, -0.49853633],
                           [-0.96925495, 1.87599, 0.04155593],
                           [0.05564664, -0.20404134, 1.05731107]], np.float32)
_WHITE_XZ = np.array([0.950456, 1.088754], np.float32)
_GAMUT_TOL = np.float32(1e-4)  # rounding to output levels hides far more than this
_GAMUT_STEPS = 10
# Linear light -> 8-bit level, rounded. On this grid one step near black (where the sRGB
# curve is steepest) moves the output by 0.05 of a level.
_LEVELS8 = np.rint(_ENCODE_LUT * 255.0).astype(np.uint8)

# The kernels are serial, float32 and release the GIL: vidcolor runs them from several
# threads at once (the video pipeline's stages), where numba's parallel loops measured 3x
# slower than serial ones.


@numba.njit(cache=True, inline="always")
def _lab_to_linear(l, a, b, m, white):
    f32 = np.float32
    d = f32(6.0 / 29.0)
    k = f32(3.0 * (6.0 / 29.0) ** 2)
    c = f32(4.0 / 29.0)
    fy = (l + f32(16.0)) * f32(1.0 / 116.0)
    fx = fy + a * f32(1.0 / 500.0)
    fz = fy - b * f32(1.0 / 200.0)
    x = (fx * fx * fx if fx > d else k * (fx - c)) * white[0]
    y = fy * fy * fy if fy > d else k * (fy - c)
    z = (fz * fz * fz if fz > d else k * (fz - c)) * white[1]
    return (m[0, 0] * x + m[0, 1] * y + m[0, 2] * z,
            m[1, 0] * x + m[1, 1] * y + m[1, 2] * z,
            m[2, 0] * x + m[2, 1] * y + m[2, 2] * z)


@numba.njit(cache=True, inline="always")
def _excess(r, g, bl, tol):
    """How far linear RGB is outside the gamut's cube: > 0 outside, <= 0 inside."""
    return max(max(r, max(g, bl)) - np.float32(1.0) - tol, -tol - min(r, min(g, bl)))


@numba.njit(cache=True, inline="always")
def _excess_at(l, a, b, m, white, tol):
    r, g, bl = _lab_to_linear(l, a, b, m, white)
    return _excess(r, g, bl, tol)


@numba.njit(cache=True, inline="always")
def _chroma_scale(l, a, b, m, white, steps, tol):
    """The largest factor in [0, 1] (to 2**-steps) that keeps (l, k a, k b) inside sRGB.

    Regula falsi with the Illinois modification on the excess, which is smooth along the
    chroma ray: about half the evaluations of plain bisection for the same bracket width.
    """
    half = np.float32(0.5)
    lo, hi = np.float32(0.0), np.float32(1.0)  # neutral grey is always inside
    f_lo = _excess_at(l, np.float32(0.0), np.float32(0.0), m, white, tol)
    f_hi = _excess_at(l, a, b, m, white, tol)
    width = np.float32(2.0) ** -steps
    side = 0
    for _ in range(4 * steps):  # a bound only; the bracket closes long before
        if hi - lo <= width:
            break
        k = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        # Keep the probe strictly inside the bracket, so it always shrinks.
        k = min(max(k, lo + half * width), hi - half * width)
        f = _excess_at(l, a * k, b * k, m, white, tol)
        if f > 0:
            hi, f_hi = k, f
            if side == 1:
                f_lo *= half
            side = 1
        else:
            lo, f_lo = k, f
            if side == -1:
                f_hi *= half
            side = -1
    return lo


@numba.njit(nogil=True, cache=True, fastmath={"nnan", "ninf", "nsz"})
def _gamut_scale_kernel(L, ab, out, m, white, steps, tol):
    for i in range(L.shape[0]):
        l, a, b = L[i], ab[i, 0], ab[i, 1]
        r, g, bl = _lab_to_linear(l, a, b, m, white)
        out[i] = _chroma_scale(l, a, b, m, white, steps, tol) if _excess(r, g, bl, tol) > 0 else 1.0


@numba.njit(cache=True, inline="always")
def _encode8(r, g, bl, levels, out, i):
    zero, one, half = np.float32(0.0), np.float32(1.0), np.float32(0.5)
    scale = np.float32(levels.shape[0] - 1)
    out[i, 0] = levels[int(min(max(r, zero), one) * scale + half)]
    out[i, 1] = levels[int(min(max(g, zero), one) * scale + half)]
    out[i, 2] = levels[int(min(max(bl, zero), one) * scale + half)]


# The 8-bit fit and encode, a strip of rows at a time. Each step is a loop over pixels with no
# branch LLVM cannot turn into selects, so it runs on SIMD lanes; the chroma search runs on the
# strip's out-of-gamut pixels together, in lockstep (each lane's own steps, as
# _chroma_scale's). error_model="numpy": a Python-style division check would stop the
# vectorizer. Kernels that make their chroma row by row (vidcolor.finish) call gamut_rows8 and
# rescale_row8 themselves: the same colours (IEEE arithmetic kept, see vidcolor.finish).
_KERNEL = dict(nogil=True, cache=True, fastmath={"nnan", "ninf", "nsz"}, error_model="numpy")


@numba.njit(**_KERNEL)
def _to_linear_row(l, a, b, r, g, bl, e, m, white, tol):
    """Linear RGB and gamut excess of a row; how many pixels are outside."""
    outside = 0
    for x in range(l.shape[0]):
        r_, g_, b_ = _lab_to_linear(l[x], a[x], b[x], m, white)
        r[x], g[x], bl[x] = r_, g_, b_
        e[x] = _excess(r_, g_, b_, tol)
        outside += e[x] > 0
    return outside


@numba.njit(**_KERNEL)
def _search_lanes(n, cl, ca, cb, lo, hi, f_lo, f_hi, side, m, white, steps, tol):
    """_chroma_scale on n pixels at once; the scales end in ``lo``."""
    half, one, zero = np.float32(0.5), np.float32(1.0), np.float32(0.0)
    for j in range(n):
        lo[j], hi[j], side[j] = zero, one, zero
        f_lo[j] = _excess_at(cl[j], zero, zero, m, white, tol)
        f_hi[j] = _excess_at(cl[j], ca[j], cb[j], m, white, tol)
    width = np.float32(2.0) ** -steps
    for _ in range(4 * steps):
        alive = 0
        for j in range(n):
            lo_, hi_, flo, fhi, s = lo[j], hi[j], f_lo[j], f_hi[j], side[j]
            go = hi_ - lo_ > width
            k = (lo_ * fhi - hi_ * flo) / (fhi - flo)
            k = min(max(k, lo_ + half * width), hi_ - half * width)
            f = _excess_at(cl[j], ca[j] * k, cb[j] * k, m, white, tol)
            out = f > 0
            new_hi = k if out else hi_
            new_fhi = f if out else fhi * (half if s == -one else one)
            new_lo = lo_ if out else k
            new_flo = flo * (half if s == one else one) if out else f
            hi[j] = new_hi if go else hi_
            f_hi[j] = new_fhi if go else fhi
            lo[j] = new_lo if go else lo_
            f_lo[j] = new_flo if go else flo
            side[j] = (one if out else -one) if go else s
            alive += go
        if alive == 0:
            break


@numba.njit(**_KERNEL)
def _encode8_row(r, g, bl, levels, out):
    for x in range(out.shape[0]):
        _encode8(r[x], g[x], bl[x], levels, out, x)


@numba.njit(**_KERNEL)
def gamut_rows8(L, a, b, out, own, rgbe, lanes, index, m, white, steps, tol, levels):
    """Fit and encode a strip (numba, for kernels): L, a, b (rows, W) -> out (rows, W, 3)
    uint8 and own (rows, W) the scales, in [0, 1]. Work space (:func:`gamut_scratch`):
    ``rgbe`` (4, >= rows, W) float32, ``lanes`` (8, >= rows * W) float32, ``index``
    (>= rows * W) int64; then the :data:`GAMUT8_CONSTANTS`. Returns how many pixels needed a
    scale below 1."""
    rows, W = L.shape
    r, g, bl, e = rgbe[0], rgbe[1], rgbe[2], rgbe[3]
    n = index.shape[0] * 0  # an int64 from the start: a literal 0 would compile the search twice
    for i in range(rows):
        own[i] = np.float32(1.0)
        if _to_linear_row(L[i], a[i], b[i], r[i], g[i], bl[i], e[i], m, white, tol):
            for x in range(W):
                if e[i, x] > 0:
                    index[n] = i * W + x
                    n += 1
    if n:
        cl, ca, cb = lanes[0], lanes[1], lanes[2]
        for j in range(n):
            i, x = index[j] // W, index[j] % W
            cl[j], ca[j], cb[j] = L[i, x], a[i, x], b[i, x]
        _search_lanes(n, cl, ca, cb, lanes[3], lanes[4], lanes[5], lanes[6], lanes[7], m,
                      white, steps, tol)
        for j in range(n):
            i, x = index[j] // W, index[j] % W
            k = lanes[3, j]
            r[i, x], g[i, x], bl[i, x] = _lab_to_linear(cl[j], ca[j] * k, cb[j] * k, m, white)
            own[i, x] = k
    for i in range(rows):
        _encode8_row(r[i], g[i], bl[i], levels, out[i])
    return n


#: Rows the 8-bit kernels fit together: enough out-of-gamut pixels to fill the SIMD lanes,
#: few enough for the strip's work space to stay in the cache.
GAMUT_STRIP_ROWS = 32


def gamut_scratch(width: int, rows: int = GAMUT_STRIP_ROWS) -> tuple[np.ndarray, ...]:
    """Work space of :func:`gamut_rows8` (rgbe, lanes, index) for strips of up to ``rows``
    rows of ``width``."""
    return (np.empty((4, rows, width), np.float32), np.empty((8, rows * width), np.float32),
            np.empty(rows * width, np.int64))


@numba.njit(**_KERNEL)
def _gamut_rgb8_kernel(L, a, b, out, own, rgbe, lanes, index, m, white, steps, tol, levels):
    # Fit each pixel on its own and encode it; the scales are kept for the smoothing pass.
    step = rgbe.shape[1]
    fitted = 0
    for i in range(0, L.shape[0], step):
        j = min(i + step, L.shape[0])
        fitted += gamut_rows8(L[i:j], a[i:j], b[i:j], out[i:j], own[i:j], rgbe, lanes, index,
                               m, white, steps, tol, levels)
    return fitted


#: The constants :func:`gamut_rows8` and :func:`rescale_row8` take after their arrays.
GAMUT8_CONSTANTS = (_XYZ_TO_LINEAR, _WHITE_XZ, _GAMUT_STEPS, _GAMUT_TOL, _LEVELS8)


@numba.njit(**_KERNEL)
def rescale_row8(L, a, b, own, smooth, out, m, white, steps, tol, levels):
    """Encode again the pixels of a row (all (W,), out (W, 3)) whose smoothed scale is below
    their own. Returns how many."""
    n = 0
    for x in range(L.shape[0]):
        k = smooth[x]
        if k < own[x]:
            r, g, bl = _lab_to_linear(L[x], a[x] * k, b[x] * k, m, white)
            _encode8(r, g, bl, levels, out, x)
            n += 1
    return n


def _flat_lab(L: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    L = np.ascontiguousarray(L, np.float32)
    ab = np.ascontiguousarray(ab, np.float32)
    if ab.shape != L.shape + (2,):
        raise ValueError(f"L shape {L.shape} and ab shape {ab.shape} do not match")
    return L.reshape(-1), ab.reshape(-1, 2)


def gamut_scale(L: np.ndarray, ab: np.ndarray, steps: int = _GAMUT_STEPS, radius: int = 0) -> np.ndarray:
    """The factor by which each pixel's chroma is scaled to fit inside the sRGB gamut.

    Converting an out-of-gamut Lab colour to RGB clips the channels, which changes its
    lightness; vidcolor promises the output keeps the input's own L, so the chroma gives way
    instead. Pixel by pixel the factor is the largest in [0, 1] (found to ``2**-steps`` by a
    bracketing search along the chroma ray) that keeps the colour inside.

    With ``radius`` > 0 the factor varies smoothly over the image. Pixel by pixel it drops to
    0 within a pixel or two where lightness reaches the top of the gamut (a white wall clipped
    to L = 100 holds no chroma at all): a sharp colour edge the picture does not have, the
    sharpest line in an upscaled scan (benchmarks/RESULTS.md, large stills). So the per-pixel
    factors are eroded (minimum over a (2r+1)^2 window) and then averaged over the same
    window; each average is over minima of windows that contain the pixel itself, so it never
    exceeds the pixel's own limit and the colours stay inside the gamut.

    Parameters
    ----------
    L : ndarray, shape (H, W) (any shape when ``radius`` is 0), in [0, 100]
    ab : ndarray, shape (..., 2)
    steps : int
    radius : int
        In pixels; 0 fits each pixel on its own.

    Returns
    -------
    ndarray of float32, shape of L, in [0, 1]
    """
    L_flat, ab_flat = _flat_lab(L, ab)
    scale = np.empty(L_flat.shape, np.float32)
    _gamut_scale_kernel(L_flat, ab_flat, scale, _XYZ_TO_LINEAR, _WHITE_XZ, steps, _GAMUT_TOL)
    return smooth_scale(scale.reshape(np.shape(L)), radius)


def smooth_scale(scale: np.ndarray, radius: int, work: np.ndarray | None = None) -> np.ndarray:
    """Erode, then box-average, over (2r+1)^2 windows: never above any pixel's own value.
    ``work``: optional (2, H, W) float32 arrays to compute in (the result is ``work[1]``)."""
    if radius <= 0:
        return scale
    window = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    eroded, smooth = (None, None) if work is None else work
    eroded = cv2.erode(scale, window, dst=eroded, borderType=cv2.BORDER_REPLICATE)
    return cv2.blur(eroded, window.shape, dst=smooth, borderType=cv2.BORDER_REPLICATE)


def fit_gamut(L: np.ndarray, ab: np.ndarray, steps: int = _GAMUT_STEPS, radius: int = 0) -> np.ndarray:
    """Chroma scaled into the sRGB gamut, keeping lightness and hue (see :func:`gamut_scale`).

    Parameters
    ----------
    L : ndarray, shape (H, W) (any shape when ``radius`` is 0), in [0, 100]
    ab : ndarray, shape (..., 2)
    steps, radius : int

    Returns
    -------
    ndarray of float32, shape (..., 2)
    """
    return np.asarray(ab, np.float32) * gamut_scale(L, ab, steps, radius)[..., None]


#: Linear sRGB -> XYZ (the inverse of ``_XYZ_TO_LINEAR``).
_LINEAR_TO_XYZ = np.linalg.inv(_XYZ_TO_LINEAR.astype(np.float64)).astype(np.float32)
#: Rounds of :func:`nearest_in_gamut` (benchmarks/RESULTS.md, colour from a colour copy:
#: fewer leave part of what clipping gains on a copy's grass).
NEAREST_ROUNDS = 8
#: What the 8-bit kernels take for :func:`nearest_rows` beside :data:`GAMUT8_CONSTANTS`.
NEAREST_CONSTANTS = (_LINEAR_TO_XYZ, NEAREST_ROUNDS)


@numba.njit(cache=True, inline="always")
def _lab_f(t):
    # The inverse of _lab_to_linear's curve, with its constants.
    d = np.float32(6.0 / 29.0)
    return np.cbrt(t) if t > d * d * d else t * np.float32(1.0 / (3.0 * (6.0 / 29.0) ** 2)) \
        + np.float32(4.0 / 29.0)


@numba.njit(cache=True, inline="always")
def _nearest(l, a, b, m, inverse, white, rounds, tol):
    """(a, b) of :func:`nearest_in_gamut` for one pixel."""
    zero, one = np.float32(0.0), np.float32(1.0)
    r, g, bl = _lab_to_linear(l, a, b, m, white)
    if _excess(r, g, bl, tol) <= 0:
        return a, b
    for _ in range(rounds):
        r, g, bl = min(max(r, zero), one), min(max(g, zero), one), min(max(bl, zero), one)
        fx = _lab_f((inverse[0, 0] * r + inverse[0, 1] * g + inverse[0, 2] * bl) / white[0])
        fy = _lab_f(inverse[1, 0] * r + inverse[1, 1] * g + inverse[1, 2] * bl)
        fz = _lab_f((inverse[2, 0] * r + inverse[2, 1] * g + inverse[2, 2] * bl) / white[1])
        a, b = np.float32(500.0) * (fx - fy), np.float32(200.0) * (fy - fz)
        r, g, bl = _lab_to_linear(l, a, b, m, white)
    return a, b


@numba.njit(nogil=True, cache=True, fastmath={"nnan", "ninf", "nsz"})
def nearest_rows(L, a, b, m, inverse, white, rounds, tol):
    """:func:`nearest_in_gamut` in place on rows (n, W) of a and b (the finishing's strips);
    ``m``, ``white`` and ``tol`` as in :data:`GAMUT8_CONSTANTS`, ``inverse`` and ``rounds``
    from :data:`NEAREST_CONSTANTS`."""
    for i in range(L.shape[0]):
        for x in range(L.shape[1]):
            a[i, x], b[i, x] = _nearest(L[i, x], a[i, x], b[i, x], m, inverse, white, rounds,
                                        tol)


def nearest_in_gamut(ab: np.ndarray, L: np.ndarray, rounds: int = NEAREST_ROUNDS) -> np.ndarray:
    """Chroma brought inside the sRGB gamut at each pixel's own lightness, near the colour
    asked for: where :func:`fit_gamut` scales it towards grey, this alternately clips the
    colour to the sRGB cube and puts it back on its lightness ``rounds`` times (projections
    onto two sets that meet), ending near their meeting point closest to it.

    For chroma that estimates a colour known to lie inside the gamut (a colour copy's, the
    truth's at low resolution): clipping alone takes any estimate nearer to every colour of
    the cube, the truth among them, but changes the lightness, which vidcolor keeps; scaling
    towards grey keeps it but moves the colour along a line that may lead away from the truth
    (benchmarks/RESULTS.md, colour from a colour copy). Colours inside are returned
    unchanged; what is left outside is a sliver, which :func:`fit_gamut` takes in.

    Parameters
    ----------
    ab : ndarray, shape (..., 2)
    L : ndarray, shape (...), in [0, 100]
    rounds : int

    Returns
    -------
    ndarray of float32, shape (..., 2)
    """
    L_flat, ab_flat = _flat_lab(L, ab)
    a, b = (np.array(ab_flat[None, :, k], np.float32) for k in range(2))
    nearest_rows(L_flat[None], a, b, _XYZ_TO_LINEAR, _LINEAR_TO_XYZ, _WHITE_XZ, rounds,
                 _GAMUT_TOL)
    return np.stack([a[0], b[0]], -1).reshape(np.shape(ab))


def gamut_rgb(L: np.ndarray, ab: np.ndarray, dtype=np.uint8, radius: int = 0) -> np.ndarray:
    """sRGB of Lab colours whose chroma is first fitted into the gamut (:func:`fit_gamut`).

    Equals ``lab_to_rgb(L, fit_gamut(L, ab, radius=radius), dtype)`` to one output level. For
    8-bit output one pass fits and encodes every pixel on its own (:func:`gamut_rows8`); with
    smoothing, where some pixel needed a scale below 1, a second one encodes again only the
    pixels whose scale the smoothing lowered.

    Parameters
    ----------
    L : ndarray, shape (H, W) (any shape when ``radius`` is 0), in [0, 100]
    ab : ndarray, shape (..., 2)
    dtype : {numpy.uint8, numpy.uint16}
    radius : int
        See :func:`gamut_scale`.

    Returns
    -------
    rgb : ndarray of `dtype`, shape (..., 3)
    """
    dtype = _output_dtype(dtype)
    if dtype != np.uint8:  # 16-bit stills keep the exact encoding
        return lab_to_rgb(L, fit_gamut(L, ab, radius=radius), dtype)
    L_flat, ab_flat = _flat_lab(L, ab)
    out = np.empty((L_flat.shape[0], 3), np.uint8)
    own = np.empty(L_flat.shape, np.float32)
    if L_flat.size == 0:
        return out.reshape(np.shape(L) + (3,))
    # Rows of the picture (any shape: one row when it has no width).
    W = np.shape(L)[-1] if np.ndim(L) >= 2 else L_flat.shape[0]
    a = np.ascontiguousarray(ab_flat[:, 0]).reshape(-1, W)
    b = np.ascontiguousarray(ab_flat[:, 1]).reshape(-1, W)
    scratch = gamut_scratch(W, min(GAMUT_STRIP_ROWS, a.shape[0]))
    fitted = _gamut_rgb8_kernel(L_flat.reshape(-1, W), a, b, out.reshape(-1, W, 3),
                                own.reshape(-1, W), *scratch, *GAMUT8_CONSTANTS)
    if radius > 0 and fitted:  # all inside: the smoothing would lower no scale
        smooth = smooth_scale(own.reshape(np.shape(L)), radius).reshape(-1)
        rescale_row8(L_flat, a.reshape(-1), b.reshape(-1), own, smooth, out, *GAMUT8_CONSTANTS)
    return out.reshape(np.shape(L) + (3,))


def grey_rgb_float(L: np.ndarray) -> np.ndarray:
    """The neutral grey of lightness ``L`` as float sRGB, by OpenCV's float Lab conversion
    (the one other colorization networks' own pipelines use, e.g. DDColor's).

    Parameters
    ----------
    L : ndarray, shape (...), in [0, 100]

    Returns
    -------
    ndarray of float32, shape (..., 3), in [0, 1]
    """
    L = np.asarray(L, np.float32)
    lab = np.zeros(L.shape + (3,), np.float32)
    lab[..., 0] = L
    rgb = cv2.cvtColor(_as_image(lab), cv2.COLOR_Lab2RGB)
    return rgb.reshape(L.shape + (3,))


def float_rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Float sRGB to Lab by OpenCV's float conversion (see :func:`grey_rgb_float`).

    Parameters
    ----------
    rgb : ndarray of float32, shape (..., 3), in [0, 1]

    Returns
    -------
    ndarray of float32, shape (..., 3): L in [0, 100], a and b in about [-110, 110]
    """
    rgb = np.asarray(rgb, np.float32)
    lab = cv2.cvtColor(_as_image(np.ascontiguousarray(rgb)), cv2.COLOR_RGB2Lab)
    return lab.reshape(rgb.shape)
