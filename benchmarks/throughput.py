"""Throughput of `vidcolor video`, stage by stage, in one run.

    python -m benchmarks.throughput VIDEO [--frames N] [--size WxH] [--batch-size N]
                                          [--model DIR] [--render-size N]
    python -m benchmarks.throughput --synthetic-1080p [--frames N] ...
    python -m benchmarks.throughput VIDEO --runtime {auto,keras,openvino}
    python -m benchmarks.throughput VIDEO --compare-runtimes   (see benchmarks/runtimes.py)

Measures frames per second of, on the same first N frames of VIDEO:

- decode: :func:`vidcolor.video.decode.decode_frames` alone (PyAV decode + conversion to RGB);
- transcode: decode + encode with the pipeline's encoder settings
  (:func:`~vidcolor.video.encode.encoder_settings` for .mp4 and
  :class:`~vidcolor.video.encode.SegmentWriter`,
  the functions `colorize_video` uses), no colorization: the floor no pipeline can beat;
- color: the full-resolution colour maths of every frame, RGB -> L and Lab -> RGB;
- model: ``FrameColorizer.predict`` alone at the pipeline's render shape and the chosen batch
  size, steady state (one warm-up call first, not timed);
- stabilize: the stabilization pass alone on the model's output (DIS flow both ways + the numba
  kernel, render resolution), as in :mod:`benchmarks.temporal`;
- finish: ``FrameColorizer.finish`` alone (L-guided upsampling of the chroma, gamut fit,
  Lab -> RGB at full resolution), the encode thread's colour work;
- end to end: :func:`vidcolor.video.pipeline.colorize_video` on the same frames into a temporary
  .mp4 (decode, model, stabilize, upsample, encode, remux), three threads as shipped.

Each timed stage also reports its process CPU time a frame (all threads), and the end-to-end
frames/s that no schedule could beat on this machine: every core busy with the transcode,
model, stabilization and finishing work and nothing else. Where that bound is under 0.75 x
min(model, transcode), no overlap of the stages can meet that ratio.

``--size WxH`` first re-encodes the N frames at that size (x264, near-lossless, not timed) so
every stage sees that size; ``--synthetic-1080p`` makes its own 1920x1080 clip (moving
gradients and shapes, 30 fps) the same way. Prints a table; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.temporal import time_end_to_end, time_stabilizer
from vidcolor import __version__, color
from vidcolor.colorize import finish_rgb
from vidcolor.options import EncoderOptions
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import SegmentWriter, encoder_settings
from vidcolor.video.frames import FrameColorizer, default_batch_size
from vidcolor.video.probe import VideoInfo, probe
from vidcolor.video.stabilize import DEFAULT_STRENGTH, Stabilizer


# --- test clips ------------------------------------------------------------------------------

def _write_clip(path: Path, frames, rate: int = 30) -> None:
    """Encode RGB frames to an .mp4 (x264, CRF 12, fast): a source clip, not a measurement."""
    import av

    with av.open(os.fspath(path), "w") as out:
        stream = None
        for i, rgb in enumerate(frames):
            if stream is None:
                stream = out.add_stream("libx264", rate=rate,
                                        options={"crf": "12", "preset": "fast"})
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def synthetic_frames(n: int, width: int = 1920, height: int = 1080):
    """Moving colour gradients with a few drifting shapes and mild noise (so the encoder and
    the optical flow have real work, unlike a flat frame).

    Yields
    ------
    ndarray of uint8, shape (height, width, 3)
    """
    import cv2

    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for t in range(n):
        r = 127 + 100 * np.sin((xs + 4 * t) / 97.0)
        g = 127 + 100 * np.sin((ys - 3 * t) / 71.0)
        b = 127 + 100 * np.sin((xs + ys + 5 * t) / 131.0)
        img = np.stack([r, g, b], -1).astype(np.uint8)
        for k in range(6):
            cx = int((0.15 + 0.13 * k) * width + 6 * t * (1 if k % 2 else -1)) % width
            cy = int((0.2 + 0.1 * k) * height + 2 * t) % height
            cv2.circle(img, (cx, cy), height // 12, (40 * k, 255 - 40 * k, 128), -1)
        img = cv2.add(img, rng.integers(0, 8, img.shape, dtype=np.uint8))
        yield img


def resized_frames(video: Path, n: int, size: tuple[int, int]):
    """The first `n` frames of `video` resized to `size` (width, height)."""
    import cv2

    info = probe(video)
    for i, f in enumerate(decode_frames(info)):
        if i >= n:
            return
        yield cv2.resize(f.rgb, size, interpolation=cv2.INTER_AREA)


# --- stages ----------------------------------------------------------------------------------

def _first(info: VideoInfo, n: int):
    """The first `n` decoded frames (a pts window would miscount on uneven timestamps)."""
    for i, f in enumerate(decode_frames(info)):
        if i >= n:
            return
        yield f


def time_decode(info: VideoInfo, n: int) -> tuple[float, list[np.ndarray]]:
    """Frames/s of decoding `n` frames to RGB; also returns the frames."""
    frames = []
    t = time.perf_counter()
    for f in _first(info, n):
        frames.append(f.rgb)
    return len(frames) / (time.perf_counter() - t), frames


def time_transcode(info: VideoInfo, n: int, tmp: Path) -> float:
    """Frames/s of decode + encode (the pipeline's encoder settings and segment writer)."""
    settings = encoder_settings("mp4", EncoderOptions(), info.bit_depth)
    t = time.perf_counter()
    writer = SegmentWriter(tmp / "transcode.vseg", info, settings)
    count = 0
    for f in _first(info, n):
        writer.write(f.pts, f.rgb)
        count += 1
    writer.close()  # the encoder's flush is part of the work
    return count / (time.perf_counter() - t)


def time_color(frames: list[np.ndarray]) -> float:
    """Frames/s of full-resolution RGB -> L and Lab -> RGB (a fixed, in-gamut chroma)."""
    h, w = frames[0].shape[:2]
    ab = np.empty((h, w, 2), np.float32)
    ab[..., 0], ab[..., 1] = 12.0, -8.0
    color.lab_to_rgb(color.rgb_to_l(frames[0]), ab)  # warm up (numba, OpenCV)
    t = time.perf_counter()
    for rgb in frames:
        color.lab_to_rgb(color.rgb_to_l(rgb), ab, rgb.dtype)
    return len(frames) / (time.perf_counter() - t)


def time_model(core: FrameColorizer, frames: list[np.ndarray], batch: int):
    """Frames/s of the model alone at steady state, and its outputs for every frame.

    Returns
    -------
    (fps, cpu_ms) : (float, float)
        Frames per second, and milliseconds of process CPU time a frame.
    prepare_cpu_ms : float
        Process CPU milliseconds a frame of the frames' lightness (``FrameColorizer.prepare``:
        full resolution and render size), which the pipeline does before the model.
    predicted : list of (L_full, L_small, ab_small), the shape :func:`benchmarks.temporal
        .time_stabilizer` takes
    """
    core.prepare(frames[0])  # warm-up (numba)
    with _Clock() as prepare:
        prepared = [core.prepare(f) for f in frames]
    smalls = [p.L_small for p in prepared]
    core.predict(smalls[:batch])  # warm-up: graph tracing and allocation, not throughput
    abs_ = []
    with _Clock() as clock:
        for i in range(0, len(smalls), batch):
            abs_.extend(core.predict(smalls[i:i + batch]))
    return (clock.rates(len(smalls)), prepare.rates(len(smalls))[1],
            [(p.L_full, p.L_small, ab) for p, ab in zip(prepared, abs_)])


def time_finish(predicted) -> float:
    """Frames/s of :func:`vidcolor.finish.finish_rgb` (L-guided upsampling, gamut fit,
    Lab -> RGB at full resolution): the pipeline's other full-resolution step, not in the
    issue's list but part of the end-to-end cost."""
    finish_rgb(predicted[0][2], predicted[0][1], predicted[0][0])  # warm up
    t = time.perf_counter()
    for L_full, L_small, ab in predicted:
        finish_rgb(ab, L_small, L_full)
    return len(predicted) / (time.perf_counter() - t)


class _Clock:
    """Wall-clock and process CPU time (all threads) of a block of work."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def rates(self, frames: int) -> tuple[float, float]:
        """(frames per second, CPU milliseconds a frame)."""
        return frames / self.wall, 1000.0 * self.cpu / frames


# --- main ------------------------------------------------------------------------------------

def _threads() -> dict:
    out = {"cpus": os.cpu_count()}
    try:
        import cv2

        out["opencv"] = cv2.getNumThreads()
    except Exception:  # noqa: BLE001 - informational only
        pass
    try:
        import numba

        out["numba"] = numba.get_num_threads()
    except Exception:  # noqa: BLE001
        pass
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        out["tf_intra"] = tf.config.threading.get_intra_op_parallelism_threads()
        out["tf_inter"] = tf.config.threading.get_inter_op_parallelism_threads()
    return out


def _versions() -> dict:
    import av
    import cv2

    out = {"vidcolor": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "av": av.__version__, "ffmpeg": av.library_versions.get("libavcodec"),
           "opencv": cv2.__version__}
    for name in ("tensorflow", "keras", "numba", "openvino"):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    return out


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive WxH, got {text!r}")
    return w, h


def run(video: Path, n: int, batch: int, model, render_size: int | None,
        strength: float = DEFAULT_STRENGTH) -> dict:
    """Measure every stage on the first `n` frames of `video`; returns the results dict."""
    info = probe(video)
    results: dict = {"video": os.fspath(video)}
    with tempfile.TemporaryDirectory(prefix="vidcolor-bench-") as tmp:
        results["decode_fps"], frames = time_decode(info, n)
        if not frames:
            raise SystemExit(f"{video}: no frames decoded")
        n = len(frames)
        cpu: dict = {}

        def measure(stage: str, timed) -> None:  # frames/s from the stage, CPU from the clock
            with _Clock() as clock:
                results[f"{stage}_fps"] = timed()
            cpu[stage] = clock.rates(n)[1]

        measure("transcode", lambda: time_transcode(info, n, Path(tmp)))
        results["color_fps"] = time_color(frames)
        core = FrameColorizer(model, render_size)
        shape = core.render_shape(*frames[0].shape[:2])
        (results["model_fps"], cpu["model"]), cpu["prepare"], predicted = time_model(core, frames,
                                                                                  batch)
        del frames  # the full-size copies are not needed any more (1080p: 6 MB each)
        # time_stabilizer warms up on one frame, which has no previous frame: the flow and
        # kernel path would be compiled (numba) inside the timed loop. Two frames first.
        warm = Stabilizer(strength)
        for _, L_small, ab in predicted[:2]:
            warm(L_small, ab)
        # These include one warm-up frame in their CPU time (< 1 %).
        measure("stabilize", lambda: time_stabilizer(predicted, strength))
        measure("finish", lambda: time_finish(predicted))
        del predicted
        measure("end_to_end", lambda: time_end_to_end(video, model, 0.0, info, n, render_size,
                                                      strength, batch))
    floor = min(results["model_fps"], results["transcode_fps"])
    # The most any schedule could reach: every core busy with the stages' own work, nothing
    # else (no hand-offs between threads, no caches shared: an upper bound).
    work = cpu["transcode"] + cpu["prepare"] + cpu["model"] + cpu["stabilize"] + cpu["finish"]
    results["cpu_ms_per_frame"] = cpu
    results["all_cores_bound_fps"] = (os.cpu_count() or 1) * 1000.0 / work
    results["checks"] = {
        "end_to_end_over_min_model_transcode": results["end_to_end_fps"] / floor,
        "end_to_end_ok": results["end_to_end_fps"] >= 0.75 * floor,
        "all_cores_bound_over_min_model_transcode": results["all_cores_bound_fps"] / floor,
        "end_to_end_over_all_cores_bound": results["end_to_end_fps"] / results["all_cores_bound_fps"],
        "stabilize_over_end_to_end": results["stabilize_fps"] / results["end_to_end_fps"],
        "stabilize_ok": results["stabilize_fps"] >= 5 * results["end_to_end_fps"],
    }
    results.update({
        "frames": n, "size": [info.width, info.height], "batch_size": batch,
        "render_shape": list(shape), "render_size": core.render_size,
        "model": getattr(model, "name", type(model).__name__),
        "strength": strength, "encoder": _encoder_text(info),
        "threads": _threads(), "cpu": _cpu_name(), "versions": _versions(),
    })
    return results


def _encoder_text(info: VideoInfo) -> str:
    s = encoder_settings("mp4", EncoderOptions(), info.bit_depth)
    return f"{s.codec} crf {s.crf} {s.preset} {s.pix_fmt}"


def format_table(r: dict) -> str:
    rows = [("decode", "decode_fps", None), ("transcode (decode + encode)", "transcode_fps", "transcode"),
            ("colour conversion (full res)", "color_fps", None),
            ("lightness (full res + render)", None, "prepare"),
            (f"model (batch {r['batch_size']}, {r['render_shape'][0]}x{r['render_shape'][1]})",
             "model_fps", "model"),
            ("stabilization", "stabilize_fps", "stabilize"),
            ("finish (upsample + gamut + Lab->RGB)", "finish_fps", "finish"),
            ("end to end", "end_to_end_fps", "end_to_end")]
    cpu = r["cpu_ms_per_frame"]
    lines = [f"{r['size'][0]}x{r['size'][1]}, {r['frames']} frames, {r['encoder']}",
             f"{'stage':<38} {'frames/s':>9} {'CPU ms/frame':>13}"]
    lines += [f"{name:<38} " + (f"{r[key]:>9.2f} " if key else " " * 10)
              + (f"{cpu[c]:>13.2f}" if c else "") for name, key, c in rows]
    c = r["checks"]
    lines.append(f"end to end / min(model, transcode) = {c['end_to_end_over_min_model_transcode']:.2f}"
                 f" (bar 0.75: {'ok' if c['end_to_end_ok'] else 'FAIL'}); "
                 f"stabilization / end to end = {c['stabilize_over_end_to_end']:.1f}x"
                 f" (bar 5x: {'ok' if c['stabilize_ok'] else 'FAIL'})")
    lines.append(f"all {r['threads']['cpus']} cores busy with the stages' own CPU work: end to end "
                 f"<= {r['all_cores_bound_fps']:.1f} frames/s "
                 f"= {c['all_cores_bound_over_min_model_transcode']:.2f} x min(model, transcode); "
                 f"end to end / bound = {c['end_to_end_over_all_cores_bound']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", nargs="?", type=Path)
    p.add_argument("--synthetic-1080p", action="store_true",
                   help="measure on a synthetic 1920x1080 clip made here")
    p.add_argument("--frames", type=int, default=150, help="frames to measure (default 150)")
    p.add_argument("--size", type=_size, metavar="WxH", help="re-encode the frames at this size")
    p.add_argument("--batch-size", type=int, help="frames per model call (default: the "
                   "pipeline's default_batch_size)")
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.add_argument("--render-size", type=int, help="network resolution (default: the model's)")
    p.add_argument("--runtime", choices=("auto", "keras", "openvino"), default="auto",
                   help="what runs the network (default auto, as `vidcolor video`)")
    p.add_argument("--compare-runtimes", action="store_true",
                   help="instead of the stages: keras and openvino interleaved, model-only "
                   "and end-to-end frames/s and the a/b difference")
    args = p.parse_args(argv)
    if (args.video is None) == (not args.synthetic_1080p):
        p.error("give either VIDEO or --synthetic-1080p")
    if args.frames < 2:
        p.error("--frames must be at least 2")

    from vidcolor.models.runtimes import load_color_model

    # Imports TensorFlow, which default_batch_size looks at.
    model = load_color_model(args.model, "keras" if args.compare_runtimes else args.runtime)
    batch = args.batch_size or default_batch_size()
    with tempfile.TemporaryDirectory(prefix="vidcolor-clip-") as tmp:
        video = args.video
        if args.synthetic_1080p:
            video = Path(tmp) / "synthetic_1080p.mp4"
            _write_clip(video, synthetic_frames(args.frames, *(args.size or (1920, 1080))))
        elif args.size:
            source = video
            video = Path(tmp) / f"{source.stem}_{args.size[0]}x{args.size[1]}.mp4"
            rate = probe(source).rate
            _write_clip(video, resized_frames(source, args.frames, args.size),
                        rate=int(round(float(rate))) if rate else 30)
        if args.compare_runtimes:
            from benchmarks.runtimes import compare, format_comparison

            results = compare(video, args.frames, batch, model, args.render_size)
            results.update(cpu=_cpu_name(), threads=_threads(), versions=_versions(),
                           source=os.fspath(args.video or "synthetic"))
            print(format_comparison(results))
            print(json.dumps(results))
            return 0
        results = run(video, args.frames, batch, model, args.render_size)
        results["runtime"] = type(model).__name__
    results["source"] = "synthetic 1080p" if args.synthetic_1080p else os.fspath(args.video)
    print(format_table(results))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
