"""Bilinear upsampling by an integer factor that traces with open height and width.

``layers.UpSampling2D(interpolation="bilinear")`` resizes through ``ops.image.resize``, which
needs the output size as Python ints: a graph traced with open spatial dimensions (what an
export for every input size needs) cannot contain it. :class:`BilinearUp` computes the same
numbers from slices, weighted sums and an interleave (no weights, no resize op), so its graph
has no fixed size anywhere.

For a factor k, with half-pixel centres (TensorFlow's and Keras' convention, no antialias),
output row ``k i + r`` samples input position ``i + o_r`` with ``o_r = (r + 1/2) / k - 1/2``;
that is the blend ``(1 - f) x[i + d] + f x[i + d + 1]`` with ``d = floor(o_r)`` and
``f = o_r - d``, rows outside the input clamped to the nearest edge row. For k = 2:
``out[2i] = 3/4 x[i] + 1/4 x[i-1]``, ``out[2i+1] = 3/4 x[i] + 1/4 x[i+1]``.

Converted to other runtimes, those slices and sums stay a dozen small ops per layer; a runtime's
own resize op is much cheaper there. So a converter may hand the layer that op for the time it
traces (:func:`resizing_with`; :mod:`vidcolor.models.tracing` hands TensorFlow's, which
OpenVINO, tf2onnx and TFLite turn into their own resize): the same numbers, fewer ops.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import keras
from keras import ops


# The resize op BilinearUp calls instead of its own formulation, or None (see resizing_with).
_resize_op = contextvars.ContextVar("vidcolor_bilinear_resize", default=None)


@contextlib.contextmanager
def resizing_with(resize):
    """Within the block, every :class:`BilinearUp` of factor > 1 computes ``resize(x, factor)``
    instead of its slices and sums.

    Parameters
    ----------
    resize : callable
        ``resize(x, factor)``: x (N, H, W, C) -> (N, factor H, factor W, C), bilinear with
        half-pixel centres and edges clamped (the numbers :class:`BilinearUp` gives), for
        heights and widths known or not.
    """
    token = _resize_op.set(resize)
    try:
        yield
    finally:
        _resize_op.reset(token)


def _rows(x, axis: int, start, stop):
    """``x[..., start:stop, ...]`` along ``axis`` of a 4-D tensor."""
    index = [slice(None)] * 4
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _upsample_axis(x, factor: int, axis: int):
    """x upsampled ``factor`` times along ``axis`` (1: height, 2: width) of NHWC.

    Parameters
    ----------
    x : tensor, shape (N, H, W, C)

    Returns
    -------
    tensor, shape (N, H * factor, W, C) or (N, H, W * factor, C)
    """
    # One edge row repeated on each side: the clamp at the borders, with static slices only
    # (they hold for any number of rows n). x_padded[j + 1] is x[j].
    x_padded = ops.concatenate([_rows(x, axis, 0, 1), x, _rows(x, axis, -1, None)], axis=axis)
    phases = []
    for r in range(factor):
        offset = (r + 0.5) / factor - 0.5
        d = math.floor(offset)  # -1 or 0: which pair of input rows this phase blends
        f = offset - d
        lower = _rows(x_padded, axis, 1 + d, d - 1)  # x[i + d] for i = 0 .. n - 1
        upper = _rows(x_padded, axis, 2 + d, d or None)  # x[i + d + 1]
        phases.append((1.0 - f) * lower + f * upper)
    stacked = ops.stack(phases, axis=axis + 1)  # (..., n, factor, ...): row k i + r is phase r
    shape = list(ops.shape(x))  # open sizes as tensors, so the reshape traces with them
    shape[axis] = shape[axis] * factor
    return ops.reshape(stacked, shape)


@keras.saving.register_keras_serializable(package="vidcolor")
class BilinearUp(keras.layers.Layer):
    """Bilinear upsampling of NHWC by an integer ``factor`` in height and width: the same
    numbers as ``layers.UpSampling2D(factor, interpolation="bilinear")`` (to float32
    rounding), for any input size, known or not when traced. No weights.

    Input (N, H, W, C) -> output (N, factor H, factor W, C).
    """

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(factor) != factor or factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor!r}")
        self.factor = int(factor)

    def call(self, x):
        if self.factor == 1:
            return x
        resize = _resize_op.get()
        if resize is not None:
            return resize(x, self.factor)
        return _upsample_axis(_upsample_axis(x, self.factor, 1), self.factor, 2)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.factor,
                None if w is None else w * self.factor, c)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
