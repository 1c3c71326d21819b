"""Tiled a/b prediction for large stills: every tile shares the whole image's context.

One render of a 100-megapixel scan gives each render pixel hundreds of scan pixels, so small
things (faces in a crowd) get one smeared colour. Here the lightness is shrunk to a *working*
copy a few times larger than the render, cut into overlapping tiles of the render's size, and
each tile is colorized on its own; but

- a fusion model's global classifier features come from the *whole* image (its render), and are
  shared by every tile, so a tile of sky still knows it belongs to a beach;
- the tiles are blended with smooth (feathered) weights, so no tile edge shows;
- the blend's low frequencies are replaced by those of the whole-image render (the "anchor"), so
  neighbouring tiles cannot settle on different colours for one wall or one sky: tiles only add
  the detail the render could not see;
- the picture's own border lies inside the tiles (the working copy is mirrored out a little),
  where networks colour well, rather than on a tile's edge.

Everything here works at working resolution (a few megapixels at most); the caller joins the
result with the full-resolution lightness (:func:`vidcolor.upsample.upsample_ab`, in strips).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vidcolor.models.protocol import ColorModel
from vidcolor.progress import Progress, no_progress

__all__ = ["TilePlan", "plan_tiles", "tile_starts", "tile_grid", "feather_1d",
           "feather_weights", "blend_tiles", "anchor_low_frequencies", "border_margin",
           "tiled_ab", "WORK_SCALE", "AUTO_SCALE", "ANCHOR_RENDER_PIXELS"]

# The working copy is at most this many times the render size (per side): 9x the render's
# pixels, ~25 tiles for any large scan. Measured on CBSD68 upscaled 4x (12 photos, against the
# upscaled truth, anchor of one render pixel): 2x, 3x and 4x give PSNR +0.011, +0.004 and
# -0.014 dB and colourfulness -0.05, +0.02, +0.12 against one render; 3x is the largest that
# costs nothing there, where no detail exists beyond the photo's own 481 pixels.
WORK_SCALE = 3
# The anchor's Gaussian sigma, in render pixels. Measured on all 68 CBSD68 photos upscaled 4x
# (working copy 3x): 1, 1.5, 2, 3 give PSNR +0.006, +0.004, +0.002, +0.004 dB (standard error
# 0.007-0.009) and colourfulness -0.01, +0.05, +0.10, +0.17 (s.e. 0.04-0.05) against one render.
# Smaller keeps more of the render's colour; larger lets the tiles' own, more vivid, colours and
# their disagreements through. With a working copy of 4x, 1 to 8 all lost 0.01 to 0.05 dB.
ANCHOR_RENDER_PIXELS = 2.0
# Automatic tiling starts where the working copy would be at least 2x the render per side;
# below that the one render already sees nearly everything.
AUTO_SCALE = 2
# Tiles predicted per model call. Measured on 2 cores (fusion, 256-pixel tiles): 4 at a time
# is ~1.6x faster per tile but holds ~340 MB more of the backend's buffers, while the ~20 tiles
# take only ~4 s of an 88 MP scan's ~25 s; memory is what large scans run out of.
TILE_BATCH = 1


@dataclass(frozen=True)
class TilePlan:
    """How a large image is cut.

    Attributes
    ----------
    work_shape : (h, w)
        Size of the working copy of L the tiles are cut from (never above the image's).
    tile : int
        Tile side in working pixels (the network's input size for each tile).
    overlap : int
        Minimum overlap of neighbouring tiles, in working pixels; also the feather ramp.
    """

    work_shape: tuple[int, int]
    tile: int
    overlap: int


def plan_tiles(height: int, width: int, render_size: int, multiple: int = 32,
               tile: int | None = None, overlap: int | None = None) -> TilePlan | None:
    """Decide whether, and how, to tile an image.

    Parameters
    ----------
    height, width : int
        The full-resolution image size.
    render_size : int
        The whole-image render's size (see :func:`vidcolor.colorize.render_shape`).
    multiple : int
        The model's preferred size multiple; the tile side is rounded to it.
    tile : int, optional
        Tile side in working pixels. None: automatic (tiles of ``render_size`` once the image
        is larger than ``AUTO_SCALE * render_size`` per side). 0: never tile. Any other value
        tiles whenever the working copy is larger than one tile.
    overlap : int, optional
        Minimum overlap between tiles; by default a quarter of the tile. Capped at half a tile.

    Returns
    -------
    TilePlan or None
        None when the image is colorized in one pass.
    """
    if tile == 0:
        return None
    if tile is not None and tile < 0:
        raise ValueError(f"tile size must be >= 0, got {tile}")
    side = math.sqrt(height * width)
    if tile is None and side <= AUTO_SCALE * render_size:
        return None
    size = max(multiple, int(round((tile or render_size) / multiple)) * multiple)
    overlap = size // 4 if overlap is None else int(overlap)
    if overlap < 0:
        raise ValueError(f"tile overlap must be >= 0, got {overlap}")
    overlap = min(overlap, size // 2)
    work_side = min(side, WORK_SCALE * render_size)
    scale = work_side / side
    work = (min(height, max(1, round(height * scale))), min(width, max(1, round(width * scale))))
    if work[0] <= size and work[1] <= size:
        return None  # one tile would be the whole working copy: that is the one-pass path
    return TilePlan(work, size, overlap)


def tile_starts(length: int, tile: int, overlap: int) -> np.ndarray:
    """Start positions of tiles covering ``[0, length)`` along one axis.

    As few tiles as keep every overlap at least ``overlap``, spread evenly, the first at 0 and
    the last ending at ``length``.

    Parameters
    ----------
    length, tile, overlap : int
        ``0 <= overlap < tile``.

    Returns
    -------
    ndarray of int64, shape (n,)
        Increasing; a single 0 when one tile (of side ``min(tile, length)``) covers everything.
    """
    if length <= tile:
        return np.zeros(1, np.int64)
    n = math.ceil((length - overlap) / (tile - overlap))
    return np.round(np.linspace(0, length - tile, n)).astype(np.int64)


def tile_grid(shape: tuple[int, int], tile: int, overlap: int) -> list[tuple[slice, slice]]:
    """The tiles of an image, row by row.

    Parameters
    ----------
    shape : (h, w)
    tile, overlap : int

    Returns
    -------
    list of (rows, cols) slices
        All of the same size, ``(min(tile, h), min(tile, w))``; together they cover the image.
    """
    h, w = shape
    th, tw = min(tile, h), min(tile, w)
    return [(slice(y, y + th), slice(x, x + tw))
            for y in tile_starts(h, tile, overlap) for x in tile_starts(w, tile, overlap)]


def feather_1d(start: int, size: int, length: int, ramp: int) -> np.ndarray:
    """Blending weights along one axis of one tile.

    The weight rises smoothly (smoothstep) from 0 at the tile's edge to 1 at ``ramp`` pixels
    inside it, except on sides that lie on the image border, which stay at 1 (nothing else
    covers those pixels). Two neighbours overlapping by exactly ``ramp`` pixels have weights
    that sum to 1 at every pixel of the overlap.

    Parameters
    ----------
    start, size : int
        The tile's extent ``[start, start + size)``.
    length : int
        The image's extent along this axis.
    ramp : int
        Ramp length in pixels (the overlap); 0 gives a flat weight.

    Returns
    -------
    ndarray of float32, shape (size,), in (0, 1]
    """
    if ramp <= 0:
        return np.ones(size, np.float32)
    i = np.arange(size, dtype=np.float64)
    # Distance of each pixel centre from the tile's edges; infinite at the image's border (an
    # array even then: a tile spanning the whole axis, as in a very narrow picture, has both).
    border = np.full(size, np.inf)
    from_start = i + 0.5 if start > 0 else border
    from_end = size - i - 0.5 if start + size < length else border
    t = np.clip(np.minimum(from_start, from_end) / ramp, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def feather_weights(rows: slice, cols: slice, shape: tuple[int, int], ramp: int) -> np.ndarray:
    """2-D blending weights of one tile: the product of the two axes' :func:`feather_1d`.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
    """
    wy = feather_1d(rows.start, rows.stop - rows.start, shape[0], ramp)
    wx = feather_1d(cols.start, cols.stop - cols.start, shape[1], ramp)
    return wy[:, None] * wx[None, :]


def blend_tiles(predict, L: np.ndarray, tile: int, overlap: int,
                progress: Progress | None = None, batch: int = TILE_BATCH,
                hints: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Predict a/b tile by tile over ``L`` and blend the tiles with feathered weights.

    Parameters
    ----------
    predict : callable
        ``predict(L (N, th, tw) float32) -> ab (N, th, tw, 2) float32``.
    L : ndarray of float32, shape (h, w), in [0, 100]
        The working copy of the lightness.
    tile, overlap : int
    progress : Progress, optional
        Told the tiles predicted so far, from 0 up to their number.
    batch : int
        Tiles per ``predict`` call.
    hints : (ab (h, w, 2), mask (h, w, 1)), optional
        Hints at L's size; each tile's are cut alike and passed as ``predict(L, hints)``.

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    progress = progress or no_progress
    grid = tile_grid(L.shape, tile, overlap)
    acc = np.zeros(L.shape + (2,), np.float32)
    total = np.zeros(L.shape, np.float32)
    progress(0, len(grid))
    for i in range(0, len(grid), batch):
        group = grid[i:i + batch]
        tiles = np.stack([L[r, c] for r, c in group])
        if hints is None:
            ab = predict(tiles)
        else:
            ab = predict(tiles, tuple(np.stack([x[r, c] for r, c in group]) for x in hints))
        for (r, c), ab_tile in zip(group, ab):
            weight = feather_weights(r, c, L.shape, overlap)
            acc[r, c] += ab_tile * weight[..., None]
            total[r, c] += weight
        progress(i + len(group), len(grid))
    # Overlaps are at least the ramp, so along each axis some tile gives every pixel a weight
    # of about 1/2 or more (see feather_1d): no division by zero, no weak spots.
    return acc / total[..., None]


def anchor_low_frequencies(ab_tiles: np.ndarray, ab_coarse: np.ndarray,
                           sigma: float) -> np.ndarray:
    """Replace the low frequencies of the tiles' a/b by those of the whole-image render.

    ``ab_tiles + blur(ab_coarse - ab_tiles)``: colour structure larger than about ``sigma``
    comes from the render that saw the whole image at once, finer structure from the tiles.
    The correction is smooth, so it can neither add edges nor seams.

    Parameters
    ----------
    ab_tiles : ndarray of float32, shape (h, w, 2)
    ab_coarse : ndarray of float32, shape (h, w, 2)
        The render's a/b, upsampled to the same size.
    sigma : float
        Gaussian standard deviation in pixels; 0 or less keeps ``ab_tiles`` as they are.

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    if sigma <= 0:
        return ab_tiles
    diff = np.ascontiguousarray(ab_coarse - ab_tiles, np.float32)
    return ab_tiles + cv2.GaussianBlur(diff, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def border_margin(plan: TilePlan) -> int:
    """How far the working copy is mirrored out before it is cut into tiles, in pixels.

    Networks colour the few pixels along their input's edges oddly (zero padding). Inside the
    picture the feathering hides that; at the picture's own border it would show, sharp at
    working resolution (measured: seam ratios up to 6 in the first rows, 1.1 with this margin).
    An eighth of a tile puts the border well inside the tiles.
    """
    h, w = plan.work_shape
    return max(0, min(plan.tile // 8, h - 1, w - 1))


def tiled_ab(model: ColorModel, L_render: np.ndarray, L_work: np.ndarray, plan: TilePlan,
             progress: Progress | None = None, anchor_sigma: float | None = None,
             ab_render: np.ndarray | None = None,
             hints: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """a/b of a large image at working resolution, from tiles that share the whole's context.

    Parameters
    ----------
    model : ColorModel
        See :class:`vidcolor.models.protocol.ColorModel`; with ``uses_global_features``, the
        whole render's features are given to every tile.
    L_render : ndarray of float32, shape (rh, rw), in [0, 100]
        The whole image at render size: the source of the shared features and of the anchor.
    L_work : ndarray of float32, shape plan.work_shape, in [0, 100]
        The working copy the tiles are cut from.
    plan : TilePlan
    progress : Progress, optional
        Told the tiles predicted so far (see :func:`blend_tiles`).
    anchor_sigma : float, optional
        See :func:`anchor_low_frequencies`, in working pixels; by default the size of two
        render pixels (``ANCHOR_RENDER_PIXELS``), so that what the whole-image render resolves
        well comes from it and the tiles add the finer detail (a face a render pixel or two
        across).
    ab_render : ndarray of float32, shape (rh, rw, 2), optional
        The whole render's a/b if already predicted (e.g. averaged over views); by default the
        model's prediction for ``L_render``. Required with ``hints`` (predicted with them).
    hints : (ab, mask), optional
        User hints at working resolution, (h, w, 2) and (h, w, 1) (see
        :meth:`ColorModel.predict_ab`), for a model with ``uses_hints``; the mirrored border
        gets none.

    Returns
    -------
    ndarray of float32, shape plan.work_shape + (2,)
    """
    if hints is not None and ab_render is None:
        raise ValueError("tiled_ab with hints needs ab_render predicted with them")
    g = model.global_features(L_render[None]) if model.uses_global_features else None

    def predict(L, tile_hints=None):
        # The contract passes global features and hints only to models that use them.
        extra = {} if g is None else {"global_features": g}
        if tile_hints is not None:
            extra["hints"] = tile_hints
        return model.predict_ab(L, **extra)

    ab_coarse = predict(L_render[None])[0] if ab_render is None else ab_render
    h, w = plan.work_shape
    m = border_margin(plan)
    padded = cv2.copyMakeBorder(L_work, m, m, m, m, cv2.BORDER_REFLECT_101)
    if hints is not None:
        hints = tuple(np.pad(np.asarray(x, np.float32), ((m, m), (m, m), (0, 0))) for x in hints)
    ab_tiles = blend_tiles(predict, padded, plan.tile, plan.overlap, progress,
                           hints=hints)[m:m + h, m:m + w]
    # Bicubic is enough here: the anchor keeps only what the render resolves (a render pixel
    # and up); finer, edge-aligned detail comes from the tiles.
    ab_coarse = cv2.resize(ab_coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    sigma = anchor_sigma
    if sigma is None:
        sigma = ANCHOR_RENDER_PIXELS * w / L_render.shape[1]
    return anchor_low_frequencies(ab_tiles, ab_coarse, sigma)
