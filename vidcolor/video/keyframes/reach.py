"""How much of each frame a keyframe on an earlier frame still colours (:class:`KeyframeReach`).

The share of the frame on which the colour carried forwards from the keyframe
(:mod:`vidcolor.video.keyframes.carry`) is still trusted; ``--export-keyframes``
(:mod:`vidcolor.video.shots`) writes another keyframe where it falls too low.
"""

from __future__ import annotations

import numpy as np

from vidcolor.video.keyframes.carry import MIN_TRUST, Carried, _carry, _start

__all__ = ["KeyframeReach"]


class KeyframeReach:
    """How much of each frame a keyframe on an earlier frame of its shot still colours.

    :meth:`start` it on the keyframe's render-size lightness (h, w) in [0, 100] (float32),
    then call it on each next frame's: it returns the share of the frame, in [0, 1], on which
    the colour carried from the keyframe is trusted, as :class:`KeyframeGuide` carries it
    forwards (0 before any start). The caller starts it afresh at a cut.
    """

    def __init__(self):
        self._carried: Carried | None = None
        self._L: np.ndarray | None = None

    def start(self, L: np.ndarray) -> None:
        self._carried, self._L = _start(L.shape, 0), L

    def __call__(self, L: np.ndarray) -> float:
        if self._carried is not None:
            self._carried = _carry(self._carried, self._L, L)
        self._L = L
        if self._carried is None:
            return 0.0
        return float((self._carried.where[..., 2] >= MIN_TRUST).mean())
