"""What a colour copy's chroma can give at all: upsamplers on a clean and a JPEG copy, offline.

    python -m benchmarks.colour_copy_bounds CLIP [--start S] [--frames N] [--scale 4]
                                                 [--quality 30] [--only 'NAME;...']

The copy path of ``vidcolor video --colour-from`` without the film around it (no model, no
trust blending, no stabilizer, no output storage): each master frame's chroma is computed from
the copy frames by one of the ``METHODS`` below and put under the master's own lightness
(``color.lab_to_rgb``); PSNR (8-bit RGB, from the mean squared error of the whole window)
against the truth. The copy is the truth shrunk to 1/``scale`` a side (area), then either kept
clean, or JPEG-compressed (OpenCV) at ``quality`` with 4:2:0 chroma (what
:mod:`benchmarks.colour_copy` uses) or 4:4:4 (to split chroma subsampling from quantization).
It bounds what the upsampler can win: the ``bilinear`` row of each copy is the issue's
baseline. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.temporal import read_frames
from vidcolor import color
from vidcolor.upsample import upsample_ab
from vidcolor.video import colour_copy as cc


def shrunk(rgb: np.ndarray, scale: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (w // scale, h // scale), interpolation=cv2.INTER_AREA)


def jpeg(rgb: np.ndarray, quality: int, sampling: int) -> np.ndarray:
    """``rgb`` (uint8) through OpenCV's JPEG at ``quality`` and chroma ``sampling``."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    ok, data = cv2.imencode(".jpg", rgb[..., ::-1], params)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].copy()


def lab_of(rgb: np.ndarray) -> np.ndarray:
    L, ab = color.rgb_to_lab(rgb)
    return np.concatenate([L[..., None], ab], -1).astype(np.float32)


class Window:
    """The copy's Lab frames, the master's lightness (full and at the copy's size) and the
    truth shrunk to the copy's size as the copy was (its clean copy, the restorer's target)."""

    def __init__(self, copies: list[np.ndarray], truth: list[np.ndarray],
                 clean: list[np.ndarray]):
        self.copy = [lab_of(c) for c in copies]
        self.L = [color.rgb_to_l(t) for t in truth]
        shape = self.copy[0].shape[1::-1]
        self.L_work = [cv2.resize(L, shape, interpolation=cv2.INTER_AREA) for L in self.L]
        self.clean = [lab_of(c) for c in clean]


def on_master(win: Window, i: int, chroma: np.ndarray) -> np.ndarray:
    """The copy step's last stage: chromaticity at the copy's size (h, w, 2) brought up to
    master frame ``i`` guided by its lightness and relit by it: its a/b (H, W, 2)."""
    return cc.relit(upsample_ab(chroma, win.L_work[i], win.L[i]), win.L[i])


def bilinear(win: Window, i: int) -> np.ndarray:
    return cv2.resize(win.copy[i][..., 1:], win.L[i].shape[::-1], interpolation=cv2.INTER_LINEAR)


def fused_chroma(win: Window, i: int, radius: int, level: bool = False):
    """The copy path's chromaticity at the copy's size: frames ``radius`` either side aligned
    to master frame ``i`` and averaged by fit (:func:`cc.fused`); with ``level``, also the
    copy's noise level there (:func:`cc.noise_level`)."""
    near = range(max(0, i - radius), min(len(win.copy), i + radius + 1))
    aligned = [cc.align_copy(win.copy[k], win.L_work[i]) for k in near]
    chroma, _ = cc.fused(aligned, centre=i - near.start)
    if not level:
        return chroma
    _, trust, _, misfit, L_copy = aligned[i - near.start]
    return chroma, cc.noise_level(misfit, trust > 0), L_copy


def shipped(win: Window, i: int, radius: int = cc.FUSE_RADIUS,
            guide=(cc.GUIDE_RADIUS, None)) -> np.ndarray:
    """What the copy step does (less its trust blending): fused, guided (``(radius, eps)``,
    eps None: the copy's noise level, as shipped), upsampled, relit."""
    chroma, level, _ = fused_chroma(win, i, radius, level=True)
    if guide is not None:
        chroma = cc.guided_ab(chroma, win.L_work[i], guide[0],
                              level if guide[1] is None else guide[1])
    return on_master(win, i, chroma)


def joint_bilateral(chroma: np.ndarray, L: np.ndarray, sigma_space: float,
                    sigma_L: float) -> np.ndarray:
    """Chroma (h, w, 2) smoothed over a (4 sigma_space + 1)^2 window, each neighbour weighted
    by its distance and by how far its lightness ``L`` (h, w) is from the pixel's."""
    r = int(2 * sigma_space)
    pad = [cv2.copyMakeBorder(x, r, r, r, r, cv2.BORDER_REFLECT) for x in (L, chroma)]
    num, den = np.zeros_like(chroma), np.zeros_like(L)
    h, w = L.shape
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            Ls, cs = (x[r + dy:r + dy + h, r + dx:r + dx + w] for x in pad)
            wt = np.exp(-(dx * dx + dy * dy) / (2 * sigma_space ** 2)
                        - (Ls - L) ** 2 / (2 * sigma_L ** 2))
            num += wt[..., None] * cs
            den += wt
    return num / den[..., None]


def bilateral_path(win: Window, i: int, radius: int, sigma_space: float = 1.5,
                   sigma_L: float = 4.0) -> np.ndarray:
    """The copy step with a joint bilateral filter on the master's lightness in place of
    the guided filter."""
    chroma = joint_bilateral(fused_chroma(win, i, radius), win.L_work[i], sigma_space, sigma_L)
    return on_master(win, i, chroma)


def restored(win: Window, i: int, radius: int = cc.FUSE_RADIUS,
             flat: bool = True) -> np.ndarray:
    """The copy step with the shipped restorer network (:mod:`vidcolor.copy_restore`) in
    place of the guided filter, as shipped (:func:`cc.without_wear`; with ``flat`` False, the
    network's answer without the smoothing where the master is flat)."""
    restorer = cc.shipped_restorer()
    if restorer is None:
        raise SystemExit("the restorer network is not installed")
    chroma, level, L_copy = fused_chroma(win, i, radius, level=True)
    if flat:
        blocks = cc.blockiness(cc.chromaticity(win.copy[i]))
        return on_master(win, i, cc.without_wear(chroma, L_copy, win.L_work[i], restorer,
                                                 level, blocks))
    return on_master(win, i, restorer(chroma, L_copy, win.L_work[i]))


def perfect(win: Window, i: int) -> np.ndarray:
    """A perfect restoration: the clean copy's chromaticity (what the restorer is trained to
    give), upsampled and relit as shipped: the most any restoration at the copy's size gives."""
    chroma = cc.chromaticity(win.clean[i])
    return on_master(win, i, chroma)


METHODS = {
    "bilinear": bilinear,
    "shipped": shipped,
    "shipped, one frame": lambda w, i: shipped(w, i, radius=0),
    "restorer": restored,
    "restorer, one frame": lambda w, i: restored(w, i, radius=0),
    "restorer, not smoothed where flat": lambda w, i: restored(w, i, flat=False),
    "perfect restoration": perfect,
    "shipped, guided filter eps 4 (before)": lambda w, i: shipped(
        w, i, guide=(cc.GUIDE_RADIUS, cc.GUIDE_EPS)),
    "shipped, no guided filter": lambda w, i: shipped(w, i, guide=None),
    "shipped, no guided filter, one frame": lambda w, i: shipped(w, i, 0, None),
    "shipped, 6 frames either side": lambda w, i: shipped(w, i, radius=6),
    "joint bilateral 1.5/4, 2 frames either side": lambda w, i: bilateral_path(w, i, 2),
    "joint bilateral 1.5/4, 6 frames either side": lambda w, i: bilateral_path(w, i, 6),
    "joint bilateral 2/2, 6 frames either side": lambda w, i: bilateral_path(w, i, 6, 2, 2),
}


def measure(win: Window, truth: list[np.ndarray], method) -> float:
    se = 0.0
    for i, t in enumerate(truth):
        rgb = color.lab_to_rgb(win.L[i], method(win, i))
        se += float(((rgb.astype(np.float64) - t) ** 2).mean())
    return 10 * np.log10(255.0 ** 2 / (se / len(truth)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.colour_copy_bounds",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path)
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--quality", type=int, default=30)
    p.add_argument("--copies", default="clean,420,444", help="which copies: clean, 420, 444")
    p.add_argument("--only", help="method names separated by ';' (the names hold commas; "
                   "default: all)")
    args = p.parse_args(argv)
    _, truth = read_frames(args.clip, args.start, args.frames)
    small = [shrunk(t, args.scale) for t in truth]
    sampling = {"420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
                "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444}
    names = [n.strip() for n in args.only.split(";")] if args.only else list(METHODS)
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        p.error(f"unknown methods {unknown}; known: {list(METHODS)}")
    result = {}
    for copy in args.copies.split(","):
        frames = small if copy == "clean" else [jpeg(s, args.quality, sampling[copy])
                                                 for s in small]
        win = Window(frames, truth, small)
        label = copy if copy == "clean" else f"q{args.quality} {copy}"
        for name in names:
            t = time.perf_counter()
            db = measure(win, truth, METHODS[name])
            result[f"{label} / {name}"] = db
            print(f"{label:<10} {name:<40} {db:7.2f} dB  ({time.perf_counter() - t:.1f} s)",
                  flush=True)
    print(json.dumps({"clip": str(args.clip), "start": args.start, "frames": len(truth),
                      "scale": args.scale, "quality": args.quality, "psnr": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
