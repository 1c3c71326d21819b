"""The propagation on arrays: where each pixel's colour comes from, carried step by step.

What travels through a keyframe's shot, forwards and backwards, along the optical flow the
stabilizer uses (:func:`vidcolor.video.stabilize.warp_step`: DIS flow, forward-backward
consistency, lightness agreement) is not the colour but, per render pixel, the displacement to
its place in the keyframe's frame (:class:`Carried`). Each step (:func:`_carry`) adds its flow
to the displacement warped from the frame before, so no colour is resampled on the way.

Each pixel's *trust* in the carried colour is the weakest step's confidence on its way (an
occlusion or a flow failure loses it for good; below :data:`MIN_TRUST` it counts as unknown;
a place less than half a pixel outside the frame stays on its border pixel, :func:`_onto_border`;
where the picture is flat only the lightness must agree, :data:`FLAT_SPREAD`). Nothing fades
by the distance from the keyframe: a colour lasts as long as the flow keeps trusting it, and a
cut the detector misses still stops it, as the flow no longer agrees there.

Arrays in, arrays out: nothing here reads a file or a keyframe's colour.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from vidcolor.video.analysis import FLOW_PRESET, flow_pair, to_u8
from vidcolor.video.stabilize import DEFAULT_SIGMA_L, warp_step

__all__ = ["FLAT_SPREAD", "FLAT_WINDOW", "MIN_TRUST", "Carried"]

#: Flow trust below which a pixel's carried colour counts as unknown.
MIN_TRUST = 0.3
#: Local standard deviation of lightness (L units) below which a region counts as flat, and
#: the side of the square (render pixels) it is measured in: wide enough that fine texture
#: made of flat patches does not count.
FLAT_SPREAD = 1.5
FLAT_WINDOW = 9


class Carried(NamedTuple):
    """One propagation reaching a frame.

    Attributes
    ----------
    where : ndarray of float32, shape (h, w, 3)
        Per render pixel, the displacement (x, y, render pixels) to the place in the
        keyframe's frame its colour comes from, and the flow trust on the way there, in [0, 1].
    key : int
        The keyframe's pts (:attr:`PlacedKeyframe.pts`).
    """

    where: np.ndarray
    key: int


def _flows(L_from: np.ndarray, L_to: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flows of one step between two frames no frame analysis has paired (the backward
    pass), as :func:`_on_border` takes them."""
    # A fresh DIS object each time: one that has computed other flows can answer a little
    # differently at some sizes, and a resumed job must carry exactly what one run would.
    dis = cv2.DISOpticalFlow_create(FLOW_PRESET)
    return _on_border(flow_pair(dis, to_u8(L_from), to_u8(L_to)))


def _on_border(flows: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The flows of one step (backward, forward: :func:`vidcolor.video.analysis.flow_pair`)
    as a carry takes them: the backward one's places just outside the frame kept on its
    border (:func:`_onto_border`)."""
    bwd, fwd = flows
    return _onto_border(bwd), fwd


def _warp(values: np.ndarray, L_from: np.ndarray, L_to: np.ndarray,
          flows: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel values (h, w, C) carried one step along the flows, and the step's trust.

    Returns
    -------
    warped : ndarray of float32, shape (h, w, C + 1)
        The values, then the lightness they had (``L_from`` warped).
    trust : ndarray of float32, shape (h, w), in [0, 1]
    """
    bwd, fwd = flows
    offset = float(L_to.mean() - L_from.mean())
    warped, step_trust = warp_step(np.concatenate([values, L_from[..., None]], -1),
                                   L_from, L_to, bwd, fwd, l_offset=offset)
    # Where the picture is flat any nearby flow carries the same colour, so there the flow's
    # own inconsistency (ambiguous in flat regions) does not count, only the lightness does.
    agree = np.exp(-(warped[..., -1] + offset - L_to) ** 2 / (2 * DEFAULT_SIGMA_L ** 2))
    flat_trust = np.where(step_trust > 0, _flatness(L_to) * agree, 0.0)
    return warped, np.maximum(step_trust, flat_trust).astype(np.float32)


def _carry(carried: Carried, L_from: np.ndarray, L_to: np.ndarray,
           flows: tuple[np.ndarray, np.ndarray] | None = None) -> Carried | None:
    """One step of a propagation from one frame to the next (either direction).

    Parameters
    ----------
    carried : Carried
        In the frame it comes from.
    L_from, L_to : ndarray of float32, shape (h, w), in [0, 100]
    flows : (ndarray, ndarray), optional
        :func:`_flows` of the two, if known already.

    Returns
    -------
    Carried or None
        In the frame it goes to: the trust is the weakest step's on the way; None once no
        pixel is trusted.
    """
    flows = flows or _flows(L_from, L_to)
    warped, step_trust = _warp(carried.where, L_from, L_to, flows)
    return _carried_on(carried, warped[..., :3], step_trust, flows)


def _carried_on(carried: Carried, warped: np.ndarray, step_trust: np.ndarray,
                flows: tuple[np.ndarray, np.ndarray]) -> Carried | None:
    """:func:`_carry` once ``carried.where`` is warped (``warped``, (h, w, 3), and the step's
    trust, :func:`_warp`), for a caller that warps it together with other values."""
    where = np.ascontiguousarray(warped)
    # A pixel's place in the keyframe is where the one it came from had its own: the warped
    # displacement plus this step's.
    where[..., :2] += flows[0]
    where[..., 2] = np.minimum(where[..., 2], step_trust)
    if not (where[..., 2] >= MIN_TRUST).any():
        return None
    return Carried(where, carried.key)


def _onto_border(flow: np.ndarray) -> np.ndarray:
    """A flow (h, w, 2) whose places less than half a pixel outside the frame are moved onto
    its border pixels: they are inside those pixels, and the warp would count them as having
    left the frame (a still shot's border would lose its colour to the flow's noise)."""
    h, w = flow.shape[:2]
    out = flow.copy()
    for axis, size, grid in ((0, w, np.arange(w, dtype=np.float32)[None, :]),
                             (1, h, np.arange(h, dtype=np.float32)[:, None])):
        place = grid + flow[..., axis]
        near = (place > -0.5) & (place < size - 0.5)
        out[..., axis] = np.where(near, np.clip(place, 0.0, size - 1.0), place) - grid
    return out


def _flatness(L: np.ndarray) -> np.ndarray:
    """Per pixel, near 1 where the lightness (h, w) is flat around it (its local standard
    deviation well below :data:`FLAT_SPREAD`), near 0 at edges and texture."""
    size = (FLAT_WINDOW, FLAT_WINDOW)
    mean = cv2.boxFilter(L, cv2.CV_32F, size)
    var = np.maximum(cv2.boxFilter(L * L, cv2.CV_32F, size) - mean * mean, 0.0)
    return np.exp(-var / (2 * FLAT_SPREAD ** 2))


def _start(shape: tuple[int, int], key: int) -> Carried:
    """A keyframe on its own frame: every pixel in its place, fully trusted."""
    where = np.zeros(tuple(shape) + (3,), np.float32)
    where[..., 2] = 1.0
    return Carried(where, key)
