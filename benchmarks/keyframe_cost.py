"""What a colour keyframe costs: a keyframed film run against the automatic one, alternated.

    python -m benchmarks.keyframe_cost CLIP [--start S] [--duration S] [--repeats N]
                                            [--runtime R]

Runs ``vidcolor video`` (the library's :func:`vidcolor.video.pipeline.colorize_video`, the
shipped model) on ``--duration`` seconds of ``CLIP`` from ``--start``, automatic and with one
keyframe on the window's first frame (the clip's own first frame, written as a PNG: a colour clip is
its own truth), alternating the two ``--repeats`` times so that a machine's drift hits both
alike. Reports each run's wall time and process CPU time (all threads; load disturbs it
less) and the ratios keyframed / automatic of both (issue 29's bar, on wall time: at most 2).
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from vidcolor.imageio import write_image
from vidcolor.models.runtimes import load_color_model
from vidcolor.options import Keyframe, VideoOptions, Window
from vidcolor.video.decode import decode_frames
from vidcolor.video.pipeline import colorize_video
from vidcolor.video.probe import probe


def first_frame(clip: Path, window: Window, folder: Path) -> tuple[Path, float]:
    """The window's first frame as a PNG (the keyframe), and its time."""
    info = probe(clip)
    frame = next(iter(decode_frames(info, window)))
    path = folder / "keyframe.png"
    write_image(path, frame.rgb, mark="benchmark keyframe")
    return path, frame.pts * float(info.time_base) - info.start_time


def timed_run(clip: Path, output: Path, model, options: VideoOptions) -> tuple[float, float]:
    """Wall seconds of one film job (the job's own measure, :attr:`VideoResult.seconds`) and
    the process's CPU seconds over it."""
    cpu = time.process_time()
    wall = colorize_video(clip, output, model, options, overwrite=True).seconds
    return wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip", type=Path)
    p.add_argument("--start", type=float, default=0.0, help="seconds")
    p.add_argument("--duration", type=float, default=4.0, help="seconds from the start")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--runtime", default="auto")
    args = p.parse_args(argv)
    model = load_color_model(None, args.runtime)
    window = Window(args.start, args.duration)
    with tempfile.TemporaryDirectory(prefix="vidcolor-kfcost-") as tmp:
        tmp = Path(tmp)
        path, at = first_frame(args.clip, window, tmp)
        key = Keyframe(str(path), at)
        automatic = VideoOptions(window=window)
        keyed = VideoOptions(window=window, keyframes=(key,))
        timed_run(args.clip, tmp / "warm.mp4", model, automatic)  # model compiled, caches warm
        times: dict[str, list[float]] = {"automatic": [], "keyframed": []}
        cpu: dict[str, list[float]] = {"automatic": [], "keyframed": []}
        for _ in range(args.repeats):
            for name, options, out in (("automatic", automatic, "a.mp4"),
                                       ("keyframed", keyed, "k.mp4")):
                wall, seconds = timed_run(args.clip, tmp / out, model, options)
                times[name].append(wall)
                cpu[name].append(seconds)
    ratio = sum(times["keyframed"]) / sum(times["automatic"])
    cpu_ratio = sum(cpu["keyframed"]) / sum(cpu["automatic"])
    for name, values in times.items():
        print(f"{name:10s} " + " ".join(f"{v:6.2f} s" for v in values) + "   CPU "
              + " ".join(f"{v:6.2f} s" for v in cpu[name]))
    print(f"keyframed / automatic: {ratio:.2f} (CPU {cpu_ratio:.2f})")
    print(json.dumps({"clip": str(args.clip), "start": args.start, "duration": args.duration, **times,
                      "ratio": round(ratio, 3), "cpu": cpu, "cpu_ratio": round(cpu_ratio, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
