"""Large stills (issue 5): time, peak memory and seams of `vidcolor image` on big scans, and
tiled against untiled quality on upscaled CBSD68.

    python -m benchmarks.large_stills --model DIR [--megapixels 12 50 88] [--bits 8|16]
                                      [--photo PNG] [--untiled] [--soften SIGMA] [--keep DIR]
    python -m benchmarks.large_stills --compare --model DIR [--scale 4] [--limit N]

The first form makes an N-megapixel grey scan by upscaling a photo (CBSD68 126007, a church
under mountains, to 3:2: 88 MP is 11520x7680, 15x the photo), runs ``vidcolor image`` on it in a
child process under ``/usr/bin/time -v`` and reports wall time, peak resident memory, whether
the output has the input's size, and its seam score (see :mod:`benchmarks.seams`), over the
whole picture and in the bands where tiles overlap. Bars: 88 MP within 3.5 GB, output of the
input's size, seam score <= 3.0. ``--untiled`` also runs ``--tile 0`` for comparison, and
reports the tiled output's worst seam ratio on the lines where the untiled output is under the
bar (the picture's own colour edges score high in both; see :func:`new_seams`).

The second form colorizes each CBSD68 photo upscaled ``--scale`` times (bicubic) from its
lightness, tiled (automatic) and untiled (``tile=0``), and compares both with the upscaled
photo: PSNR, colourfulness, and the tiled output's seam score. Bar: tiled at least as good.
The last line of each form is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.quality import data_root
from benchmarks.seams import BAR as SEAM_BAR
from benchmarks.seams import profiles, score_profiles
from vidcolor import color, tiling

MEMORY_BAR_GB = 3.5
DEFAULT_PHOTO = "val/cbsd68/126007.png"
_SIZES = {12: (2880, 4320), 50: (5760, 8640), 88: (7680, 11520)}  # 3:2, as the 88 MP


def scan_shape(megapixels: float) -> tuple[int, int]:
    """(H, W) of a 3:2 scan of about this many megapixels (the issue's sizes exactly)."""
    if int(megapixels) in _SIZES and megapixels == int(megapixels):
        return _SIZES[int(megapixels)]
    w = int(round(math.sqrt(megapixels * 1e6 * 1.5) / 32)) * 32
    return w * 2 // 3, w


def make_scan(photo: Path, shape: tuple[int, int], path: Path, bits: int = 8,
              soften: float = 0.0) -> None:
    """A grey scan: the photo's lightness, upscaled bicubically to ``shape``.

    8-bit scans are written as PNG, 16-bit ones as TIFF (both single-channel, as scanners do).
    ``soften`` blurs the photo first (Gaussian sigma in photo pixels): a soft print has no
    sharp colour edges of its own, so any jump in its colours is one the tiles made.
    """
    from vidcolor.imageio import read_image

    rgb = read_image(photo).rgb
    L = color.rgb_to_l(rgb)
    if soften > 0:
        L = cv2.GaussianBlur(L, (0, 0), soften)
    dtype = np.uint16 if bits == 16 else np.uint8
    grey = color.l_to_grey_rgb(L, dtype)[..., 0]
    h, w = shape
    if (h > w) != (grey.shape[0] > grey.shape[1]):
        grey = np.ascontiguousarray(grey.T)
    big = cv2.resize(grey, (w, h), interpolation=cv2.INTER_CUBIC)
    if bits == 16:
        import tifffile

        tifffile.imwrite(path, big, photometric="minisblack", compression="zlib")
    else:
        cv2.imwrite(str(path), big)


def _vidcolor_command() -> list[str]:
    return [sys.executable, "-c", "import sys; from vidcolor.cli import main; sys.exit(main())"]


def run_timed(args: list[str]) -> dict:
    """Run a command, returning its wall time (s), peak RSS (GB) and exit status.

    ``/usr/bin/time -v`` measures when it is there; otherwise the children's ru_maxrss.
    """
    timer = Path("/usr/bin/time")
    start = time.perf_counter()
    if timer.exists():
        done = subprocess.run([str(timer), "-v", *args], capture_output=True, text=True)
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        peak_kb = int(match.group(1)) if match else -1
        how = "/usr/bin/time -v"
    else:
        done = subprocess.run(args, capture_output=True, text=True)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        how = "ru_maxrss"
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if "vidcolor" in line or "Error" in line]
        print("\n".join(tail[-5:]), file=sys.stderr)
    return {"seconds": round(wall, 1), "peak_gb": round(peak_kb / 1e6, 3), "status":
            done.returncode, "measured_with": how}


def band_mask(full: int, work: int, plan) -> np.ndarray:
    """Which full-resolution lines lie where tiles overlap (the feathered bands), along an axis
    whose working-copy length is ``work``.

    Returns
    -------
    ndarray of bool, shape (full - 1,): one entry per adjacent pair, as the seam profiles.
    """
    scale = full / work
    margin = tiling.border_margin(plan)  # tiles are cut from a mirrored-out copy
    mask = np.zeros(full - 1, bool)
    starts = tiling.tile_starts(work + 2 * margin, plan.tile, plan.overlap) - margin
    size = min(plan.tile, work + 2 * margin)
    for a, b in zip(starts[1:], starts[:-1] + size):  # each overlap [next start, this end)
        lo, hi = int(a * scale) - int(scale), int(math.ceil(b * scale)) + int(scale)
        mask[max(0, lo):max(0, min(full - 1, hi))] = True
    return mask


def count_tiles(plan) -> int:
    margin = tiling.border_margin(plan)
    h, w = plan.work_shape
    return len(tiling.tile_grid((h + 2 * margin, w + 2 * margin), plan.tile, plan.overlap))


def seams_of(rgb: np.ndarray, plan) -> dict:
    """Seam score of an output picture (H, W, 3) over the whole picture and, for a tiled one,
    within the tiles' overlap bands (where seams would be)."""
    from vidcolor.metrics import seam_ratios

    columns, rows = profiles(rgb)
    result = score_profiles(columns, rows)
    result["ratios"] = (seam_ratios(columns), seam_ratios(rows))  # for new_seams; not printed
    if plan is not None:
        H, W = rgb.shape[:2]
        h, w = plan.work_shape
        rc = result["ratios"][0][band_mask(W, w, plan)]
        rr = result["ratios"][1][band_mask(H, h, plan)]
        result["in_tile_bands"] = float(max(rc.max(initial=0), rr.max(initial=0)))
    return result


def new_seams(tiled: dict, untiled: dict, reach: int = 2) -> float:
    """The largest seam ratio of a tiled output on the lines where the untiled output of the
    same picture stays at or under the bar (within ``reach`` lines): jumps that tiling made,
    as opposed to the picture's own colour edges, which both outputs have.

    Parameters
    ----------
    tiled, untiled : dict
        :func:`seams_of` results.
    """
    worst = 0.0
    for mine, theirs in zip(tiled["ratios"], untiled["ratios"]):
        near = theirs.copy()
        for shift in range(1, reach + 1):  # the largest untiled ratio within reach
            near[shift:] = np.maximum(near[shift:], theirs[:-shift])
            near[:-shift] = np.maximum(near[:-shift], theirs[shift:])
        worst = max(worst, float(mine[near <= SEAM_BAR].max(initial=0)))
    return worst


def large_stills(model: str, megapixels, bits: int, photo: Path, untiled: bool,
                 keep: Path | None, soften: float = 0.0) -> list[dict]:
    from PIL import Image

    from vidcolor.imageio import read_image
    from vidcolor.models.store import read_config

    render_size = int(read_config(model).get("render_size", 256))
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidcolor-large-", dir=keep) as tmp:
        tmp = Path(tmp)
        for mp in megapixels:
            shape = scan_shape(mp)
            suffix = ".tif" if bits == 16 else ".png"
            scan = tmp / f"scan_{mp:g}mp{suffix}"
            make_scan(photo, shape, scan, bits, soften)
            modes = [("tiled", [])] + ([("untiled", ["--tile", "0"])] if untiled else [])
            for mode, extra in modes:
                out = tmp / f"out_{mp:g}mp_{mode}{suffix}"
                timing = run_timed([*_vidcolor_command(), "image", str(scan), "-o", str(out),
                                    "--model", model, *extra])
                with Image.open(out) as im:  # the header only
                    size_ok = im.size == (shape[1], shape[0])
                plan = tiling.plan_tiles(*shape, render_size) if mode == "tiled" else None
                row = {"megapixels": round(shape[0] * shape[1] / 1e6, 1), "size": list(shape),
                       "bits": bits, "soften": soften, "mode": mode, **timing,
                       "output_size_ok": size_ok,
                       "tiles": count_tiles(plan) if plan else 0,
                       "seams": seams_of(read_image(out).rgb, plan)}
                rows.append(row)
                s = row["seams"]
                print(f"{row['megapixels']:6.1f} MP {bits}-bit "
                      + (f"softened {soften:g} " if soften else "")
                      + f"{mode:8s} {row['seconds']:7.1f} s "
                      f"peak {row['peak_gb']:.2f} GB  size ok {size_ok}  tiles {row['tiles']}  "
                      f"seam {s['score']:.2f} (col {s['worst_column']}, row {s['worst_row']})"
                      + (f", in tile bands {s['in_tile_bands']:.2f}" if "in_tile_bands" in s
                         else ""), flush=True)
                out.unlink()
            if untiled:
                tiled_row, untiled_row = rows[-2:]
                tiled_row["seams"]["new"] = new_seams(tiled_row["seams"], untiled_row["seams"])
                print(f"{'':6s}    tiled seam ratio where the untiled output is under "
                      f"{SEAM_BAR:g}: {tiled_row['seams']['new']:.2f}", flush=True)
            scan.unlink()
    for row in rows:
        row["seams"].pop("ratios")
    return rows


def compare(model_dir: str, folder: Path, scale: float, limit: int | None) -> dict:
    """Tiled against untiled on upscaled photos, against the upscaled photo."""
    from benchmarks.seams import upscale
    from vidcolor.colorize import colorize_image
    from vidcolor.imageio import read_image
    from vidcolor.picture_files import find_pictures
    from vidcolor.metrics import colourfulness, psnr
    from vidcolor.models import store
    from vidcolor.options import ImageOptions

    model = store.load_model(model_dir)
    pictures = find_pictures(folder)[:limit]
    per = []
    for n, path in enumerate(pictures):
        truth = upscale(read_image(path).rgb, scale)
        grey = color.l_to_grey_rgb(color.rgb_to_l(truth))
        row = {"name": path.name, "truth_colourfulness": colourfulness(truth)}
        seams = {}
        for mode, tile in (("tiled", None), ("untiled", 0)):
            t = time.perf_counter()
            out = colorize_image(grey, model, ImageOptions(tile=tile))
            row[f"{mode}_seconds"] = time.perf_counter() - t
            row[f"{mode}_psnr"] = psnr(out, truth)
            row[f"{mode}_colourfulness"] = colourfulness(out)
            plan = tiling.plan_tiles(*out.shape[:2], model.render_size, model.multiple,
                                     tile=tile)
            seams[mode] = seams_of(out, plan)
            row[f"{mode}_seam"] = seams[mode]["score"]
        row["tiled_seam_in_bands"] = seams["tiled"]["in_tile_bands"]
        row["tiled_seam_new"] = new_seams(seams["tiled"], seams["untiled"])
        per.append(row)
        print(f"{n + 1}/{len(pictures)} {path.name}: PSNR tiled {row['tiled_psnr']:.2f} "
              f"untiled {row['untiled_psnr']:.2f}, colourfulness {row['tiled_colourfulness']:.1f}"
              f" / {row['untiled_colourfulness']:.1f} (truth {row['truth_colourfulness']:.1f}),"
              f" seam {row['tiled_seam']:.2f} / {row['untiled_seam']:.2f}", flush=True)
    keys = [k for k in per[0] if k != "name"]
    mean = {k: float(np.mean([r[k] for r in per])) for k in keys}
    mean["tiled_seam_max"] = float(max(r["tiled_seam"] for r in per))
    mean["untiled_seam_max"] = float(max(r["untiled_seam"] for r in per))
    mean["tiled_seam_in_bands_max"] = float(max(r["tiled_seam_in_bands"] for r in per))
    mean["tiled_seam_new_max"] = float(max(r["tiled_seam_new"] for r in per))
    mean["tiled_seam_over_bar"] = int(sum(r["tiled_seam"] > SEAM_BAR for r in per))
    mean["untiled_seam_over_bar"] = int(sum(r["untiled_seam"] > SEAM_BAR for r in per))
    mean["tiled_colourfulness_wins"] = int(sum(
        r["tiled_colourfulness"] >= r["untiled_colourfulness"] for r in per))
    mean["tiled_psnr_wins"] = int(sum(r["tiled_psnr"] >= r["untiled_psnr"] for r in per))
    mean["count"] = len(per)
    return {"mean": mean, "images": per}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--megapixels", type=float, nargs="+", default=[12, 50, 88])
    parser.add_argument("--bits", type=int, choices=(8, 16), default=8)
    parser.add_argument("--photo", type=Path, help=f"default: $VIDCOLOR_DATA/{DEFAULT_PHOTO}")
    parser.add_argument("--untiled", action="store_true", help="also run with --tile 0")
    parser.add_argument("--soften", type=float, default=0.0, metavar="SIGMA",
                        help="blur the photo first (Gaussian, photo pixels): no colour edges "
                        "of its own, so any seam is the tiles'")
    parser.add_argument("--keep", type=Path, help="folder for the temporary scans")
    parser.add_argument("--compare", action="store_true", help="tiled vs untiled on CBSD68")
    parser.add_argument("--folder", type=Path, help="default: $VIDCOLOR_DATA/val/cbsd68")
    parser.add_argument("--scale", type=float, default=4.0)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.compare:
        result = compare(args.model, args.folder or data_root() / "val" / "cbsd68", args.scale,
                         args.limit)
        m = result["mean"]
        print(f"{m['count']} photos x{args.scale:g}: PSNR tiled {m['tiled_psnr']:.3f} untiled "
              f"{m['untiled_psnr']:.3f} (tiled >= untiled on {m['tiled_psnr_wins']}); "
              f"colourfulness tiled {m['tiled_colourfulness']:.2f} untiled "
              f"{m['untiled_colourfulness']:.2f} truth {m['truth_colourfulness']:.2f}; "
              f"seam max tiled {m['tiled_seam_max']:.2f} (in tile bands "
              f"{m['tiled_seam_in_bands_max']:.2f}, where untiled <= {SEAM_BAR:g} "
              f"{m['tiled_seam_new_max']:.2f}) untiled {m['untiled_seam_max']:.2f}; over "
              f"{SEAM_BAR:g}: tiled {m['tiled_seam_over_bar']} untiled "
              f"{m['untiled_seam_over_bar']}; "
              f"s/photo tiled {m['tiled_seconds']:.1f} untiled {m['untiled_seconds']:.1f}")
        print(json.dumps(result["mean"]))
        ok = m["tiled_psnr"] >= m["untiled_psnr"] and m["tiled_colourfulness"] >= m[
            "untiled_colourfulness"]
        return 0 if ok else 1
    photo = args.photo or data_root() / DEFAULT_PHOTO
    rows = large_stills(args.model, args.megapixels, args.bits, photo, args.untiled, args.keep,
                        args.soften)
    print(json.dumps(rows))
    ok = all(r["status"] == 0 and r["output_size_ok"] and r["peak_gb"] <= MEMORY_BAR_GB
             for r in rows)
    ok = ok and all(r["seams"]["score"] <= SEAM_BAR for r in rows if r["mode"] == "tiled")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
