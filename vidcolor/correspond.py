"""Colour by correspondence: each pixel's colour taken from the colour pictures' pixels that look
alike in deep features.

Where a colour picture of the same scene is known (a film's keyframe, a reference photo) but
the flow or the place does not say which of its pixels a pixel of another picture shows,
exemplar-based colorization (Deep Exemplar, He et al. 2018; BiSTNet; ColorMNet) matches them by
features: each cell of the query's stride-8 grid is compared with every cell of the exemplars'
(cosine similarity of the network's own backbone features, minus a lightness term), and takes
the softmax-weighted colour of its best ``k`` matches, relit to its own lightness. The
*confidence* says where that colour can be believed: low where even the best match is weak, or
where the best matches disagree on the colour.

The API, on arrays (render-size pictures, L in [0, 100], a/b in about [-128, 127]):

- features come from the model: :meth:`vidcolor.models.protocol.ColorModel.match_features`,
  ``(N, h, w) L -> (N, ceil(h/8), ceil(w/8), C)`` float32, unit-length per cell (or None);
  :func:`backbone_features` joins a backbone's stride-8 and stride-16 maps into them;
- :func:`exemplar` ``(features, L, ab, source) -> Exemplar``: a colour picture on the grid;
- :func:`correspond` ``(features, L, exemplars, matching, where) -> (ab, confidence)`` on the
  query's grid (ab (gh, gw, 2), confidence (gh, gw) in [0, 1]), only the ``where`` cells;
- :func:`to_render` ``(ab, confidence, L) -> (ab, confidence)`` at the render size, the colour
  upsampled guided by the picture's lightness (:func:`vidcolor.upsample.upsample_ab`);
- :func:`grid_shape` ``(h, w) -> (gh, gw)``; :func:`on_grid` ``(x, grid)``: a render-size
  array area-averaged onto the grid;
- :class:`Matching`: the matching's constants (``k``, temperature, lightness scale, the
  similarities that mean "no match" and "a sure match", the colour spread that means "the
  matches disagree").

Nothing here reads a file or knows about films; the keyframes' guide
(:mod:`vidcolor.video.keyframes.guide`) and the reference photos use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numba
import numpy as np

__all__ = ["GRID_STRIDE", "Exemplar", "Matching", "backbone_features", "correspond",
           "correspond_where", "exemplar", "grid_shape", "on_grid", "to_render"]

#: Render pixels per grid cell, each way (the backbone's stride-8 features).
GRID_STRIDE = 8


def grid_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """The grid of a render of ``shape`` (h, w): ``(ceil(h / 8), ceil(w / 8))``."""
    h, w = shape
    return -(-h // GRID_STRIDE), -(-w // GRID_STRIDE)


def on_grid(x: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A render-size array (h, w) or (h, w, C) area-averaged onto a grid (gh, gw), float32."""
    x = np.asarray(x, np.float32)
    if x.shape[:2] == tuple(grid):
        return x
    return cv2.resize(x, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Exemplar:
    """A colour picture on the stride-8 grid, ready to be matched.

    Attributes
    ----------
    features : ndarray of float32, shape (n, C)
        Per cell (row-major), unit-length features.
    L : ndarray of float32, shape (n,), in [0, 100]
    ab : ndarray of float32, shape (n, 2), in about [-128, 127]
    grid : (gh, gw)
        n = gh * gw.
    source : object
        Where it came from (a keyframe's pts, a photo's path): the caller's label.
    """

    features: np.ndarray
    L: np.ndarray
    ab: np.ndarray
    grid: tuple[int, int]
    source: object = None


def exemplar(features: np.ndarray, L: np.ndarray, ab: np.ndarray,
             source: object = None) -> Exemplar:
    """A colour picture as an :class:`Exemplar`.

    Parameters
    ----------
    features : ndarray of float32, shape (gh, gw, C)
        Its :meth:`~vidcolor.models.protocol.ColorModel.match_features` (one picture's).
    L : ndarray of float32, shape (h, w), in [0, 100]
        Its lightness at the render size the features were computed at (or already on the
        grid).
    ab : ndarray of float32, shape (h, w, 2)
        Its a/b, the same size as ``L``.
    source : object, optional
        A label kept with it.
    """
    grid = features.shape[:2]
    n = grid[0] * grid[1]
    return Exemplar(_unit(features.reshape(n, -1)), on_grid(L, grid).reshape(n),
                    on_grid(ab, grid).reshape(n, 2), tuple(grid), source)


@dataclass(frozen=True)
class Matching:
    """The matching's constants.

    Parameters
    ----------
    k : int
        Best matches each cell's colour is taken from.
    temperature : float
        Of the softmax over the matches' scores (cosine similarity units).
    sigma_L : float
        Lightness scale, L units: a match ``sigma_L`` darker or lighter loses 0.5 (times
        ``lightness``) of score.
    lightness : float
        Weight of the lightness term against the feature similarity.
    no_match, sure_match : float
        Best scores at which the confidence is 0 and 1 (linear between).
    spread_ab : float
        Weighted standard deviation of the matches' a/b (Lab units) at which their agreement
        counts exp(-1/2).
    """

    k: int = 8
    temperature: float = 0.05
    sigma_L: float = 10.0
    lightness: float = 0.1
    no_match: float = 0.35
    sure_match: float = 0.65
    spread_ab: float = 12.0


def correspond(features: np.ndarray, L: np.ndarray, exemplars: list[Exemplar],
               matching: Matching = Matching(), where: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Each grid cell's colour from its best matches among the exemplars' cells.

    Parameters
    ----------
    features : ndarray of float32, shape (gh, gw, C)
        The query's match features.
    L : ndarray of float32, shape (h, w) or (gh, gw), in [0, 100]
        The query's lightness (area-averaged onto the grid here).
    exemplars : list of Exemplar
        Their features of the same C.
    matching : Matching
    where : ndarray of bool, shape (gh, gw), optional
        The cells to match (the others get a/b 0 and confidence 0); default: all.

    Returns
    -------
    ab : ndarray of float32, shape (gh, gw, 2)
        The matches' a/b, softmax-weighted by score, each relit to the cell's lightness
        (darker: less chroma, never more than the exemplar had); 0 without exemplars.
    confidence : ndarray of float32, shape (gh, gw), in [0, 1]
        How sure the best score is (:attr:`Matching.no_match` .. :attr:`Matching.sure_match`)
        times how much the matches agree on the colour (:attr:`Matching.spread_ab`).
    """
    grid = features.shape[:2]
    ab_out = np.zeros(grid + (2,), np.float32)
    conf_out = np.zeros(grid, np.float32)
    cells = np.ones(grid, bool) if where is None else np.asarray(where, bool)
    if not exemplars or not cells.any():
        return ab_out, conf_out
    query = _unit(features[cells])
    L_q = on_grid(L, grid)[cells]
    keys = np.concatenate([e.features for e in exemplars])
    L_e = np.concatenate([e.L for e in exemplars])
    ab_e = np.concatenate([e.ab for e in exemplars])
    similarity = _similarity(query, np.ascontiguousarray(keys, np.float32))
    k = min(matching.k, len(L_e))
    scale = np.float32(matching.lightness * 0.5 / matching.sigma_L ** 2)
    best, top = _best_matches(similarity, L_q, L_e, scale, k)
    weight = np.exp((top - top.max(1, keepdims=True)) / matching.temperature)
    weight /= weight.sum(1, keepdims=True)
    ratio = np.clip((L_q[:, None] + 16.0) / (L_e[best] + 16.0), 0.0, 1.0)
    ab_k = ab_e[best] * ratio[..., None]
    ab = np.einsum("mk,mkc->mc", weight, ab_k)
    spread = np.einsum("mk,mk->m", weight, ((ab_k - ab[:, None]) ** 2).sum(-1))
    sure = np.clip((top.max(1) - matching.no_match)
                   / (matching.sure_match - matching.no_match), 0.0, 1.0)
    agree = np.exp(-spread / (2.0 * matching.spread_ab ** 2))
    ab_out[cells] = ab
    conf_out[cells] = sure * agree
    return ab_out, conf_out


def correspond_where(features: np.ndarray, L: np.ndarray, exemplars: list[Exemplar],
                     weight: np.ndarray, threshold: float, matching: Matching = Matching(),
                     base: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`correspond` on the grid cells where the render-size ``weight`` (h, w) averages
    at least ``threshold``, then :func:`to_render`; the other cells keep ``base`` (h, w, 2)
    where given (else a/b 0), with confidence 0. None where no cell is matched."""
    grid = features.shape[:2]
    where = on_grid(weight, grid) >= threshold
    if not where.any():
        return None
    ab, confidence = correspond(features, L, exemplars, matching, where)
    if base is not None:
        ab[~where] = on_grid(base, grid)[~where]
    return to_render(ab, confidence, L)


def to_render(ab: np.ndarray, confidence: np.ndarray, L: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Grid colour and confidence at the render size.

    Parameters
    ----------
    ab : ndarray of float32, shape (gh, gw, 2)
    confidence : ndarray of float32, shape (gh, gw), in [0, 1]
    L : ndarray of float32, shape (h, w), in [0, 100]
        The picture's render-size lightness: the colour's edges follow it
        (:func:`vidcolor.upsample.upsample_ab`, the grid's L as the small guide).

    Returns
    -------
    ab : ndarray of float32, shape (h, w, 2)
    confidence : ndarray of float32, shape (h, w), in [0, 1]
        Bilinear.
    """
    from vidcolor.upsample import upsample_ab

    h, w = L.shape
    L = np.asarray(L, np.float32)
    # The grid's cells cover the render exactly when h and w are multiples of the stride;
    # otherwise the render is padded (edge) to the grid's cover and cropped back.
    gh, gw = ab.shape[:2]
    H, W = gh * GRID_STRIDE, gw * GRID_STRIDE
    L_cover = np.pad(L, ((0, H - h), (0, W - w)), mode="edge")
    up = upsample_ab(np.asarray(ab, np.float32), on_grid(L_cover, (gh, gw)), L_cover)
    conf = cv2.resize(np.asarray(confidence, np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    return (np.ascontiguousarray(up[:h, :w]),
            np.ascontiguousarray(np.clip(conf[:h, :w], 0.0, 1.0)))


def backbone_features(f8: np.ndarray, f16: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Match features from a backbone's stride-8 and stride-16 maps: each L2-normalized per
    cell, the stride-16 one upsampled (bilinear) to stride 8, joined, the whole unit-length.

    Parameters
    ----------
    f8 : ndarray, shape (N, h8, w8, C8)
    f16 : ndarray, shape (N, h16, w16, C16)
        Of a padded input: both are cropped to ``grid`` (gh, gw) cells at stride 8.

    Returns
    -------
    ndarray of float32, shape (N, gh, gw, C8 + C16)
    """
    gh, gw = grid
    f8 = np.asarray(f8, np.float32)
    f16 = np.asarray(f16, np.float32)
    n, h8, w8 = f8.shape[:3]
    up = np.stack([cv2.resize(f, (w8, h8), interpolation=cv2.INTER_LINEAR).reshape(h8, w8, -1)
                   for f in f16])
    parts = [_unit(x[:, :gh, :gw].reshape(-1, x.shape[-1])) for x in (f8, up)]
    joined = np.concatenate(parts, -1) / np.float32(np.sqrt(2.0))
    return joined.reshape(n, gh, gw, -1)


@numba.njit(nogil=True, cache=True, fastmath=True)
def _similarity(query, keys):
    """``query @ keys.T`` ((m, C) and (n, C) float32) in this thread: numpy's BLAS would
    wake a second thread for it, whose busy wait after these small products cost a film's
    run more CPU than the products themselves (benchmarks/RESULTS.md, "Colour keyframes for
    film")."""
    m, n = query.shape[0], keys.shape[0]
    out = np.empty((m, n), np.float32)
    for i in range(m):
        for j in range(n):
            s = np.float32(0.0)
            for c in range(query.shape[1]):
                s += query[i, c] * keys[j, c]
            out[i, j] = s
    return out


@numba.njit(nogil=True, cache=True)
def _best_matches(similarity, L_q, L_e, scale, k):
    """Per query row, the ``k`` best scores ``similarity - scale (L_q - L_e)^2`` and their
    columns, in one pass (argpartition over the whole matrix took most of the time)."""
    m, n = similarity.shape
    best = np.empty((m, k), np.int64)
    top = np.empty((m, k), np.float32)
    for i in range(m):
        filled = 0
        for j in range(n):
            d = L_q[i] - L_e[j]
            s = similarity[i, j] - scale * d * d
            if filled < k:
                pos = filled
                filled += 1
            elif s > top[i, k - 1]:
                pos = k - 1
            else:
                continue
            # Insertion into the row's sorted (descending) list.
            while pos > 0 and top[i, pos - 1] < s:
                top[i, pos] = top[i, pos - 1]
                best[i, pos] = best[i, pos - 1]
                pos -= 1
            top[i, pos] = s
            best[i, pos] = j
    return best, top


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (n, C) scaled to unit length (zero rows stay zero), float32."""
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)
