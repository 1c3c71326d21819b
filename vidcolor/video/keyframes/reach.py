"""How much of each frame a keyframe on an earlier frame still colours (:class:`KeyframeReach`).

The share of the frame on which the colour carried forwards from the keyframe
(:mod:`vidcolor.video.keyframes.carry`) is still trusted; ``--export-keyframes``
(:mod:`vidcolor.video.shots`) writes another keyframe where it falls too low.
"""

from __future__ import annotations

from vidcolor.video.analysis import FrameAnalysis
from vidcolor.video.keyframes.carry import MIN_TRUST, Carried, _carry, _on_border, _start

__all__ = ["KeyframeReach"]


class KeyframeReach:
    """How much of each frame a keyframe on an earlier frame of its shot still colours.

    :meth:`start` it on the keyframe's frame analysis, then :meth:`step` it on each next
    frame's (:class:`~vidcolor.video.analysis.FrameAnalysis`): it returns the share of the
    frame, in [0, 1], on which the colour carried from the keyframe is trusted, as
    :class:`~vidcolor.video.keyframes.KeyframeGuide` carries it forwards (0 before any start).
    The caller starts it afresh at a cut.
    """

    def __init__(self):
        self._carried: Carried | None = None

    def start(self, frame: FrameAnalysis) -> None:
        self._carried = _start(frame.L.shape, 0)

    def step(self, frame: FrameAnalysis) -> float:
        if self._carried is not None and frame.previous is not None:
            flows = _on_border(frame.flows())
            self._carried = _carry(self._carried, frame.previous.L, frame.L, flows)
        if self._carried is None:
            return 0.0
        return float((self._carried.where[..., 2] >= MIN_TRUST).mean())
