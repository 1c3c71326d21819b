"""The same clip colorized in one process and on a local Ray cluster of N workers.

    python -m benchmarks.scale [VIDEO] [--frames N] [--workers 1,2] [--runtime auto] [--crf N]
                             [--chunk-frames N]

VIDEO defaults to ``$VIDCOLOR_DATA/video/bbb_480p_30s_5.1.mp4``. For each run it prints the
frames/s of the job itself and where its time went: for the cluster, the start (Ray and the
workers' model loads, once per session), the driver's scan for scene cuts, the chunks' wall
time against the workers' summed time on them (their overlap), and the remux; the driver's
overhead is the job's time outside the chunks. Every run writes its own temporary .mp4; each
cluster output is then compared with the one-process output (frame count, timestamps, 8-bit
RGB differences; ``--crf 0`` encodes losslessly, so that what differs is the colorization,
not two encodes of different segments). ``--chunk-frames`` is the longest chunk (the segment
length; vidcolor's default suits films minutes long, a short clip needs shorter chunks to keep
every worker busy). The last line is JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from vidcolor.models.runtimes import load_color_model
from vidcolor.options import DEFAULT_SEGMENT_FRAMES, EncoderOptions, VideoOptions, Window
from vidcolor.video.pipeline import colorize_video
from vidcolor.video.probe import probe


def _default_video() -> Path:
    data = Path(os.environ.get("VIDCOLOR_DATA", Path(__file__).resolve().parents[1].parent
                               / "shared" / "data"))
    return data / "video" / "bbb_480p_30s_5.1.mp4"


def _options(video: Path, frames: int, crf: int | None, chunk_frames: int) -> VideoOptions:
    rate = float(probe(video).rate)
    return VideoOptions(window=Window(0.0, frames / rate), encoder=EncoderOptions(crf=crf),
                        segment_frames=chunk_frames)


def run_single(video: Path, options: VideoOptions, runtime: str, folder: Path) -> dict:
    """One process, as ``vidcolor video`` without --cluster (the model load not timed)."""
    t0 = time.perf_counter()
    model = load_color_model(None, runtime)
    load = time.perf_counter() - t0
    result = colorize_video(video, folder / "single.mp4", model, options)
    return {"run": "single", "frames": result.frames, "seconds": result.seconds,
            "fps": result.frames / result.seconds, "start": load}


def run_cluster(video: Path, options: VideoOptions, runtime: str, workers: int,
                folder: Path) -> dict:
    """A local Ray of ``workers`` processes: start, then one job."""
    from vidcolor.video.cluster import ClusterSession

    t0 = time.perf_counter()
    with ClusterSession(f"local:{workers}", functools.partial(load_color_model, None,
                                                              runtime)) as session:
        start = time.perf_counter() - t0
        result = session.colorize_video(video, folder / f"cluster{workers}.mp4", options)
        t = session.timings
    overhead = result.seconds - t["chunks"]
    return {"run": f"local:{workers}", "frames": result.frames, "seconds": result.seconds,
            "fps": result.frames / result.seconds, "start": start, "scan": t["scan"],
            "chunks_wall": t["chunks"], "workers_sum": t["workers"],
            "remux": result.steps["remux"],
            "driver_overhead": overhead}


def compare(single: Path, other: Path) -> dict:
    """Frame count, timestamps and RGB differences of two outputs' video streams."""
    import av
    import numpy as np

    def frames(path: Path):
        with av.open(os.fspath(path)) as c:
            for f in c.decode(video=0):
                yield float(f.time), f.to_ndarray(format="rgb24").astype(np.int16)

    n = same_time = 0
    worst, total, over2 = 0, 0.0, 0
    for (t1, a), (t2, b) in zip(frames(single), frames(other)):
        d = np.abs(a - b)
        n += 1
        same_time += abs(t1 - t2) < 1e-6
        worst, total = max(worst, int(d.max())), total + float(d.mean())
        over2 += int(d.max()) > 2
    return {"compared_frames": n, "same_timestamps": same_time, "max_diff": worst,
            "mean_diff": total / max(n, 1), "frames_over_2_levels": over2}


def _print(row: dict) -> None:
    text = (f"{row['run']:>9}: {row['frames']} frames in {row['seconds']:.1f} s = "
            f"{row['fps']:.2f} frames/s (start {row['start']:.1f} s, not in the job)")
    if "scan" in row:
        text += (f"; scan {row['scan']:.1f} s, chunks {row['chunks_wall']:.1f} s wall / "
                 f"{row['workers_sum']:.1f} s of worker time, remux {row['remux']:.1f} s, "
                 f"driver overhead {row['driver_overhead']:.1f} s")
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", nargs="?", type=Path, default=_default_video())
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--runtime", default="auto", choices=("auto", "keras", "openvino"))
    parser.add_argument("--crf", type=int, help="encoder quality (default: vidcolor's)")
    parser.add_argument("--chunk-frames", type=int, default=DEFAULT_SEGMENT_FRAMES)
    parser.add_argument("--skip-single", action="store_true")
    args = parser.parse_args(argv)
    options = _options(args.video, args.frames, args.crf, args.chunk_frames)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidcolor-scale-") as tmp:
        folder = Path(tmp)
        for n in [int(w) for w in args.workers.split(",") if w]:
            rows.append(run_cluster(args.video, options, args.runtime, n, folder))
            _print(rows[-1])
        if not args.skip_single:  # last: its model stays loaded in this process
            rows.append(run_single(args.video, options, args.runtime, folder))
            _print(rows[-1])
            for row in rows[:-1]:
                row.update(compare(folder / "single.mp4",
                                   folder / f"cluster{row['run'].split(':')[1]}.mp4"))
                print(f"{row['run']:>9} against single: {row['compared_frames']} frames, "
                      f"{row['same_timestamps']} same timestamps, RGB difference max "
                      f"{row['max_diff']}, mean {row['mean_diff']:.3f}, "
                      f"{row['frames_over_2_levels']} frames over 2 levels", flush=True)
    print(json.dumps({"video": str(args.video), "frames": args.frames, "crf": args.crf,
                      "chunk_frames": args.chunk_frames,
                      "cpus": os.cpu_count(),
                      "runs": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
