"""Temporal consistency of `vidcolor video`: per-frame colorization vs flow-guided stabilization.

    python -m benchmarks.temporal CLIP [--frames N] [--start S] [--model DIR | --model oracle]
                                       [--strength S ...] [--runtime R] [--no-timing]

Takes a *colour* clip as ground truth, colorizes its grey version (only L reaches the model)
without and with stabilization, and reports for each variant:

- warp error (Lai et al., ECCV 2018): flow between consecutive *ground-truth* frames (OpenCV
  DIS, medium preset), occlusions masked by forward-backward consistency
  (|f + b|^2 > 0.01 (|f|^2 + |b|^2) + 0.5), mean squared RGB error in [0, 1] between each output
  frame and the previous output frame warped to it; lower is steadier;
- a/b warp error: the same on the Lab a/b channels only (Lab units squared), the part of the
  temporal error chroma stabilization acts on (the output's L is always the input's);
- CDC, colour distribution consistency (as in TCVC, Liu et al. 2021): Jensen-Shannon divergence
  (natural log) of per-channel 256-bin RGB histograms between frames i and i+d, averaged over
  channels, frames and d in {1, 2, 4};
- PSNR against the ground truth (8-bit RGB, mean over frames; :func:`vidcolor.metrics.psnr`,
  infinite for a frame equal to its truth, so the ground truth's own row reads ``inf``);
- colourfulness (Hasler & Suesstrunk 2003, :func:`vidcolor.metrics.colourfulness`):
  std_rgyb + 0.3 mean_rgyb with rg = |R - G|, yb = |(R + G)/2 - B|, mean over frames (the
  ground truth's is printed too);

and, unless --no-timing: the stabilization pass alone (DIS flow both ways + the numba kernel,
at render resolution) in frames/s, and the whole `vidcolor video` command on the same frames
(decode, model, stabilize, upsample, encode with libx264 medium) in frames/s.

``--model oracle`` is a stand-in for a model when none is trained: the ground truth's a/b at
render size plus per-frame random colour flicker (a global shift and a smooth random field,
about 8 a/b units each), i.e. a colorizer that is right on average but unsteady.

The last line of the output is JSON with every number.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color
from vidcolor.metrics import colourfulness, psnr
from vidcolor.colorize import finish_rgb
from vidcolor.options import VideoOptions, Window
from vidcolor.video.decode import decode_frames
from vidcolor.video.frames import FrameColorizer
from vidcolor.video.pipeline import colorize_video
from vidcolor.video.probe import VideoInfo, probe
from vidcolor.video.stabilize import DEFAULT_STRENGTH, Stabilizer


# --- metrics ---------------------------------------------------------------------------------

def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def gt_flows(frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each consecutive pair of ground-truth frames: (flow t -> t-1, non-occlusion mask).

    Returns
    -------
    list of (flow float32 (H, W, 2), mask bool (H, W)), one per t >= 1
    """
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return [gt_flow(prev, cur, dis) for prev, cur in zip(frames[:-1], frames[1:])]


def gt_flow(prev: np.ndarray, cur: np.ndarray, dis) -> tuple[np.ndarray, np.ndarray]:
    """Flow t -> t-1 between two ground-truth frames (uint8 RGB) and its mask of pixels that
    are not occluded (forward-backward consistency) and stay inside the frame."""
    g0, g1 = _grey(prev), _grey(cur)
    bwd = dis.calc(g1, g0, None)  # t -> t-1
    fwd = dis.calc(g0, g1, None)  # t-1 -> t
    h, w = g1.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + bwd[..., 0], ys + bwd[..., 1]
    fwd_at = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = ((bwd + fwd_at) ** 2).sum(-1)
    mag = (bwd ** 2).sum(-1) + (fwd_at ** 2).sum(-1)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return bwd, (diff <= 0.01 * mag + 0.5) & inside


def warp_error(frames: list[np.ndarray], flows, chroma: bool = False) -> float:
    """Lai et al. warp error of an output sequence, with ground-truth flows and masks.

    With ``chroma=True`` the same on the a/b channels only (Lab units squared): the part of
    the temporal error that chroma stabilization acts on (the output's L is the input's).
    """
    errs = []
    if chroma:
        frames = [color.rgb_to_lab(f)[1] for f in frames]
    for (flow, mask), prev, cur in zip(flows, frames[:-1], frames[1:]):
        h, w = mask.shape
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        scale = 1.0 if chroma else 1 / 255
        warped = cv2.remap(prev.astype(np.float32) * scale, xs + flow[..., 0], ys + flow[..., 1],
                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        sq = ((cur.astype(np.float32) * scale - warped) ** 2).sum(-1)
        if mask.any():
            errs.append(float(sq[mask].sum() / (mask.sum())))
    return float(np.mean(errs)) if errs else float("nan")


def _hist(rgb: np.ndarray) -> np.ndarray:
    hs = [np.bincount(rgb[..., c].ravel(), minlength=256).astype(np.float64) for c in range(3)]
    return np.stack([h / h.sum() for h in hs])


def _js(p: np.ndarray, q: np.ndarray) -> float:
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return float((a[nz] * np.log(a[nz] / b[nz])).sum())

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def cdc(frames: list[np.ndarray], steps=(1, 2, 4)) -> float:
    """Colour distribution consistency: mean JS divergence of RGB histograms (see module)."""
    hists = [_hist(f) for f in frames]
    per_step = []
    for d in steps:
        vals = [np.mean([_js(hists[i][c], hists[i + d][c]) for c in range(3)])
                for i in range(len(hists) - d)]
        if vals:
            per_step.append(np.mean(vals))
    return float(np.mean(per_step))


def metrics(out: list[np.ndarray], gt: list[np.ndarray], flows) -> dict:
    return {
        "warp_error": warp_error(out, flows),
        "warp_error_ab": warp_error(out, flows, chroma=True),
        "cdc": cdc(out),
        "psnr": float(np.mean([psnr(o, g) for o, g in zip(out, gt)])),
        "colourfulness": float(np.mean([colourfulness(o) for o in out])),
    }


# --- models ----------------------------------------------------------------------------------

class OracleFlicker:
    """Colorizer stand-in: ground-truth a/b at render size plus per-frame colour flicker.

    Frames are matched to ground truth by their render-size L (exact, since both come from the
    same frames).
    """

    name = "oracle-flicker"
    multiple = 16

    def __init__(self, gt_frames: list[np.ndarray], render_size: int = 256, sigma: float = 8.0,
                 seed: int = 0):
        self.render_size = render_size
        self.sigma = sigma
        self.rng = np.random.default_rng(seed)
        self._table: list[tuple[np.ndarray, np.ndarray]] = []
        self._gt = gt_frames

    def index(self, shape: tuple[int, int]) -> None:
        """Precompute the ground-truth L and a/b of every frame at the render shape."""
        self._table = []
        for rgb in self._gt:
            L, ab = color.rgb_to_lab(rgb)
            self._table.append((cv2.resize(L, shape[::-1], interpolation=cv2.INTER_AREA),
                                cv2.resize(ab, shape[::-1], interpolation=cv2.INTER_AREA)))

    def predict_ab(self, L: np.ndarray) -> np.ndarray:
        out = []
        for Li in L:
            # The frame whose lightness matches (the grey round trip changes L by < 0.5).
            errs = [np.abs(Lg - Li).mean() for Lg, _ in self._table]
            k = int(np.argmin(errs))
            if errs[k] > 1.0:
                raise KeyError("oracle: frame not found (ground truth and input differ)")
            ab = self._table[k][1]
            h, w = Li.shape
            noise = self.rng.normal(0, self.sigma, (max(h // 32, 2), max(w // 32, 2), 2))
            field = cv2.resize(noise.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
            out.append(ab + field + self.rng.normal(0, self.sigma, 2).astype(np.float32))
        return np.stack(out).astype(np.float32)


# --- main ------------------------------------------------------------------------------------

def read_frames(clip: Path, start: float, n: int) -> tuple[VideoInfo, list[np.ndarray]]:
    info = probe(clip)
    frames = []
    for f in decode_frames(info, Window(start)):
        frames.append(f.rgb)
        if len(frames) >= n:
            break
    return info, frames


def predict_all(model, gt: list[np.ndarray], render_size, batch: int):
    """The model's answer for the grey version of every frame (computed once, shared by all
    variants: stabilization does not change what the model sees).

    Returns
    -------
    list of (L_full (H, W), L_small (h, w), ab_model (h, w, 2)), float32
    """
    core = FrameColorizer(model, render_size)
    prepared = [core.prepare(color.l_to_grey_rgb(color.rgb_to_l(f))) for f in gt]
    out = []
    for i in range(0, len(prepared), batch):
        chunk = prepared[i:i + batch]
        ab = core.predict([p.L_small for p in chunk])
        out += [(p.L_full, p.L_small, ab_i) for p, ab_i in zip(chunk, ab)]
    return out


def run_variant(predicted, strength: float | None) -> list[np.ndarray]:
    """Stabilize (or not) the model's a/b and finish each frame at full resolution."""
    stab = Stabilizer(strength) if strength is not None else None
    frames = []
    for L_full, L_small, ab in predicted:
        if stab is not None:
            ab = stab(L_small, ab)[0]
        frames.append(finish_rgb(ab, L_small, L_full))
    return frames


def time_stabilizer(predicted, strength: float) -> float:
    """Frames/s of the stabilization pass alone (flow both ways + kernel), render resolution."""
    s = Stabilizer(strength)
    s(predicted[0][1], predicted[0][2])  # compile / warm up
    s.reset()
    t = time.perf_counter()
    for _, L, ab in predicted:
        s(L, ab)
    return len(predicted) / (time.perf_counter() - t)


def time_end_to_end(clip: Path, model, start: float, info: VideoInfo, n: int,
                    render_size, strength: float, batch: int) -> float:
    duration = n / float(info.rate)
    with tempfile.TemporaryDirectory() as tmp:
        options = VideoOptions(render_size=render_size, batch_size=batch,
                               stabilize_strength=strength, window=Window(start, duration))
        result = colorize_video(clip, Path(tmp) / "out.mp4", model, options)
    return result.fps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.temporal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path, help="a colour clip (the ground truth)")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--start", type=float, default=0.0, help="seconds")
    p.add_argument("--model", help="model directory, or 'oracle' (default: the shipped model)")
    p.add_argument("--render-size", type=int)
    p.add_argument("--strength", type=float, nargs="+", default=[DEFAULT_STRENGTH])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--runtime", choices=("auto", "keras", "openvino"), default="auto",
                   help="what runs the network (default auto, as `vidcolor video`)")
    p.add_argument("--no-timing", action="store_true")
    args = p.parse_args(argv)

    info, gt = read_frames(args.clip, args.start, args.frames)
    if len(gt) < 5:
        print(f"{args.clip}: only {len(gt)} frames", file=sys.stderr)
        return 1
    if args.model == "oracle":
        model = OracleFlicker(gt, args.render_size or 256)
        core = FrameColorizer(model, args.render_size)
        model.index(core.render_shape(*gt[0].shape[:2]))
    else:
        from vidcolor.models.runtimes import load_color_model

        model = load_color_model(args.model, args.runtime)
    flows = gt_flows(gt)

    results: dict = {"clip": str(args.clip), "frames": len(gt), "start": args.start,
                     "size": [info.width, info.height], "model": model.name,
                     "render_size": args.render_size or model.render_size,
                     "variants": {}}
    t = time.perf_counter()
    predicted = predict_all(model, gt, args.render_size, args.batch_size)
    results["predict_seconds"] = time.perf_counter() - t
    base = metrics(run_variant(predicted, None), gt, flows)
    results["variants"]["per_frame"] = base
    print(f"{'variant':<14} {'warp err':>10} {'CDC':>9} {'PSNR':>7} {'colourf.':>9}")
    row = "{:<14} {:>10.6f} {:>9.6f} {:>7.2f} {:>9.2f}"
    print(row.format("per-frame", base["warp_error"], base["cdc"], base["psnr"],
                     base["colourfulness"]))
    for s in args.strength:
        m = metrics(run_variant(predicted, s), gt, flows)
        m["warp_ratio"] = m["warp_error"] / base["warp_error"]
        m["warp_ab_ratio"] = m["warp_error_ab"] / base["warp_error_ab"]
        m["cdc_ratio"] = m["cdc"] / base["cdc"]
        m["psnr_drop"] = base["psnr"] - m["psnr"]
        m["colourfulness_ratio"] = m["colourfulness"] / base["colourfulness"]
        results["variants"][f"stabilized_{s:g}"] = m
        print(row.format(f"stab. {s:g}", m["warp_error"], m["cdc"], m["psnr"],
                         m["colourfulness"])
              + f"   warp x{m['warp_ratio']:.2f} (a/b x{m['warp_ab_ratio']:.2f})  "
              f"CDC x{m['cdc_ratio']:.2f}  "
              f"PSNR {-m['psnr_drop']:+.2f} dB  colourf. x{m['colourfulness_ratio']:.2f}")
    grey = metrics([color.l_to_grey_rgb(color.rgb_to_l(g)) for g in gt], gt, flows)
    results["grey"] = grey
    print(row.format("grey (a=b=0)", grey["warp_error"], grey["cdc"], grey["psnr"],
                     grey["colourfulness"])
          + "   (the part of warp error no chroma stabilization can remove)")
    ref = metrics(gt, gt, flows)
    results["ground_truth"] = ref
    print(row.format("ground truth", ref["warp_error"], ref["cdc"], ref["psnr"],
                     ref["colourfulness"])
          + "   (flow errors and real colour changes)")
    print(f"{time.perf_counter() - t:.1f} s")
    if not args.no_timing:
        strength = args.strength[0]
        stab_fps = time_stabilizer(predicted, strength)
        if args.model == "oracle":
            e2e_fps = None  # the oracle needs the ground truth in memory: no file pipeline
        else:
            e2e_fps = time_end_to_end(args.clip, model, args.start, info, len(gt),
                                      args.render_size, strength, args.batch_size)
        results["stabilize_fps"] = stab_fps
        results["end_to_end_fps"] = e2e_fps
        line = f"stabilization pass alone: {stab_fps:.1f} frames/s"
        if e2e_fps:
            results["speed_ratio"] = stab_fps / e2e_fps
            line += f"; end to end: {e2e_fps:.2f} frames/s ({stab_fps / e2e_fps:.0f}x)"
        print(line)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
