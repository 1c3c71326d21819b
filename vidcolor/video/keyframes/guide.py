"""Keyframe colour for each frame of the streaming pass, in display order (:class:`KeyframeGuide`).

Forwards, the propagation (:mod:`vidcolor.video.keyframes.carry`) travels with the streaming
pass, joined by the ones carried backwards before it (:mod:`vidcolor.video.keyframes.store`);
the guide's state is saved with each segment for ``--resume``. Trusted pixels take the carried
colour. The others take, where the flow trusts that step, what the frame before had there (the
colour given to content that entered the shot follows its motion); else the colour of the
shot's keyframe pixels that look alike in the model's features (:mod:`vidcolor.correspond`,
weighted by its confidence; the keyframes' features computed once, the frame's with the model's
call, :meth:`KeyframeGuide.wants_features`); else the model's own colour corrected by the
differences spread edge-aware from the trusted pixels (:data:`vidcolor.propagate.FILM_SPREAD`),
so new content gets colours consistent with the keyframe; the spread is weakened when the
trusted pixels cover little of the frame (:data:`FULL_COVERAGE`). A keyframe's correspondence
serves its own shot only: from the shot's first frame (found by the backward pass) to the next
cut. Several propagations reaching one frame are averaged by trust
(:func:`_combine`). Colour never crosses a scene cut; the cut and the flow from the frame
before are the film's frame analysis (:mod:`vidcolor.video.analysis`), the stabilizer's.
Each keyframe's Lab at its own resolution (:class:`_KeyChroma`) is held only while its
propagations reach the frames being coloured.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from vidcolor import color
from vidcolor.correspond import Exemplar, Matching, correspond_where, exemplar
from vidcolor.imageio import read_image
from vidcolor.options import Keyframe
from vidcolor.references import guided
from vidcolor.video.analysis import FrameAnalysis, FrameAnalyzer
from vidcolor.video.keyframes.carry import (MIN_TRUST, Carried, _carried_on, _on_border, _start,
                                            _warp)
from vidcolor.video.keyframes.overlay import KeyframeOverlay, _relit, _sample
from vidcolor.video.keyframes.place import PlacedKeyframe
from vidcolor.video.keyframes.store import BackwardStore

__all__ = ["FULL_COVERAGE", "MATCH_WEIGHT", "KeyframeGuide"]

#: Share of the frame the carried colour must still cover for its corrections to be spread
#: to the rest at full strength (less: proportionally less), so that a few pixels the flow
#: happens to trust after an undetected cut or a total occlusion cannot recolour a frame.
FULL_COVERAGE = 0.25
#: Grid cells are matched by correspondence only where its colour would weigh at least this
#: much on average (elsewhere the carried colour and the frame before's cover the cell).
MATCH_WEIGHT = 0.05


class _KeyChroma:
    """A keyframe's Lab (float32, L in [0, 100]) at its own resolution and at the render
    size."""

    def __init__(self, keyframe: Keyframe, shape: tuple[int, int]):
        L, ab = color.rgb_to_lab(read_image(keyframe.path).rgb)
        self.full = np.concatenate([L[..., None], ab], -1).astype(np.float32)
        self.small = cv2.resize(self.full, shape[::-1], interpolation=cv2.INTER_AREA)


def _combine(candidates: list[Carried], chroma: dict[int, _KeyChroma], L: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, list]:
    """Several propagations reaching one frame, as one.

    Returns
    -------
    ab_target : ndarray of float32, shape (h, w, 2)
        Their keyframes' render-size a/b where each pixel comes from (relit to the frame's
        lightness ``L``), averaged by trust.
    trust : ndarray of float32, shape (h, w), in [0, 1]
        The largest trust, 0 below :data:`MIN_TRUST`.
    parts : list
        Per propagation, what :class:`KeyframeOverlay` samples at full resolution.
    """
    share = [c.where[..., 2] for c in candidates]
    total = np.maximum(sum(share), 1e-6)[..., None]
    ab = sum(_relit(_sample(chroma[c.key].small, c.where[..., :2]), L) * s[..., None]
             for c, s in zip(candidates, share)) / total
    trust = np.stack(share).max(0)
    trust = np.where(trust >= MIN_TRUST, trust, 0.0).astype(np.float32)
    parts = [(chroma[c.key].full, c.where[..., :2], s) for c, s in zip(candidates, share)]
    return ab.astype(np.float32), trust, parts


def _exemplars(keyframes: dict, shape: tuple[int, int], features: Callable | None
               ) -> dict[int, Exemplar]:
    """Each keyframe (by pts) as an exemplar at the render ``shape``, from its own picture's
    lightness and a/b; empty without ``features`` or where the model has none."""
    if features is None or not keyframes:
        return {}
    out = {}
    for pts, keyframe in keyframes.items():
        lab = _KeyChroma(keyframe, shape).small
        f = features(lab[None, ..., 0])
        if f is None:
            return {}
        out[pts] = exemplar(f[0], lab[..., 0], lab[..., 1:], source=pts)
    return out


class KeyframeGuide:
    """Keyframe colour for each frame of the streaming pass, in display order.

    Parameters
    ----------
    placed : list of PlacedKeyframe
    backward : BackwardStore or None
        The propagations carried backwards (:func:`backward_pass`).
    shape : (h, w)
        The render shape.
    spread : callable
        ``spread(L, ab_pred, ab_target, weight) -> ab``
        (:data:`vidcolor.propagate.FILM_SPREAD`).
    from_pts : int, optional
        Where the job starts: keyframes before it are done.
    features : callable, optional
        ``features(L (N, h, w)) -> (N, h/8, w/8, C) or None``: the model's
        :meth:`~vidcolor.models.protocol.ColorModel.match_features`, called here for the
        keyframes (in the caller's thread); None: no correspondence.
    matching : Matching
        Of the correspondence.
    """

    def __init__(self, placed: list[PlacedKeyframe], backward: BackwardStore | None,
                 shape: tuple[int, int], spread: Callable, from_pts: int | None = None,
                 features: Callable | None = None, matching: Matching = Matching()):
        self.keyframes = {p.pts: p.keyframe for p in placed}
        self.pending = [p for p in placed if from_pts is None or p.pts >= from_pts]
        self.backward = backward
        self.shape = tuple(shape)
        self.spread = spread
        self.matching = matching
        # Each keyframe as the correspondence's exemplar, by pts (empty: no correspondence).
        self._exemplars = _exemplars(self.keyframes, self.shape, features)
        # The keyframes that started in the current shot, forwards.
        self._shot_keys: list[int] = []
        self._first = [p.pts for p in self.pending[:1]]
        self._done = False  # no frame left that a keyframe's correspondence serves
        self._analyzer: FrameAnalyzer | None = None  # only for a guide used alone
        self._carried: Carried | None = None
        # The keyframes' pictures read, by pts: only those reaching the current frame.
        self._chroma: dict[int, _KeyChroma] = {}
        # The last frame's render-size a/b while a keyframe reaches it: where the carried
        # colour is not trusted, what the frame before had there follows the motion.
        self._fill: np.ndarray | None = None

    def wants_features(self, pts: int) -> bool:
        """Whether the frame of ``pts`` may need its match features, asked ahead of
        :meth:`step` (when the model colours the frame; a frame it answers False for is never
        matched): from the first keyframe's shot on, until the last keyframe's shot ended.
        Read while :meth:`step` runs in another thread, so it may answer True for more
        frames, never False for one that needs them."""
        if not self._exemplars or self._done:
            return False
        if self._shot_keys:  # (a resumed job's shot may have started before the job)
            return True
        if not self._first:
            return False
        starts = self.backward.starts if self.backward is not None else {}
        return pts >= starts.get(self._first[0], self._first[0])

    def get_state(self) -> dict[str, np.ndarray]:
        """What a resumed job continues from (arrays keyed ``where``, ``pts``, ``fill``,
        ``shot``; the frame before is the frame analysis's)."""
        state = {}
        if self._shot_keys:
            state["shot"] = np.asarray(self._shot_keys, np.int64)
        if self._carried is not None:
            state["where"] = self._carried.where.copy()
            state["pts"] = np.int64(self._carried.key)
        if self._fill is not None:
            state["fill"] = self._fill.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray] | None) -> None:
        state = state or {}
        self._carried = None
        self._fill = state.get("fill")
        self._shot_keys = [int(k) for k in state.get("shot", ())]
        if "where" in state:
            self._carried = Carried(state["where"], int(state["pts"]))

    def __call__(self, pts: int, L: np.ndarray, ab_model: np.ndarray
                 ) -> tuple[np.ndarray, KeyframeOverlay | None]:
        """:meth:`step` for a frame of lightness ``L`` (h, w), analysed by the guide's own
        analyzer (a guide used alone, outside a film's frame colorizer)."""
        if self._analyzer is None:
            self._analyzer = FrameAnalyzer()
        return self.step(pts, self._analyzer(L), ab_model)

    def step(self, pts: int, frame: FrameAnalysis, ab_model: np.ndarray,
             features: np.ndarray | None = None
             ) -> tuple[np.ndarray, KeyframeOverlay | None]:
        """The frame's a/b with the keyframes' colour.

        Parameters
        ----------
        pts : int
        frame : FrameAnalysis
            Its render-size lightness ``L`` (h, w) in [0, 100], cut and flow.
        ab_model : ndarray of float32, shape (h, w, 2)
            The model's (stabilized) a/b.
        features : ndarray of float32, shape (h/8, w/8, C), optional
            The frame's match features (where :meth:`wants_features` said so).

        Returns
        -------
        ab : ndarray of float32, shape (h, w, 2)
            The frame's render-size a/b where it is not the carried colour.
        overlay : KeyframeOverlay or None
            The carried colour, to lay over ``ab`` once upsampled; None where no keyframe
            reaches the frame (``ab`` is then the model's).
        """
        L, fill = frame.L, None
        if frame.cut:
            self._carried = self._fill = None
            self._shot_keys = []
        elif self._carried is not None or self._fill is not None:
            fill = self._carry_on(frame)
        if self.pending and pts >= self.pending[0].pts:
            key = self.pending.pop(0).pts
            self._carried = _start(self.shape, key)
            self._shot_keys.append(key)
        candidates = [] if self._carried is None else [self._carried]
        if self.backward is not None:
            candidates += self.backward.get(pts)
        exemplars = self._shot_exemplars(pts)
        needed = {c.key for c in candidates}
        self._chroma = {k: self._chroma.get(k) or _KeyChroma(self.keyframes[k], self.shape)
                        for k in needed}
        self._done = not self.pending and not self._shot_keys
        if not candidates and not exemplars:
            self._fill = None
            return ab_model, None
        if candidates:
            ab_target, trust, parts = _combine(candidates, self._chroma, L)
        else:
            ab_target, trust, parts = np.zeros_like(ab_model), np.zeros(L.shape, np.float32), []
        rest = self._untrusted(L, ab_model, ab_target, trust, fill,
                               lambda base, weight: self._matched(L, features, exemplars,
                                                                  base, weight))
        t = trust[..., None]
        self._fill = (t * ab_target + (1.0 - t) * rest).astype(np.float32)
        return rest, (KeyframeOverlay(parts, trust) if parts else None)

    def _shot_exemplars(self, pts: int) -> list[Exemplar]:
        """The exemplars of the frame's shot's nearest keyframes: the last one started since
        the cut, and the next one ahead in the shot (its shot starts at or before ``pts``).
        The nearest look most alike; a farther one's colours are those the frame's nearer
        keyframes already show, or of content the frame no longer has."""
        keys = self._shot_keys[-1:]
        if self.backward is not None:
            keys += sorted(k for k, start in self.backward.starts.items()
                           if start <= pts < k)[:1]
        return [self._exemplars[k] for k in keys if k in self._exemplars]

    def _matched(self, L: np.ndarray, features: np.ndarray | None, exemplars: list[Exemplar],
                 base: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The correspondence's a/b and confidence at the render size, (h, w, 2) and (h, w),
        matched on the grid cells where its colour would weigh at least :data:`MATCH_WEIGHT`
        (``weight``, (h, w)); the other cells keep ``base`` (h, w, 2) with confidence 0, so
        the upsampled colour next to them is not pulled towards grey. None where nothing is
        matched."""
        if features is None or not exemplars:
            return None
        return correspond_where(features, L, exemplars, weight, MATCH_WEIGHT, self.matching,
                                base)

    def _carry_on(self, frame: FrameAnalysis) -> tuple[np.ndarray, np.ndarray] | None:
        """Carry the propagation and the last frame's a/b one step, to ``frame``, along the
        flow from the frame before (one warp for both: the same flow, the same trust).

        Returns
        -------
        (ab, trust) or None
            The last frame's a/b warped and relit, (h, w, 2), and the step's trust (h, w);
            None without a last frame's a/b.
        """
        flows = _on_border(frame.flows())
        parts = ([] if self._carried is None else [self._carried.where]) + \
            ([] if self._fill is None else [self._fill])
        warped, step_trust = _warp(np.concatenate(parts, -1), frame.previous.L, frame.L, flows)
        if self._carried is not None:
            self._carried = _carried_on(self._carried, warped[..., :3], step_trust, flows)
            warped = warped[..., 3:]
        if self._fill is None:
            return None
        # warped: the a/b, then the lightness they had: relit as Lab.
        return _relit(warped[..., [2, 0, 1]], frame.L), step_trust

    def _untrusted(self, L: np.ndarray, ab_model: np.ndarray, ab_target: np.ndarray,
                   trust: np.ndarray, fill: tuple[np.ndarray, np.ndarray] | None,
                   match: Callable | None = None) -> np.ndarray:
        """The colour of the pixels where the carried colour is not trusted (its share is
        ``trust``): what the frame before had there where that step is trusted (``fill``:
        a/b and trust), else the correspondence's colour by its confidence (``match(base,
        weight) -> (ab, confidence) or None``, given the colour so far and the weight its
        colour would have), else the model's corrected by the spread differences (in
        proportion to how much of the frame is covered).

        Returns
        -------
        ndarray of float32, shape (h, w, 2)
        """
        coverage = min(1.0, float(trust.mean()) / FULL_COVERAGE)
        corrected = np.asarray(self.spread(L, ab_model, ab_target, trust), np.float32)
        filled = ab_model + coverage * (corrected - ab_model)
        weight = 1.0 - trust
        if fill is not None:
            weight = weight * (1.0 - fill[1])
        matched = None if match is None else match(filled, weight)
        if matched is not None:
            filled = guided(filled, *matched)
        return filled.astype(np.float32) if fill is None else guided(filled, *fill)
