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
import numpy as np

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
        frame's own lightness ``L_full`` (H, W), in [0, 100].
        """
        H, W = ab_full.shape[:2]
        h, w = self.share.shape
        scale = (W / w, H / h)

        def up(x: np.ndarray) -> np.ndarray:
            return cv2.resize(x, (W, H), interpolation=cv2.INTER_LINEAR)

        total = np.zeros((H, W), np.float32)
        carried = np.zeros((H, W, 2), np.float32)
        for lab_key, displacement, share in self.parts:
            share_full = up(share)
            carried += share_full[..., None] * _relit(_sample(lab_key, up(displacement), scale),
                                                      L_full)
            total += share_full
        carried /= np.maximum(total, 1e-6)[..., None]
        s = np.clip(up(self.share), 0.0, 1.0)[..., None]
        return (s * carried + (1.0 - s) * ab_full).astype(np.float32)
