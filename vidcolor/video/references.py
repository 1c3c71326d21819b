"""Reference photos' colour for each frame of a film, from each photo's time on
(:class:`ReferenceGuide`, a temporal step).

A frame is matched against the photos whose time it has reached (a photo without a time guides
the whole film) by :meth:`vidcolor.references.ReferenceSet.guidance`, and its model colour moved
towards theirs by the match's confidence (:func:`vidcolor.references.guided`). The step runs
before the stabilizer, which keeps the guided colour steady, and before the keyframes' guide,
so a keyframe's colour wins in its shot wherever it is trusted and the references' colour
stands elsewhere. Each frame is matched on its own: the step has no state to resume.
"""

from __future__ import annotations

import numpy as np

from vidcolor.references import ReferenceSet, guided
from vidcolor.video.analysis import FrameAnalysis

__all__ = ["ReferenceGuide", "reference_guide"]


class ReferenceGuide:
    """The reference photos' colour on each frame whose time has come.

    Parameters
    ----------
    photos : ReferenceSet
        The film's references, read, with their exemplars.
    seconds : callable
        ``seconds(pts) -> float``: a frame's time from the video stream's start (the clock of
        :attr:`vidcolor.options.Reference.time`).
    tolerance : float
        Seconds by which a frame may come before a photo's time and still be guided by it
        (half a frame: a photo timed at a frame's timestamp guides that frame).
    """

    def __init__(self, photos: ReferenceSet, seconds, tolerance: float = 0.0):
        self.photos = photos
        self.seconds = seconds
        self.starts = [-np.inf if e.source.time is None else e.source.time - tolerance
                       for e in photos.exemplars]

    def active(self, pts: int) -> list:
        """The exemplars guiding the frame at ``pts``."""
        t = self.seconds(pts)
        return [e for e, start in zip(self.photos.exemplars, self.starts) if t >= start]

    def wants_features(self, pts: int) -> bool:
        """Whether the frame of ``pts`` is matched (asked when the model colours it, so that
        its match features come from the same call)."""
        return bool(self.active(pts))

    def step(self, pts: int, frame: FrameAnalysis, ab_model: np.ndarray,
             features: np.ndarray | None = None) -> np.ndarray:
        """The frame's a/b guided by the photos its time has reached.

        Parameters
        ----------
        pts : int
        frame : FrameAnalysis
            Its render-size lightness ``L`` (h, w) in [0, 100].
        ab_model : ndarray of float32, shape (h, w, 2)
            The model's a/b.
        features : ndarray of float32, shape (h/8, w/8, C), optional
            The frame's match features from the model's call; None: asked of the model now.

        Returns
        -------
        ndarray of float32, shape (h, w, 2)
            ``ab_model`` itself before every photo's time.
        """
        exemplars = self.active(pts)
        if not exemplars:
            return ab_model
        ab_ref, confidence = self.photos.guidance(frame.L, exemplars, features)
        return guided(ab_model, ab_ref, confidence)

    def get_state(self) -> dict:
        """Nothing: each frame is matched on its own."""
        return {}

    def set_state(self, state: dict | None) -> None:
        """Nothing to restore (see :meth:`get_state`)."""


def reference_guide(info, references, model, render_size: int) -> ReferenceGuide:
    """The guide of a film's references (:class:`~vidcolor.options.Reference`), timed on its
    video stream's clock (``info``: :class:`~vidcolor.video.probe.VideoInfo`)."""
    tb, origin = float(info.time_base), float(info.start_time)
    half_frame = 0.5 / float(info.rate or 25)
    return ReferenceGuide(ReferenceSet(references, model, render_size),
                          lambda pts: pts * tb - origin, half_frame)
