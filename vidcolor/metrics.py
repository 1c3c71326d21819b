"""Image quality numbers for colorization: PSNR and colourfulness.

Both follow the conventions of the colorization literature so that numbers can be compared with
published ones: PSNR on 8-bit RGB at native size, and the colourfulness of Hasler & Süsstrunk
(2003) with absolute opponent channels, as in the DDColor evaluation code.
"""

from __future__ import annotations

import numpy as np

__all__ = ["psnr", "colourfulness"]


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
