"""A master frame looked for far off in its colour copy: a copy of another cut of the film.

A TV version lacks scenes or adds breaks, so after such an edit the copy is seconds or minutes
off the master, far beyond the few frames of drift the colour copy's step follows
(:data:`vidcolor.video.colour_copy.DRIFT_SEARCH`). At each cut of the master (where a
version's edits are) and every :data:`SEARCH_AFTER` frames the copy has not been sure of (no
copy frame of their own, or one only roughly alike: a frame of the same shot further on,
after an edit inside a shot or at a cut not seen as one), where the copy frame expected is
not the same picture beyond doubt, the step asks :class:`CopySearch` for the copy frame that
looks most like the master's over :data:`SEARCH_SECONDS` either side, and jumps there only if
it is the same picture beyond doubt (:data:`JUMP_ERROR`) and far more alike than any near
(:data:`JUMP_RATIO`). So is the run's first frame (a leader the run was not told of).
Each copy frame is read once into a small lightness thumbnail, kept while it is within
reach.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor import color
from vidcolor.video.borders import picture_box
from vidcolor.video.decode import decode_frames
from vidcolor.video.probe import VideoInfo

__all__ = ["JUMP_ERROR", "JUMP_RATIO", "MATCH_WIDTH", "SEARCH_AFTER", "SEARCH_SECONDS",
           "CopySearch", "frame_number", "frames_from", "thumbnail", "thumbnail_shape"]

#: Frames in a row the copy must have been unsure of before it is searched away from a cut
#: (half a second), and again as often while it stays unsure.
SEARCH_AFTER = 12
#: Seconds of the copy searched either side of where the frame was expected (a scene cut
#: out of a TV version, an advertising break).
SEARCH_SECONDS = 180.0
#: The most a far copy frame's :func:`~vidcolor.video.colour_copy.match_error` may be to be
#: jumped to (a q30 copy of the frame itself: about 0.03, at most 0.17 on bbb; another
#: scene's frames 0.7 and more).
JUMP_ERROR = 0.25
#: ... and at most this share of the best near where it was expected: a noisy copy's own
#: frame may look less alike than that, but a far frame must look far more alike to win.
JUMP_RATIO = 0.5
#: Width (pixels) of the small lightness images compared, here and by the drift search
#: (:func:`vidcolor.video.colour_copy.match_error`).
MATCH_WIDTH = 64


def frame_number(pts: int, info: VideoInfo) -> int:
    """A copy frame's number: its time from the stream's start at the copy's rate."""
    return int(round((float(pts * info.time_base) - info.start_time) * float(info.rate)))


def frames_from(info: VideoInfo, number: int):
    """The copy's decoded frames (:func:`~vidcolor.video.decode.decode_frames`) from frame
    ``number`` on, after a seek."""
    start = info.start_time + (number - 0.5) / float(info.rate)
    return decode_frames(info, from_pts=int(np.floor(start / info.time_base)))


def thumbnail_shape(aspect: float) -> tuple[int, int]:
    """The (h, w) of the thumbnails of pictures ``aspect`` (height / width) high:
    :data:`MATCH_WIDTH` wide."""
    return max(4, int(round(MATCH_WIDTH * aspect))), MATCH_WIDTH


def thumbnail(L: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A lightness image (h, w) in [0, 100] as it is compared with another, whatever their
    tone: resized to ``shape`` (h, w, :func:`thumbnail_shape`) and standardized (mean 0,
    spread about 1). float32 (h, w)."""
    small = cv2.resize(np.asarray(L, np.float32), shape[::-1], interpolation=cv2.INTER_AREA)
    return ((small - small.mean()) / (small.std() + 1.0)).astype(np.float32)


def _thumbnail16(L: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """:func:`thumbnail` as kept: float16 (minutes of a copy's frames are kept)."""
    return thumbnail(L, shape).astype(np.float16)


class CopySearch:
    """Thumbnails of a colour copy's frames near a place, and the frame most like a master
    frame among them.

    Parameters
    ----------
    info : VideoInfo
        The copy's.
    aspect : float
        The master's picture's height / width: the thumbnails' shape.
    """

    def __init__(self, info: VideoInfo, aspect: float):
        self.info = info
        self.shape = thumbnail_shape(aspect)
        self.reach = int(round(SEARCH_SECONDS * float(info.rate)))
        self._thumbs: dict[int, np.ndarray] = {}
        self._read_from = self._read_upto = 0  # the copy frames read: these, kept in range
        self._reader = None
        self._next = 0  # the copy frame the reader gives next

    def find(self, L: np.ndarray, expected: int) -> tuple[int, float] | None:
        """The copy frame within :data:`SEARCH_SECONDS` of ``expected`` (a copy frame number)
        most like the master frame of lightness ``L`` (its picture, (h, w) in [0, 100]; of
        equals, the nearest), and its match error; None if the copy has no frame there."""
        lo, hi = max(0, expected - self.reach), expected + self.reach + 1
        for k in [k for k in self._thumbs if not lo <= k < hi]:
            del self._thumbs[k]
        self._read_from = max(self._read_from, lo)
        self._read_upto = min(self._read_upto, hi)
        self._read(lo, hi)
        if not self._thumbs:
            return None
        numbers = sorted(self._thumbs)
        target = thumbnail(L, self.shape)
        errors = np.abs(np.stack([self._thumbs[k] for k in numbers]).astype(np.float32)
                        - target).mean((1, 2))
        best = min(range(len(numbers)), key=lambda j: (errors[j], abs(numbers[j] - expected)))
        return numbers[best], float(errors[best])

    def _read(self, lo: int, hi: int) -> None:
        """Thumbnails of the copy's frames from where the last read stopped (or from ``lo``,
        all kept ones dropped, where that is out of range) to at least ``hi`` - 1: read on
        where the reader stands there, else from a seek."""
        if lo < self._read_from or lo > self._read_upto:
            self._thumbs.clear()
            self._read_from = self._read_upto = lo
        start = self._read_upto
        if start >= hi:
            return
        if self._reader is None or self._next != start:
            self.close()
            self._reader, self._next = frames_from(self.info, start), start
        for frame in self._reader:
            k = frame_number(frame.pts, self.info)
            if k >= self._next:  # a number repeated (a copy faster than its rate): the first
                L = color.rgb_to_l(frame.rgb)
                rows, cols = picture_box(L)
                self._thumbs[k] = _thumbnail16(L[rows, cols], self.shape)
                self._next = k + 1
            if self._next >= hi:
                break
        else:
            self.close()  # the copy ended
        self._read_upto = max(hi, self._next)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
