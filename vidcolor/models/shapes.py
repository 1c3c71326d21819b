"""The network's sizes, without Keras: the padding every runtime applies to L, the backbone's
input, the inputs of the network's parts at a given size, and the final resize of a/b.

The fusion network (and the others) takes heights and widths that are multiples of
:data:`MULTIPLE`; the backbone's maps, in order, are at strides 4, 8, 16 and 32 of its input,
then its pooled global vector. Runtimes that fix a converted part's size (OpenVINO) and the
TensorFlow graphs they are converted from (:mod:`vidcolor.models.tracing`) both read that here.
"""

from __future__ import annotations

import numpy as np

from vidcolor.errors import VidcolorError

# The backbone's and the own encoder's total stride: their maps divide the input exactly only
# at multiples of it, and the decoder's skips must line up with its upsampled maps.
MULTIPLE = 32


def check_shape(height: int, width: int) -> None:
    """Raise a one-line :class:`VidcolorError` unless (height, width) is a shape the network
    takes unpadded: positive multiples of :data:`MULTIPLE`."""
    if height <= 0 or width <= 0 or height % MULTIPLE or width % MULTIPLE:
        raise VidcolorError(f"size {height}x{width}: height and width must be positive "
                            f"multiples of {MULTIPLE}")


def pad(L: np.ndarray, multiple: int = MULTIPLE) -> tuple[np.ndarray, int, int]:
    """``L`` (N, h, w) padded at the bottom and right to multiples of ``multiple`` (reflected
    where it can be, else the edge repeated), with the original h and w.

    Every runtime of the network pads this way, so they all see the same pixels.
    """
    n, h, w = L.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if (h > ph and w > pw) else "edge"
        L = np.pad(L, ((0, 0), (0, ph), (0, pw)), mode=mode)
    return L, h, w


def backbone_input(L: np.ndarray) -> np.ndarray:
    """The backbone's input for lightness: x = L / 50 - 1 in three channels (the decoder's x
    is its first channel).

    Parameters
    ----------
    L : ndarray, shape (N, h, w), in [0, 100]; h and w multiples of 32 (padded)

    Returns
    -------
    ndarray, shape (N, h, w, 3), float32, in [-1, 1]
    """
    x = (np.asarray(L, np.float32) / 50.0 - 1.0)[..., None]
    return np.ascontiguousarray(np.repeat(x, 3, axis=-1))


def feature_stride(index: int) -> int:
    """The stride of the backbone's ``index``-th map (0: stride 4; "same" padding, so the
    maps divide a multiple of :data:`MULTIPLE` exactly)."""
    return 4 * 2 ** index


def part_input_shapes(part: str, ranks_and_channels: list[tuple[int, int]],
                      height: int, width: int) -> list[list[int]]:
    """The input shapes of one part of the network at an input size, batch open (-1).

    Parameters
    ----------
    part : {"backbone", "decoder", "whole"}
        See :func:`vidcolor.models.tracing.part`.
    ranks_and_channels : list of (rank, channels)
        The part's inputs, in order: their rank and last dimension (the same at every size).
    height, width : int
        The input's, multiples of :data:`MULTIPLE`.

    Returns
    -------
    list of list of int
        For the decoder: x (-1, height, width, 1), each map (-1, height / stride,
        width / stride, C) at :func:`feature_stride`, the global vector (-1, C).
    """
    check_shape(height, width)
    if part != "decoder":
        return [[-1, height, width, channels] for _, channels in ranks_and_channels]
    (_, x_channels), *features = ranks_and_channels
    shapes, maps = [[-1, height, width, x_channels]], 0
    for rank, channels in features:
        if rank == 2:
            shapes.append([-1, channels])
            continue
        stride = feature_stride(maps)
        shapes.append([-1, height // stride, width // stride, channels])
        maps += 1
    return shapes


def resize_ab(ab: np.ndarray, shape) -> np.ndarray:
    """Bilinear resize of a batch of a/b, (N, h, w, 2) -> (N, *shape, 2)."""
    if ab.shape[1:3] == tuple(shape):
        return ab
    import cv2

    h, w = shape
    return np.stack([cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR) for a in ab])
