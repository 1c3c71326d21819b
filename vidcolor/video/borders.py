"""Black bars around a film's picture: a letterbox (bars above and below) or a pillarbox (bars
either side), as a colour copy on 4:3 tape shows a widescreen film, or an HD scan a 4:3 one.

The bars are found frame by frame and alike on the master and on its colour copy
(:class:`vidcolor.video.colour_copy.ColourCopyStep`), so the two pictures are compared without
the bars one has and the other lacks. A bar is a run of lines at the frame's edge that are
dark and flat (:data:`BLACK_L`, :data:`BAR_SPREAD`), matched by one as wide on the opposite
edge (:data:`BAR_TOLERANCE`): a letterbox centres its picture, while a dark sky or a vignette
darkens one edge or has texture along its lines.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BAR_SPREAD", "BAR_TOLERANCE", "BLACK_L", "MIN_BAR", "MIN_PICTURE", "picture_box"]

#: A bar's line has a mean lightness (L units, [0, 100]) at most this...
BLACK_L = 10.0
#: ... and a spread (standard deviation along the line, L units) at most this: a compressed
#: copy's bars ring next to the picture (about 1.5 L at JPEG quality 30), a scene has texture.
BAR_SPREAD = 3.0
#: Each bar of a pair is at least this share of the side (a dark line or two at the edge of a
#: scan is not a letterbox; a 16:9 film letterboxed in 4:3 has bars of 1/8 each).
MIN_BAR = 1 / 40
#: The two bars of a pair differ by at most this share of the side (at least 2 lines).
BAR_TOLERANCE = 1 / 50
#: The picture left between the bars is at least this share of the side (a frame faded to
#: black is all "bar": it keeps its whole frame).
MIN_PICTURE = 0.5


def picture_box(L: np.ndarray) -> tuple[slice, slice]:
    """The picture inside a frame's black bars.

    Parameters
    ----------
    L : ndarray, shape (h, w)
        The frame's lightness in [0, 100].

    Returns
    -------
    rows, cols : slice
        The picture's rows and columns: the whole frame's where it has no pair of bars.
    """
    h, w = L.shape
    top, bottom = _bars(L.mean(1), L.std(1))
    left, right = _bars(L.mean(0), L.std(0))
    return slice(top, h - bottom), slice(left, w - right)


def _bars(mean: np.ndarray, spread: np.ndarray) -> tuple[int, int]:
    """The lines of a pair of bars at the two ends of a side, from each line's mean and
    spread (n,); (0, 0) where the side has no such pair."""
    n = len(mean)
    bar = (mean <= BLACK_L) & (spread <= BAR_SPREAD)
    first, last = _run(bar), _run(bar[::-1])
    if (min(first, last) < max(1.0, MIN_BAR * n)
            or abs(first - last) > max(2.0, BAR_TOLERANCE * n)
            or n - first - last < MIN_PICTURE * n):
        return 0, 0
    return first, last


def _run(flags: np.ndarray) -> int:
    """How many of ``flags`` are true from its start before the first false."""
    false = np.flatnonzero(~flags)
    return int(false[0]) if len(false) else len(flags)
