"""Spreading colour corrections edge-aware: how hints and keyframes reach the pixels nobody hinted.

A user fixes the colour at a few places (hints, or a whole frame propagated by optical flow,
with a confidence). The model's own colour is then corrected everywhere, by the hints' a/b
minus the model's, spread so that it follows the picture's lightness: a correction crosses
smooth regions freely and stops at edges, where the lightness changes. This is Levin,
Lischinski and Weiss's "colorization using optimization" (SIGGRAPH 2004) applied to the
*correction* of a model's colour rather than to the colour itself, so that where no hint
reaches (beyond strong edges) the model's own colour remains:

    minimize  sum_{r~s} w_rs (x_r - x_s)^2 + lambda sum_r c_r (x_r - d_r)^2 + eps sum_r x_r^2

over the correction x, with d the target-minus-model a/b, c the confidence of each pixel's
target, and neighbour weights
w_rs = exp(-(L_r - L_s)^2 / (2 sigma^2)). The system is sparse and solved directly at a
working resolution of at most :data:`MAX_SOLVE_PIXELS`; the correction is smooth except at
edges, and the caller's upsampler puts edges back at full resolution.
"""

from __future__ import annotations

import numpy as np

__all__ = ["spread_corrections", "MAX_SOLVE_PIXELS"]

# The solve's size: sparse LU of a 5-point system of this many unknowns takes well under a
# second and a few hundred megabytes; larger pictures are solved shrunk.
MAX_SOLVE_PIXELS = 1 << 16

# Fixed on a tuning set of training photos before any validation set was looked at (see
# benchmarks/RESULTS.md, "Hints for photos").
EDGE_SIGMA = 2.0      # L units: neighbours this far apart in lightness are weakly tied
HINT_STRENGTH = 100.0 # lambda: how hard a confident pixel holds its target
PRIOR = 1e-5          # eps: a pull towards no correction, so every pixel is determined


def spread_corrections(L: np.ndarray, ab_pred: np.ndarray, ab_target: np.ndarray,
                       weight: np.ndarray, sigma: float = EDGE_SIGMA,
                       strength: float = HINT_STRENGTH, prior: float = PRIOR) -> np.ndarray:
    """The model's a/b corrected towards targets known at some pixels, spread edge-aware.

    Parameters
    ----------
    L : ndarray of float32, shape (H, W)
        Lightness in [0, 100]; its edges stop the corrections.
    ab_pred : ndarray of float32, shape (H, W, 2)
        The model's a/b, Lab units in about [-128, 127].
    ab_target : ndarray of float32, shape (H, W, 2)
        The wanted a/b where ``weight`` > 0 (anything elsewhere).
    weight : ndarray of float32, shape (H, W) or (H, W, 1)
        Confidence of each pixel's target in [0, 1]; 0 where nothing is known.
    sigma, strength, prior : float
        The edge scale in L units, how hard a confident pixel holds its target, and the pull
        towards no correction (see the module's docstring).

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
    d = (np.asarray(ab_target, np.float32) - ab_pred) * weight[..., None]
    scale = min(1.0, float(np.sqrt(MAX_SOLVE_PIXELS / (H * W))))
    h, w = max(1, round(H * scale)), max(1, round(W * scale))
    if (h, w) != (H, W):
        L_s = cv2.resize(L, (w, h), interpolation=cv2.INTER_AREA)
        c = cv2.resize(weight, (w, h), interpolation=cv2.INTER_AREA)
        dw = cv2.resize(d, (w, h), interpolation=cv2.INTER_AREA)
    else:
        L_s, c, dw = L, weight, d
    # dw is the confidence-weighted correction; per pixel d = dw / c where c > 0.
    x = solve_corrections(L_s.astype(np.float32), dw.astype(np.float32), c.astype(np.float32),
                          sigma, strength, prior)
    if (h, w) != (H, W):
        x = cv2.resize(x, (W, H), interpolation=cv2.INTER_LINEAR)
    return np.clip(ab_pred + x, -128.0, 127.0).astype(np.float32)


def solve_corrections(L: np.ndarray, weighted_d: np.ndarray, c: np.ndarray, sigma: float,
                      strength: float, prior: float) -> np.ndarray:
    """The minimizer x of the module's energy on an (h, w) grid.

    Parameters
    ----------
    L : ndarray of float32, shape (h, w), in [0, 100]
    weighted_d : ndarray of float32, shape (h, w, 2)
        ``c * d``: each pixel's correction times its confidence.
    c : ndarray of float32, shape (h, w), in [0, 1]
    sigma, strength, prior : float

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    h, w = L.shape
    n = h * w
    index = np.arange(n).reshape(h, w)
    rows, cols, vals = [], [], []
    for a, b, La, Lb in ((index[:, :-1], index[:, 1:], L[:, :-1], L[:, 1:]),
                         (index[:-1, :], index[1:, :], L[:-1, :], L[1:, :])):
        tie = np.exp(-((La - Lb) ** 2) / (2.0 * sigma * sigma)).ravel()
        rows += [a.ravel(), b.ravel()]
        cols += [b.ravel(), a.ravel()]
        vals += [-tie, -tie]
    off = np.concatenate(vals)
    degree = -np.bincount(np.concatenate(rows), off, minlength=n)
    diagonal = degree + strength * c.ravel() + prior
    A = coo_matrix((np.concatenate([off, diagonal]),
                    (np.concatenate(rows + [np.arange(n)]), np.concatenate(cols + [np.arange(n)]))),
                   shape=(n, n)).tocsc()
    rhs = strength * weighted_d.reshape(n, 2).astype(np.float64)
    x = splu(A).solve(rhs)
    return x.reshape(h, w, 2).astype(np.float32)
