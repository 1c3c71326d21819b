"""The backward decode: each keyframe carried back through its shot (:func:`backward_pass`).

Backwards needs the later frames first: before the stages start, :func:`backward_pass` decodes
the window from where the job starts to its last keyframe once, keeping only the current
shot's render-size lightness (float16, on disk in the work folder: :class:`_ShotLightness`),
and at each keyframe walks back to its shot's start (:func:`_walk_back`), storing displacement
and trust per frame (float16, render size, in the work folder:
:class:`vidcolor.video.keyframes.store.BackwardStore`); it never reads a keyframe's picture.
Shots end at the film's cuts (:class:`vidcolor.video.analysis.CutTracker`). Memory stays a
few render-size frames; disk holds, per keyframe, one float16 displacement-and-trust frame at
render size for each frame of its shot before it that a trusted pixel still reaches, plus one
float16 lightness frame at render size for each frame of the current shot during the pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from vidcolor.log import logger
from vidcolor.video.keyframes.carry import Carried, _carry, _start
from vidcolor.video.keyframes.place import PlacedKeyframe
from vidcolor.video.keyframes.store import BackwardStore
from vidcolor.video.source import FrameSource
from vidcolor.video.analysis import CutTracker

__all__ = ["backward_pass"]


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


def backward_pass(source: FrameSource, placed: list[PlacedKeyframe],
                  prepare: Callable[[np.ndarray], np.ndarray], shape: tuple[int, int],
                  folder: Path) -> BackwardStore:
    """Carry each keyframe's colour back through its shot, before the streaming pass.

    Parameters
    ----------
    source : FrameSource
        The frames the streaming pass will colour (it is read once more, ahead of it, up to
        the last keyframe).
    placed : list of PlacedKeyframe
        The keyframes still to come in the source (those of a resumed job's earlier frames
        are done), in time order.
    prepare : callable
        RGB frame (H, W, 3) -> its render-size lightness (h, w) float32 in [0, 100], exactly
        as the streaming pass computes it (so both find the same cuts).
    shape : (h, w)
        The render shape.
    folder : Path
        Where the store and the shot's lightness go (inside the job's work folder).

    Returns
    -------
    BackwardStore
    """
    store = BackwardStore(folder, shape)
    todo = list(placed)
    if not todo:
        return store
    shot = _ShotLightness(folder / "shot.L.f16", shape)
    cuts = CutTracker()
    for frame in source.frames():
        L = prepare(frame.rgb)
        if cuts(L):
            shot.restart()
        shot.append(frame.pts, L)
        while todo and frame.pts >= todo[0].pts:
            key = todo.pop(0).pts
            store.write(key, _walk_back(shot, key), start=shot.pts[0])
        if not todo:
            break
    shot.path.unlink(missing_ok=True)
    logger.debug(f"keyframes carried backwards: {json.dumps(store.describe())}")
    return store
