"""What the pipelines need of a colorization model: :class:`ColorModel`, written once.

The shipped Keras network (:class:`vidcolor.models.store.Colorizer`) implements it, and so can
anything else that maps lightness to chroma: another runtime, a model behind a server, a test's
numpy fake. A class may subclass :class:`ColorModel` to inherit the defaults below (a model
without global features need not write :meth:`~ColorModel.global_features`), or just have the
same members.

Three optional members, read with a default where a pipeline needs them (not part of the
protocol's check, so models without them stay models):

- ``test_time_views`` (bool, default True): False predicts a still once, as the network's own
  pipeline does, instead of vidcolor's mirrored and rescaled views
  (:func:`vidcolor.colorize.predict_once`);
- ``fixed_size`` (int or None, default None): the square side of a network that only takes
  that size (it stretches every render to it); such a network's stills are never tiled;
- ``resampler`` (default None: vidcolor's render and L-guided upsampling): an object with the
  network's own resizing, ``render_shape(full_shape, render_size, multiple)``,
  ``shrink(l_rows, full_shape, shape)`` (the picture's L at the render, made from full
  resolution) and ``upsampler(ab, L_small, full_shape)`` (as
  :func:`vidcolor.upsample.upsampler`), e.g. :class:`vidcolor.models.onnx_resize.NetworkResize`;
  a still is then predicted once at that render, never tiled.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["ColorModel", "check_model"]


@runtime_checkable
class ColorModel(Protocol):
    """A network that predicts a/b from L.

    Attributes
    ----------
    name : str
        Shown in provenance marks ("colorized by vidcolor VERSION, model NAME").
    render_size : int
        The side of the square whose area a render should roughly have (see
        :func:`vidcolor.colorize.render_shape`).
    multiple : int
        Render heights and widths are rounded to multiples of this.
    uses_global_features : bool
        True when whole-picture features can be computed once with :meth:`global_features`
        and shared by tiles of the same picture.
    uses_hints : bool
        True when :meth:`predict_ab` takes user hints (colours fixed at some pixels); only
        then are ``hints`` passed to it.
    identity : dict or None
        A JSON-able value that changes whenever the weights do (``--resume`` refuses to mix
        two models' frames); None when the model cannot say.
    """

    name: str
    render_size: int
    multiple: int = 32
    uses_global_features: bool = False
    uses_hints: bool = False
    identity: dict | None = None

    def predict_ab(self, L: np.ndarray, global_features: np.ndarray | None = None,
                   hints: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Predict chroma for a batch of lightness images.

        Parameters
        ----------
        L : ndarray of float32, shape (N, h, w), in [0, 100]
            Any h and w; multiples of :attr:`multiple` avoid padding.
        global_features : ndarray of float32, shape (N, D) or (1, D), optional
            From :meth:`global_features` of another (e.g. the whole, downscaled) picture;
            only passed to models with :attr:`uses_global_features`.
        hints : (ab, mask), optional
            User hints at L's size: ab, float32 (N, h, w, 2) in Lab units (about
            [-128, 128], 0 where there is no hint), and mask, float32 (N, h, w, 1), 1 where
            there is a hint and 0 elsewhere. Only passed to models with :attr:`uses_hints`;
            None means no hint anywhere (the automatic result).

        Returns
        -------
        ab : ndarray of float32, shape (N, h, w, 2), in [-128, 128]
        """
        ...

    def global_features(self, L: np.ndarray) -> np.ndarray | None:
        """Whole-picture features to share between tiles.

        Parameters
        ----------
        L : ndarray of float32, shape (N, h, w), in [0, 100]

        Returns
        -------
        ndarray of float32, shape (N, D), or None for models without global features.
        """
        return None

    def match_features(self, L: np.ndarray) -> np.ndarray | None:
        """Deep features for correspondence (:mod:`vidcolor.correspond`): pixels that look
        alike have features of a large cosine similarity.

        Parameters
        ----------
        L : ndarray of float32, shape (N, h, w), in [0, 100]

        Returns
        -------
        ndarray of float32, shape (N, ceil(h/8), ceil(w/8), C), unit-length per cell; or
        None for a model that has none (colour by correspondence is then not offered).
        """
        return None

    def predict_ab_and_features(self, L: np.ndarray
                                ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`predict_ab` and :meth:`match_features` of the same batch, as one call (a
        model whose features are a part of its network computes that part once).

        Returns
        -------
        ab : ndarray of float32, shape (N, h, w, 2)
        features : ndarray of float32, shape (N, ceil(h/8), ceil(w/8), C), or None
        """
        return self.predict_ab(L), self.match_features(L)


def check_model(model) -> ColorModel:
    """``model`` itself if it has every member of :class:`ColorModel`.

    Raises
    ------
    TypeError
        Naming the members it lacks (a programming error, not a user's).
    """
    if not isinstance(model, ColorModel):
        missing = [name for name in ("name", "render_size", "multiple", "uses_global_features",
                                     "uses_hints", "identity", "predict_ab", "global_features",
                                     "match_features")
                   if not hasattr(model, name)]
        raise TypeError(f"{type(model).__name__} is not a ColorModel: it lacks "
                        f"{', '.join(missing)}")
    return model
