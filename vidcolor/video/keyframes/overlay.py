"""A keyframe's own colour where a frame's pixels come from: sampled, relit, laid over.

At the end of a frame's path (:meth:`vidcolor.video.frames.FrameColorizer.finish`) each
keyframe's own a/b, at the keyframe's resolution, is sampled (:func:`_sample`) at the
displacement (:mod:`vidcolor.video.keyframes.carry`) upsampled to the film's
(:class:`KeyframeOverlay`), so a still shot keeps the keyframe's chroma detail finer than the
render size. The sampled colour is relit to the frame's lightness (:func:`_relit`: darker, its
chroma shrinks in proportion to L + 16, as a lighting change's does in Lab), so a fade to black
fades the colour too. The guide (:mod:`vidcolor.video.keyframes.guide`) uses the same two at
render size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numba
import numpy as np

from vidcolor import scratch

__all__ = ["KeyframeOverlay"]


def _sample(image: np.ndarray, displacement: np.ndarray,
            scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """A keyframe's values where the pixels of a frame of shape ``displacement.shape[:2]``
    come from.

    Parameters
    ----------
    image : ndarray of float32, shape (hk, wk, C)
        The keyframe's values (its Lab), at any size.
    displacement : ndarray of float32, shape (h, w, 2)
        Per pixel, (x, y) to its place in the keyframe's frame, in pixels of this frame.
    scale : (sx, sy)
        Of the displacement's units in this frame's pixels (a displacement upsampled from
        render size: the upsampling factor).

    Returns
    -------
    ndarray of float32, shape (h, w, C)
    """
    h, w = displacement.shape[:2]
    hk, wk = image.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + displacement[..., 0] * np.float32(scale[0])
    ys = np.arange(h, dtype=np.float32)[:, None] + displacement[..., 1] * np.float32(scale[1])
    # Pixel centres: the keyframe may be of another size than the frame.
    map_x = (xs + 0.5) * np.float32(wk / w) - 0.5
    map_y = (ys + 0.5) * np.float32(hk / h) - 0.5
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _relit(lab: np.ndarray, L: np.ndarray) -> np.ndarray:
    """A keyframe's a/b (sampled with its L, (h, w, 3)) on a frame with lightness ``L``
    (h, w): darker, the chroma shrinks in proportion to L + 16, as a lighting change's does
    in Lab (XYZ scaled by k scales L + 16, a and b alike by the cube root of k); never more
    chroma than the keyframe had.

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    ratio = np.clip((L + 16.0) / (lab[..., 0] + 16.0), 0.0, 1.0)
    return (lab[..., 1:] * ratio[..., None]).astype(np.float32)


@dataclass
class KeyframeOverlay:
    """The keyframes' own full-resolution colour for one frame, laid over its upsampled a/b.

    Attributes
    ----------
    parts : list of (ndarray, ndarray, ndarray)
        Per propagation reaching the frame: its keyframe's Lab at the keyframe's resolution
        (hk, wk, 3), shared between frames; the displacement to the keyframe (h, w, 2, render
        pixels); its trust (h, w).
    share : ndarray of float32, shape (h, w), in [0, 1]
        How much of each render pixel's colour is the carried colour (the propagations'
        largest trust, 0 below :data:`MIN_TRUST`; the rest: the render-size a/b the guide
        returned).
    """

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    share: np.ndarray

    def apply(self, ab_full: np.ndarray, L_full: np.ndarray) -> np.ndarray:
        """The frame's full-resolution a/b (H, W, 2) with the keyframes' colour laid over.

        Each propagation samples its keyframe's own a/b at the upsampled displacement, so on
        trusted pixels the output keeps the keyframe's full-resolution detail; relit to the
        frame's own lightness ``L_full`` (H, W), in [0, 100]. The per-pixel arithmetic runs in
        numba kernels on this thread's kept work arrays (:func:`_overlay_reference` is the same
        in numpy, to the bit).
        """
        H, W = ab_full.shape[:2]
        h, w = self.share.shape
        scale = (W / w, H / h)
        L_full = np.ascontiguousarray(L_full, np.float32)
        space = _workspace(H, W)
        carried, total = space["carried"], space["total"]
        for i, (lab_key, displacement, share) in enumerate(self.parts):
            hk, wk = lab_key.shape[:2]
            _maps(_up(displacement, W, H), np.float32(scale[0]), np.float32(scale[1]),
                  np.float32(wk / W), np.float32(hk / H), space["map_x"], space["map_y"])
            sampled = cv2.remap(lab_key, space["map_x"], space["map_y"], cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
            _accumulate(sampled, L_full, _up(share, W, H), carried, total, i == 0)
        out = np.empty((H, W, 2), np.float32)
        _blend(carried, total, _up(self.share, W, H), np.ascontiguousarray(ab_full, np.float32),
               out)
        return out


def _up(x: np.ndarray, W: int, H: int) -> np.ndarray:
    """Render-size values bilinearly at the full resolution (W, H)."""
    return cv2.resize(x, (W, H), interpolation=cv2.INTER_LINEAR)


def _workspace(H: int, W: int) -> dict:
    """This thread's kept work arrays for an (H, W) frame (:func:`vidcolor.scratch.kept`)."""
    return scratch.kept("overlay", (H, W), lambda: {
        name: np.empty((H, W, 2) if name == "carried" else (H, W), np.float32)
        for name in ("carried", "total", "map_x", "map_y")})


# Without fastmath: each operation in float32, in numpy's order, so the result is numpy's.
_KERNEL = dict(nogil=True, cache=True)


@numba.njit(**_KERNEL)
def _maps(displacement, sx, sy, kx, ky, map_x, map_y):
    # _sample's maps: pixel centres of the keyframe where each pixel comes from.
    half = np.float32(0.5)
    for y in range(displacement.shape[0]):
        fy = np.float32(y)
        for x in range(displacement.shape[1]):
            xs = np.float32(x) + displacement[y, x, 0] * sx
            ys = fy + displacement[y, x, 1] * sy
            map_x[y, x] = (xs + half) * kx - half
            map_y[y, x] = (ys + half) * ky - half


@numba.njit(**_KERNEL)
def _accumulate(sampled, L, share, carried, total, first):
    # carried += share * _relit(sampled, L); total += share (from zero when first).
    zero, one, sixteen = np.float32(0.0), np.float32(1.0), np.float32(16.0)
    for y in range(L.shape[0]):
        for x in range(L.shape[1]):
            ratio = (L[y, x] + sixteen) / (sampled[y, x, 0] + sixteen)
            ratio = min(max(ratio, zero), one)
            s = share[y, x]
            a = s * (sampled[y, x, 1] * ratio)
            b = s * (sampled[y, x, 2] * ratio)
            if first:
                carried[y, x, 0] = zero + a
                carried[y, x, 1] = zero + b
                total[y, x] = zero + s
            else:
                carried[y, x, 0] += a
                carried[y, x, 1] += b
                total[y, x] += s


@numba.njit(**_KERNEL)
def _blend(carried, total, share, ab, out):
    # out = s * carried / max(total, 1e-6) + (1 - s) * ab, s the share clipped to [0, 1].
    zero, one, tiny = np.float32(0.0), np.float32(1.0), np.float32(1e-6)
    for y in range(ab.shape[0]):
        for x in range(ab.shape[1]):
            s = min(max(share[y, x], zero), one)
            t = max(total[y, x], tiny)
            for c in range(2):
                out[y, x, c] = s * (carried[y, x, c] / t) + (one - s) * ab[y, x, c]


def _overlay_reference(overlay: KeyframeOverlay, ab_full: np.ndarray,
                       L_full: np.ndarray) -> np.ndarray:
    """:meth:`KeyframeOverlay.apply` in numpy (what the kernels must equal; for tests)."""
    H, W = ab_full.shape[:2]
    h, w = overlay.share.shape
    scale = (W / w, H / h)
    total = np.zeros((H, W), np.float32)
    carried = np.zeros((H, W, 2), np.float32)
    for lab_key, displacement, share in overlay.parts:
        share_full = _up(share, W, H)
        carried += share_full[..., None] * _relit(_sample(lab_key, _up(displacement, W, H),
                                                          scale), L_full)
        total += share_full
    carried /= np.maximum(total, 1e-6)[..., None]
    s = np.clip(_up(overlay.share, W, H), 0.0, 1.0)[..., None]
    return (s * carried + (1.0 - s) * ab_full).astype(np.float32)
