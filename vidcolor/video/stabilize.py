"""Temporal stabilization of predicted chroma: flow-guided recursive blending, scene cuts.

A per-frame colorizer answers each frame on its own, so a/b flicker from frame to frame even
where nothing moves. The stabilizer carries colour along the motion instead: for frame t it
warps the previous *stabilized* a/b into frame t along the optical flow and blends

    ab_t = w * warp(ab_{t-1}) + (1 - w) * ab_model_t,    w = strength * confidence

per pixel. Confidence is low where the warp cannot be trusted: where forward and backward flow
disagree (occlusions, flow failures) and where the warped previous lightness does not match the
current one (new content, flow errors). A scene cut (a sharp change of the lightness histogram)
resets the recursion, so colour never leaks from one shot into the next (the cut and the flow
come from the film's frame analysis, :mod:`vidcolor.video.analysis`, shared with the other
temporal steps).

Everything runs at render resolution on L in [0, 100] and a/b in about [-110, 110]. Flow is
OpenCV's DIS (fast, CPU); warp + confidence + blend is one serial numba kernel (numba's
parallel loop, next to the model and encoder threads, spent ~3 ms of CPU a 480p frame waiting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from vidcolor.options import DEFAULT_STRENGTH
# The frame analysis's primitives, re-exported: the stabilizer's callers long found them here.
from vidcolor.video.analysis import (DEFAULT_CUT_THRESHOLD, FLOW_PRESET, FrameAnalysis,
                                     FrameAnalyzer, flow_pair, histogram_distance, is_cut,
                                     l_histogram, to_u8)

__all__ = [
    "DEFAULT_CUT_THRESHOLD",
    "DEFAULT_STRENGTH",
    "Stabilizer",
    "StepInfo",
    "blend_step",
    "FLOW_PRESET",
    "blend_step_reference",
    "flow_pair",
    "histogram_distance",
    "is_cut",
    "l_histogram",
    "to_u8",
    "warp_step",
]

#: Soft flow-consistency scale, in render pixels.
DEFAULT_SIGMA_FLOW = 0.7
#: Soft lightness-agreement scale, in L units (of 100).
DEFAULT_SIGMA_L = 5.0


def blend_step(ab_prev: np.ndarray, L_prev: np.ndarray, L_cur: np.ndarray, ab_model: np.ndarray,
               flow_bwd: np.ndarray, flow_fwd: np.ndarray, strength: float,
               sigma_flow: float = DEFAULT_SIGMA_FLOW, sigma_l: float = DEFAULT_SIGMA_L,
               l_offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Warp the previous stabilized a/b into the current frame and blend it with the model's.

    Parameters
    ----------
    ab_prev : ndarray of float32, shape (h, w, 2)
        Stabilized chroma of the previous frame.
    L_prev, L_cur : ndarray of float32, shape (h, w), in [0, 100]
        Lightness of the previous and current frame.
    ab_model : ndarray of float32, shape (h, w, 2)
        The model's chroma for the current frame.
    flow_bwd : ndarray of float32, shape (h, w, 2)
        Flow current -> previous (x, y) in pixels: pixel (x, y) of the current frame was at
        (x + u, y + v) in the previous one.
    flow_fwd : ndarray of float32, shape (h, w, 2)
        Flow previous -> current, for the consistency check.
    strength : float in [0, 1]
        Weight of the warped history where confidence is 1.
    sigma_flow : float
        Forward-backward disagreement (pixels) at which confidence falls to exp(-1/2).
    sigma_l : float
        Warped-vs-current lightness difference (L units) at which confidence falls to exp(-1/2).
    l_offset : float
        Added to the warped previous L before comparing (compensates global flicker).

    Returns
    -------
    ab : ndarray of float32, shape (h, w, 2)
        Stabilized chroma of the current frame.
    confidence : ndarray of float32, shape (h, w), in [0, 1]
        Zero where the backward flow leaves the frame.
    """
    h, w = L_cur.shape
    ab_prev = _c32(ab_prev)
    out = np.empty((h, w, ab_prev.shape[2]), np.float32)
    conf = np.empty((h, w), np.float32)
    _blend_kernel(ab_prev, _c32(L_prev), _c32(L_cur), _c32(flow_bwd), _c32(flow_fwd),
                  np.float32(sigma_flow), np.float32(sigma_l), np.float32(l_offset),
                  _c32(ab_model), np.float32(strength), out, conf)
    return out, conf


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _warp_at(L_prev, L_cur, flow_bwd, flow_fwd, sigma_flow, sigma_l, l_offset,
             y, x):  # pragma: no cover - compiled
    """Where pixel (y, x) comes from in the previous frame and how far that is trusted:
    (inside, confidence, x0, y0, x1, y1, w00, w01, w10, w11), the four bilinear samples and
    their weights. All float32 (float64 arithmetic took twice as long, for differences of
    1e-5)."""
    f32 = np.float32
    one = f32(1.0)
    h, w = L_cur.shape
    bx = flow_bwd[y, x, 0]
    by = flow_bwd[y, x, 1]
    px = f32(x) + bx
    py = f32(y) + by
    x0 = min(int(px), w - 2) if w > 1 else 0
    y0 = min(int(py), h - 2) if h > 1 else 0
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    fx = px - f32(x0)
    fy = py - f32(y0)
    w00 = (one - fx) * (one - fy)
    w01 = fx * (one - fy)
    w10 = (one - fx) * fy
    w11 = fx * fy
    if not (px >= 0 and py >= 0 and px <= f32(w - 1) and py <= f32(h - 1)):
        return False, f32(0.0), x0, y0, x1, y1, w00, w01, w10, w11
    l_w = (w00 * L_prev[y0, x0] + w01 * L_prev[y0, x1]
           + w10 * L_prev[y1, x0] + w11 * L_prev[y1, x1])
    fwx = (w00 * flow_fwd[y0, x0, 0] + w01 * flow_fwd[y0, x1, 0]
           + w10 * flow_fwd[y1, x0, 0] + w11 * flow_fwd[y1, x1, 0])
    fwy = (w00 * flow_fwd[y0, x0, 1] + w01 * flow_fwd[y0, x1, 1]
           + w10 * flow_fwd[y1, x0, 1] + w11 * flow_fwd[y1, x1, 1])
    ex = bx + fwx
    ey = by + fwy
    tol = sigma_flow * sigma_flow + f32(0.01) * (bx * bx + by * by + fwx * fwx + fwy * fwy)
    dl = l_w + l_offset - L_cur[y, x]
    conf = np.exp(-(ex * ex + ey * ey) / (f32(2.0) * tol)
                  - dl * dl / (f32(2.0) * sigma_l * sigma_l))
    return True, conf, x0, y0, x1, y1, w00, w01, w10, w11


@numba.njit(cache=True, nogil=True, fastmath=True)
def _warp_kernel(values_prev, L_prev, L_cur, flow_bwd, flow_fwd, sigma_flow, sigma_l, l_offset,
                 out, conf):  # pragma: no cover - compiled
    h, w = L_cur.shape
    for y in range(h):
        for x in range(w):
            inside, c, x0, y0, x1, y1, w00, w01, w10, w11 = _warp_at(
                L_prev, L_cur, flow_bwd, flow_fwd, sigma_flow, sigma_l, l_offset, y, x)
            conf[y, x] = c
            for k in range(values_prev.shape[2]):
                out[y, x, k] = (w00 * values_prev[y0, x0, k] + w01 * values_prev[y0, x1, k]
                                + w10 * values_prev[y1, x0, k]
                                + w11 * values_prev[y1, x1, k]) if inside else 0.0


@numba.njit(cache=True, nogil=True, fastmath=True)
def _blend_kernel(ab_prev, L_prev, L_cur, flow_bwd, flow_fwd, sigma_flow, sigma_l, l_offset,
                  ab_model, strength, out, conf):  # pragma: no cover - compiled
    # The warp and the blend in one pass: numpy's blend of the warped array cost as much again.
    h, w = L_cur.shape
    one = np.float32(1.0)
    for y in range(h):
        for x in range(w):
            inside, c, x0, y0, x1, y1, w00, w01, w10, w11 = _warp_at(
                L_prev, L_cur, flow_bwd, flow_fwd, sigma_flow, sigma_l, l_offset, y, x)
            conf[y, x] = c
            weight = strength * c
            for k in range(ab_prev.shape[2]):
                warped = (w00 * ab_prev[y0, x0, k] + w01 * ab_prev[y0, x1, k]
                          + w10 * ab_prev[y1, x0, k] + w11 * ab_prev[y1, x1, k]) if inside \
                    else np.float32(0.0)
                out[y, x, k] = weight * warped + (one - weight) * ab_model[y, x, k]


def warp_step(values_prev: np.ndarray, L_prev: np.ndarray, L_cur: np.ndarray,
              flow_bwd: np.ndarray, flow_fwd: np.ndarray, sigma_flow: float = DEFAULT_SIGMA_FLOW,
              sigma_l: float = DEFAULT_SIGMA_L,
              l_offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Warp any per-pixel values of the previous frame into the current one, with the same
    per-pixel confidence as :func:`blend_step` (one definition of a trusted warp).

    Parameters
    ----------
    values_prev : ndarray of float32, shape (h, w, C)
        What travels with the motion (a/b, a confidence...), in the previous frame.
    L_prev, L_cur : ndarray of float32, shape (h, w), in [0, 100]
    flow_bwd, flow_fwd : ndarray of float32, shape (h, w, 2)
        As in :func:`blend_step`. The "previous" frame is the one the values come from, so
        a backwards pass gives the later frame as previous.
    sigma_flow, sigma_l, l_offset : float
        As in :func:`blend_step`.

    Returns
    -------
    values : ndarray of float32, shape (h, w, C)
        Zero where the backward flow leaves the frame.
    confidence : ndarray of float32, shape (h, w), in [0, 1]
        Equal to :func:`blend_step`'s for the same frames and flows.
    """
    h, w = L_cur.shape
    values_prev = _c32(values_prev)
    out = np.empty((h, w, values_prev.shape[2]), np.float32)
    conf = np.empty((h, w), np.float32)
    _warp_kernel(values_prev, _c32(L_prev), _c32(L_cur), _c32(flow_bwd), _c32(flow_fwd),
                 np.float32(sigma_flow), np.float32(sigma_l), np.float32(l_offset), out, conf)
    return out, conf


def _c32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _bilinear_reference(img: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Bilinear samples of img (h, w[, C]) at float coordinates, clamped like the kernel."""
    h, w = img.shape[:2]
    x0 = np.clip(np.floor(px).astype(np.int64), 0, max(w - 2, 0))
    y0 = np.clip(np.floor(py).astype(np.int64), 0, max(h - 2, 0))
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = px - x0
    fy = py - y0
    if img.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    return ((1 - fx) * (1 - fy) * img[y0, x0] + fx * (1 - fy) * img[y0, x1]
            + (1 - fx) * fy * img[y1, x0] + fx * fy * img[y1, x1])


def blend_step_reference(ab_prev, L_prev, L_cur, ab_model, flow_bwd, flow_fwd, strength,
                         sigma_flow=DEFAULT_SIGMA_FLOW, sigma_l=DEFAULT_SIGMA_L, l_offset=0.0):
    """Plain-numpy (float64) version of :func:`blend_step`, the specification the kernel is
    tested against. Same parameters and returns."""
    h, w = L_cur.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    bx = flow_bwd[..., 0].astype(np.float64)
    by = flow_bwd[..., 1].astype(np.float64)
    px, py = xs + bx, ys + by
    inside = (px >= 0) & (py >= 0) & (px <= w - 1) & (py <= h - 1)
    pxc, pyc = np.clip(px, 0, w - 1), np.clip(py, 0, h - 1)
    ab_w = _bilinear_reference(ab_prev.astype(np.float64), pxc, pyc)
    l_w = _bilinear_reference(L_prev.astype(np.float64), pxc, pyc)
    fw = _bilinear_reference(flow_fwd.astype(np.float64), pxc, pyc)
    err2 = (bx + fw[..., 0]) ** 2 + (by + fw[..., 1]) ** 2
    tol = sigma_flow ** 2 + 0.01 * (bx ** 2 + by ** 2 + fw[..., 0] ** 2 + fw[..., 1] ** 2)
    dl = l_w + l_offset - L_cur
    conf = np.where(inside, np.exp(-err2 / (2 * tol) - dl ** 2 / (2 * sigma_l ** 2)), 0.0)
    ab_w = np.where(inside[..., None], ab_w, 0.0)
    wt = (strength * conf)[..., None]
    out = wt * ab_w + (1 - wt) * ab_model
    return out.astype(np.float32), conf.astype(np.float32)


@dataclass
class StepInfo:
    """What the stabilizer did with one frame."""

    cut: bool  #: the frame started a new shot (history discarded)
    confidence: float  #: mean confidence of the warped history, 0 on a cut


class Stabilizer:
    """Recursive flow-guided a/b stabilization, one frame at a time, in display order.

    Parameters
    ----------
    strength : float in [0, 1]
        Weight of the warped history where it is fully trusted; 0 disables stabilization.
    cut_threshold : float in [0, 1]
        Histogram distance above which a frame is a scene cut (of the stabilizer's own
        analyzer, when it is called on lightness alone).
    sigma_flow, sigma_l : float
        Confidence scales (see :func:`blend_step`).
    preset : int
        OpenCV DIS preset (of its own analyzer); ULTRAFAST costs about as much as the blend
        at 256x448.

    Notes
    -----
    In a film, :meth:`step` takes each frame's :class:`~vidcolor.video.analysis.FrameAnalysis`
    (the cut and the flow, shared with the other temporal steps); called on lightness alone,
    the stabilizer analyses the frames itself. State (previous L and stabilized a/b) is small
    and can be saved with :meth:`get_state` and restored with :meth:`set_state`, so a resumed
    job continues the recursion exactly where it stopped (in a film, the frame before is the
    frame analysis's state).
    """

    def __init__(self, strength: float = DEFAULT_STRENGTH,
                 cut_threshold: float = DEFAULT_CUT_THRESHOLD,
                 sigma_flow: float = DEFAULT_SIGMA_FLOW, sigma_l: float = DEFAULT_SIGMA_L,
                 preset: int = FLOW_PRESET):
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        self.strength = float(strength)
        self.sigma_flow = float(sigma_flow)
        self.sigma_l = float(sigma_l)
        self._analysis_settings = (float(cut_threshold), preset)
        # Only for a stabilizer called on lightness alone; in a film, the film's analysis.
        self._analyzer: FrameAnalyzer | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the history (the next frame is treated as the first of a shot)."""
        self._ab = None
        if self._analyzer is not None:
            self._analyzer.set_state(None)

    def get_state(self) -> dict[str, np.ndarray] | None:
        """The history as arrays (None before the first frame): the last stabilized a/b and,
        for a stabilizer that analyses its frames itself, the last frame's lightness."""
        if self._ab is None:
            return None
        own = {} if self._analyzer is None else self._analyzer.get_state()
        return {**own, "ab": self._ab.copy()}

    def set_state(self, state: dict[str, np.ndarray] | None) -> None:
        """Restore a history from :meth:`get_state`."""
        if state is None:
            self.reset()
            return
        self._ab = np.ascontiguousarray(state["ab"], np.float32)
        if "L" in state:
            self._own_analyzer().set_state({"L": state["L"]})

    def _own_analyzer(self) -> FrameAnalyzer:
        if self._analyzer is None:
            self._analyzer = FrameAnalyzer(*self._analysis_settings)
        return self._analyzer

    def __call__(self, L: np.ndarray, ab_model: np.ndarray) -> tuple[np.ndarray, StepInfo]:
        """Stabilize the next frame, analysed by the stabilizer's own analyzer.

        Parameters
        ----------
        L : ndarray of float32, shape (h, w), in [0, 100]
            The frame's lightness at render resolution.
        ab_model : ndarray of float32, shape (h, w, 2)
            The model's chroma for it.

        Returns
        -------
        ab : ndarray of float32, shape (h, w, 2)
        info : StepInfo
        """
        return self.step(self._own_analyzer()(L), ab_model)

    def step(self, frame: FrameAnalysis, ab_model: np.ndarray) -> tuple[np.ndarray, StepInfo]:
        """Stabilize the next frame of a film, given its analysis.

        Parameters
        ----------
        frame : FrameAnalysis
            Its render-size lightness, cut and flow from the frame before.
        ab_model : ndarray of float32, shape (h, w, 2)
            The model's chroma for it.

        Returns
        -------
        ab : ndarray of float32, shape (h, w, 2)
        info : StepInfo
        """
        L = frame.L
        ab_model = np.ascontiguousarray(ab_model, np.float32)
        cut = frame.cut or self._ab is None
        if cut or self.strength == 0.0:
            out, conf_mean = ab_model, 0.0
        else:
            bwd, fwd = frame.flows()
            L_prev = frame.previous.L
            # Archival film flickers: compare lightness after matching the global means.
            offset = float(L.mean() - L_prev.mean())
            out, conf = blend_step(self._ab, L_prev, L, ab_model, bwd, fwd, self.strength,
                                   self.sigma_flow, self.sigma_l, offset)
            conf_mean = float(conf.mean())
        self._ab = out
        return out, StepInfo(cut=bool(cut), confidence=conf_mean)
