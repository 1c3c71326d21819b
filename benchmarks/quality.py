"""Colorization quality on CBSD68 (issue 3's bars), and the a/b upsampling on its own.

    python -m benchmarks.quality [--model DIR] [--sheet FILE] [--render-size N] [--limit N]
    python -m benchmarks.quality --upsampling [--folder DIR] [--render-size N] [--blur SIGMA]

The first form is ``vidcolor eval`` on ``$VIDCOLOR_DATA/val/cbsd68`` (``VIDCOLOR_DATA`` defaults
to ``<repo>/../shared/data``), followed by the bars: PSNR >= 24.0 dB (grey baseline 22.54) and
colourfulness >= 26 (ground truth 33.9). The last line is JSON.

The second form needs no model: it shrinks each picture's true a/b to render size (optionally
blurred, as network predictions are) and measures how well each upsampler restores them at
full resolution: RGB PSNR against the picture, and the a/b RMSE on the 10% strongest L edges.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color
from vidcolor.colorize import render_shape, resize_l
from vidcolor.imageio import read_image
from vidcolor.metrics import psnr
from vidcolor.picture_files import find_pictures
from vidcolor.upsample import upsample_ab

PSNR_BAR = 24.0
COLOURFULNESS_BAR = 26.0


def data_root() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("VIDCOLOR_DATA", default))


# --- upsamplers compared ---------------------------------------------------------------------

def _bicubic(ab, L_small, L_full):
    H, W = L_full.shape
    return cv2.resize(ab, (W, H), interpolation=cv2.INTER_CUBIC)


def _guided_filter(ab, L_small, L_full, radius=2, eps=4.0):
    """He & Sun's fast guided filter upsampling: local fits ab = A L + B at render size,
    A and B upsampled and applied to the full-resolution L (vidcolor's first upsampler)."""
    H, W = L_full.shape
    k = (2 * radius + 1,) * 2

    def box(x):
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    mean_L = box(L_small)
    var_L = box(L_small * L_small) - mean_L * mean_L
    mean_ab = box(ab)
    A = (box(L_small[..., None] * ab) - mean_L[..., None] * mean_ab) / (var_L[..., None] + eps)
    B = mean_ab - A * mean_L[..., None]
    A = cv2.resize(box(A), (W, H), interpolation=cv2.INTER_LINEAR)
    B = cv2.resize(box(B), (W, H), interpolation=cv2.INTER_LINEAR)
    return A * L_full[..., None] + B


UPSAMPLERS = {"bicubic": _bicubic, "guided filter": _guided_filter, "vidcolor": upsample_ab}


def measure_upsampling(folder: Path, render_size: int, blur: float, limit: int | None) -> dict:
    """Mean RGB PSNR and edge a/b RMSE of each upsampler, with true a/b as the render."""
    scores = {name: {"psnr": [], "edge_ab_rmse": [], "seconds": 0.0} for name in UPSAMPLERS}
    pictures = find_pictures(folder)[:limit]
    for path in pictures:
        truth = read_image(path).rgb
        if truth.dtype != np.uint8:
            truth = (truth // 257).astype(np.uint8)
        L, ab = color.rgb_to_lab(truth)
        shape = render_shape(*L.shape, render_size, 32)
        L_small = resize_l(L, shape)
        ab_small = cv2.resize(ab, shape[::-1], interpolation=cv2.INTER_AREA)
        if blur > 0:
            ab_small = cv2.GaussianBlur(ab_small, (0, 0), blur)
        grad = np.hypot(cv2.Sobel(L, cv2.CV_32F, 1, 0), cv2.Sobel(L, cv2.CV_32F, 0, 1))
        edges = grad > np.percentile(grad, 90)
        for name, upsample in UPSAMPLERS.items():
            start = time.perf_counter()
            up = upsample(ab_small, L_small, L)
            scores[name]["seconds"] += time.perf_counter() - start
            scores[name]["psnr"].append(psnr(color.lab_to_rgb(L, up), truth))
            scores[name]["edge_ab_rmse"].append(float(np.sqrt(np.mean((up - ab)[edges] ** 2))))
    return {name: {"psnr": float(np.mean(s["psnr"])),
                   "edge_ab_rmse": float(np.mean(s["edge_ab_rmse"])),
                   "ms": 1000 * s["seconds"] / max(1, len(pictures))}
            for name, s in scores.items()} | {"count": len(pictures)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", metavar="DIR", help="model directory (default: shipped)")
    parser.add_argument("--sheet", metavar="FILE", help="contact sheet PNG (grey | ours | truth)")
    parser.add_argument("--render-size", type=int, metavar="N")
    parser.add_argument("--limit", type=int, metavar="N")
    parser.add_argument("--folder", metavar="DIR", help="pictures (default: CBSD68)")
    parser.add_argument("--upsampling", action="store_true",
                        help="compare a/b upsamplers with true a/b instead of running a model")
    parser.add_argument("--blur", type=float, default=0.0, metavar="SIGMA",
                        help="--upsampling: blur the render a/b by SIGMA render pixels first")
    args = parser.parse_args(argv)
    folder = Path(args.folder) if args.folder else data_root() / "val" / "cbsd68"
    if not folder.is_dir():
        print(f"benchmarks.quality: {folder}: no such folder (set VIDCOLOR_DATA)",
              file=sys.stderr)
        return 1

    if args.upsampling:
        render_size = args.render_size or 256
        result = measure_upsampling(folder, render_size, args.blur, args.limit)
        print(f"{folder}: {result['count']} pictures, render size {render_size}, "
              f"blur {args.blur}")
        print(f"{'upsampler':<14} {'PSNR dB':>8} {'edge ab RMSE':>13} {'ms':>7}")
        for name in UPSAMPLERS:
            r = result[name]
            print(f"{name:<14} {r['psnr']:>8.2f} {r['edge_ab_rmse']:>13.3f} {r['ms']:>7.1f}")
        print(json.dumps({"render_size": render_size, "blur": args.blur, **result}))
        return 0

    from vidcolor.cli import TqdmProgress  # the command's own bar: this is `vidcolor eval`
    from vidcolor.errors import VidcolorError
    from vidcolor.evaluate import evaluate_folder, format_table, summary_json
    from vidcolor.models.store import load_model

    bar = TqdmProgress(unit="image", leave=True)
    try:
        result = evaluate_folder(folder, model=lambda: load_model(args.model),
                                 render_size=args.render_size, limit=args.limit, sheet=args.sheet, progress=bar)
    except VidcolorError as e:
        print(f"benchmarks.quality: {e}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    overall = result["overall"]
    print(format_table(result))
    print(f"bars: PSNR {overall['psnr']:.2f} >= {PSNR_BAR}: "
          f"{'yes' if overall['psnr'] >= PSNR_BAR else 'NO'}; colourfulness "
          f"{overall['colourfulness']:.2f} >= {COLOURFULNESS_BAR}: "
          f"{'yes' if overall['colourfulness'] >= COLOURFULNESS_BAR else 'NO'}")
    print(summary_json(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
