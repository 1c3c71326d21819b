"""Image quality numbers for colorization: PSNR and colourfulness.

Both follow the conventions of the colorization literature so that numbers can be compared with
published ones: PSNR on 8-bit RGB at native size, and the colourfulness of Hasler & Süsstrunk
(2003) with absolute opponent channels, as in the DDColor evaluation code.

The seam score tells whether tiles show: a column (or row) whose chroma jumps much more than
its neighbours' do.
"""

from __future__ import annotations

import numpy as np

__all__ = ["psnr", "colourfulness", "adjacent_differences", "seam_ratios", "seam_score"]


def _as_rgb8(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{name}: expected uint8 RGB of shape (H, W, 3), got {image.dtype} "
                         f"{image.shape}")
    return image


def psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two 8-bit RGB images, over all pixels and channels.

    Parameters
    ----------
    prediction, truth : ndarray of uint8, shape (H, W, 3)

    Returns
    -------
    float
        In dB; ``inf`` for identical images.
    """
    prediction = _as_rgb8(prediction, "prediction")
    truth = _as_rgb8(truth, "truth")
    if prediction.shape != truth.shape:
        raise ValueError(f"shapes differ: {prediction.shape} vs {truth.shape}")
    diff = prediction.astype(np.float64) - truth.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(255.0 ** 2 / mse))


def colourfulness(image: np.ndarray) -> float:
    """Colourfulness of an 8-bit RGB image (Hasler & Süsstrunk, 2003).

    With the opponent channels ``rg = |R - G|`` and ``yb = |(R + G) / 2 - B|`` (in 0..255):
    ``sqrt(std(rg)**2 + std(yb)**2) + 0.3 * sqrt(mean(rg)**2 + mean(yb)**2)``. The absolute
    values follow the DDColor evaluation code (the paper uses signed differences), so the
    numbers compare with the colorization literature.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)

    Returns
    -------
    float
        0 for a neutral grey image; about 15 "slightly", 33 "moderately", 59 "quite" colourful.
    """
    image = _as_rgb8(image, "image").astype(np.float64)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    rg = np.abs(r - g)
    yb = np.abs(0.5 * (r + g) - b)
    spread = np.hypot(rg.std(), yb.std())
    mean = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * mean)


# Columns (rows) on each side of one whose adjacent difference is compared; 80 in all.
_SEAM_NEIGHBOURS = 80
# Below this (a/b units) a median is treated as this: far too small a step to see, and it keeps
# perfectly flat chroma from dividing by zero.
_SEAM_FLOOR = 0.01


def adjacent_differences(ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute a/b difference between adjacent columns, and between adjacent rows.

    Parameters
    ----------
    ab : ndarray of float, shape (H, W, 2)
        Chroma, in Lab units.

    Returns
    -------
    columns : ndarray of float64, shape (W - 1,)
        Entry ``x``: the mean over rows and both channels of ``|ab[:, x + 1] - ab[:, x]|``.
    rows : ndarray of float64, shape (H - 1,)
        The same between rows ``y`` and ``y + 1``.
    """
    ab = np.asarray(ab, np.float32)
    if ab.ndim != 3 or ab.shape[-1] != 2:
        raise ValueError(f"expected a/b of shape (H, W, 2), got {ab.shape}")
    columns = np.abs(np.diff(ab, axis=1)).mean(axis=(0, 2), dtype=np.float64)
    rows = np.abs(np.diff(ab, axis=0)).mean(axis=(1, 2), dtype=np.float64)
    return columns, rows


def seam_ratios(profile: np.ndarray, neighbours: int = _SEAM_NEIGHBOURS) -> np.ndarray:
    """How much each entry of a difference profile stands out from its neighbourhood.

    Parameters
    ----------
    profile : ndarray, shape (n,)
        Mean absolute differences between adjacent lines (see :func:`adjacent_differences`).
    neighbours : int
        Entry ``i`` is divided by the median of the ``neighbours // 2`` entries on each side of
        it (itself excluded; fewer near the ends), floored at 0.01.

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    profile = np.asarray(profile, np.float64)
    half = neighbours // 2
    padded = np.pad(profile, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    around = np.delete(windows, half, axis=1)  # the entry itself is not its own neighbour
    with np.errstate(all="ignore"):  # a profile of one entry has no neighbours at all
        median = np.nanmedian(around, axis=1) if profile.size > 1 else np.zeros(profile.size)
    return profile / np.maximum(np.nan_to_num(median), _SEAM_FLOOR)


def seam_score(ab: np.ndarray, neighbours: int = _SEAM_NEIGHBOURS) -> float:
    """The seam score of an image's chroma: the largest :func:`seam_ratios` over its columns
    and rows.

    A clean photo upscaled a lot scores about 1.3 to 2.6; a 4-unit a/b step across it about 8.
    Tiled colorization should stay at or below 3.

    Parameters
    ----------
    ab : ndarray of float, shape (H, W, 2)
    neighbours : int

    Returns
    -------
    float
    """
    columns, rows = adjacent_differences(ab)
    return float(max(seam_ratios(columns, neighbours).max(initial=0.0),
                     seam_ratios(rows, neighbours).max(initial=0.0)))
