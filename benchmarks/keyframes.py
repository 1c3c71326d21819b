"""Colour keyframes for film, measured: `vidcolor video --keyframe` against its baselines.

    python -m benchmarks.keyframes CLIP [--frames N] [--start S] [--model DIR]
                                        [--batch-size B] [--every N] [--shots-only]

Takes a *colour* clip as ground truth and turns a window of it grey (a lossless FFV1 file,
timestamps from 0). The frames to colour are found as the user would find them (``vidcolor
video GREY --export-keyframes DIR``: each shot's first frame and each frame the last one's
colour no longer reaches, or with ``--shots-only`` the shots' first frames alone; with
``--every`` if given), and the TRUE colour of each exported frame is handed back as a
keyframe. Then, for the whole window against the truth (8-bit RGB):

- ``keyframes``: the real ``vidcolor video GREY -o OUT.mkv --codec ffv1 --keyframe ...`` path;
- ``automatic``: the same without keyframes (stabilized, the default);
- ``copy``: the naive baseline, each keyframe's a/b copied unchanged onto every later frame of
  its shot (until the next keyframe), with each frame's own lightness;
- ``copy stored``: the same frames as the film's output stores them (``--codec ffv1``: 8-bit
  4:2:0, the chroma at half resolution), what the output's format leaves of the copy (the
  bar stays against ``copy``);
- ``grey``: the grey clip itself;
- ``truth``: the colour clip (its warp errors: how much the true colours themselves change
  along the flow, through occlusions and changes of content);

reporting PSNR over the clip (from the mean squared error of all its frames; every output keeps
the grey clip's own L), and the temporal metrics of
:mod:`benchmarks.temporal` (warp error, its a/b part, against ground-truth flow). The bar of
the feature: keyframes at least one dB above the copy baseline. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.temporal import gt_flow, read_frames
from vidcolor import color
from vidcolor.imageio import write_image
from vidcolor.options import EncoderOptions, Keyframe, VideoOptions, parse_keyframe
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import SegmentWriter, encoder_settings
from vidcolor.video.pipeline import colorize_video
from vidcolor.video.probe import probe
from vidcolor.video.shots import REACH, export_keyframes


def write_grey(path: Path, truth: list[np.ndarray], rate: float) -> Path:
    """The truth's lightness as a lossless grey clip (FFV1, yuv444p, pts = frame number)."""
    with av.open(os.fspath(path), "w") as out:
        s = out.add_stream("ffv1", rate=int(round(rate)))
        s.height, s.width = truth[0].shape[:2]
        s.pix_fmt = "yuv444p"
        for i, rgb in enumerate(truth):
            f = av.VideoFrame.from_ndarray(color.l_to_grey_rgb(color.rgb_to_l(rgb)), "rgb24")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


def decoded(path: Path) -> list[np.ndarray]:
    info = probe(path)
    return [f.rgb for f in decode_frames(info)]


def hand_back(grey: Path, truth: list[np.ndarray], rate: float, folder: Path,
              every: float | None, reach: float | None = REACH
              ) -> tuple[list[Keyframe], list[int]]:
    """Export the grey clip's keyframes, replace each by the true colour frame; the keyframes
    and their frame numbers."""
    report = export_keyframes(grey, folder / "export", every, reach=reach)
    keys, index = [], []
    for exported in report.files:
        key = parse_keyframe(str(exported))
        i = int(round(key.time * rate))
        true = folder / "true" / exported.name
        write_image(true, truth[i], mark="benchmark keyframe (ground truth)")
        keys.append(Keyframe(str(true), key.time))
        index.append(i)
    return keys, index


def copy_baseline(grey: list[np.ndarray], truth: list[np.ndarray], starts: list[int]):
    """Each keyframe's a/b copied onto every frame from it to the next keyframe (every shot
    starts with one), with each frame's own lightness (a generator of uint8 RGB)."""
    ab = None
    starts = set(starts)
    for i, g in enumerate(grey):
        if i in starts:
            ab = color.rgb_to_lab(truth[i])[1]
        L = color.rgb_to_l(g)
        yield color.l_to_grey_rgb(L) if ab is None else color.lab_to_rgb(L, ab)


def stored(path: Path, frames, like: Path) -> list[np.ndarray]:
    """Frames (uint8 RGB) encoded as ``vidcolor video -o X.mkv --codec ffv1`` encodes a film
    like ``like``, decoded back."""
    info = probe(like)
    writer = SegmentWriter(path, info, encoder_settings("matroska", EncoderOptions("ffv1")))
    for i, rgb in enumerate(frames):
        writer.write(i, rgb)
    writer.close()
    return decoded(path)


def _flow(prev: np.ndarray, cur: np.ndarray, dis) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth sampling places t -> t-1 (pixel coordinates) and the non-occlusion mask."""
    bwd, mask = gt_flow(prev, cur, dis)
    h, w = mask.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.stack([xs + bwd[..., 0], ys + bwd[..., 1]], -1), mask


def _warp_sq(prev, cur, where, mask) -> float:
    warped = cv2.remap(prev, where[..., 0], where[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    return float(((cur - warped) ** 2).sum(-1)[mask].mean()) if mask.any() else float("nan")


def measure(truth: list[np.ndarray], variants: dict) -> dict:
    """PSNR over the clip (8-bit RGB) and per frame, warp error (RGB in [0, 1]) and a/b warp
    error (Lab units squared) of each variant, streaming."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    sums = {k: {"mse": [], "warp_error": [], "warp_error_ab": []} for k in variants}
    prev = {}
    iters = {k: iter(v) for k, v in variants.items()}
    for t, true in enumerate(truth):
        flow = _flow(truth[t - 1], true, dis) if t else None
        for k, it in iters.items():
            out = next(it)
            rgb, ab = out.astype(np.float32) / 255, color.rgb_to_lab(out)[1]
            sums[k]["mse"].append(float(((out.astype(np.float32) - true) ** 2).mean()))
            if flow is not None:
                sums[k]["warp_error"].append(_warp_sq(prev[k][0], rgb, *flow))
                sums[k]["warp_error_ab"].append(_warp_sq(prev[k][1], ab, *flow))
            prev[k] = (rgb, ab)
    result = {k: {m: float(np.nanmean(v)) for m, v in s.items()} for k, s in sums.items()}
    for k, m in result.items():
        m["psnr_per_frame"] = [round(10 * float(np.log10(255.0 ** 2 / max(e, 1e-12))), 2)
                               for e in sums[k]["mse"]]
        m["warp_error_per_frame"] = [round(e, 6) for e in sums[k]["warp_error"]]
        # Over the clip: the mean squared error of all its frames (black title frames that
        # every variant gets right would make a mean of per-frame PSNRs infinite).
        m["psnr"] = 10 * np.log10(255.0 ** 2 / max(m["mse"], 1e-12))
    return result


def run_vidcolor(grey: Path, out: Path, model, keys, batch: int) -> float:
    options = VideoOptions(batch_size=batch, encoder=EncoderOptions("ffv1"), keyframes=keys)
    t = time.perf_counter()
    colorize_video(grey, out, model, options, overwrite=True)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.keyframes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path, help="a colour clip (the ground truth)")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--start", type=float, default=0.0, help="seconds")
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--every", type=float, help="also a keyframe every N seconds in a shot")
    p.add_argument("--shots-only", action="store_true",
                   help="keyframes at shot starts (and --every) only, not also where the last "
                        "one's colour no longer reaches (vidcolor.video.shots.REACH)")
    args = p.parse_args(argv)

    from vidcolor.models.store import load_model

    info, truth = read_frames(args.clip, args.start, args.frames)
    rate = float(info.rate)
    model = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        grey = write_grey(tmp / "grey.mkv", truth, rate)
        keys, starts = hand_back(grey, truth, rate, tmp, args.every,
                                 None if args.shots_only else REACH)
        seconds = {"automatic": run_vidcolor(grey, tmp / "auto.mkv", model, (), args.batch_size),
                   "keyframes": run_vidcolor(grey, tmp / "keys.mkv", model, tuple(keys),
                                             args.batch_size)}
        grey_frames = decoded(grey)
        variants = {"keyframes": decoded(tmp / "keys.mkv"),
                    "automatic": decoded(tmp / "auto.mkv"),
                    "copy": copy_baseline(grey_frames, truth, starts),
                    "copy stored": iter(stored(tmp / "copy.mkv",
                                               copy_baseline(grey_frames, truth, starts), grey)),
                    "grey": iter(grey_frames),
                    "truth": iter(truth)}
        result = measure(truth, variants)
    summary = {"clip": str(args.clip), "start": args.start, "frames": len(truth),
               "keyframes": len(keys), "keyframe_frames": starts, "seconds": seconds,
               "variants": result,
               "keyframes_minus_copy_db": result["keyframes"]["psnr"] - result["copy"]["psnr"]}
    print(f"{args.clip.name} from {args.start:g} s, {len(truth)} frames, {len(keys)} keyframes "
          f"(frames {starts})")
    print(f"{'variant':<12} {'PSNR':>7} {'warp err':>10} {'a/b warp':>9}")
    for name, m in result.items():
        print(f"{name:<12} {m['psnr']:>7.2f} {m['warp_error']:>10.6f} {m['warp_error_ab']:>9.3f}")
    print(f"keyframes - copy: {summary['keyframes_minus_copy_db']:+.2f} dB (bar: +1.00)")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
