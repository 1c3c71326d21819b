"""Quick previews of a photo with hints: the picture shrunk, coloured, as PNG bytes.

The page asks for one after every change of a hint, so a preview must come back within
about two seconds on a small CPU. Three things make it quick: the picture is shrunk to
``size`` pixels on its long side before anything else; the model is the server's, loaded
once; and the network's own colours of a picture are kept (:class:`Previews`, a few pictures,
keyed by their shrunk pixels and the render size), so that a hint moved or added costs only
the edge-aware spread of the corrections (:data:`vidcolor.propagate.PHOTO_SPREAD`) and the
finishing, as :meth:`vidcolor.colorize.ImageColorizer.predict_small` applies hints to a model
without a hint input. A model with a hint input, or reference photos, take the whole
:meth:`~vidcolor.colorize.ImageColorizer.colorize` every time.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from vidcolor import color
from vidcolor import hints as hints_module
from vidcolor.errors import VidcolorError
from vidcolor.models.protocol import ColorModel
from vidcolor.options import ImageOptions

__all__ = ["Previews", "shrink_picture", "shrink_hints"]


def shrink_picture(rgb: np.ndarray, size: int) -> np.ndarray:
    """``rgb`` (H, W, 3) of uint8 or uint16 as 8-bit, its long side at most ``size``
    (area-averaged), shape (h, w, 3) uint8."""
    import cv2

    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint16:
        rgb = (rgb.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    H, W = rgb.shape[:2]
    scale = min(1.0, size / max(H, W))
    if scale >= 1.0:
        return np.ascontiguousarray(rgb)
    w, h = max(1, round(W * scale)), max(1, round(H * scale))
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)


def shrink_hints(hints, shape: tuple[int, int]):
    """:class:`~vidcolor.hints.Hints` of a picture as hints of the same picture at ``shape``
    (each small pixel hinted when a hinted pixel falls in it, with their mean a/b)."""
    ab, mask = hints_module.raster(hints, shape)
    rows, cols = np.nonzero(mask[..., 0])
    return hints_module.Hints(tuple(shape), rows.astype(np.int64), cols.astype(np.int64),
                              ab[rows, cols].astype(np.float32))


class Previews:
    """Previews of pictures with hints, the network's colours of the last few kept.

    Parameters
    ----------
    model : ColorModel
        The server's model.
    size : int
        Long side of a preview, in pixels.
    keep : int
        Pictures whose network colours are kept.
    """

    def __init__(self, model: ColorModel, size: int, keep: int = 8):
        self.model, self.size, self.keep = model, size, keep
        self._kept: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def render(self, path: Path, options: ImageOptions, hint_files=None) -> bytes:
        """The preview of the picture file ``path`` with its hints, as PNG bytes.

        Parameters
        ----------
        path : Path
        options : ImageOptions
        hint_files : vidcolor.photos.HintFiles, optional

        Raises
        ------
        VidcolorError
            Unreadable picture or hints.
        """
        from vidcolor.imageio import read_image

        picture = read_image(path)
        small = shrink_picture(picture.rgb, self.size)
        hints = None
        if hint_files is not None:
            hints = shrink_hints(hint_files.for_picture(path, picture.rgb.shape[:2]),
                                 small.shape[:2])
        rgb = self._colour(small, options, hints)
        return _png(rgb)

    def _colour(self, small: np.ndarray, options: ImageOptions, hints) -> np.ndarray:
        from vidcolor.colorize import ImageColorizer, finish_rgb, model_upsampler, spread_hints

        colorizer = ImageColorizer(self.model, options)
        if getattr(self.model, "uses_hints", False) or options.references:
            return colorizer.colorize(small, hints=hints)
        ab, L_small = self._network_colours(colorizer, small)
        if hints is not None and len(hints):
            ab = spread_hints(ab, L_small, hints)
        return finish_rgb(ab, L_small, color.rgb_to_l(small), np.uint8,
                          model_upsampler(self.model))

    def _network_colours(self, colorizer, small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = hashlib.sha256(small.tobytes() + repr((small.shape,
                                                     colorizer.render_size)).encode()).digest()
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        L = color.rgb_to_l(small)
        found = colorizer.predict_small(lambda rows: L[rows], small.shape[:2])
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self.keep:
                self._kept.popitem(last=False)
        return found


def _png(rgb: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise VidcolorError("cannot encode the preview")
    return data.tobytes()
