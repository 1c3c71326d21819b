"""Reference photos, measured: `--reference` against the automatic result.

    python -m benchmarks.references film CLIP [--start S] [--frames N] [--model DIR]
    python -m benchmarks.references photos DIR [--shift F] [--limit N] [--model DIR]

``film``: takes a *colour* clip as ground truth and turns a window of it grey (lossless FFV1,
timestamps from 0, :func:`benchmarks.keyframes.write_grey`). Its shots are found as a user
finds them (``--export-keyframes``, shot starts only); for each shot, the TRUE colour frame
half-way through it is handed back as a reference photo, ``PHOTO@TIME`` with TIME the shot's
start (a photo from elsewhere in the same shot, not the frame being coloured). Then the real
``colorize_video`` path (``--codec ffv1``) with the references against the same without them
(stabilized, the default), PSNR over the window (8-bit RGB, from the mean squared error of all
its frames; both keep the grey clip's L).

``photos``: a colour photo *of the same scene* as a test photo is rarely at hand, so each
photo's reference is a copy of its own TRUE colour shifted sideways: the photo with its left
``F`` of the width cut off (``--shift``, default 0.25), so a quarter of the scene is not in
the reference and the rest is at other places. An easier test than a different photo of the
scene; the number says how well the correspondence finds and uses the colour, not how well
it generalizes across photos. PSNR per photo and its mean, reference against automatic.

Settings: the correspondence's own defaults (:class:`vidcolor.correspond.Matching`) and the
model's render size; the rule was fixed before any run and nothing was tuned on these clips.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.keyframes import decoded, measure, write_grey
from benchmarks.temporal import read_frames
from vidcolor import color
from vidcolor.imageio import find_pictures, read_image, write_image
from vidcolor.metrics import psnr
from vidcolor.options import EncoderOptions, ImageOptions, Reference, VideoOptions, parse_keyframe
from vidcolor.video.pipeline import colorize_video
from vidcolor.video.shots import export_keyframes


def shot_references(grey: Path, truth: list[np.ndarray], rate: float, folder: Path
                    ) -> tuple[list[Reference], list[int]]:
    """For each shot of the grey clip, its true colour frame half-way through as a reference
    from the shot's start; the references and the frames they show."""
    report = export_keyframes(grey, folder / "export", None, reach=None)
    starts = sorted(int(round(parse_keyframe(str(f)).time * rate)) for f in report.files)
    ends = starts[1:] + [len(truth)]
    refs, shown = [], []
    for start, end in zip(starts, ends):
        middle = (start + end) // 2
        path = folder / f"reference-{middle:05d}.png"
        write_image(path, truth[middle], mark="benchmark reference (ground truth)")
        refs.append(Reference(str(path), start / rate))
        shown.append(middle)
    return refs, shown


def run_film(grey: Path, out: Path, model, references, batch: int) -> float:
    options = VideoOptions(batch_size=batch, encoder=EncoderOptions("ffv1"),
                           references=tuple(references))
    t = time.perf_counter()
    colorize_video(grey, out, model, options, overwrite=True)
    return time.perf_counter() - t


def film(args, model) -> dict:
    info, truth = read_frames(args.clip, args.start, args.frames)
    rate = float(info.rate)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        grey = write_grey(tmp / "grey.mkv", truth, rate)
        refs, shown = shot_references(grey, truth, rate, tmp)
        seconds = {"automatic": run_film(grey, tmp / "auto.mkv", model, (), args.batch_size),
                   "references": run_film(grey, tmp / "refs.mkv", model, refs, args.batch_size)}
        result = measure(truth, {"references": decoded(tmp / "refs.mkv"),
                                 "automatic": decoded(tmp / "auto.mkv")})
    gain = result["references"]["psnr"] - result["automatic"]["psnr"]
    print(f"{args.clip.name} from {args.start:g} s, {len(truth)} frames, {len(refs)} shots, "
          f"reference frames {shown}")
    for name, m in result.items():
        print(f"{name:<11} PSNR {m['psnr']:6.2f}  warp err {m['warp_error']:.6f}  "
              f"{seconds[name]:.1f} s")
    print(f"references - automatic: {gain:+.2f} dB (bar: +2.00 on the development clips)")
    return {"clip": str(args.clip), "start": args.start, "frames": len(truth),
            "reference_frames": shown, "reference_times": [r.time for r in refs],
            "seconds": seconds, "gain_db": gain,
            "psnr": {k: m["psnr"] for k, m in result.items()},
            "warp_error": {k: m["warp_error"] for k, m in result.items()}}


def photos(args, model) -> dict:
    from vidcolor.colorize import ImageColorizer

    automatic = ImageColorizer(model)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(find_pictures(args.folder))[:args.limit]:
            truth = read_image(path).rgb
            cut = int(round(truth.shape[1] * args.shift))
            reference = Path(tmp) / f"{Path(path).stem}.png"
            write_image(reference, truth[:, cut:], mark="benchmark reference (shifted truth)")
            grey = color.l_to_grey_rgb(color.rgb_to_l(truth))
            guided = ImageColorizer(model, ImageOptions(references=(Reference(str(reference)),)))
            rows.append((Path(path).name, psnr(automatic.colorize(grey), truth),
                         psnr(guided.colorize(grey), truth)))
    auto, ref = (float(np.mean([r[i] for r in rows])) for i in (1, 2))
    worse = sum(r[2] < r[1] for r in rows)
    print(f"{args.folder}: {len(rows)} photos, reference = the truth with its left "
          f"{args.shift:.0%} cut off")
    print(f"automatic {auto:.2f} dB, reference {ref:.2f} dB: {ref - auto:+.2f} dB; "
          f"{worse} photos below automatic")
    return {"folder": str(args.folder), "shift": args.shift, "photos": len(rows),
            "automatic_db": auto, "reference_db": ref, "gain_db": ref - auto,
            "below_automatic": worse,
            "per_photo": [{"name": n, "automatic": a, "reference": r} for n, a, r in rows]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.references", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="model directory (default: the shipped model)")
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("film")
    f.add_argument("clip", type=Path, help="a colour clip (the ground truth)")
    f.add_argument("--frames", type=int, default=150)
    f.add_argument("--start", type=float, default=0.0, help="seconds")
    f.add_argument("--batch-size", type=int, default=8)
    s = sub.add_parser("photos")
    s.add_argument("folder", type=Path, help="colour photos (the ground truth)")
    s.add_argument("--shift", type=float, default=0.25, help="share of the width cut off")
    s.add_argument("--limit", type=int, help="the first N photos only")
    args = p.parse_args(argv)

    from vidcolor.models.store import load_model

    model = load_model(args.model)
    summary = film(args, model) if args.mode == "film" else photos(args, model)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
