"""Spreading colour corrections edge-aware: how hints and keyframes reach the pixels nobody hinted.

A user fixes the colour at a few places (hints, or a whole frame propagated by optical flow,
with a confidence). The model's own colour is then corrected everywhere, by the hints' a/b
minus the model's, spread so that it follows the picture: a correction crosses smooth regions
freely and stops at edges, where the lightness changes, and it jumps to pixels elsewhere that
look alike (same lightness, same colour from the model, not too far), so one hint on a sky
torn by branches reaches all of it. This is Levin, Lischinski and Weiss's "colorization using
optimization" (SIGGRAPH 2004) with the non-local ties of KNN matting (Chen, Li and Tang, CVPR
2012), applied to the *correction* of a model's colour rather than to the colour itself, so
that where no hint reaches the model's own colour remains:

    minimize  sum_{r~s} w_rs (x_r - x_s)^2 + kappa sum_{s in N(r)} v_rs (x_r - x_s)^2
              + lambda sum_r c_r (x_r - d_r)^2 + eps sum_r x_r^2

over the correction x, with d the target-minus-model a/b, c the confidence of each pixel's
target, 4-neighbour weights w_rs = exp(-(L_r - L_s)^2 / (2 sigma^2)), N(r) the k pixels
nearest to r in the feature space f = (L / s_L, a / s_ab, b / s_ab, x / s_xy, y / s_xy) of
lightness, the model's a/b and place, and v_rs = exp(-|f_r - f_s|^2 / 2). The system is
sparse and solved directly at a working resolution of at most ``max_pixels``; the
correction is smooth except at edges, and the caller's upsampler puts edges back at full
resolution. A film's frames give systems of one sparsity pattern, frame after frame: a spread
made with :meth:`CorrectionSpread.for_film` keeps its factorization's ordering and symbolic
analysis from frame to frame (:class:`SamePatternSolver`) and redoes only the numbers.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["CorrectionSpread", "PHOTO_SPREAD", "FILM_SPREAD", "SamePatternSolver"]


@dataclass(frozen=True)
class CorrectionSpread:
    """The module's energy with its constants; called, it spreads corrections.

    Parameters
    ----------
    max_pixels : int
        The solve's size: larger pictures are solved shrunk.
    sigma : float
        Edge scale of the 4-neighbour ties, L units.
    strength : float
        lambda: how hard a confident pixel holds its target.
    prior : float
        eps: a pull towards no correction, so every pixel is determined.
    neighbours : int
        k: non-local ties of each pixel (0: none, Levin et al. alone).
    nonlocal_tie : float
        kappa: their strength against a 4-neighbour tie's (at most 1).
    scales : (s_L, s_ab, s_xy)
        The feature space's units: Lab units for lightness and a/b, a fraction of the solve
        grid's side sqrt(h w) for place.
    solver : callable, optional
        ``solver(A, rhs) -> x`` for the sparse system; None: :func:`solve`.
    """

    max_pixels: int = 1 << 14
    sigma: float = 2.0
    strength: float = 100.0
    prior: float = 1e-4
    neighbours: int = 10
    nonlocal_tie: float = 0.03
    scales: tuple[float, float, float] = (10.0, 10.0, 50.0 / 128.0)
    solver: Callable | None = field(default=None, compare=False, repr=False)

    def for_film(self) -> "CorrectionSpread":
        """The same spread for the frames of one film, one after the other: its solver keeps
        what the systems of one sparsity pattern share (:class:`SamePatternSolver`). Local
        ties alone give every frame of a film the same pattern."""
        return dataclasses.replace(self, solver=SamePatternSolver())

    def __call__(self, L: np.ndarray, ab_pred: np.ndarray, ab_target: np.ndarray,
                 weight: np.ndarray) -> np.ndarray:
        """The model's a/b corrected towards targets known at some pixels, spread edge-aware.

        Parameters
        ----------
        L : ndarray of float32, shape (H, W)
            Lightness in [0, 100]; its edges stop the corrections.
        ab_pred : ndarray of float32, shape (H, W, 2)
            The model's a/b, Lab units in about [-128, 127]; pixels it colours alike share
            corrections.
        ab_target : ndarray of float32, shape (H, W, 2)
            The wanted a/b where ``weight`` > 0 (anything elsewhere).
        weight : ndarray of float32, shape (H, W) or (H, W, 1)
            Confidence of each pixel's target in [0, 1]; 0 where nothing is known.

        Returns
        -------
        ndarray of float32, shape (H, W, 2)
            ``ab_pred`` itself when no weight is positive; else the corrected a/b, in
            [-128, 127].
        """
        weight = np.asarray(weight, np.float32).reshape(L.shape)
        if not np.any(weight > 0):
            return ab_pred
        import cv2

        H, W = L.shape
        ab_pred = np.asarray(ab_pred, np.float32)
        d = (np.asarray(ab_target, np.float32) - ab_pred) * weight[..., None]
        scale = min(1.0, float(np.sqrt(self.max_pixels / (H * W))))
        h, w = max(1, round(H * scale)), max(1, round(W * scale))
        planes = (np.asarray(L, np.float32), ab_pred, d, weight)
        if (h, w) != (H, W):
            planes = [cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA) for p in planes]
        L_s, ab_s, dw, c = planes
        if self.neighbours == 0 and isinstance(self.solver, SamePatternSolver):
            # The film's path: the upper triangle straight from the ties, in the kept pattern.
            upper = local_system_upper(L_s, self.sigma, self.strength * c.ravel(), self.prior)
            x = self.solver.solve_upper(upper, self.strength * dw.reshape(-1, 2))
            return _corrected(ab_pred, x.reshape(h, w, 2), (H, W))
        A = local_ties(L_s, self.sigma)
        if self.neighbours > 0:
            A = A + nonlocal_ties(L_s, ab_s, self.neighbours, self.nonlocal_tie, self.scales)
        A = A.tocsc()
        A.setdiag(A.diagonal() + self.strength * c.ravel() + self.prior)
        # dw is the confidence-weighted correction; per pixel d = dw / c where c > 0.
        x = (self.solver or solve)(A, self.strength * dw.reshape(-1, 2)).reshape(h, w, 2)
        return _corrected(ab_pred, x, (H, W))


def _corrected(ab_pred: np.ndarray, x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``ab_pred`` (H, W, 2) plus the solved correction ``x`` (h, w, 2), upsampled to
    ``shape`` (H, W), within [-128, 127]."""
    import cv2

    if x.shape[:2] != tuple(shape):
        x = cv2.resize(x, shape[::-1], interpolation=cv2.INTER_LINEAR)
    return np.clip(ab_pred + x, -128.0, 127.0).astype(np.float32)


# Photos' hints. Fixed on a tuning set of training photos before any validation set was
# looked at (benchmarks/RESULTS.md, "Hints for photos"). A coarse solve spreads as well as a
# fine one, and non-local ties make the sparse LU fill in far more than a 5-point system's.
PHOTO_SPREAD = CorrectionSpread()

# Film keyframes' untrusted pixels: local ties alone, as tuned with the keyframe carrying.
# Which pixels are nearest in feature space jumps with the smallest change of its input, so
# a resumed film (its state kept at float16) would no longer match one run. Solved as coarse
# as the photos' spread: on the development clips as good as at 2^16 pixels, a quarter of
# the work a frame.
FILM_SPREAD = CorrectionSpread(max_pixels=1 << 14, prior=1e-5, neighbours=0)


def _laplacian(rows: np.ndarray, cols: np.ndarray, ties: np.ndarray, n: int):
    """The graph Laplacian of symmetric ties ``ties`` between ``rows`` and ``cols``, (n, n)."""
    from scipy.sparse import coo_matrix

    r = np.concatenate([rows, cols])
    c = np.concatenate([cols, rows])
    t = np.concatenate([ties, ties]).astype(np.float64)
    degree = np.bincount(r, t, minlength=n)
    index = np.arange(n)
    return coo_matrix((np.concatenate([-t, degree]),
                       (np.concatenate([r, index]), np.concatenate([c, index]))), shape=(n, n))


def local_ties(L: np.ndarray, sigma: float):
    """Laplacian of the 4-neighbour ties exp(-(L_r - L_s)^2 / (2 sigma^2)).

    Parameters
    ----------
    L : ndarray of float32, shape (h, w), in [0, 100]
    sigma : float
        The edge scale, L units.

    Returns
    -------
    scipy.sparse matrix, shape (h w, h w)
    """
    rows, cols, _ = _grid(*L.shape)
    return _laplacian(rows, cols, _local_tie_values(L, sigma), L.size)


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The 4-neighbour pairs of an (h, w) grid, (row, col) with row < col: the horizontal
    ones, then the vertical; and the upper triangle of their Laplacian as CSC (indptr,
    indices, and ``order``: where each stored value is in [ties..., diagonal...])."""
    from scipy.sparse import coo_matrix

    n = h * w
    index = np.arange(n).reshape(h, w)
    rows = np.concatenate([index[:, :-1].ravel(), index[:-1, :].ravel()])
    cols = np.concatenate([index[:, 1:].ravel(), index[1:, :].ravel()])
    where = np.arange(1, rows.size + n + 1, dtype=np.float64)  # 1-based: no entry is zero
    upper = coo_matrix((where, (np.concatenate([rows, np.arange(n)]),
                                np.concatenate([cols, np.arange(n)]))), shape=(n, n)).tocsc()
    upper.sort_indices()
    order = upper.data.astype(np.int64) - 1
    for a in (rows, cols, upper.indptr, upper.indices, order):
        a.flags.writeable = False
    return rows, cols, (upper.indptr, upper.indices, order)


def _local_tie_values(L: np.ndarray, sigma: float) -> np.ndarray:
    """exp(-(L_r - L_s)^2 / (2 sigma^2)) of :func:`_grid`'s pairs, float32."""
    diff = np.concatenate([(L[:, :-1] - L[:, 1:]).ravel(), (L[:-1, :] - L[1:, :]).ravel()])
    return np.exp(-(diff ** 2) / (2.0 * sigma * sigma))


def local_system_upper(L: np.ndarray, sigma: float, confidence: np.ndarray, prior: float):
    """The upper triangle of :func:`local_ties` + diag(``confidence`` + ``prior``), as CSC
    in one kept pattern per grid size (values as :meth:`CorrectionSpread.__call__` makes them
    through scipy, to the bit).

    Parameters
    ----------
    L : ndarray of float32, shape (h, w), in [0, 100]
    sigma : float
    confidence : ndarray of float32, shape (h w,)
        Each pixel's lambda c_r.
    prior : float

    Returns
    -------
    scipy.sparse.csc_matrix, shape (h w, h w)
    """
    from scipy.sparse import csc_matrix

    rows, cols, (indptr, indices, order) = _grid(*L.shape)
    ties = _local_tie_values(L, sigma).astype(np.float64)
    degree = np.bincount(np.concatenate([rows, cols]), np.concatenate([ties, ties]),
                         minlength=L.size)
    values = np.concatenate([-ties, degree + confidence + prior])[order]
    return csc_matrix((values, indices, indptr), shape=(L.size, L.size))


def nonlocal_ties(L: np.ndarray, ab: np.ndarray, k: int, strength: float,
                  scales: tuple[float, float, float]):
    """Laplacian of each pixel's ties to its ``k`` nearest in (lightness, a/b, place).

    Parameters
    ----------
    L : ndarray of float32, shape (h, w), in [0, 100]
    ab : ndarray of float32, shape (h, w, 2), in about [-128, 127]
    k : int
    strength : float
        kappa of the module's energy.
    scales : (s_L, s_ab, s_xy)
        Lab units for lightness and a/b, a fraction of sqrt(h w) for place.

    Returns
    -------
    scipy.sparse matrix, shape (h w, h w)
    """
    from scipy.spatial import cKDTree

    h, w = L.shape
    n = h * w
    k = min(k, n - 1)
    if k < 1:  # a one-pixel picture has no other pixel to tie to
        return _laplacian(np.zeros(0, int), np.zeros(0, int), np.zeros(0), n)
    s_l, s_ab, s_xy = scales
    s_xy = s_xy * np.sqrt(n)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    features = np.stack([L / s_l, ab[..., 0] / s_ab, ab[..., 1] / s_ab, x / s_xy, y / s_xy],
                        -1).reshape(n, 5)
    distance, nearest = cKDTree(features).query(features, k + 1)
    # The nearest is mostly the pixel itself, but not always among equal features: drop
    # self-ties wherever they are rather than the first column.
    rows = np.repeat(np.arange(n), k + 1)
    cols = nearest.ravel()
    keep = rows != cols
    ties = strength * np.exp(-0.5 * distance.ravel() ** 2)
    return _laplacian(rows[keep], cols[keep], ties[keep], n)


def solve(A, rhs: np.ndarray) -> np.ndarray:
    """x with A x = rhs for a sparse symmetric positive definite A; rhs (n, m), x float32."""
    from scipy.sparse.linalg import splu

    return splu(A).solve(np.asarray(rhs, np.float64)).astype(np.float32)


class SamePatternSolver:
    """Solves sparse symmetric positive definite systems that share one sparsity pattern, one
    after the other: QDLDL's LDL^T factorization, whose fill-reducing ordering and symbolic
    analysis are done for the first system and kept while the pattern stays; each later one
    redoes only the numbers (a film's spread at 2^14 pixels: about a quarter of SuperLU's time
    a frame; ``benchmarks/RESULTS.md``, "Colour keyframes for film").

    Not for several threads at once: each film's spread holds its own.
    """

    def __init__(self):
        self._solver = None
        self._pattern: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, A, rhs: np.ndarray) -> np.ndarray:
        """x with A x = rhs; A (n, n) sparse, rhs (n, m); x float32."""
        from scipy.sparse import triu

        upper = triu(A, format="csc")
        upper.sort_indices()
        return self.solve_upper(upper, rhs)

    def solve_upper(self, upper, rhs: np.ndarray) -> np.ndarray:
        """:meth:`__call__` given A's upper triangle (CSC, indices sorted)."""
        import qdldl

        pattern = self._pattern
        if (pattern is not None and np.array_equal(pattern[0], upper.indptr)
                and np.array_equal(pattern[1], upper.indices)):
            self._solver.update(upper, upper=True)
        else:
            self._solver = qdldl.Solver(upper, upper=True)
            self._pattern = (upper.indptr.copy(), upper.indices.copy())
        rhs = np.asarray(rhs, np.float64)
        return np.stack([self._solver.solve(np.ascontiguousarray(rhs[:, j]))
                         for j in range(rhs.shape[1])], 1).astype(np.float32)
