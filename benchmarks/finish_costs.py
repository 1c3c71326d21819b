"""CPU time of the finishing step alone (``vidcolor.finish.finish_rgb``: L-guided upsampling,
gamut fit, Lab -> RGB) on real film frames, and its output for comparing two checkouts.

    python benchmarks/finish_costs.py VIDEO [--frames 60] [--every 12] [--passes 5]
        [--colours FRAMES.npz] [--save OUT.npz] [--compare OTHER.npz]

Decodes every ``--every``-th frame of VIDEO (the first ``frames * every``), colours them with
the shipped model and the stabilizer as a film's frames are (``FrameColorizer``), then
finishes all of them ``--passes`` times in this thread and reports the process and thread CPU
ms a frame (minimum and median of the passes: the machine may be shared). ``--colours``: the
coloured frames (L and a/b) are read from that file if it exists, else written there, so two
checkouts (or two networks) finish the same chroma. ``--save`` writes the 8-bit results (and
the 16-bit ones of every sixth frame); ``--compare`` reports how far they are from another
run's saved ones (largest difference, pixels that differ). Decoding and the network run before
the timing and are not timed. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from vidcolor.colorize import finish_rgb  # (vidcolor.finish: re-exported, older checkouts too)
from vidcolor.video.decode import decode_frames
from vidcolor.video.frames import FrameColorizer
from vidcolor.video.probe import probe
from vidcolor.video.stabilize import DEFAULT_STRENGTH, Stabilizer


def coloured_frames(video: Path, count: int, every: int, model) -> list:
    """``count`` frames of ``video`` (every ``every``-th), prepared and coloured."""
    core = FrameColorizer(model, stabilizer=Stabilizer(DEFAULT_STRENGTH))
    frames = []
    for i, decoded in enumerate(decode_frames(probe(video))):
        if len(frames) == count:
            break
        if i % every == 0:
            frames.append(core.prepare(decoded.rgb, decoded.pts))
    for i in range(0, len(frames), 8):
        core.colorize_batch(frames[i:i + 8], 8)
    return frames


def load_or_colour(path: Path | None, video: Path, count: int, every: int) -> list:
    """(L_full, L_small, ab) of each frame: from ``path`` where it exists, else coloured
    (and written to ``path`` when given)."""
    if path is not None and path.exists():
        with np.load(path) as saved:
            return list(zip(saved["L_full"], saved["L_small"], saved["ab"]))
    from vidcolor.models.runtimes import load_color_model

    frames = [(f.L_full, f.L_small, f.ab)
              for f in coloured_frames(video, count, every, load_color_model(None, "auto"))]
    if path is not None:
        np.savez(path, **{k: np.stack(v) for k, v in zip(("L_full", "L_small", "ab"),
                                                          zip(*frames))})
    return frames


def time_finish(frames: list, passes: int) -> dict:
    """Process and thread CPU ms a frame of ``finish_rgb`` over the frames, per pass."""
    for L_full, L_small, ab in frames:  # warm up: compilation, kept work arrays
        finish_rgb(ab, L_small, L_full)
    process, thread = [], []
    for _ in range(passes):
        c, t = time.process_time(), time.thread_time()
        for L_full, L_small, ab in frames:
            finish_rgb(ab, L_small, L_full)
        process.append(1000 * (time.process_time() - c) / len(frames))
        thread.append(1000 * (time.thread_time() - t) / len(frames))
    return {name: {"min": min(v), "median": float(np.median(v))}
            for name, v in (("process_ms", process), ("thread_ms", thread))}


def difference(a: np.ndarray, b: np.ndarray) -> dict:
    """Largest difference in output levels and how many pixels differ at all."""
    d = np.abs(a.astype(np.int64) - b.astype(np.int64)).max(axis=-1)
    return {"max": int(d.max()), "pixels": int((d > 0).sum()), "of": int(d.size)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/finish_costs.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", type=Path)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--every", type=int, default=12)
    p.add_argument("--passes", type=int, default=5)
    p.add_argument("--colours", type=Path)
    p.add_argument("--save", type=Path)
    p.add_argument("--compare", type=Path)
    args = p.parse_args(argv)
    frames = load_or_colour(args.colours, args.video, args.frames, args.every)
    result = {"frames": len(frames), "size": list(frames[0][0].shape[::-1]),
              **time_finish(frames, args.passes)}
    print(f"{len(frames)} frames: finish process CPU ms a frame min "
          f"{result['process_ms']['min']:.2f} median {result['process_ms']['median']:.2f}, "
          f"thread min {result['thread_ms']['min']:.2f} median {result['thread_ms']['median']:.2f}")
    if args.save or args.compare:
        rgb8 = np.stack([finish_rgb(ab, Ls, L) for L, Ls, ab in frames])
        rgb16 = np.stack([finish_rgb(ab, Ls, L, np.uint16) for L, Ls, ab in frames[::6]])
        if args.save:
            np.savez_compressed(args.save, rgb8=rgb8, rgb16=rgb16)
        if args.compare:
            other = np.load(args.compare)
            result["compare"] = {"uint8": difference(rgb8, other["rgb8"]),
                                 "uint16": difference(rgb16, other["rgb16"])}
            print(f"against {args.compare}: {result['compare']}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
