"""User hints: colours a person fixes at a few places of a picture, for the network to spread.

A hint is the chroma (a/b) of some pixels of the picture as displayed (after EXIF orientation);
its L is always the picture's own. Hints come from

- a JSON file, ``{"points": [{"x": 120, "y": 45, "radius": 2, "color": "#a03020"}, ...]}``
  (:func:`parse_points`): x is the column and y the row, a point of radius r covers the
  (2r + 1) x (2r + 1) square around it, clipped to the picture;
- an RGBA image of the picture's size (:func:`from_rgba`): every pixel with alpha > 0 is a hint
  of its colour (scribbles painted in any editor);
- the truth, for measuring (:func:`sample_hints`): a simulated user who picks random patches
  and gives each its mean colour (Zhang et al. 2017).

:class:`Hints` keeps only the hinted pixels, so a scan of 100 megapixels with a few scribbles
costs a few megabytes; :func:`raster` makes the network's input at any size from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidcolor import color
from vidcolor.errors import VidcolorError

__all__ = ["Hints", "raster", "parse_color", "parse_points", "read_json", "from_rgba",
           "read_hint_image", "sample_hints", "square_hints", "global_shift", "local_shift",
           "MAX_SAMPLE_RADIUS"]

# The simulated user's patches: radius 0 to 4, squares of 1x1 to 9x9 pixels (the issue's).
MAX_SAMPLE_RADIUS = 4
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


@dataclass(frozen=True)
class Hints:
    """The hinted pixels of one picture.

    Attributes
    ----------
    shape : (H, W)
        The picture's size (as displayed).
    rows, cols : ndarray of int64, shape (K,)
        Each hinted pixel's row and column; a pixel may appear more than once (overlapping
        squares), its hint is then the mean.
    ab : ndarray of float32, shape (K, 2)
        Each one's a/b in Lab units, about [-128, 128].
    """

    shape: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    ab: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> "Hints":
        """No hint anywhere on a picture of ``shape``."""
        return cls(tuple(shape), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2), np.float32))


def raster(hints: Hints, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The hints as planes of a picture of ``shape``: what the network takes.

    Each target pixel's hint is the mean a/b of the hinted picture pixels that fall into it
    (area sampling), and it is hinted if any does; a target larger than the picture repeats
    picture pixels (nearest neighbour).

    Parameters
    ----------
    hints : Hints
    shape : (h, w), optional
        Defaults to the picture's own.

    Returns
    -------
    ab : ndarray of float32, shape (h, w, 2), Lab units, 0 where there is no hint
    mask : ndarray of float32, shape (h, w, 1), 1 where there is a hint, else 0
    """
    H, W = hints.shape
    h, w = shape or hints.shape
    if h > H or w > W:  # growing: make the picture's own planes, then repeat pixels
        import cv2

        ab, mask = raster(hints)
        planes = np.concatenate([ab, mask], -1)
        planes = cv2.resize(planes, (w, h), interpolation=cv2.INTER_NEAREST)
        return np.ascontiguousarray(planes[..., :2]), np.ascontiguousarray(planes[..., 2:])
    cells = (hints.rows * h // H) * w + hints.cols * w // W
    count = np.bincount(cells, minlength=h * w).astype(np.float32)
    total = np.stack([np.bincount(cells, hints.ab[:, c], minlength=h * w) for c in range(2)], -1)
    mask = (count > 0).astype(np.float32)
    ab = (total / np.maximum(count, 1.0)[:, None]).astype(np.float32)
    return ab.reshape(h, w, 2), mask.reshape(h, w, 1)


def parse_color(text) -> np.ndarray:
    """a/b (Lab units) of an sRGB hex colour, ``"#a03020"`` (the ``#`` optional).

    Returns
    -------
    ndarray of float32, shape (2,)

    Raises
    ------
    ValueError
        Anything but six hex digits.
    """
    match = _HEX.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"bad colour {text!r} (expected sRGB hex like \"#a03020\")")
    rgb = np.frombuffer(bytes.fromhex(match.group(1)), np.uint8).reshape(1, 1, 3)
    return color.rgb_to_lab(rgb)[1].reshape(2).astype(np.float32)


def square_hints(shape: tuple[int, int], centres: np.ndarray, radii: np.ndarray,
                 ab: np.ndarray) -> Hints:
    """Hints of squares: centre (row, col), radius r -> (2r + 1)^2 pixels clipped to the picture.

    Parameters
    ----------
    shape : (H, W)
    centres : ndarray of int, shape (P, 2), rows and columns inside the picture
    radii : ndarray of int, shape (P,), >= 0
    ab : ndarray of float32, shape (P, 2), each square's a/b

    Returns
    -------
    Hints
    """
    H, W = shape
    rows, cols, values = [], [], []
    for (y, x), r, v in zip(np.asarray(centres, np.int64), np.asarray(radii, np.int64), ab):
        yy, xx = np.mgrid[max(0, y - r):min(H, y + r + 1), max(0, x - r):min(W, x + r + 1)]
        rows.append(yy.ravel())
        cols.append(xx.ravel())
        values.append(np.broadcast_to(np.asarray(v, np.float32), (yy.size, 2)))
    if not rows:
        return Hints.empty(shape)
    return Hints(tuple(shape), np.concatenate(rows), np.concatenate(cols), np.concatenate(values))


def _point(item, index: int, shape: tuple[int, int] | None) -> tuple[int, int, int, np.ndarray]:
    """(row, col, radius, a/b) of one JSON point; ValueError naming what is wrong with it."""
    where = f"point {index}"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object with x, y, color")
    for key in ("x", "y"):
        if key not in item:
            raise ValueError(f"{where}: no {key!r}")
    x, y, r = item["x"], item["y"], item.get("radius", 0)
    for key, v in (("x", x), ("y", y), ("radius", r)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{where}: {key!r} must be a whole number >= 0, got {v!r}")
    H, W = shape or (y + 1, x + 1)
    if x >= W or y >= H:
        raise ValueError(f"{where}: ({x}, {y}) is outside the {W}x{H} picture")
    if "color" not in item:
        raise ValueError(f"{where}: no 'color'")
    try:
        ab = parse_color(item["color"])
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    return y, x, r, ab


def parse_points(data, shape: tuple[int, int] | None) -> Hints | None:
    """Hints from the JSON format's value (see the module docstring).

    Parameters
    ----------
    data : object
        The parsed JSON: ``{"points": [...]}``.
    shape : (H, W) or None
        The picture's size as displayed; None only checks the points (and returns None), for
        checking a folder's hint files before any picture is read.

    Raises
    ------
    ValueError
        The first problem found, naming the point.
    """
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise ValueError('expected {"points": [...]}')
    points = [_point(item, i, shape) for i, item in enumerate(data["points"])]
    if shape is None:
        return None
    if not points:
        return Hints.empty(shape)
    rows, cols, radii, ab = zip(*points)
    return square_hints(shape, np.stack([rows, cols], -1), np.array(radii), np.stack(ab))


def read_json(path: str | Path, shape: tuple[int, int] | None) -> Hints | None:
    """Hints from a JSON file (see :func:`parse_points`; None ``shape``: only checked).

    Raises
    ------
    VidcolorError
        Unreadable file, bad JSON or a bad point: one line naming the file and the problem.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return parse_points(data, shape)
    except OSError as e:
        raise VidcolorError(f"{path}: cannot read hints ({e.strerror or e})") from None
    except json.JSONDecodeError as e:
        raise VidcolorError(f"{path}: bad hints JSON ({e.msg}, line {e.lineno})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise VidcolorError(f"{path}: bad hints ({e})") from None


def from_rgba(rgba: np.ndarray, alpha: np.ndarray | None) -> Hints:
    """Hints from a painted image: every pixel with alpha > 0 is a hint of its colour.

    Parameters
    ----------
    rgba : ndarray of uint8 or uint16, shape (H, W, 3)
        sRGB; only the chroma of the painted pixels is used.
    alpha : ndarray, shape (H, W), or None
        None (an image without alpha) means every pixel is a hint.
    """
    rgb = np.asarray(rgba)
    shape = rgb.shape[:2]
    painted = np.ones(shape, bool) if alpha is None else np.asarray(alpha) > 0
    rows, cols = np.nonzero(painted)
    if not len(rows):
        return Hints.empty(shape)
    _, ab = color.rgb_to_lab(np.ascontiguousarray(rgb[rows, cols][None]))
    return Hints(tuple(shape), rows.astype(np.int64), cols.astype(np.int64), ab[0].astype(np.float32))


def read_hint_image(path: str | Path, shape: tuple[int, int]) -> Hints:
    """Hints from an RGBA image file of the picture's size (see :func:`from_rgba`).

    Raises
    ------
    VidcolorError
        Unreadable, or not the picture's size: one line naming the file.
    """
    from vidcolor.imageio import read_image

    picture = read_image(path)
    got = picture.rgb.shape[:2]
    if tuple(got) != tuple(shape):
        raise VidcolorError(f"{path}: hint image is {got[1]}x{got[0]}, the picture is "
                            f"{shape[1]}x{shape[0]}")
    return from_rgba(picture.rgb, picture.alpha)


def sample_hints(ab_true: np.ndarray, count: int, rng: np.random.Generator,
                 max_radius: int = MAX_SAMPLE_RADIUS) -> Hints:
    """A simulated user: ``count`` squares at random places, each given its mean true colour.

    Parameters
    ----------
    ab_true : ndarray of float32, shape (H, W, 2)
        The picture's true a/b.
    count : int
    rng : numpy.random.Generator
    max_radius : int
        Radii are uniform in 0..max_radius (squares of 1x1 to (2 max_radius + 1)^2).

    Returns
    -------
    Hints
    """
    H, W = ab_true.shape[:2]
    centres = np.stack([rng.integers(0, H, count), rng.integers(0, W, count)], -1)
    radii = rng.integers(0, max_radius + 1, count)
    means = np.zeros((count, 2), np.float32)
    for i, ((y, x), r) in enumerate(zip(centres, radii)):
        means[i] = ab_true[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].reshape(-1, 2).mean(0)
    return square_hints((H, W), centres, radii, means)


# --- naive propagation: the baselines a learned hint model has to beat -------------------------

def _residual(ab_pred: np.ndarray, hints: Hints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hint minus prediction where hinted: (d * mask (H, W, 2), mask (H, W, 1), mean d (2,))."""
    ab_hint, mask = raster(hints)
    d = (ab_hint - ab_pred) * mask
    mean = d.reshape(-1, 2).sum(0) / max(float(mask.sum()), 1.0)
    return d, mask, mean.astype(np.float32)


def global_shift(ab_pred: np.ndarray, hints: Hints) -> np.ndarray:
    """The prediction shifted by the mean hint-minus-prediction a/b over the hinted pixels.

    Parameters
    ----------
    ab_pred : ndarray of float32, shape (H, W, 2)
        The automatic a/b at the picture's size.
    hints : Hints

    Returns
    -------
    ndarray of float32, shape (H, W, 2); ``ab_pred`` itself without hints
    """
    if not len(hints):
        return ab_pred
    return ab_pred + _residual(ab_pred, hints)[2]


def local_shift(ab_pred: np.ndarray, hints: Hints, sigma: float | None = None) -> np.ndarray:
    """The prediction plus the hint-minus-prediction a/b interpolated with Gaussian weights.

    Normalized convolution: ``blur(d * mask) / blur(mask)``, so each pixel takes the
    Gaussian-weighted mean of the hints' corrections; where every hint is far (its weight
    below a twentieth of a one-pixel hint's peak) the global shift takes over.

    Parameters
    ----------
    ab_pred : ndarray of float32, shape (H, W, 2)
    hints : Hints
    sigma : float, optional
        In pixels; by default a tenth of the picture's geometric mean side.

    Returns
    -------
    ndarray of float32, shape (H, W, 2)
    """
    import cv2

    if not len(hints):
        return ab_pred
    H, W = ab_pred.shape[:2]
    sigma = sigma or 0.1 * float(np.sqrt(H * W))
    d, mask, mean = _residual(ab_pred, hints)

    def blur(x):
        return cv2.GaussianBlur(np.ascontiguousarray(x), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)

    prior = 0.05 / (2.0 * np.pi * sigma * sigma)
    num = blur(d) + prior * mean
    den = blur(mask[..., 0])[..., None] + prior
    return (ab_pred + num / den).astype(np.float32)
