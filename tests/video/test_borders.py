"""Black bars around a picture (letterbox, pillarbox), found frame by frame."""

from __future__ import annotations

import numpy as np

from vidcolor.video.borders import picture_box


def _picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A textured picture's lightness (h, w) in about [20, 80]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    return (50 + 20 * np.sin(xx / 7.0) * np.cos(yy / 5.0)
            + rng.normal(0, 4, (h, w))).astype(np.float32)


def _boxed(picture: np.ndarray, rows: int = 0, cols: int = 0, ringing: float = 0.0,
           seed: int = 1) -> np.ndarray:
    """``picture`` with black bars of ``rows`` lines above and below and ``cols`` either side,
    the bars ringing by up to ``ringing`` L as a compressed copy's do."""
    h, w = picture.shape
    frame = np.zeros((h + 2 * rows, w + 2 * cols), np.float32)
    frame[rows:rows + h, cols:cols + w] = picture
    if ringing:
        noise = np.random.default_rng(seed).uniform(0, ringing, frame.shape)
        bars = np.ones(frame.shape, bool)
        bars[rows:rows + h, cols:cols + w] = False
        frame[bars] += noise[bars].astype(np.float32)
    return frame


def test_a_letterbox_and_a_pillarbox_are_found_even_ringing():
    picture = _picture(90, 160)
    rows, cols = picture_box(_boxed(picture, rows=15, ringing=4.0))
    assert (rows, cols) == (slice(15, 105), slice(0, 160))
    rows, cols = picture_box(_boxed(_picture(120, 160), cols=24))
    assert (rows, cols) == (slice(0, 120), slice(24, 184))
    rows, cols = picture_box(_boxed(picture, rows=10, cols=12))  # both: a window box
    assert (rows, cols) == (slice(10, 100), slice(12, 172))


def test_a_frame_without_a_pair_of_bars_is_kept_whole():
    h, w = 120, 160
    whole = (slice(0, h), slice(0, w))
    night = _picture(h, w)
    night[:20] = 2.0  # a dark flat sky above, nothing below: not a letterbox
    assert picture_box(night) == whole
    uneven = _boxed(_picture(80, w), rows=0)
    uneven = np.concatenate([np.zeros((30, w), np.float32), uneven,
                             np.zeros((10, w), np.float32)])
    assert picture_box(uneven) == (slice(0, 120), slice(0, w))  # 30 and 10 lines: no pair
    dark = _picture(h, w)  # dark above and below, as dark as bars, but with texture
    dark[:15] = np.random.default_rng(2).uniform(0, 15, (15, w))
    dark[-15:] = np.random.default_rng(3).uniform(0, 15, (15, w))
    assert picture_box(dark) == whole
    assert picture_box(np.zeros((h, w), np.float32)) == whole  # faded to black
    assert picture_box(_boxed(_picture(h - 2, w), rows=1)) == whole  # a scan's dark edge
