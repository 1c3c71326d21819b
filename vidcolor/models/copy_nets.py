"""The colour copy's restorer network, in Keras 3 (trained by ``training/train_copy.py``; run
from its OpenVINO IR by :class:`vidcolor.copy_restore.CopyRestorer`).

A small U-Net at the copy's own size. In: the master's lightness, the worn copy's lightness and
its chromaticity (:func:`vidcolor.copy_restore.network_input`, 4 channels). Out: the copy's
chromaticity / 100 with the wear taken out, as the input's plus a correction (the correction's
last layer starts at zero, so an untrained network passes the copy through). Three
downsamplings reach a JPEG copy's 16-pixel chroma blocks and the colour around them; height
and width must be multiples of :data:`MULTIPLE`.
"""

from __future__ import annotations

import keras
from keras import layers

from vidcolor.copy_restore import MULTIPLE, WIDTH  # noqa: F401  (defined once, beside the IR)


def _conv(x, filters, name, stride=1):
    return layers.Conv2D(filters, 3, strides=stride, padding="same", activation="relu",
                         name=name)(x)


def copy_restorer(width: int = WIDTH) -> keras.Model:
    """copy (N, h, w, 4) -> chromaticity / 100 (N, h, w, 2)."""
    copy = keras.Input((None, None, 4), name="copy")
    e0 = _conv(_conv(copy, width, "e0a"), width, "e0b")
    e1 = _conv(_conv(e0, 2 * width, "e1a", stride=2), 2 * width, "e1b")
    e2 = _conv(_conv(e1, 3 * width, "e2a", stride=2), 3 * width, "e2b")
    e3 = _conv(_conv(e2, 4 * width, "e3a", stride=2), 4 * width, "e3b")
    d2 = _conv(layers.Concatenate()([layers.UpSampling2D(name="up2")(e3), e2]), 3 * width, "d2")
    d1 = _conv(layers.Concatenate()([layers.UpSampling2D(name="up1")(d2), e1]), 2 * width, "d1")
    d0 = _conv(layers.Concatenate()([layers.UpSampling2D(name="up0")(d1), e0]), width, "d0")
    correction = layers.Conv2D(2, 3, padding="same", kernel_initializer="zeros",
                               name="correction")(d0)
    chroma = layers.Lambda(lambda x: x[..., 2:4], name="copy_chroma")(copy)
    return keras.Model(copy, layers.Add(name="restored")([chroma, correction]),
                       name="copy_restorer")
