"""Colour keyframes for film: hand-coloured frames whose colour follows the motion through a shot.

A keyframe is a colour version of one frame, made by hand in any editor; only its a/b is taken
(the film's own lightness always stays). What travels through the keyframe's shot, forwards and
backwards, along the optical flow the stabilizer uses (:func:`vidcolor.video.stabilize.warp_step`:
DIS flow, forward-backward consistency, lightness agreement) is not the colour but *where each
pixel's colour comes from*: per render pixel, the displacement to its place in the keyframe's
frame. Each step adds its flow to the displacement warped from the frame before, so no colour
is resampled on the way; at the end (:meth:`vidcolor.video.frames.FrameColorizer.finish`) the
keyframe's own a/b, at the keyframe's resolution, is sampled at the displacement upsampled to
the film's (:class:`KeyframeOverlay`), so a still shot keeps the keyframe's chroma detail finer
than the render size. The sampled colour is relit to the frame's lightness (:func:`_relit`:
darker, its chroma shrinks in proportion to L + 16, as a lighting change's does in Lab), so a
fade to black fades the colour too.

Each pixel's *trust* in the carried colour is the weakest step's confidence on its way (an
occlusion or a flow failure loses it for good; below :data:`MIN_TRUST` it counts as unknown;
a place less than half a pixel outside the frame stays on its border pixel). Nothing fades by
the distance from the keyframe: a colour lasts as long as the flow keeps trusting it. Trusted
pixels take the carried colour. The others take, where the flow trusts that step, what the
frame before had there (the colour given to content that entered the shot follows its
motion), else the model's own colour corrected by the differences spread edge-aware from the
trusted pixels (:data:`vidcolor.propagate.FILM_SPREAD`), so new content gets colours
consistent with the keyframe; the spread is weakened when the trusted pixels cover little of
the frame (:data:`FULL_COVERAGE`). Several propagations reaching one frame are averaged by
trust. Colour never crosses a scene cut (:func:`vidcolor.video.stabilize.is_cut`, the
stabilizer's definition); a cut the detector misses still stops it, as the flow no longer
agrees there.

Forwards, the propagation travels with the streaming pass (:class:`KeyframeGuide`, whose state
is saved with each segment for ``--resume``). Backwards needs the later frames first: before
the stages start, :func:`backward_pass` decodes the window from where the job starts to its
last keyframe once, keeping only the current shot's render-size lightness (float16, on disk in
the work folder), and at each keyframe walks back to its shot's start, storing displacement
and trust per frame (float16, render size, in the work folder); it never reads a keyframe's
picture. Memory stays a few render-size frames, plus each keyframe's Lab at its own
resolution while its propagations reach the frames being coloured; disk holds, per keyframe,
one float16 displacement-and-trust frame at render size for each frame of its shot before it
that a trusted pixel still reaches, plus one float16 lightness frame at render size for each
frame of the current shot during the pass.
"""

from __future__ import annotations

import bisect
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import av.error
import cv2
import numpy as np

from vidcolor import color
from vidcolor.errors import VidcolorError
from vidcolor.imageio import read_image
from vidcolor.log import logger
from vidcolor.options import Keyframe, VideoOptions, Window
from vidcolor.video.decode import decode_frames
from vidcolor.video.probe import VideoInfo, open_input
from vidcolor.video.stabilize import (DEFAULT_SIGMA_L, FLOW_PRESET, flow_pair, is_cut, l_histogram, to_u8,
                                      warp_step)

__all__ = ["BackwardStore", "KeyframeGuide", "KeyframeOverlay", "KeyframeReach",
           "PlacedKeyframe", "backward_pass", "place_keyframes"]

#: Flow trust below which a pixel's carried colour counts as unknown.
MIN_TRUST = 0.3
#: Share of the frame the carried colour must still cover for its corrections to be spread
#: to the rest at full strength (less: proportionally less), so that a few pixels the flow
#: happens to trust after an undetected cut or a total occlusion cannot recolour a frame.
FULL_COVERAGE = 0.25
#: Local standard deviation of lightness (L units) below which a region counts as flat, and
#: the side of the square (render pixels) it is measured in: wide enough that fine texture
#: made of flat patches does not count.
FLAT_SPREAD = 1.5
FLAT_WINDOW = 9
#: Largest relative difference of a keyframe's aspect ratio from the film's (it is resized).
ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class PlacedKeyframe:
    """A keyframe and the frame it colours.

    Attributes
    ----------
    keyframe : Keyframe
    pts : int
        Of the frame with the nearest timestamp, in the stream's time base; the keyframe
        applies to the first decoded frame at or after it.
    """

    keyframe: Keyframe
    pts: int


def _check_picture(keyframe: Keyframe, info: VideoInfo) -> None:
    """Refuse a keyframe file that does not read, or whose shape is not the film's."""
    rgb = read_image(keyframe.path).rgb
    h, w = rgb.shape[:2]
    if (h, w) == (info.height, info.width):
        return
    ratio = (w / h) / (info.width / info.height)
    if abs(ratio - 1.0) > ASPECT_TOLERANCE:
        raise VidcolorError(f"{keyframe.path}: keyframe is {w}x{h}, the film {info.width}x"
                            f"{info.height} (another aspect ratio)")


def _window_pts(info: VideoInfo, window: Window, last_time: float) -> list[int]:
    """Sorted pts of the video packets in the window, up to a little past ``last_time``
    (seconds from the stream's start); demuxed only, nothing decoded."""
    tb = info.time_base
    t0, t1 = window.bounds(info.start_time)
    lo, hi = int(round(t0 / tb)), None if t1 is None else int(round(t1 / tb))
    stop = int(round((info.start_time + last_time + 1.0) / tb))
    found = []
    with open_input(info.path) as container:
        vs = container.streams[info.stream_index]
        try:
            if lo > int(round(info.start_time / tb)):
                container.seek(lo, stream=vs, backward=True)
            for packet in container.demux(vs):
                if packet.pts is None:
                    continue
                if lo <= packet.pts and (hi is None or packet.pts < hi):
                    found.append(packet.pts)
                if packet.dts is not None and packet.dts > stop:
                    break
        except av.error.FFmpegError:  # a damaged file: the frames found so far are the clip's
            pass
    return sorted(set(found))


def place_keyframes(info: VideoInfo, options: VideoOptions) -> list[PlacedKeyframe]:
    """Check every keyframe and find the frame it colours, before any work.

    Returns
    -------
    list of PlacedKeyframe
        In time order.

    Raises
    ------
    VidcolorError
        A file that does not read or has another aspect ratio, a time outside the window's
        frames, two keyframes on one frame.
    """
    if not options.keyframes:
        return []
    for k in options.keyframes:
        _check_picture(k, info)
    pts = _window_pts(info, options.window, options.keyframes[-1].time)
    tb, step = float(info.time_base), 1.0 / float(info.rate or 25)
    times = [p * tb - info.start_time for p in pts]
    placed: dict[int, Keyframe] = {}
    for k in options.keyframes:
        i = bisect.bisect_left(times, k.time)
        near = min((j for j in (i - 1, i) if 0 <= j < len(times)),
                   key=lambda j: abs(times[j] - k.time), default=None)
        if near is None or abs(times[near] - k.time) > step:
            raise VidcolorError(f"{k.path}: keyframe time {k.time:g} s is outside the clip's "
                                "frames" + (f" ({times[0]:.3f} s to {times[-1]:.3f} s)"
                                            if times else ""))
        if pts[near] in placed:
            raise VidcolorError(f"{k.path}: keyframe for the same frame as "
                                f"{placed[pts[near]].path} ({times[near]:.3f} s)")
        placed[pts[near]] = k
    return [PlacedKeyframe(k, p) for p, k in sorted(placed.items())]


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
    """The flows of one step (:func:`vidcolor.video.stabilize.flow_pair`), the backward one's
    places just outside the frame kept on its border (:func:`_onto_border`)."""
    # A fresh DIS object each time: one that has computed other flows can answer a little
    # differently at some sizes, and a resumed job must carry exactly what one run would.
    dis = cv2.DISOpticalFlow_create(FLOW_PRESET)
    bwd, fwd = flow_pair(dis, to_u8(L_from), to_u8(L_to))
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
    where = warped[..., :3]
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


class _KeyChroma:
    """A keyframe's Lab (float32, L in [0, 100]) at its own resolution and at the render
    size."""

    def __init__(self, keyframe: Keyframe, shape: tuple[int, int]):
        L, ab = color.rgb_to_lab(read_image(keyframe.path).rgb)
        self.full = np.concatenate([L[..., None], ab], -1).astype(np.float32)
        self.small = cv2.resize(self.full, shape[::-1], interpolation=cv2.INTER_AREA)


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


class BackwardStore:
    """The backwards-carried propagations of a job: per frame, displacement and trust, on disk.

    Parameters
    ----------
    folder : Path
        Made afresh (inside the job's work folder).
    shape : (h, w)
        The render shape.
    """

    def __init__(self, folder: Path, shape: tuple[int, int]):
        self.folder = Path(folder)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.shape = tuple(shape)
        # pts -> (file number, row)
        self.rows: dict[int, list[tuple[int, int]]] = {}
        self.keys: list[int] = []  # file number -> its keyframe's pts

    def _row_values(self) -> int:
        return self.shape[0] * self.shape[1] * 3

    def write(self, key: int, carried: list[tuple[int, Carried]]) -> None:
        """Store one keyframe's (pts ``key``) backward propagation: ``(pts, carried)`` pairs."""
        number = len(self.keys)
        with open(self.folder / f"back{number:05d}.f16", "wb") as f:
            for row, (pts, c) in enumerate(carried):
                f.write(c.where.astype(np.float16).tobytes())
                self.rows.setdefault(pts, []).append((number, row))
        self.keys.append(key)

    def get(self, pts: int) -> list[Carried]:
        """The propagations carried back to a frame."""
        out = []
        for number, row in self.rows.get(pts, ()):
            data = np.fromfile(self.folder / f"back{number:05d}.f16", np.float16,
                               count=self._row_values(), offset=row * self._row_values() * 2)
            out.append(Carried(data.reshape(*self.shape, 3).astype(np.float32),
                               self.keys[number]))
        return out

    def describe(self) -> dict:
        return {"files": len(self.keys), "frames": len(self.rows)}


class _ShotLightness:
    """The current shot's render-size lightness, float16 on disk, appended frame by frame."""

    def __init__(self, path: Path, shape: tuple[int, int]):
        self.path, self.shape = path, tuple(shape)
        self.pts: list[int] = []
        self.path.write_bytes(b"")

    def restart(self) -> None:
        self.pts = []
        self.path.write_bytes(b"")

    def append(self, pts: int, L: np.ndarray) -> None:
        with open(self.path, "ab") as f:
            f.write(L.astype(np.float16).tobytes())
        self.pts.append(pts)

    def lightness(self, index: int) -> np.ndarray:
        n = self.shape[0] * self.shape[1]
        data = np.fromfile(self.path, np.float16, count=n, offset=index * n * 2)
        return data.reshape(self.shape).astype(np.float32)


def _walk_back(shot: _ShotLightness, key: int) -> list[tuple[int, Carried]]:
    """Carry a keyframe (pts ``key``, the shot's last stored frame) back towards the shot's
    start."""
    carried: Carried | None = _start(shot.shape, key)
    walked = []
    L_next = shot.lightness(len(shot.pts) - 1)
    for i in range(len(shot.pts) - 2, -1, -1):
        L_i = shot.lightness(i)
        carried = _carry(carried, L_next, L_i)
        if carried is None:
            break
        walked.append((shot.pts[i], carried))
        L_next = L_i
    return walked


def backward_pass(info: VideoInfo, window: Window, placed: list[PlacedKeyframe],
                  prepare: Callable[[np.ndarray], np.ndarray], shape: tuple[int, int],
                  folder: Path, from_pts: int | None = None) -> BackwardStore:
    """Carry each keyframe's colour back through its shot, before the streaming pass.

    Parameters
    ----------
    info : VideoInfo
    window : Window
    placed : list of PlacedKeyframe
    prepare : callable
        RGB frame (H, W, 3) -> its render-size lightness (h, w) float32 in [0, 100], exactly
        as the streaming pass computes it (so both find the same cuts).
    shape : (h, w)
        The render shape.
    folder : Path
        Where the store and the shot's lightness go (inside the job's work folder).
    from_pts : int, optional
        Where the job starts (a resumed job): earlier frames are done already.

    Returns
    -------
    BackwardStore
    """
    store = BackwardStore(folder, shape)
    todo = [p for p in placed if from_pts is None or p.pts >= from_pts]
    if not todo:
        return store
    shot = _ShotLightness(folder / "shot.L.f16", shape)
    hist_prev = None
    for frame in decode_frames(info, window, from_pts=from_pts):
        L = prepare(frame.rgb)
        hist = l_histogram(L)
        if is_cut(hist_prev, hist):
            shot.restart()
        hist_prev = hist
        shot.append(frame.pts, L)
        while todo and frame.pts >= todo[0].pts:
            key = todo.pop(0).pts
            store.write(key, _walk_back(shot, key))
        if not todo:
            break
    shot.path.unlink(missing_ok=True)
    logger.debug(f"keyframes carried backwards: {json.dumps(store.describe())}")
    return store


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
    """

    def __init__(self, placed: list[PlacedKeyframe], backward: BackwardStore | None,
                 shape: tuple[int, int], spread: Callable, from_pts: int | None = None):
        self.keyframes = {p.pts: p.keyframe for p in placed}
        self.pending = [p for p in placed if from_pts is None or p.pts >= from_pts]
        self.backward = backward
        self.shape = tuple(shape)
        self.spread = spread
        self._L: np.ndarray | None = None
        self._hist: np.ndarray | None = None
        self._carried: Carried | None = None
        # The keyframes' pictures read, by pts: only those reaching the current frame.
        self._chroma: dict[int, _KeyChroma] = {}
        # The last frame's render-size a/b while a keyframe reaches it: where the carried
        # colour is not trusted, what the frame before had there follows the motion.
        self._fill: np.ndarray | None = None

    def get_state(self) -> dict[str, np.ndarray]:
        """What a resumed job continues from (arrays keyed ``keyframe_*``)."""
        state = {}
        if self._L is not None:
            state["keyframe_L"] = self._L.copy()
        if self._carried is not None:
            state["keyframe_where"] = self._carried.where.copy()
            state["keyframe_pts"] = np.int64(self._carried.key)
        if self._fill is not None:
            state["keyframe_fill"] = self._fill.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray] | None) -> None:
        state = state or {}
        self._L = state.get("keyframe_L")
        self._hist = None if self._L is None else l_histogram(self._L)
        self._carried = None
        self._fill = state.get("keyframe_fill")
        if "keyframe_where" in state:
            self._carried = Carried(state["keyframe_where"], int(state["keyframe_pts"]))

    def __call__(self, pts: int, L: np.ndarray, ab_model: np.ndarray
                 ) -> tuple[np.ndarray, KeyframeOverlay | None]:
        """The frame's a/b with the keyframes' colour.

        Parameters
        ----------
        pts : int
        L : ndarray of float32, shape (h, w), in [0, 100]
            Render-size lightness.
        ab_model : ndarray of float32, shape (h, w, 2)
            The model's (stabilized) a/b.

        Returns
        -------
        ab : ndarray of float32, shape (h, w, 2)
            The frame's render-size a/b where it is not the carried colour.
        overlay : KeyframeOverlay or None
            The carried colour, to lay over ``ab`` once upsampled; None where no keyframe
            reaches the frame (``ab`` is then the model's).
        """
        hist = l_histogram(L)
        flows = None
        if is_cut(self._hist, hist):
            self._carried = self._fill = None
        elif self._L is not None and (self._carried is not None or self._fill is not None):
            flows = _flows(self._L, L)
        if self._carried is not None and flows is not None:
            self._carried = _carry(self._carried, self._L, L, flows)
        if self.pending and pts >= self.pending[0].pts:
            self._carried = _start(self.shape, self.pending.pop(0).pts)
        fill = None
        if self._fill is not None and flows is not None:
            warped, fill_trust = _warp(self._fill, self._L, L, flows)
            fill = (_relit(warped[..., [2, 0, 1]], L), fill_trust)
        self._L, self._hist = L, hist
        candidates = [] if self._carried is None else [self._carried]
        if self.backward is not None:
            candidates += self.backward.get(pts)
        needed = {c.key for c in candidates}
        self._chroma = {k: self._chroma.get(k) or _KeyChroma(self.keyframes[k], self.shape)
                        for k in needed}
        if not candidates:
            self._fill = None
            return ab_model, None
        ab_target, trust, parts = _combine(candidates, self._chroma, L)
        rest = self._untrusted(L, ab_model, ab_target, trust, fill)
        t = trust[..., None]
        self._fill = (t * ab_target + (1.0 - t) * rest).astype(np.float32)
        return rest, KeyframeOverlay(parts, trust)

    def _untrusted(self, L: np.ndarray, ab_model: np.ndarray, ab_target: np.ndarray,
                   trust: np.ndarray, fill: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """The colour of the pixels where the carried colour is not trusted (its share is
        ``trust``): what the frame before had there where that step is trusted (``fill``:
        a/b and trust), else the model's corrected by the spread differences (in proportion
        to how much of the frame is covered).

        Returns
        -------
        ndarray of float32, shape (h, w, 2)
        """
        coverage = min(1.0, float(trust.mean()) / FULL_COVERAGE)
        corrected = np.asarray(self.spread(L, ab_model, ab_target, trust), np.float32)
        filled = ab_model + coverage * (corrected - ab_model)
        if fill is not None:
            ab_fill, fill_trust = fill
            filled += fill_trust[..., None] * (ab_fill - filled)
        return filled.astype(np.float32)
