"""Training data for the colour copy's restorer: a colour photo, a worn small copy of it, and
what the copy's chroma should have been.

A photo crop stands for the sharp master; the copy is the crop shrunk by a factor (2 to 4, by
area, no more than leaves the whole photo's copy :data:`MIN_COPY` pixels high) and worn (:func:`worn_copy`: soft focus, JPEG at a random quality with 4:2:0 or 4:4:4
chroma, or nothing), then decoded. Everything is at the copy's size, as the film's colour copy
step works (:func:`vidcolor.video.colour_copy.work_shape`): the master's lightness shrunk the
same way, the worn copy's lightness and chromaticity, and the clean copy's chromaticity, the
target. The copy may be shifted by part of a copy pixel against the master, as the step's
alignment by flow leaves it.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor import color
from vidcolor.copy_restore import network_input
from vidcolor.video.colour_copy import chromaticity

__all__ = ["FACTORS", "copy_sample", "samples", "worn_copy"]

#: Master pixels per copy pixel, a side.
FACTORS = (2, 3, 4)
#: The least short side (pixels) of a whole photo's copy: a film's copy shows a frame in 100
#: or more lines (a 480-line master at 1/4), and a smaller one would pack more detail into
#: each of its compression blocks than a film's copy has.
MIN_COPY = 96
#: JPEG qualities drawn (uniformly) for a worn copy, and the shares of copies that are left
#: clean and that keep full-resolution (4:4:4) chroma.
QUALITY = (10, 95)
CLEAN_SHARE = 0.1
FULL_CHROMA_SHARE = 0.2
#: Share of copies shown out of focus before compression (a print's softness), and the blur's
#: sigma range in copy pixels.
SOFT_SHARE = 0.3
SOFT_SIGMA = (0.4, 1.2)


def worn_copy(rgb: np.ndarray, rng: np.random.Generator,
              clean_share: float = CLEAN_SHARE) -> np.ndarray:
    """A small colour copy (h, w, 3) uint8 worn as a print or tape wears it (left as it is
    with probability ``clean_share``)."""
    if rng.random() < clean_share:
        return rgb
    if rng.random() < SOFT_SHARE:
        rgb = cv2.GaussianBlur(rgb, (0, 0), float(rng.uniform(*SOFT_SIGMA)))
    sampling = 0x111111 if rng.random() < FULL_CHROMA_SHARE else 0x221111
    params = [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(QUALITY[0], QUALITY[1] + 1)),
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), params)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


def copy_sample(rgb: np.ndarray, size: int, rng: np.random.Generator,
                clean_share: float = CLEAN_SHARE) -> tuple[np.ndarray, np.ndarray] | None:
    """One training pair from a photo ``rgb`` (H, W, 3) uint8, at ``size`` copy pixels a side
    (its copy worn by :func:`worn_copy`).

    Returns
    -------
    inputs : ndarray of float32, shape (size, size, 4)
        The restorer's input (:func:`vidcolor.copy_restore.network_input`): the master's
        lightness, the worn copy's lightness, its chromaticity a and b.
    target : ndarray of float32, shape (size, size, 3)
        The clean copy's chromaticity a and b, and the master's lightness (the loss relights
        with it). None when the photo is too small for the factor drawn.
    """
    factors = [f for f in FACTORS if min(rgb.shape[:2]) >= max(f * size + f, f * MIN_COPY)]
    if not factors:
        return None
    f = int(rng.choice(factors))
    side = f * size
    y = int(rng.integers(0, rgb.shape[0] - side - f + 1))
    x = int(rng.integers(0, rgb.shape[1] - side - f + 1))
    master = rgb[y:y + side, x:x + side]
    dy, dx = (int(v) for v in rng.integers(0, f, 2)) if rng.random() < 0.5 else (0, 0)
    shifted = rgb[y + dy:y + dy + side, x + dx:x + dx + side]
    small = (size, size)
    clean = cv2.resize(shifted, small, interpolation=cv2.INTER_AREA)
    worn = worn_copy(clean, rng, clean_share)
    L_master, _ = color.rgb_to_lab(master)
    L_master = cv2.resize(L_master, small, interpolation=cv2.INTER_AREA)
    L_clean, ab_clean = color.rgb_to_lab(cv2.resize(master, small, interpolation=cv2.INTER_AREA))
    L_worn, ab_worn = color.rgb_to_lab(worn)
    inputs = network_input(L_master, L_worn, chromaticity(_lab(L_worn, ab_worn)))
    target = np.concatenate([chromaticity(_lab(L_clean, ab_clean)), L_master[..., None]], -1)
    if rng.random() < 0.5:
        inputs, target = inputs[:, ::-1], target[:, ::-1]
    if rng.random() < 0.5:
        inputs, target = inputs.transpose(1, 0, 2), target.transpose(1, 0, 2)
    return np.ascontiguousarray(inputs), np.ascontiguousarray(target, np.float32)


def _lab(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    return np.concatenate([L[..., None], ab], -1)


def samples(files, per_file: int, size: int, seed: int, clean_share: float = CLEAN_SHARE
            ) -> tuple[np.ndarray, np.ndarray]:
    """``per_file`` pairs from each readable photo in ``files``, stacked: inputs (n, size,
    size, 4) and targets (n, size, size, 3), float16; a pure function of the seed."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        for _ in range(per_file):
            pair = copy_sample(rgb, size, rng, clean_share)
            if pair is not None:
                xs.append(pair[0].astype(np.float16))
                ys.append(pair[1].astype(np.float16))
    if not xs:
        raise ValueError(f"no photo is large enough for pairs of {size} pixels (the short "
                         f"side must be at least {FACTORS[0] * max(size + 1, MIN_COPY)})")
    return np.stack(xs), np.stack(ys)
