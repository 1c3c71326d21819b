"""Losses on a/b / 128 targets, in Keras ops (any backend).

- ``mse``: the article's loss. Averages plausible colours into brown.
- ``huber``: robust regression, scaled by 1/delta so large errors give unit gradients.
- :func:`rebalanced_cross_entropy`: Zhang et al.'s classification over quantized a/b with soft
  targets (Gaussian over the bin centres) and class rebalancing, which keeps rare vivid colours
  from being out-voted by common dull ones.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred))


def huber(delta: float = 0.08):
    def loss(y_true, y_pred):
        err = ops.abs(y_true - y_pred)
        quadratic = ops.minimum(err, delta)
        return ops.mean(0.5 * quadratic * quadratic + delta * (err - quadratic)) / delta

    loss.__name__ = "huber"
    return loss


def _soft_targets(y_true, bins, sigma):
    ab = ops.expand_dims(y_true * 128.0, -2)  # (N, h, w, 1, 2)
    d2 = ops.sum(ops.square(ab - bins), axis=-1)  # (N, h, w, Q)
    return ops.softmax(-d2 / (2.0 * sigma * sigma), axis=-1), ops.argmin(d2, axis=-1)


def rebalanced_cross_entropy(bins: np.ndarray, class_weights: np.ndarray, sigma: float = 5.0):
    """Cross-entropy against soft-encoded a/b, weighted by the rarity of the nearest bin.

    Parameters
    ----------
    bins : ndarray, shape (Q, 2)
        a/b centres in Lab units.
    class_weights : ndarray, shape (Q,)
        From :func:`class_weights`.
    sigma : float
        Width, in Lab units, of the Gaussian soft encoding.
    """
    bins_t = ops.convert_to_tensor(np.asarray(bins, np.float32))
    weights_t = ops.convert_to_tensor(np.asarray(class_weights, np.float32))

    def loss(y_true, logits):
        target, nearest = _soft_targets(y_true, bins_t, sigma)
        log_p = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        ce = -ops.sum(target * log_p, axis=-1)
        return ops.mean(ce * ops.take(weights_t, nearest))

    loss.__name__ = "rebalanced_ce"
    return loss


def class_weights(ab_samples: np.ndarray, bins: np.ndarray, mix: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Empirical prior over the bins and Zhang's rebalancing weights.

    Parameters
    ----------
    ab_samples : ndarray, shape (M, 2)
        a/b values (Lab units) sampled from training images.
    bins : ndarray, shape (Q, 2)
    mix : float
        Weight of the uniform distribution mixed into the prior (Zhang's lambda).

    Returns
    -------
    prior : ndarray, shape (Q,), sums to 1
    weights : ndarray, shape (Q,), with sum(prior * weights) = 1
    """
    d2 = ((ab_samples[:, None, :] - bins[None]) ** 2).sum(-1)
    counts = np.bincount(d2.argmin(1), minlength=len(bins)).astype(np.float64)
    prior = counts / counts.sum()
    weights = 1.0 / ((1.0 - mix) * prior + mix / len(bins))
    weights /= (prior * weights).sum()
    return prior.astype(np.float32), weights.astype(np.float32)
