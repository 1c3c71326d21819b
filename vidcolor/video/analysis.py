"""Frame analysis, once per frame: what every temporal step of a film needs to know of a frame.

The stabilizer (:mod:`vidcolor.video.stabilize`), the keyframes' guide and reach measure
(:mod:`vidcolor.video.keyframes`), the keyframe export (:mod:`vidcolor.video.shots`) and the
chunk planner (:mod:`vidcolor.video.chunks`) all look at a film the same way, frame after
frame in display order: its render-size lightness, whether it starts a new shot, and how it
moved from the frame before. :class:`FrameAnalyzer` works this out once per frame and hands
it to each of them as a :class:`FrameAnalysis`:

- the cut decision, by the one :class:`CutTracker` (:func:`is_cut`, the one definition of a
  scene cut: a sharp change of the lightness histogram);
- the optical flow both ways between the frame and the one before it in its shot (OpenCV's
  DIS, :data:`FLOW_PRESET`), computed only when a step asks for it and then shared, with one
  DIS object for the whole film.

A step holds its own state and sees the frame only through the analysis, as a
PySceneDetect detector sees frames: ``step(frame, ...)``, ``get_state()``, ``set_state()``.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["CutTracker", "DEFAULT_CUT_THRESHOLD", "FLOW_PRESET", "FrameAnalysis",
           "FrameAnalyzer", "flow_pair", "histogram_distance", "is_cut", "l_histogram", "to_u8"]

#: Total-variation distance of lightness histograms above which a frame starts a new shot.
DEFAULT_CUT_THRESHOLD = 0.45
_HIST_BINS = 32
#: OpenCV DIS preset of every flow of a film: ULTRAFAST costs about as much as the stabilizer's
#: blend.
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST


def l_histogram(L: np.ndarray, bins: int = _HIST_BINS) -> np.ndarray:
    """Normalized lightness histogram.

    Parameters
    ----------
    L : ndarray of float32, shape (h, w), in [0, 100]

    Returns
    -------
    ndarray of float64, shape (bins,), summing to 1
    """
    hist = cv2.calcHist([np.ascontiguousarray(L, np.float32)], [0], None, [bins], [0.0, 100.0001])
    hist = hist.ravel().astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def histogram_distance(h1: np.ndarray, h2: np.ndarray) -> float:
    """Total-variation distance of two normalized histograms, in [0, 1]."""
    return 0.5 * float(np.abs(h1 - h2).sum())


def flow_pair(dis, L8_prev: np.ndarray, L8_cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DIS flow both ways between two uint8 lightness images (h, w), with an OpenCV
    ``DISOpticalFlow`` (made with :data:`FLOW_PRESET`).

    Returns
    -------
    flow_bwd, flow_fwd : ndarray of float32, shape (h, w, 2)
        current -> previous, previous -> current.
    """
    bwd = dis.calc(L8_cur, L8_prev, None)
    fwd = dis.calc(L8_prev, L8_cur, None)
    return bwd, fwd


def to_u8(L: np.ndarray) -> np.ndarray:
    """Lightness (h, w) in [0, 100] as the uint8 image the optical flow is computed on."""
    return np.clip(L * 2.55 + 0.5, 0, 255).astype(np.uint8)


def is_cut(hist_prev: np.ndarray | None, hist: np.ndarray,
           threshold: float = DEFAULT_CUT_THRESHOLD) -> bool:
    """Whether a frame starts a new shot: the one definition of a scene cut.

    Parameters
    ----------
    hist_prev : ndarray of float64, shape (bins,), or None
        :func:`l_histogram` of the previous frame's render-size lightness; None when there is
        no previous frame (the first frame of a job starts a shot).
    hist : ndarray of float64, shape (bins,)
        The same of this frame.
    threshold : float in [0, 1]
        Histogram distance above which the frame is a cut.
    """
    return hist_prev is None or histogram_distance(hist, hist_prev) > threshold




class CutTracker:
    """The one cut tracker: each frame's lightness histogram against the frame before.

    Parameters
    ----------
    threshold : float in [0, 1]
        Histogram distance above which a frame starts a new shot.
    """

    def __init__(self, threshold: float = DEFAULT_CUT_THRESHOLD):
        self.threshold = float(threshold)
        self.reset()

    def reset(self) -> None:
        """Forget the frame before: the next frame starts a shot."""
        self._hist: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    def continue_from(self, L: np.ndarray) -> None:
        """Take ``L`` (h, w) as the frame before the next one (a resumed film)."""
        self._hist, self._shape = l_histogram(L), L.shape

    def __call__(self, L: np.ndarray) -> bool:
        """Whether the frame of lightness ``L`` (h, w) in [0, 100] starts a shot; the first
        frame, and a frame of another shape than the one before, do."""
        hist = l_histogram(L)
        cut = self._shape != L.shape or is_cut(self._hist, hist, self.threshold)
        self._hist, self._shape = hist, L.shape
        return cut


class FrameAnalysis:
    """One frame as every temporal step sees it.

    Attributes
    ----------
    L : ndarray of float32, shape (h, w), in [0, 100]
        Render-size lightness.
    L8 : ndarray of uint8, shape (h, w)
        The same as the flow sees it (:func:`vidcolor.video.stabilize.to_u8`).
    cut : bool
        The frame starts a shot: no frame before it in its shot, no flow.
    previous : FrameAnalysis or None
        The frame before it in its shot (None at a cut); its own ``previous`` is dropped,
        so a chain never holds more than two frames.
    """

    def __init__(self, L: np.ndarray, cut: bool, previous: "FrameAnalysis | None",
                 dis=None):
        self.L = np.ascontiguousarray(L, np.float32)
        self.L8 = to_u8(self.L)
        self.cut = bool(cut)
        self.previous = None if cut else previous
        self._dis = dis
        self._flows: tuple[np.ndarray, np.ndarray] | None = None

    def flows(self) -> tuple[np.ndarray, np.ndarray] | None:
        """DIS flow both ways between the frame before and this one, computed on the first
        call and shared by every step that asks; None at a cut.

        Returns
        -------
        flow_bwd, flow_fwd : ndarray of float32, shape (h, w, 2)
            this frame -> the one before, the one before -> this frame.
        """
        if self.previous is None:
            return None
        if self._flows is None:
            self._flows = flow_pair(self._dis, self.previous.L8, self.L8)
        return self._flows


class FrameAnalyzer:
    """Analyses a film's frames once each, in display order.

    Parameters
    ----------
    cut_threshold : float in [0, 1]
        Of the :class:`CutTracker`.
    preset : int
        OpenCV DIS preset of every flow.

    Notes
    -----
    Its state is the last frame's lightness (:meth:`get_state`), so a resumed film continues
    with the same cuts and flows as one run.
    """

    def __init__(self, cut_threshold: float = DEFAULT_CUT_THRESHOLD,
                 preset: int = FLOW_PRESET):
        self.cuts = CutTracker(cut_threshold)
        self._dis = cv2.DISOpticalFlow_create(preset)
        self._last: FrameAnalysis | None = None

    def __call__(self, L: np.ndarray) -> FrameAnalysis:
        """The analysis of the next frame, of render-size lightness ``L`` (h, w)."""
        cut = self.cuts(L)
        last = self._last
        if last is not None:
            last.previous = None  # two frames at most in a chain
        self._last = FrameAnalysis(L, cut, last, self._dis)
        return self._last

    def prime_flow(self, shape: tuple[int, int]) -> None:
        """Run the flow once on blank frames of ``shape``, as if frames had gone before.

        OpenCV's DIS answers its very first call slightly differently from every later one
        (thousandths of a pixel, enough to move the confidence at a few pixels); one call,
        whatever its frames, is all the difference. An analyzer that continues a film in the
        middle (a chunk of a distributed job, a resumed job) primes its flow so its frames
        are the film's.
        """
        blank = np.zeros(shape, np.uint8)
        self._dis.calc(blank, blank, None)

    def get_state(self) -> dict[str, np.ndarray]:
        """The last frame's lightness (nothing before the first frame)."""
        return {} if self._last is None else {"L": self._last.L.copy()}

    def set_state(self, state: dict[str, np.ndarray] | None) -> None:
        """Continue after the frame of :meth:`get_state` (None or empty: start afresh)."""
        self._last = None
        self.cuts.reset()
        if state and "L" in state:
            L = np.ascontiguousarray(state["L"], np.float32)
            self.cuts.continue_from(L)
            self._last = FrameAnalysis(L, True, None, self._dis)
            self.prime_flow(L.shape)
