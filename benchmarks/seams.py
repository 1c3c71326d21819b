"""The seam score of colorized pictures: do tile edges show?

For each column (and row) of a picture, the mean absolute a/b difference between it and the
next, divided by the median of the same over the 80 neighbouring columns (rows); the score is
the largest such ratio in the picture. A clean photo upscaled a lot scores about 1.3 to 2.6, a
4-unit a/b step across it about 8; tiled colorization must stay at or below 3.0.

The score itself is :func:`vidcolor.metrics.seam_score`; this module applies it to picture
files of any size (a strip of rows at a time, so an 88-megapixel output needs no 700 MB a/b
array), and calibrates it on a clean upscaled photo with and without an injected step.

Usage::

    python -m benchmarks.seams OUTPUT.png [OUTPUT2.tif ...]
    python -m benchmarks.seams --calibrate ../shared/data/val/cbsd68/126007.png --scale 15
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color
from vidcolor.metrics import seam_ratios

BAR = 3.0
_STRIP_ROWS = 512


def profiles(rgb: np.ndarray, strip_rows: int = _STRIP_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Column and row difference profiles of a picture's a/b, computed strip by strip.

    Equal to :func:`vidcolor.metrics.adjacent_differences` of the whole picture's a/b.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
    strip_rows : int

    Returns
    -------
    columns : ndarray of float64, shape (W - 1,)
    rows : ndarray of float64, shape (H - 1,)
    """
    H, W = rgb.shape[:2]
    column_sum = np.zeros(W - 1, np.float64)
    row_means = []
    previous = None  # the last row of the strip before, for the difference across strips
    for y in range(0, H, strip_rows):
        ab = color.rgb_to_lab(rgb[y:y + strip_rows])[1]
        column_sum += np.abs(np.diff(ab, axis=1)).sum(axis=0, dtype=np.float64).mean(axis=-1)
        if previous is not None:
            ab = np.concatenate([previous, ab])
        row_means.append(np.abs(np.diff(ab, axis=0)).mean(axis=(1, 2), dtype=np.float64))
        previous = ab[-1:]
    return column_sum / H, np.concatenate(row_means)


def score_profiles(columns: np.ndarray, rows: np.ndarray) -> dict:
    """The seam score from two profiles, with where the worst column and row are."""
    rc, rr = seam_ratios(columns), seam_ratios(rows)
    column_score, row_score = float(rc.max(initial=0)), float(rr.max(initial=0))
    return {"score": max(column_score, row_score),
            "worst_column": int(rc.argmax()) if rc.size else -1, "column_score": column_score,
            "worst_row": int(rr.argmax()) if rr.size else -1, "row_score": row_score}


def score_file(path: str | Path) -> dict:
    """The seam score of a picture file (see :func:`score_profiles`), plus its size."""
    from vidcolor.imageio import read_image

    rgb = read_image(path).rgb
    result = score_profiles(*profiles(rgb))
    result["size"] = list(rgb.shape[:2])
    return result


def upscale(rgb: np.ndarray, scale: float) -> np.ndarray:
    """A photo upscaled bicubically, as a large scan is made from a small photo."""
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)


def calibrate(path: str | Path, scale: float = 15.0, step: float = 4.0) -> dict:
    """Seam scores of a clean upscaled photo, and of the same with an ``step``-unit a/b step
    injected (both a and b raised by ``step`` right of the middle column, and below the middle
    row)."""
    from vidcolor.imageio import read_image

    rgb = upscale(read_image(path).rgb, scale)
    clean = score_profiles(*profiles(rgb))
    L, ab = color.rgb_to_lab(rgb)
    H, W = L.shape
    stepped = ab.copy()
    stepped[:, W // 2:] += step
    stepped[H // 2:] += step
    injected = color.lab_to_rgb(L, color.fit_gamut(L, stepped), rgb.dtype)
    return {"clean": clean, "step": score_profiles(*profiles(injected)),
            "size": [H, W], "step_units": step}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pictures", nargs="*")
    parser.add_argument("--calibrate", metavar="PHOTO", help="score PHOTO upscaled, clean and "
                        "with a 4-unit a/b step")
    parser.add_argument("--scale", type=float, default=15.0)
    args = parser.parse_args(argv)
    worst = 0.0
    if args.calibrate:
        c = calibrate(args.calibrate, args.scale)
        print(f"{args.calibrate} x{args.scale:g} {c['size']}: clean {c['clean']['score']:.2f}, "
              f"with a {c['step_units']:g}-unit step {c['step']['score']:.2f}")
    for path in args.pictures:
        r = score_file(path)
        worst = max(worst, r["score"])
        print(f"{path} {r['size']}: seam score {r['score']:.2f} (column {r['worst_column']}: "
              f"{r['column_score']:.2f}, row {r['worst_row']}: {r['row_score']:.2f})")
    return 1 if worst > BAR else 0


if __name__ == "__main__":
    sys.exit(main())
