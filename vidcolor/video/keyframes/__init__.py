"""Colour keyframes for film: hand-coloured frames whose colour follows the motion through a shot.

A keyframe is a colour version of one frame, made by hand in any editor; only its a/b is taken
(the film's own lightness always stays). What travels through the keyframe's shot, forwards and
backwards, along the optical flow the stabilizer uses (:func:`vidcolor.video.stabilize.warp_step`)
is not the colour but *where each pixel's colour comes from*, with the flow's trust in it
(:mod:`.carry`); at the end the keyframe's own a/b, at the keyframe's resolution, is sampled
there and relit to the frame's lightness (:mod:`.overlay`). Nothing fades by the distance from
the keyframe: a colour lasts as long as the flow keeps trusting it. Where it is not trusted,
the frame takes what the frame before had there, else the colour of the shot's keyframe pixels
that look alike in the model's features (:mod:`vidcolor.correspond`), else the model's colour
corrected towards the keyframes' (:mod:`.guide`). Colour never crosses a scene cut
(:func:`vidcolor.video.analysis.is_cut`, the stabilizer's definition).

Forwards, the propagation travels with the streaming pass (:class:`KeyframeGuide`, whose state
is saved with each segment for ``--resume``). Backwards needs the later frames first: before
the stages start, :func:`backward_pass` carries each keyframe back through its shot into a
store in the work folder (:class:`BackwardStore`).

The modules, one concept each; none imports one listed after it:

- :mod:`.place`: check every keyframe and find the frame it colours (:func:`place_keyframes`,
  :class:`PlacedKeyframe`).
- :mod:`.carry`: the propagation on arrays, displacement and trust carried one step along the
  flow (:class:`Carried`, :data:`MIN_TRUST`).
- :mod:`.overlay`: a keyframe's colour sampled where the pixels come from and relit; laid over
  the full-resolution a/b (:class:`KeyframeOverlay`).
- :mod:`.reach`: how much of a frame a keyframe still colours (:class:`KeyframeReach`, for
  ``--export-keyframes``).
- :mod:`.store`: the backwards-carried propagations on disk (:class:`BackwardStore`).
- :mod:`.backward`: the backward decode (:func:`backward_pass`).
- :mod:`.guide`: the keyframe colour of each frame of the streaming pass
  (:class:`KeyframeGuide`, :data:`FULL_COVERAGE`).

The package's public names are importable from here; the others from their modules.
"""

from __future__ import annotations

from vidcolor.video.keyframes.place import PlacedKeyframe, place_keyframes
from vidcolor.video.keyframes.overlay import KeyframeOverlay
from vidcolor.video.keyframes.reach import KeyframeReach
from vidcolor.video.keyframes.store import BackwardStore
from vidcolor.video.keyframes.backward import backward_pass
from vidcolor.video.keyframes.guide import KeyframeGuide

__all__ = ["BackwardStore", "KeyframeGuide", "KeyframeOverlay", "KeyframeReach",
           "PlacedKeyframe", "backward_pass", "place_keyframes"]
