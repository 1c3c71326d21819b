"""One picture: L -> a/b at render size -> L-guided upsampling -> RGB; shared by every job.

The network only ever sees a render-size copy of the lightness; the full-resolution output keeps
the input's own L, and only the chroma is upsampled (:mod:`vidcolor.upsample`), guided by that L
so colour does not bleed across strong edges. Chroma that sRGB cannot show at a pixel's
lightness is reduced rather than clipped, so the output's L really is the input's. Full
resolution is handled in strips of rows, which bounds memory for large scans; large pictures are
colorized in tiles that share the whole picture's context (:mod:`vidcolor.tiling`), so their
chroma has more than a render's detail.

:class:`ImageColorizer` holds a model with the options of one job (:class:`ImageOptions`) and
colorizes picture after picture; :func:`colorize_image` does one. Files and folders are the
``vidcolor image`` job's (:mod:`vidcolor.photos`); film frames use :func:`render_shape` and
:func:`resize_l` from here. The finishing (chroma up, gamut fit, RGB) is :mod:`vidcolor.finish`'s;
:func:`finish_rgb` and :func:`gamut_radius` are re-exported here for the modules that use them.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor import color, tiling
from vidcolor.finish import finish_rgb, finish_rows, gamut_radius
from vidcolor import hints as hints_module
from vidcolor.models import store
from vidcolor.models.protocol import ColorModel, check_model
from vidcolor.options import ImageOptions
from vidcolor.propagate import PHOTO_SPREAD
from vidcolor.progress import Progress, no_progress
from vidcolor.upsample import upsample_ab, upsampler

__all__ = ["ImageColorizer", "colorize_image", "render_shape", "resize_l", "shrink_l",
           "VIEW_SCALES", "predict_views", "predict_once", "gamut_radius", "finish_rgb",
           "model_upsampler"]

# Full-resolution rows handled at a time by ImageColorizer.colorize (tests make it small).
_STRIP_ROWS = 256


def render_shape(height: int, width: int, render_size: int, multiple: int = 32) -> tuple[int, int]:
    """The network resolution for an image: about ``render_size**2`` pixels, same aspect ratio.

    Parameters
    ----------
    height, width : int
        The image's size.
    render_size : int
        The side of the square whose area the render should have.
    multiple : int
        Both sides are rounded to a multiple of this (at least one multiple).

    Returns
    -------
    (rh, rw) : tuple of int
    """
    scale = render_size / np.sqrt(height * width)
    rh = max(multiple, int(round(height * scale / multiple)) * multiple)
    rw = max(multiple, int(round(width * scale / multiple)) * multiple)
    return rh, rw


def resize_l(L: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize lightness to ``shape`` (area-averaged when shrinking).

    Parameters
    ----------
    L : ndarray of float32, shape (H, W), in [0, 100]
    shape : (h, w)

    Returns
    -------
    ndarray of float32, shape (h, w)
    """
    h, w = shape
    if L.shape == (h, w):
        return np.ascontiguousarray(L, dtype=np.float32)
    shrink = h < L.shape[0] and w < L.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(np.asarray(L, np.float32), (w, h), interpolation=interp)


def _strips(height: int) -> list[slice]:
    """Row strips of ``_STRIP_ROWS`` covering ``height`` rows."""
    return [slice(y, min(height, y + _STRIP_ROWS)) for y in range(0, height, _STRIP_ROWS)]


def shrink_l(l_rows, full_shape: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """The lightness of a large image at a smaller size, never holding it whole at full size.

    Strip by strip, each strip's rows are resized to the new width; then the narrow result is
    resized to the new height. Area averaging is separable, so this equals one 2-D resize (to
    float rounding); it costs ``H * w`` floats instead of ``H * W``.

    Parameters
    ----------
    l_rows : callable
        ``l_rows(rows: slice) -> ndarray of float32, shape (rows, W), in [0, 100]``: the
        full-resolution lightness of those rows (computed on demand from the picture).
    full_shape : (H, W)
    shape : (h, w)
        The size wanted; area-averaged along an axis that shrinks, linear along one that grows.

    Returns
    -------
    ndarray of float32, shape (h, w), in [0, 100]
    """
    H, W = full_shape
    h, w = shape

    def resize(x, width, height):
        shrink = width <= x.shape[1] and height <= x.shape[0]
        if (height, width) == x.shape:
            return np.asarray(x, np.float32)
        return cv2.resize(x, (width, height),
                          interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    narrow = np.empty((H, w), np.float32)
    for rows in _strips(H):
        narrow[rows] = resize(np.asarray(l_rows(rows), np.float32), w, rows.stop - rows.start)
    return np.ascontiguousarray(resize(narrow, w, h))


# A still's render is predicted in six views: as is and mirrored, at 7/8, 1 and 9/8 of the
# render size. Their mean cancels some of each view's errors: on held-out photos +0.11 dB at
# equal colourfulness, on CBSD68 +0.07 dB (benchmarks/RESULTS.md). Video frames are predicted
# once: six times the model's work would cost a film far more than the stabilizer's blending
# of neighbouring frames, which averages errors already.
VIEW_SCALES = (0.875, 1.0, 1.125)


def _mirrored(x: np.ndarray) -> np.ndarray:
    """A view and its mirror image, as a batch of two: (h, w, ...) -> (2, h, w, ...)."""
    return np.stack([x, x[:, ::-1]])


def predict_views(predict, shrink, full_shape: tuple[int, int], render_size: int,
                  multiple: int = 32, hints=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean a/b of a network over the test-time views of a picture (see ``VIEW_SCALES``).

    Parameters
    ----------
    predict : callable
        ``predict(L (2, h, w) in [0, 100]) -> ab (2, h, w, 2)``, e.g. a model's ``predict_ab``;
        called once per scale with the view and its mirror image (with ``hints``, as
        ``predict(L, hints=(ab, mask))``, the hints mirrored alike).
    shrink : callable
        ``shrink((h, w)) -> L (h, w)``: the picture's lightness at a size, made from the
        sharpest copy there is (an upscaled render would be a blurred view).
    full_shape : (H, W)
        The picture's size, whose aspect ratio the views keep.
    render_size : int
        See :func:`render_shape`; the views are at ``VIEW_SCALES`` times it.
    multiple : int
    hints : callable, optional
        ``hints((h, w)) -> (ab (h, w, 2), mask (h, w, 1))``: the picture's hints at a size
        (:func:`vidcolor.hints.raster`); None predicts without hints.

    Returns
    -------
    ab : ndarray of float32, shape (h, w, 2), in [-128, 128]
        At the render's shape, ``render_shape(*full_shape, render_size, multiple)``.
    L_small : ndarray of float32, shape (h, w), in [0, 100]
        The render itself.
    """
    L_small = shrink(render_shape(*full_shape, render_size, multiple))
    h, w = L_small.shape
    total = np.zeros((h, w, 2), np.float32)
    for scale in VIEW_SCALES:
        L = L_small if scale == 1 else shrink(render_shape(*full_shape, round(render_size * scale), multiple))
        if hints is None:
            ab = predict(_mirrored(L))
        else:
            ab = predict(_mirrored(L), hints=tuple(_mirrored(x) for x in hints(L.shape)))
        ab = np.asarray(ab, np.float32)
        for view in (ab[0], ab[1][:, ::-1]):
            total += cv2.resize(np.ascontiguousarray(view), (w, h), interpolation=cv2.INTER_LINEAR)
    return total / np.float32(2 * len(VIEW_SCALES)), L_small


def predict_once(predict, shrink, full_shape: tuple[int, int], render_size: int,
                 multiple: int = 32, hints=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`predict_views` with one view, the render as it is: for models whose
    ``test_time_views`` is False (another project's network, run as its own pipeline does)."""
    L_small = shrink(render_shape(*full_shape, render_size, multiple))
    if hints is None:
        ab = predict(L_small[None])
    else:
        ab = predict(L_small[None], hints=tuple(x[None] for x in hints(L_small.shape)))
    return np.asarray(ab, np.float32)[0], L_small


def model_upsampler(model):
    """How a model's render chroma goes to full resolution: its ``resampler``'s own resize
    (another network's pipeline), else :func:`vidcolor.upsample.upsampler` (guided by L)."""
    own = getattr(model, "resampler", None)
    return upsampler if own is None else own.upsampler


def spread_hints(ab: np.ndarray, L: np.ndarray, hints) -> np.ndarray:
    """A prediction corrected to user hints, the corrections spread edge-aware
    (:data:`vidcolor.propagate.PHOTO_SPREAD`).

    Parameters
    ----------
    ab : ndarray of float32, shape (h, w, 2)
        The model's a/b at the size of ``L``.
    L : ndarray of float32, shape (h, w), in [0, 100]
    hints : vidcolor.hints.Hints
        On the whole picture, at any size (rastered to ``L``'s).
    """
    ab_hint, mask = hints_module.raster(hints, L.shape)
    return PHOTO_SPREAD(L, ab, ab_hint, mask)


class ImageColorizer:
    """A model and the options of one job: colorizes picture after picture the same way.

    Like Real-ESRGAN's ``RealESRGANer(tile=...)``: the options are given once, here, instead of
    travelling loose through every layer from the command line to the tiles.

    Parameters
    ----------
    model : ColorModel
        See :class:`vidcolor.models.protocol.ColorModel`.
    options : ImageOptions
        Render size, tiling and reference photos; the defaults are the model's render size,
        automatic tiles and none.
    progress : Progress, optional
        Told the tiles done of each tiled picture (a count from 0 per picture); by default
        nobody is.

    Attributes
    ----------
    model, options, progress
        As given (``progress`` a no-op when not).
    render_size : int
        The whole-picture render's size: the options', else the model's.
    references : vidcolor.references.ReferenceSet or None
        The options' reference photos, read and given the model's features on construction
        (an unreadable photo, or a model without match features, is an error then).
    """

    def __init__(self, model: ColorModel, options: ImageOptions = ImageOptions(),
                 progress: Progress | None = None):
        self.model = check_model(model)
        self.options = options
        self.progress = progress or no_progress
        self.references = None
        if options.references:  # read and matched once, for every picture of the job
            from vidcolor.references import ReferenceSet

            self.references = ReferenceSet(options.references, self.model, self.render_size)

    @property
    def render_size(self) -> int:
        """The whole-picture render's size: the options', else the model's."""
        return self.options.render_size or self.model.render_size

    def _hint_planes(self, hints, full_shape: tuple[int, int]):
        """``hints`` as :func:`predict_views` takes them, checked against the picture; None
        for no hints or a model without a hint input."""
        if hints is None:
            return None
        if tuple(hints.shape) != tuple(full_shape):
            raise ValueError(f"hints for a {hints.shape} picture given for one of {full_shape}")
        if not getattr(self.model, "uses_hints", False):
            return None
        return lambda shape: hints_module.raster(hints, shape)

    def predict_small(self, l_rows, full_shape: tuple[int, int],
                      hints=None) -> tuple[np.ndarray, np.ndarray]:
        """The network's a/b for one picture, at the resolution the network worked at.

        Small pictures get one render, predicted in several views (:func:`predict_views`).
        Large ones (see :func:`vidcolor.tiling.plan_tiles`) get such a render of the whole for
        context, then overlapping tiles of a larger working copy.

        Parameters
        ----------
        l_rows : callable
            ``l_rows(rows: slice) -> (rows, W) float32`` lightness in [0, 100], see
            :func:`shrink_l`.
        full_shape : (H, W)
        hints : vidcolor.hints.Hints, optional
            User hints on the picture: the input of a model with ``uses_hints``; any other
            model's a/b is corrected by them (:data:`vidcolor.propagate.PHOTO_SPREAD`), after
            the reference photos' colour (:mod:`vidcolor.references`), so a hint wins at its
            place.

        Returns
        -------
        ab_small : ndarray of float32, shape (h, w, 2), in about [-110, 110]
        L_small : ndarray of float32, shape (h, w), in [0, 100]
            The lightness ``ab_small`` belongs to (the render, or the tiled working copy).

        """
        model, size, options = self.model, self.render_size, self.options
        planes = self._hint_planes(hints, full_shape)
        views = predict_views if getattr(model, "test_time_views", True) else predict_once
        # A fixed-size network would see each tile stretched to its square without the rest
        # of the picture: it sees the whole picture once, and the chroma is upsampled.
        own = getattr(model, "resampler", None)
        plan = None if getattr(model, "fixed_size", None) or own else tiling.plan_tiles(
            *full_shape, size, model.multiple, options.tile, options.tile_overlap)
        if own is not None:  # the network's own resize from full resolution, seen once
            L_own = own.shrink(l_rows, full_shape, own.render_shape(full_shape, size,
                                                                     model.multiple))
            ab, L_small = predict_once(model.predict_ab, lambda _: L_own, full_shape, size,
                                       model.multiple, planes)
            L_render = L_small
        elif plan is None:
            ab, L_small = views(model.predict_ab, lambda s: shrink_l(l_rows, full_shape, s),
                                full_shape, size, model.multiple, planes)
            L_render = L_small
        else:
            L_small = shrink_l(l_rows, full_shape, plan.work_shape)
            ab_render, L_render = views(model.predict_ab, lambda s: resize_l(L_small, s),
                                        full_shape, size, model.multiple, planes)
            ab = tiling.tiled_ab(model, L_render, L_small, plan, self.progress,
                                 ab_render=ab_render,
                                 hints=None if planes is None else planes(plan.work_shape))
        if options.references:
            ab = self._referenced(ab, L_render, L_small)
        # A model that took the hints as input has them in ``ab`` already, unless the
        # references' colour was laid over them since.
        if hints is not None and (planes is None or options.references):
            ab = spread_hints(ab, L_small, hints)
        return ab, L_small

    def _referenced(self, ab: np.ndarray, L_render: np.ndarray, L_small: np.ndarray
                    ) -> np.ndarray:
        """``ab`` (at ``L_small``'s size) guided by the reference photos' colour, matched once
        at the whole picture's render ``L_render`` (like the global features of tiles) and
        brought to ``L_small``'s size guided by its lightness."""
        from vidcolor.references import guided

        ab_ref, confidence = self.references.guidance(L_render)
        if L_render.shape != L_small.shape:
            h, w = L_small.shape
            ab_ref = upsample_ab(ab_ref, L_render, L_small)
            confidence = cv2.resize(confidence, (w, h), interpolation=cv2.INTER_LINEAR)
        return guided(ab, ab_ref, confidence)

    def colorize(self, rgb: np.ndarray, out: np.ndarray | None = None,
                 hints=None) -> np.ndarray:
        """Colorize one picture, keeping its own lightness.

        Full resolution is only ever handled in strips of rows: besides ``rgb`` and the
        output, memory holds a working copy of a few megapixels and one strip.

        Parameters
        ----------
        rgb : ndarray of uint8 or uint16, shape (H, W, 3) or (H, W)
            Grey, colour or toned input; only its lightness is used.
        out : ndarray of the input's dtype, shape (H, W, 3), optional
            Where to write the result; may be ``rgb`` itself (each strip is read before it is
            overwritten), which saves a full-resolution copy for large scans.
        hints : vidcolor.hints.Hints, optional
            Colours the user fixed on this picture (its size), see :meth:`predict_small`.

        Returns
        -------
        ndarray of the input's dtype, shape (H, W, 3)
            Gamma-encoded sRGB whose lightness is the input's.
        """
        rgb = np.asarray(rgb)
        if rgb.ndim == 2:
            rgb = rgb[..., None]
        if rgb.shape[-1] == 1:
            rgb = np.broadcast_to(rgb, rgb.shape[:2] + (3,))
        H, W = rgb.shape[:2]
        if out is None:
            out = np.empty((H, W, 3), rgb.dtype)
        elif out.shape != (H, W, 3) or out.dtype != rgb.dtype:
            raise ValueError(f"out: expected {rgb.dtype} {(H, W, 3)}, got {out.dtype} {out.shape}")

        # Full resolution only in strips: the float temporaries of the colour conversions cost
        # ~60 bytes a pixel, too much for a whole 100-megapixel scan; even one float L plane is
        # 400 MB there, so L is computed again, strip by strip, wherever it is needed.
        def l_rows(rows: slice) -> np.ndarray:
            return color.rgb_to_l(rgb[rows])

        ab_small, L_small = self.predict_small(l_rows, (H, W), hints)
        upsample = model_upsampler(self.model)(ab_small, L_small, (H, W))
        radius = gamut_radius(H, L_small.shape[0])
        halo = 2 * radius  # how far the smoothed gamut fit reaches: strips equal the whole
        for rows in _strips(H):
            ext = slice(max(0, rows.start - halo), min(H, rows.stop + halo))
            strip = finish_rows(upsample, l_rows(ext), ext, rgb.dtype, radius)
            out[rows] = strip[rows.start - ext.start:rows.stop - ext.start]
        return out


def colorize_image(rgb: np.ndarray, model: ColorModel | None = None,
                   options: ImageOptions | None = None,
                   out: np.ndarray | None = None, hints=None) -> np.ndarray:
    """Colorize one picture, keeping its own lightness (see :meth:`ImageColorizer.colorize`).

    For many pictures, make one :class:`ImageColorizer` and call it for each.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3) or (H, W)
        Grey, colour or toned input; only its lightness is used.
    model : ColorModel, optional
        Defaults to the shipped model (:func:`vidcolor.models.store.load_model`).
    options : ImageOptions, optional
        Render size and tiling; by default the model's render size and automatic tiles.
    out : ndarray of the input's dtype, shape (H, W, 3), optional
        Where to write the result; may be ``rgb`` itself.
    hints : vidcolor.hints.Hints, optional
        See :meth:`ImageColorizer.colorize`.

    Returns
    -------
    ndarray of the input's dtype, shape (H, W, 3)
    """
    if model is None:
        model = store.load_model()
    return ImageColorizer(model, options or ImageOptions()).colorize(rgb, out, hints)
