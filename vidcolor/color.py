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

__all__ = ["rgb_to_lab", "lab_to_rgb", "rgb_to_l", "l_to_grey_rgb", "fit_gamut", "gamut_rgb"]

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
    linear = _DECODE_LUTS[rgb.dtype][rgb]
    y = linear @ _RGB_TO_Y
    return np.where(y > _EPS, 116.0 * np.cbrt(y) - 16.0, 903.3 * y).astype(np.float32)


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
    dtype = np.dtype(dtype)
    if dtype not in _DECODE_LUTS:
        raise TypeError(f"output dtype must be uint8 or uint16, got {dtype}")
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
    return _lab_image_to_rgb(lab, dtype).reshape(L.shape + (3,))


def _lab_image_to_rgb(lab: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(rows, cols, 3) float32 Lab -> sRGB of `dtype`, clipping."""
    if dtype == np.uint8:
        # OpenCV's sRGB curve is within 0.1 of a level at 8 bits: good enough, and fast.
        return cv2.convertScaleAbs(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), alpha=255.0)
    srgb = _encode(cv2.cvtColor(lab, cv2.COLOR_Lab2LRGB))
    return np.rint(srgb * np.float32(65535.0)).astype(np.uint16)


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


# XYZ (D65) -> linear sRGB, and the white point, for the kernel below.
_XYZ_TO_LINEAR = np.array([[3.24048134, -1.53715152, -0.49853633],
                           [-0.96925495, 1.87599, 0.04155593],
                           [0.05564664, -0.20404134, 1.05731107]], np.float32)
_WHITE_XZ = np.array([0.950456, 1.088754], np.float32)
_GAMUT_TOL = np.float32(1e-4)  # rounding to output levels hides far more than this
_GAMUT_STEPS = 10


@numba.njit(cache=True, inline="always")
def _in_gamut(l, a, b, m, white, tol):
    fy = (l + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    d = 6.0 / 29.0
    x = (fx * fx * fx if fx > d else 3.0 * d * d * (fx - 4.0 / 29.0)) * white[0]
    y = fy * fy * fy if fy > d else 3.0 * d * d * (fy - 4.0 / 29.0)
    z = (fz * fz * fz if fz > d else 3.0 * d * d * (fz - 4.0 / 29.0)) * white[1]
    for row in range(3):
        v = m[row, 0] * x + m[row, 1] * y + m[row, 2] * z
        if v < -tol or v > 1.0 + tol:
            return False
    return True


# Serial and without the GIL: vidcolor calls it from several threads at once (the video
# pipeline's stages), where numba's parallel loops measured 3x slower than serial ones.
@numba.njit(nogil=True, cache=True)
def _fit_chroma_kernel(lab, m, white, steps, tol):
    for i in range(lab.shape[0]):
        l, a, b = lab[i, 0], lab[i, 1], lab[i, 2]
        if _in_gamut(l, a, b, m, white, tol):
            continue
        lo, hi = 0.0, 1.0  # neutral grey is always inside
        for _ in range(steps):
            mid = 0.5 * (lo + hi)
            if _in_gamut(l, a * mid, b * mid, m, white, tol):
                lo = mid
            else:
                hi = mid
        lab[i, 1], lab[i, 2] = a * lo, b * lo


@numba.njit(nogil=True, cache=True, fastmath=True)
def _outside_kernel(lab, outside, m, white, tol):
    # The in-gamut test once more, written with selects instead of branches and early exits,
    # and in float32, so that LLVM vectorizes it: this pass runs on every pixel, the
    # bisection on few.
    f32 = np.float32
    d = f32(6.0 / 29.0)
    k = f32(3.0 * (6.0 / 29.0) ** 2)
    c = f32(4.0 / 29.0)
    for i in range(lab.shape[0]):
        fy = (lab[i, 0] + f32(16.0)) * f32(1.0 / 116.0)
        fx = fy + lab[i, 1] * f32(1.0 / 500.0)
        fz = fy - lab[i, 2] * f32(1.0 / 200.0)
        x = (fx * fx * fx if fx > d else k * (fx - c)) * white[0]
        y = fy * fy * fy if fy > d else k * (fy - c)
        z = (fz * fz * fz if fz > d else k * (fz - c)) * white[1]
        r = m[0, 0] * x + m[0, 1] * y + m[0, 2] * z
        g = m[1, 0] * x + m[1, 1] * y + m[1, 2] * z
        b = m[2, 0] * x + m[2, 1] * y + m[2, 2] * z
        lo = min(r, min(g, b))
        hi = max(r, max(g, b))
        outside[i] = (lo < -tol) | (hi > f32(1.0) + tol)


def _fit_lab_image(lab: np.ndarray, steps: int = _GAMUT_STEPS) -> np.ndarray:
    """Fit the chroma of a (rows, cols, 3) float32 Lab image into sRGB, in place.

    One vectorized pass finds the pixels outside the gamut; only those go through the
    bisection (as a rule a few percent of a colorized picture).
    """
    flat = lab.reshape(-1, 3)
    outside = np.empty(flat.shape[0], np.bool_)
    _outside_kernel(flat, outside, _XYZ_TO_LINEAR, _WHITE_XZ, _GAMUT_TOL)
    index = np.flatnonzero(outside)
    if index.size:
        chosen = flat[index]
        _fit_chroma_kernel(chosen, _XYZ_TO_LINEAR, _WHITE_XZ, steps, _GAMUT_TOL)
        flat[index] = chosen
    return lab


def _lab_image(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    L = np.asarray(L, np.float32)
    ab = np.asarray(ab, np.float32)
    if ab.shape != L.shape + (2,):
        raise ValueError(f"L shape {L.shape} and ab shape {ab.shape} do not match")
    a, b = cv2.split(_as_image(ab))
    return cv2.merge([np.ascontiguousarray(_as_image(L[..., None])[..., 0]), a, b])


def fit_gamut(L: np.ndarray, ab: np.ndarray, steps: int = _GAMUT_STEPS) -> np.ndarray:
    """Scale down the chroma of colours sRGB cannot show, keeping their lightness and hue.

    Converting an out-of-gamut Lab colour to RGB clips the channels, which changes its
    lightness; vidcolor promises the output keeps the input's own L, so the chroma gives way
    instead: each such pixel's a/b is scaled by the largest factor in [0, 1] (found by
    bisection to ``2**-steps``) that stays inside the gamut.

    Parameters
    ----------
    L : ndarray, shape (...), in [0, 100]
    ab : ndarray, shape (..., 2)
    steps : int

    Returns
    -------
    ndarray of float32, shape (..., 2)
    """
    lab = _fit_lab_image(_lab_image(L, ab), steps)
    return np.ascontiguousarray(lab[..., 1:]).reshape(np.shape(ab))


def gamut_rgb(L: np.ndarray, ab: np.ndarray, dtype=np.uint8) -> np.ndarray:
    """sRGB of Lab colours whose chroma is first fitted into the gamut (:func:`fit_gamut`).

    Equals ``lab_to_rgb(L, fit_gamut(L, ab), dtype)`` with fewer passes over the pixels: the
    last step of every colorized frame and picture.

    Parameters
    ----------
    L : ndarray, shape (...), in [0, 100]
    ab : ndarray, shape (..., 2)
    dtype : {numpy.uint8, numpy.uint16}

    Returns
    -------
    rgb : ndarray of `dtype`, shape (..., 3)
    """
    dtype = np.dtype(dtype)
    if dtype not in _DECODE_LUTS:
        raise TypeError(f"output dtype must be uint8 or uint16, got {dtype}")
    lab = _fit_lab_image(_lab_image(L, ab))
    return _lab_image_to_rgb(lab, dtype).reshape(np.shape(L) + (3,))
