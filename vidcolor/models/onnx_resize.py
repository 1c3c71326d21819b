"""Another network's own resizing: :class:`NetworkResize`, the ``resampler`` of an ONNX model
whose sidecar (or preset) says ``"upsample": "plain"``.

The network sees the picture brought to its square straight from full resolution, as its own
pipeline does (DDColor: OpenCV's bilinear of the float picture; DeOldify: Pillow's bilinear of
the 8-bit grey), and its chroma goes back to the picture's size by the network's own output
resize (DDColor: nearest; DeOldify: Pillow's bilinear of its 8-bit picture, whose chroma is
taken), not by vidcolor's L-guided upsampling (:mod:`vidcolor.upsample`). DeOldify's picture
is rebuilt from the chroma the render ends with (stabilized, guided) and the network's own
lightness, kept by the render's content (:meth:`NetworkResize.remember`). Everything between
(stabilization, keyframes, references, hints) works on that square as on any render.

Full resolution is read and written in strips of rows: both resizes are separable, so a strip's
rows resized to the new width and the narrow result resized to the new height equal one 2-D
resize (Pillow's two passes are exactly these; OpenCV's float ones to float rounding). Only an
RGB network's picture is stretched back whole (3 bytes a pixel, as the 8-bit output itself).
An RGB network whose output resize is not Pillow's has its chroma stretched instead.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import cv2
import numpy as np

from vidcolor import color

__all__ = ["NetworkResize"]

_STRIP_ROWS = 256
#: Bytes of an RGB network's 8-bit pictures kept for their stretch back (:meth:`remember`).
KEPT_BYTES = 256 << 20


def _strips(height: int) -> list[slice]:
    return [slice(y, min(height, y + _STRIP_ROWS)) for y in range(0, height, _STRIP_ROWS)]


class NetworkResize:
    """The resizing of a network's own pipeline, for :mod:`vidcolor.colorize` and the film's
    frames (the optional ``resampler`` member of :class:`~vidcolor.models.protocol.ColorModel`).

    Parameters
    ----------
    size : int or None
        The network's fixed square side; None: an open size, rendered as vidcolor renders.
    resize_in : {"linear", "pil-bilinear"}
    resize_out : {"nearest", "linear", "pil-bilinear"}
    """

    def __init__(self, size: int | None, resize_in: str, resize_out: str):
        self.size, self.resize_in, self.resize_out = size, resize_in, resize_out
        self._pictures: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def remember(self, L_small: np.ndarray, rgb8: np.ndarray) -> None:
        """Keep the 8-bit picture an RGB network gave for the render ``L_small`` (h, w), for
        :meth:`upsampler` to stretch as the network's pipeline does; the oldest are let go
        past :data:`KEPT_BYTES` (far more than the frames a film holds in flight)."""
        with self._lock:
            key = _key(L_small)
            if key not in self._pictures:
                self._held += rgb8.nbytes
            self._pictures[key] = rgb8
            self._pictures.move_to_end(key)
            while self._held > KEPT_BYTES and len(self._pictures) > 1:
                self._held -= self._pictures.popitem(last=False)[1].nbytes

    def _picture(self, L_small: np.ndarray) -> np.ndarray | None:
        with self._lock:
            return self._pictures.get(_key(L_small))

    def render_shape(self, full_shape: tuple[int, int], render_size: int,
                     multiple: int) -> tuple[int, int]:
        """The network's square (a fixed size: every picture stretched to it, as its own
        pipeline does), else vidcolor's render of ``full_shape``."""
        if self.size is not None:
            return self.size, self.size
        from vidcolor.colorize import render_shape

        return render_shape(*full_shape, render_size, multiple)

    def shrink(self, l_rows, full_shape: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
        """The picture's lightness at ``shape`` as the network's pipeline resizes the picture.

        Parameters
        ----------
        l_rows : callable
            ``l_rows(rows: slice) -> (rows, W) float32`` lightness in [0, 100].
        full_shape, shape : (H, W), (h, w)

        Returns
        -------
        ndarray of float32, shape (h, w), in [0, 100]
        """
        H, W = full_shape
        h, w = shape
        if self.resize_in == "pil-bilinear":
            narrow = np.empty((H, w), np.uint8)
            for rows in _strips(H):
                narrow[rows] = _pil(_grey8(l_rows(rows)), (rows.stop - rows.start, w))
            return color.rgb_to_l(np.repeat(_pil(narrow, (h, w))[..., None], 3, -1))
        narrow = np.empty((H, w), np.float32)
        for rows in _strips(H):
            narrow[rows] = _cv_linear(_grey(l_rows(rows)), (rows.stop - rows.start, w))
        grey = np.repeat(_cv_linear(narrow, (h, w))[..., None], 3, -1)
        return color.float_rgb_to_lab(grey)[..., 0]

    def upsampler(self, ab: np.ndarray, L_small: np.ndarray, full_shape: tuple[int, int]):
        """The network's chroma brought to the picture's size by its own output resize, in
        the form of :func:`vidcolor.upsample.upsampler`.

        Parameters
        ----------
        ab : ndarray of float32, shape (h, w, 2)
        L_small : ndarray of float32, shape (h, w)
            The render: only finds an RGB network's kept picture (:meth:`remember`); the
            network's resize does not look at lightness.
        full_shape : (H, W)

        Returns
        -------
        callable
            ``f(L_rows (rows, W), rows: slice) -> ab (rows, W, 2) float32``.
        """
        ab = np.asarray(ab, np.float32)
        H, W = full_shape
        if self.resize_out == "nearest":
            return lambda L_rows, rows: _nearest_rows(ab, H, W, rows)
        picture = self._picture(L_small) if self.resize_out == "pil-bilinear" else None
        if picture is None:  # an a/b network (or a render no longer kept): its chroma
            return lambda L_rows, rows: _bilinear_rows(ab, H, W, rows)
        big = _pil_rgb(_with_chroma(picture, ab), (H, W))  # 3 bytes a pixel

        def chroma(L_rows, rows):
            return color.float_rgb_to_lab(big[rows].astype(np.float32) / np.float32(255.0))[..., 1:]

        return chroma


def _with_chroma(picture: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """An RGB network's 8-bit picture (h, w, 3) moved to the chroma ``ab`` (h, w, 2) the
    render ends with (stabilized, guided...), at its own lightness: the picture itself where
    ``ab`` is still the network's (the change is added, so conversions' rounding cancels)."""
    rgb = picture.astype(np.float32) / np.float32(255.0)
    lab = color.float_rgb_to_lab(rgb)
    moved = lab.copy()
    moved[..., 1:] = ab
    change = _lab_to_rgb(moved) - _lab_to_rgb(lab)
    return np.rint(np.clip(rgb + change, 0, 1) * 255).astype(np.uint8)


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(lab, np.float32), cv2.COLOR_Lab2RGB)


def _key(L: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(L, np.float32).tobytes(), digest_size=16,
                           person=repr(np.shape(L)).encode()[:16]).digest()


def _pil_rgb(rgb8: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An 8-bit RGB picture at ``shape`` by Pillow's bilinear."""
    from PIL import Image

    h, w = shape
    if rgb8.shape[:2] == (h, w):
        return np.ascontiguousarray(rgb8)
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb8), "RGB").resize(
        (w, h), resample=Image.BILINEAR))


def _grey(L: np.ndarray) -> np.ndarray:
    """The grey sRGB value in [0, 1] of lightness ``L`` (16-bit exact)."""
    return color.l_to_grey_rgb(L, np.uint16)[..., 0].astype(np.float32) / np.float32(65535.0)


def _grey8(L: np.ndarray) -> np.ndarray:
    """The 8-bit grey of lightness ``L``."""
    return color.l_to_grey_rgb(L, np.uint8)[..., 0]


def _cv_linear(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if x.shape[:2] == (h, w):
        return np.ascontiguousarray(x, np.float32)
    return cv2.resize(np.ascontiguousarray(x, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def _pil(g8: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An 8-bit grey picture at ``shape`` by Pillow's bilinear (which averages when shrinking)."""
    from PIL import Image

    h, w = shape
    if g8.shape == (h, w):
        return np.ascontiguousarray(g8)
    return np.asarray(Image.fromarray(np.ascontiguousarray(g8), "L").resize(
        (w, h), resample=Image.BILINEAR))


def _nearest_rows(ab: np.ndarray, H: int, W: int, rows: slice) -> np.ndarray:
    """Rows of PyTorch's nearest resize (F.interpolate's default: source floor(i * in / out))."""
    h, w = ab.shape[:2]
    ys = np.minimum(np.floor(np.arange(rows.start, rows.stop) * (h / H)).astype(np.int64), h - 1)
    xs = np.minimum(np.floor(np.arange(W) * (w / W)).astype(np.int64), w - 1)
    return np.ascontiguousarray(ab[ys][:, xs])


def _taps(n_out: int, n_in: int, start: int = 0, stop: int | None = None):
    """Bilinear taps of half-pixel centres (OpenCV's and Pillow's when enlarging): the two
    source indices and the second one's weight, for outputs ``start:stop``."""
    pos = (np.arange(start, n_out if stop is None else stop) + 0.5) * (n_in / n_out) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    i0 = np.floor(pos).astype(np.int64)
    return i0, np.minimum(i0 + 1, n_in - 1), (pos - i0).astype(np.float32)


def _bilinear_rows(ab: np.ndarray, H: int, W: int, rows: slice) -> np.ndarray:
    """Rows of the bilinear resize of ``ab`` to (H, W), in float (no fixed-point weights)."""
    h, w = ab.shape[:2]
    y0, y1, fy = _taps(H, h, rows.start, rows.stop)
    x0, x1, fx = _taps(W, w)
    fx = fx[None, :, None]
    top = ab[y0][:, x0] * (1 - fx) + ab[y0][:, x1] * fx
    bottom = ab[y1][:, x0] * (1 - fx) + ab[y1][:, x1] * fx
    fy = fy[:, None, None]
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
