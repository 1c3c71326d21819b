"""One image: L -> a/b at render size -> L-guided upsampling -> RGB.

The network only ever sees a render-size copy of the lightness; the full-resolution output keeps
the input's own L, and only the chroma is upsampled, guided by that L so colour does not bleed
across strong edges.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor import color


def render_shape(height: int, width: int, render_size: int, multiple: int = 32) -> tuple[int, int]:
    """The network resolution for an image: about ``render_size**2`` pixels, same aspect ratio.

    Parameters
    ----------
    height, width : int
        The image's size.
    render_size : int
        The side of the square whose area the render should have.
    multiple : int
        Both sides are rounded to a multiple of this (at least one multiple).

    Returns
    -------
    (rh, rw) : tuple of int
    """
    scale = render_size / np.sqrt(height * width)
    rh = max(multiple, int(round(height * scale / multiple)) * multiple)
    rw = max(multiple, int(round(width * scale / multiple)) * multiple)
    return rh, rw


def resize_l(L: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize lightness to ``shape`` (area-averaged when shrinking).

    Parameters
    ----------
    L : ndarray of float32, shape (H, W), in [0, 100]
    shape : (h, w)

    Returns
    -------
    ndarray of float32, shape (h, w)
    """
    h, w = shape
    if L.shape == (h, w):
        return np.ascontiguousarray(L, dtype=np.float32)
    shrink = h < L.shape[0] and w < L.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(np.asarray(L, np.float32), (w, h), interpolation=interp)


def upsample_ab(ab: np.ndarray, L_small: np.ndarray, L_full: np.ndarray, radius: int = 2,
                eps: float = 4.0) -> np.ndarray:
    """Upsample chroma to full resolution, guided by the full-resolution lightness.

    A fast guided filter (He & Sun, 2015): at render resolution each a/b channel is fitted
    locally as ``ab = A * L + B``; A and B are smooth, so they are upsampled bilinearly and
    applied to the full-resolution L. Where L has an edge the chroma follows it instead of
    smearing across it.

    Parameters
    ----------
    ab : ndarray of float32, shape (h, w, 2)
        Chroma at render resolution.
    L_small : ndarray of float32, shape (h, w), in [0, 100]
        The lightness the network saw.
    L_full : ndarray of float32, shape (H, W), in [0, 100]
        The output's own lightness.
    radius : int
        Window radius of the local fits, in render pixels.
    eps : float
        Regularization, in L units squared: larger is smoother, smaller follows L more.

    Returns
    -------
    ndarray of float32, shape (H, W, 2)
    """
    H, W = L_full.shape
    ksize = (2 * radius + 1, 2 * radius + 1)
    I = np.asarray(L_small, np.float32)
    mean_I = cv2.boxFilter(I, -1, ksize, borderType=cv2.BORDER_REFLECT)
    var_I = cv2.boxFilter(I * I, -1, ksize, borderType=cv2.BORDER_REFLECT) - mean_I * mean_I
    p = np.asarray(ab, np.float32)
    mean_p = cv2.boxFilter(p, -1, ksize, borderType=cv2.BORDER_REFLECT)
    mean_Ip = cv2.boxFilter(I[..., None] * p, -1, ksize, borderType=cv2.BORDER_REFLECT)
    A = (mean_Ip - mean_I[..., None] * mean_p) / (var_I[..., None] + np.float32(eps))
    B = mean_p - A * mean_I[..., None]
    A = cv2.boxFilter(A, -1, ksize, borderType=cv2.BORDER_REFLECT)
    B = cv2.boxFilter(B, -1, ksize, borderType=cv2.BORDER_REFLECT)
    if (H, W) != I.shape:
        A = cv2.resize(A, (W, H), interpolation=cv2.INTER_LINEAR)
        B = cv2.resize(B, (W, H), interpolation=cv2.INTER_LINEAR)
    out = A * np.asarray(L_full, np.float32)[..., None]
    out += B
    return out


def colorize_l(L: np.ndarray, model, render_size: int | None = None) -> np.ndarray:
    """Predict full-resolution a/b for one lightness image.

    Parameters
    ----------
    L : ndarray of float32, shape (H, W), in [0, 100]
    model : vidcolor.models.store.Colorizer
    render_size : int, optional
        Defaults to the model's own.

    Returns
    -------
    ab : ndarray of float32, shape (H, W, 2)
    """
    shape = render_shape(*L.shape, render_size or model.render_size, model.multiple)
    L_small = resize_l(L, shape)
    ab_small = model.predict_ab(L_small[None])[0]
    return upsample_ab(ab_small, L_small, L)


def colorize_image(rgb: np.ndarray, model=None, render_size: int | None = None) -> np.ndarray:
    """Colorize one image, keeping its own lightness.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3) or (H, W)
        Grey, colour or toned input; only its lightness is used.
    model : Colorizer, optional
        Defaults to the shipped model.
    render_size : int, optional

    Returns
    -------
    ndarray of the input's dtype, shape (H, W, 3)
    """
    if model is None:
        from vidcolor.models.store import load_model

        model = load_model()
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)
    L = color.rgb_to_l(rgb)
    ab = colorize_l(L, model, render_size)
    return color.lab_to_rgb(L, ab, rgb.dtype)
