"""Interlaced transfers: colour combing of the default (fields coloured one by one) against
colouring whole frames, on a 576i clip with motion whose colour version is known.

    python -m benchmarks.interlaced CLIP [--frames N] [--start S] [--order tt|bb] [--pan PX]

Builds a 720x576 25i clip from a colour clip: 2N consecutive frames from ``--start`` scaled to
576 rows and taken as 50p, panned right ``--pan`` pixels a field (a 720-wide window moving
over them: horizontal motion whatever the clip's own), each interlaced frame woven from two of
them (the first field from frame 2i, the second from frame 2i+1, in ``--order``). The colour
version is the truth; its grey version (L only) is encoded interlaced (x264, lossless, tagged
with its field order) and coloured with the shipped model twice: the default (``--interlaced
auto``: the fields found, coloured one by one, paired, woven back, encoded interlaced) and
``--interlaced no`` (whole frames, as before interlaced inputs were handled). Each output is read back the way its flags say (an
interlaced one field by field).

Per frame, with a/b in Lab units:

- combing: mean |a/b of row 2k - a/b of row 2k+1| (the two fields' colour side by side),
  for each output and for the truth; the *excess* is an output's combing less the truth's;
- relative combing: combing / mean |a/b|, the share of a frame's colour that alternates
  between its fields (a colouring more saturated than the truth alternates more in absolute
  terms at the same moving edges); its excess over the truth's likewise;
- field difference error: mean |(a/b of row 2k - a/b of row 2k+1) - the same of the truth|:
  how far the colour difference between the fields is from the truth's (0 when each field
  has its own moment's colour relation; the truth's combing when the two fields share one
  colour, as a whole-frame colouring and a progressive 4:2:0 encoding make them);
- motion error: mean |a/b - truth's a/b| over the pixels where the two fields differ (|L of
  row 2k - L of row 2k+1| > 10: the moving edges, where colour from the other field's moment
  would show);
- L kept: mean and 99th percentile |L - input L|.

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
from vidcolor.options import VideoOptions, Window
from vidcolor.video.decode import decode_frames
from vidcolor.video.fields import split_fields, weave
from vidcolor.video.pipeline import colorize_video
from vidcolor.video.probe import probe

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import read_fields, write_interlaced  # noqa: E402  (the tests' clip helpers)

SIZE = (720, 576)


def source_frames(clip: str, start: float, count: int, pan: int) -> list[np.ndarray]:
    """``count`` consecutive colour frames from ``start`` s, scaled to 576 rows and seen
    through a 720-wide window moving right ``pan`` pixels a frame (uint8 (576, 720, 3))."""
    info = probe(clip)
    wide = SIZE[0] + pan * count
    frames = []
    for f in decode_frames(info, Window(start)):
        scaled = cv2.resize(f.rgb, (wide, SIZE[1]), interpolation=cv2.INTER_AREA)
        x = pan * len(frames)
        frames.append(np.ascontiguousarray(scaled[:, x:x + SIZE[0]]))
        if len(frames) == count:
            break
    return frames


def interlace(frames: list[np.ndarray], order: str) -> list[np.ndarray]:
    """Frames 2i and 2i+1 woven into interlaced frame i: the first field from 2i."""
    return [weave(split_fields(frames[2 * i], order)[0], split_fields(frames[2 * i + 1], order)[1],
                  order) for i in range(len(frames) // 2)]


def read_as_flagged(path: Path) -> tuple[list[np.ndarray], bool]:
    """RGB frames as a player reads them: an interlaced frame field by field; and whether the
    frames are flagged interlaced."""
    _, frames, flags, _ = read_fields(path)
    return frames, all(flags)


def frame_scores(out: np.ndarray, truth: np.ndarray, L_in: np.ndarray) -> dict:
    """One frame's combing, motion error and L error (see the module's notes)."""
    L, ab = color.rgb_to_lab(out)
    _, ab_truth = color.rgb_to_lab(truth)
    moving = np.abs(L_in[0::2] - L_in[1::2]) > 10
    moving = np.repeat(moving, 2, axis=0)[:L.shape[0]]
    dL = np.abs(L - L_in)
    between, truth_between = ab[0::2] - ab[1::2], ab_truth[0::2] - ab_truth[1::2]
    comb, truth_comb = float(np.abs(between).mean()), float(np.abs(truth_between).mean())
    chroma = max(float(np.abs(ab).mean()), 1e-6)
    truth_chroma = max(float(np.abs(ab_truth).mean()), 1e-6)
    return {"comb": comb, "rel_comb": comb / chroma,
            "truth_rel_comb": truth_comb / truth_chroma,
            "field_error": float(np.abs(between - truth_between).mean()),
            "truth_comb": truth_comb,
            "motion_error": float(np.abs(ab - ab_truth)[moving].mean()) if moving.any() else 0.0,
            "dL_mean": float(dL.mean()), "dL_p99": float(np.percentile(dL, 99))}


def summary(scores: list[dict]) -> dict:
    excess = [s["comb"] - s["truth_comb"] for s in scores]
    rel_excess = [s["rel_comb"] - s["truth_rel_comb"] for s in scores]
    return {"comb": float(np.mean([s["comb"] for s in scores])),
            "truth_comb": float(np.mean([s["truth_comb"] for s in scores])),
            "excess_mean": float(np.mean(excess)), "excess_max": float(np.max(excess)),
            "frames_over_truth": int(sum(e > 0 for e in excess)),
            "rel_comb": float(np.mean([s["rel_comb"] for s in scores])),
            "truth_rel_comb": float(np.mean([s["truth_rel_comb"] for s in scores])),
            "rel_excess_max": float(np.max(rel_excess)),
            "frames_over_truth_rel": int(sum(e > 0 for e in rel_excess)),
            "field_error": float(np.mean([s["field_error"] for s in scores])),
            "motion_error": float(np.mean([s["motion_error"] for s in scores])),
            "dL_mean": float(np.mean([s["dL_mean"] for s in scores])),
            "dL_p99": float(np.max([s["dL_p99"] for s in scores]))}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--frames", type=int, default=25, help="interlaced frames (default 25)")
    p.add_argument("--start", type=float, default=60.0 / 30)
    p.add_argument("--order", choices=("tt", "bb"), default="tt")
    p.add_argument("--pan", type=int, default=4, help="pixels a field (default 4)")
    args = p.parse_args(argv)
    from vidcolor.models.store import load_model

    frames = source_frames(args.clip, args.start, 2 * args.frames, args.pan)
    truth = interlace(frames, args.order)
    L_truth = [color.rgb_to_l(f) for f in truth]
    grey = [color.l_to_grey_rgb(L) for L in L_truth]
    model = load_model()
    results = {"frames": len(truth), "order": args.order, "start": args.start,
               "pan": args.pan}
    with tempfile.TemporaryDirectory() as tmp:
        src = write_interlaced(Path(tmp) / "grey576i.mp4", grey, args.order)
        L_in = [color.rgb_to_l(f) for f in read_as_flagged(src)[0]]
        results["truth"] = summary([frame_scores(t, t, L) for t, L in zip(truth, L_in)])
        # Warm-up (the model's first call at a shape traces it), so the timings compare.
        colorize_video(src, Path(tmp) / "warm.mp4", model,
                       VideoOptions(interlaced="no", window=Window(0, 0.2)))
        for name, mode in (("default", "auto"), ("frames", "no")):
            dst = Path(tmp) / f"{name}.mp4"
            t0 = time.perf_counter()
            run = colorize_video(src, dst, model, VideoOptions(interlaced=mode))
            seconds = time.perf_counter() - t0
            out, interlaced = read_as_flagged(dst)
            results[name] = summary([frame_scores(o, t, L)
                                     for o, t, L in zip(out, truth, L_in)])
            results[name] |= {"interlaced_flags": interlaced, "frames_out": run.frames,
                              "seconds": round(seconds, 1)}
    for name in ("truth", "default", "frames"):
        r = results[name]
        print(f"{name:8s} combing {r['comb']:.2f} (truth {r['truth_comb']:.2f}, excess mean "
              f"{r['excess_mean']:+.2f} max {r['excess_max']:+.2f}, frames over the truth "
              f"{r['frames_over_truth']}) relative {r['rel_comb']:.3f} (truth "
              f"{r['truth_rel_comb']:.3f}, excess max {r['rel_excess_max']:+.3f}, frames over "
              f"{r['frames_over_truth_rel']}) field difference error {r['field_error']:.2f} "
              f"motion error {r['motion_error']:.2f} "
              f"dL mean {r['dL_mean']:.2f} p99 {r['dL_p99']:.2f}")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
