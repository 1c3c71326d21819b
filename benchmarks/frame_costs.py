"""Where one frame's CPU time goes in `vidcolor video`, step by step, outside and inside the
network.

    python -m benchmarks.frame_costs VIDEO [--frames N] [--batch-size N] [--runtime R]

Runs the pipeline's per-frame steps one after another in this thread, on the first N frames
of VIDEO, exactly as the stages call them (decode, ``FrameColorizer.prepare``, the model, the
frame analysis, the stabilizer, the finishing (``FrameColorizer.finish``: upsampling, gamut
fit and Lab -> RGB, one kernel), the conversion
to YUV and the x264 encode), and reports each step's process CPU time a frame (all threads,
so OpenCV's, OpenVINO's and FFmpeg's helper threads count) and its wall time. Steps run
serially, so this is their cost without the pipeline's overlap; ``benchmarks.throughput``
gives the overlapped end to end. FFmpeg's decoder and x264 work on in their own threads after
a call returns, so part of their time lands in the steps after them (the model's most of
all): the totals are exact, the split of those two is not. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from vidcolor.options import EncoderOptions
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import SegmentWriter, encoder_settings
from vidcolor.video.fields import yuv_frame
from vidcolor.video.frames import FrameColorizer, default_batch_size
from vidcolor.video.probe import probe
from vidcolor.video.stabilize import DEFAULT_STRENGTH, Stabilizer


class _Costs:
    """Process CPU and wall seconds summed by step name."""

    def __init__(self):
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)

    def time(self, name: str, fn, *args):
        c, w = time.process_time(), time.perf_counter()
        out = fn(*args)
        self.cpu[name] += time.process_time() - c
        self.wall[name] += time.perf_counter() - w
        return out


def _decoded(info, n: int, costs: _Costs) -> list:
    frames, it = [], iter(decode_frames(info))
    for _ in range(n):
        f = costs.time("decode (PyAV, to RGB)", next, it, None)
        if f is None:
            break
        frames.append(f)
    return frames


def measure(video: Path, n: int, batch: int, model, strength: float = DEFAULT_STRENGTH,
            warm: int = 16) -> dict:
    """CPU and wall milliseconds a frame of each step, over the first ``n`` frames (the first
    ``warm`` of them first run through every step untimed: compilation, first calls)."""
    info = probe(video)
    core = FrameColorizer(model, stabilizer=Stabilizer(strength))
    settings = encoder_settings("mp4", EncoderOptions(), info.bit_depth)
    for timed in (False, True):
        costs = _Costs()
        frames = _decoded(info, warm if not timed else n, costs)
        core.set_state(None)
        with tempfile.TemporaryDirectory(prefix="vidcolor-costs-") as tmp:
            writer = SegmentWriter(Path(tmp) / "costs.vseg", info, settings)
            _run_steps(core, frames, batch, writer, costs)
            costs.time("x264 encode", writer.close)
    count = len(frames)
    ms = {k: 1000.0 * v / count for k, v in costs.cpu.items()}
    wall = {k: 1000.0 * v / count for k, v in costs.wall.items()}
    outside = sum(v for k, v in ms.items() if not k.startswith("model"))
    return {"video": os.fspath(video), "frames": count, "batch_size": batch,
            "size": [info.width, info.height], "cpu_ms": ms, "wall_ms": wall,
            "cpu_ms_outside_model": outside, "cpu_ms_total": sum(ms.values())}


def _run_steps(core: FrameColorizer, decoded: list, batch: int, writer, costs: _Costs) -> None:
    for i in range(0, len(decoded), batch):
        chunk = decoded[i:i + batch]
        frames = [costs.time("prepare (L full, L render)", core.prepare, f.rgb, f.pts)
                  for f in chunk]
        costs.time("model (stack, pad, predict)", core.predict_batch, frames, batch)
        for frame in frames:
            analysis = costs.time("analysis: cut, L8", core.analyzer, frame.L_small)
            costs.time("analysis: DIS flow both ways", analysis.flows)
            frame.ab, _ = costs.time("stabilizer blend", core.stabilizer.step, analysis,
                                     frame.ab)
            rgb = costs.time("finish (upsample, gamut, RGB)", core.finish, frame)
            yuv = costs.time("RGB->YUV (swscale)", _yuv, writer, rgb)
            costs.time("x264 encode", _encode, writer, yuv, frame.pts)


def _yuv(writer: SegmentWriter, rgb: np.ndarray):
    """The writer's own conversion (with its kept scaler)."""
    return yuv_frame(rgb, writer._pix_fmt, writer.info.matrix, writer._range,
                     writer._reformatter)


def _encode(writer: SegmentWriter, frame, pts: int) -> None:
    frame.pts = int(pts)
    frame.time_base = writer.info.time_base
    for packet in writer._stream.encode(frame):
        writer._container.mux(packet)


def format_table(r: dict) -> str:
    lines = [f"{r['size'][0]}x{r['size'][1]}, {r['frames']} frames, batch {r['batch_size']}",
             f"{'step':<34} {'CPU ms/frame':>13} {'wall ms/frame':>14}"]
    lines += [f"{k:<34} {v:>13.2f} {r['wall_ms'][k]:>14.2f}" for k, v in r["cpu_ms"].items()]
    lines.append(f"{'all steps':<34} {r['cpu_ms_total']:>13.2f}")
    lines.append(f"{'outside the model':<34} {r['cpu_ms_outside_model']:>13.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.frame_costs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", type=Path)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.add_argument("--runtime", choices=("auto", "keras", "openvino"), default="auto")
    args = p.parse_args(argv)
    from vidcolor.models.runtimes import load_color_model

    model = load_color_model(args.model, args.runtime)
    results = measure(args.video, args.frames, args.batch_size or default_batch_size(), model)
    print(format_table(results))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
