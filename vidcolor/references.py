"""Reference photos: colour pictures that are not the input (a publicity still, the place in
colour) guiding its colours by correspondence (``--reference PHOTO``).

Each photo is read once, shrunk to its own render size (:func:`read_reference`), and made an
:class:`~vidcolor.correspond.Exemplar` with the model's match features
(:class:`ReferenceSet`). A picture or a frame is then matched against them at its render size
(:func:`vidcolor.correspond.correspond`, on the stride-8 grid, upsampled guided by its
lightness): where a match is confident its colour replaces the model's in proportion to the
confidence (:func:`guided`); where none is, the model's own colour stays. Pictures use it in
:class:`vidcolor.colorize.ImageColorizer`, films in
:class:`vidcolor.video.references.ReferenceGuide`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidcolor import color
from vidcolor.correspond import Exemplar, correspond, exemplar, to_render
from vidcolor.errors import OptionError, VidcolorError
from vidcolor.imageio import read_image
from vidcolor.log import one_line
from vidcolor.options import Reference

__all__ = ["ReferencePhoto", "ReferenceSet", "check_references", "guided", "match_features",
           "read_reference"]


@dataclass(frozen=True)
class ReferencePhoto:
    """A reference photo's Lab at its render size.

    Attributes
    ----------
    reference : Reference
    L : ndarray of float32, shape (h, w), in [0, 100]
    ab : ndarray of float32, shape (h, w, 2), in about [-128, 127]
    """

    reference: Reference
    L: np.ndarray
    ab: np.ndarray


def _read_rgb(reference: Reference) -> np.ndarray:
    """The photo's samples; an unreadable file is a one-line error naming ``--reference``."""
    try:
        return read_image(reference.path).rgb
    except VidcolorError as e:
        raise OptionError("references", "{field} {message}", "--reference",
                          message=one_line(str(e))) from None


def check_references(references) -> None:
    """Read every reference photo once, before any work, so that a file that is not a
    picture is told at once (:class:`~vidcolor.errors.OptionError` of ``references``)."""
    for reference in references:
        _read_rgb(reference)


def read_reference(reference: Reference, render_size: int, multiple: int) -> ReferencePhoto:
    """A reference photo's Lab, area-shrunk to its render shape
    (:func:`vidcolor.colorize.render_shape` of its own size)."""
    from vidcolor.colorize import render_shape

    rgb = _read_rgb(reference)
    h, w = render_shape(*rgb.shape[:2], render_size, multiple)
    # Shrunk before the conversion: a large photo's float Lab would cost 12 bytes a pixel.
    shrink = h <= rgb.shape[0] and w <= rgb.shape[1]
    rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    L, ab = color.rgb_to_lab(rgb)
    return ReferencePhoto(reference, np.ascontiguousarray(L, np.float32),
                          np.ascontiguousarray(ab, np.float32))


def match_features(model, L: np.ndarray) -> np.ndarray:
    """One picture's match features by ``model`` (its ``match_features``), (gh, gw, C).

    Raises
    ------
    OptionError
        The model has no match features (references cannot be used with it).
    """
    found = getattr(model, "match_features", None)
    features = None if found is None else found(np.asarray(L, np.float32)[None])
    if features is None:
        raise OptionError("references", "{field} needs a model with match features; model "
                          "{name} has none", "--reference", name=one_line(model.name))
    return np.asarray(features[0], np.float32)


class ReferenceSet:
    """The reference photos of one job, read once, with their exemplars for one model.

    Parameters
    ----------
    references : sequence of Reference
    model : ColorModel
        Gives the match features (``match_features``) and the multiple of render shapes.
    render_size : int
        The side of the square whose area each photo's render has.

    Attributes
    ----------
    photos : list of ReferencePhoto
    exemplars : list of Exemplar
        In the order of ``references``; ``exemplars[i].source`` is ``references[i]``.
    """

    def __init__(self, references, model, render_size: int):
        self.model = model
        self.photos = [read_reference(r, render_size, model.multiple) for r in references]
        self.exemplars: list[Exemplar] = [
            exemplar(match_features(model, p.L), p.L, p.ab, p.reference) for p in self.photos]

    def guidance(self, L: np.ndarray, exemplars: list[Exemplar] | None = None,
                 features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The references' colour for a picture and how confident it is, at its size.

        Parameters
        ----------
        L : ndarray of float32, shape (h, w), in [0, 100]
            The picture's render-size lightness.
        exemplars : list of Exemplar, optional
            Those to match against (default: all).
        features : ndarray of float32, shape (gh, gw, C), optional
            The picture's match features, when the model gave them already.

        Returns
        -------
        ab : ndarray of float32, shape (h, w, 2)
        confidence : ndarray of float32, shape (h, w), in [0, 1]
        """
        exemplars = self.exemplars if exemplars is None else exemplars
        if features is None:
            features = match_features(self.model, L)
        ab, confidence = correspond(features, L, exemplars)
        return to_render(ab, confidence, L)


def guided(ab_model: np.ndarray, ab_reference: np.ndarray, confidence: np.ndarray
           ) -> np.ndarray:
    """The model's a/b moved towards the references' by the confidence (0: the model's).

    Parameters
    ----------
    ab_model, ab_reference : ndarray of float32, shape (h, w, 2)
    confidence : ndarray of float32, shape (h, w), in [0, 1]

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    c = np.asarray(confidence, np.float32)[..., None]
    return (ab_model + c * (ab_reference - ab_model)).astype(np.float32)
