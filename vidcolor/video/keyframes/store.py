"""The backwards-carried propagations of a job, on disk (:class:`BackwardStore`).

Per keyframe one float16 file in the work folder, holding one displacement-and-trust frame at
render size (:class:`vidcolor.video.keyframes.carry.Carried`) for each frame of its shot that it
reaches; written by :func:`vidcolor.video.keyframes.backward.backward_pass`, read frame by frame
by the guide.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from vidcolor.video.keyframes.carry import Carried

__all__ = ["BackwardStore"]


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
        #: Keyframe pts -> the pts of its shot's first frame (in the job's window).
        self.starts: dict[int, int] = {}

    def _row_values(self) -> int:
        return self.shape[0] * self.shape[1] * 3

    def write(self, key: int, carried: list[tuple[int, Carried]],
              start: int | None = None) -> None:
        """Store one keyframe's (pts ``key``) backward propagation: ``(pts, carried)`` pairs;
        ``start``: the pts of its shot's first frame (default: its own)."""
        self.starts[key] = key if start is None else int(start)
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
