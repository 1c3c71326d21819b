"""Tune and check the edge-aware spreading of hint corrections (:mod:`vidcolor.propagate`).

    python -m benchmarks.propagation FOLDER [--every K] [--limit N] [--seed S] [--counts 10,100]
                                            [--grid]

For each colour photo of FOLDER (every K-th, sorted, at most N), the model's automatic a/b is
predicted once; a simulated user (:func:`vidcolor.hints.sample_hints`, the same as
``vidcolor eval --hints``) gives N hints from the truth; the photo is then finished the way
``vidcolor image --hints`` does (corrections spread at the network's resolution, upsampled
guided by the full-resolution L, gamut-fitted), and its PSNR compared with the naive local
baseline of ``vidcolor eval`` (Gaussian-weighted corrections).

With ``--grid`` every combination of the settings in :data:`GRID` is measured, and the
rule fixed before the first run picks the one with the best mean PSNR over the hint counts.
The grid is meant for training photos (e.g. ``train/bsd200 --every 5``), not for the sets the
results are reported on.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np

from vidcolor import color, propagate
from vidcolor import hints as hints_module
from vidcolor.colorize import ImageColorizer, gamut_radius
from vidcolor.evaluate import hint_rng
from vidcolor.imageio import read_image
from vidcolor.metrics import psnr
from vidcolor.models.runtimes import load_color_model
from vidcolor.options import ImageOptions
from vidcolor.picture_files import find_pictures
from vidcolor.upsample import upsampler

# The fields of vidcolor.propagate.CorrectionSpread a grid run varies: the last grid run's,
# around the values it chose (benchmarks/RESULTS.md).
GRID = {"nonlocal_tie": (0.01, 0.03, 0.1),
        "scales": ((10.0, 10.0, 30 / 128), (10.0, 10.0, 50 / 128), (10.0, 10.0, 100 / 128)),
        "prior": (1e-6, 1e-5, 1e-4)}


def finish(L_full, ab_small, L_small, shape):
    """The uint8 RGB of a/b at the network's resolution, as ``vidcolor image`` finishes it."""
    H, W = shape
    ab = upsampler(ab_small, L_small, (H, W))(L_full, slice(0, H))
    return color.gamut_rgb(L_full, ab, np.uint8, gamut_radius(H, L_small.shape[0]))


def photo_cases(colorizer, path, counts, seed):
    """(truth, L, automatic a/b at network resolution, its L, per count the hints)."""
    truth = read_image(path).rgb
    if truth.dtype != np.uint8:
        truth = (truth // 257).astype(np.uint8)
    L, ab_true = color.rgb_to_lab(truth)
    ab_small, L_small = colorizer.predict_small(lambda rows: color.rgb_to_l(truth[rows]),
                                                truth.shape[:2])
    ours = finish(L, ab_small, L_small, truth.shape[:2])
    ab_pred = color.rgb_to_lab(ours)[1]
    hints = {n: hints_module.sample_hints(ab_true, n, hint_rng(seed, path.name, n)) for n in counts}
    return truth, L, ab_small, L_small, ab_pred, hints


def measure(cases, params):
    """Mean PSNR per count with ``params`` (None: the local baseline)."""
    scores = {}
    spread = None if params is None else dataclasses.replace(propagate.PHOTO_SPREAD, **params)
    for truth, L, ab_small, L_small, ab_pred, hints in cases:
        for n, h in hints.items():
            if params is None:
                rgb = color.gamut_rgb(L, hints_module.local_shift(ab_pred, h), np.uint8)
            else:
                ab_hint, mask = hints_module.raster(h, L_small.shape)
                ab = spread(L_small, ab_small, ab_hint, mask)
                rgb = finish(L, ab, L_small, truth.shape[:2])
            scores.setdefault(n, []).append(psnr(rgb, truth))
    return {n: float(np.mean(v)) for n, v in scores.items()}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder")
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--limit", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--counts", default="10,100")
    p.add_argument("--grid", action="store_true")
    p.add_argument("--only", help="a file listing the photos to use (one path a line)")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    if args.only:
        paths = [Path(line) for line in Path(args.only).read_text().split() if line]
    else:
        paths = sorted(find_pictures(Path(args.folder)))[::args.every]
    paths = paths[:args.limit]
    colorizer = ImageColorizer(load_color_model(), ImageOptions(tile=0))
    cases = [photo_cases(colorizer, path, counts, args.seed) for path in paths]
    print(f"{len(cases)} photos, counts {counts}, seed {args.seed}", flush=True)
    rows = [("local baseline", measure(cases, None))]
    print(json.dumps({"params": "local", **rows[0][1]}), flush=True)
    combos = ([dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
              if args.grid else [{}])
    for params in combos:
        scores = measure(cases, params)
        rows.append((params or "defaults", scores))
        print(json.dumps({"params": params or "defaults", **scores}), flush=True)
    best = max(rows[1:], key=lambda r: np.mean(list(r[1].values())))
    print("best:", json.dumps({"params": best[0], **best[1]}))


if __name__ == "__main__":
    main()
