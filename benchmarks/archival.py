"""Archival outputs against the everyday path: a 10-bit 1080p film to ProRes HQ and to FFV1,
against the same frames as 8-bit H.264 to H.264.

    python -m benchmarks.archival [VIDEO] [--frames N] [--model shipped|none]

From the first N frames of VIDEO (default: the 1080p clip of the project's data) it makes, not
timed, two sources of the very same pictures: an 8-bit H.264 file (yuv420p, CRF 12) and a
10-bit one (yuv420p10le, CRF 12; the 8-bit pictures, so what differs is the path, not the
content). Then, each in a process of its own (so its peak memory is its own), ``vidcolor
video`` as a library call (:func:`vidcolor.video.pipeline.colorize_video`):

- ``h264 8 -> h264``: the everyday path (uint8 frames, libx264 veryfast CRF 18, yuv420p);
- ``h264 10 -> h264 10``: the 16-bit frame path, same codec family (yuv420p10le);
- ``h264 10 -> prores hq``: ProRes 422 HQ, yuv422p10le, .mov;
- ``h264 10 -> ffv1``: FFV1 version 3, slice CRCs, yuv444p10le, .mkv.

Each row: frames/s of the job (the model load not timed), the output's size, and the process's
peak resident memory (``ru_maxrss``). ``--model none`` runs a model that answers "no colour"
at once, so the rows differ only in decoding, the colour maths and encoding (the part the
output codec changes); ``--model shipped`` is what a user waits for. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.quality import data_root
from vidcolor.models.protocol import ColorModel

#: name -> (source depth, output extension, --codec)
VARIANTS = {
    "h264 8 -> h264": (8, ".mp4", None),
    "h264 10 -> h264 10": (10, ".mp4", None),
    "h264 10 -> prores hq": (10, ".mov", "prores"),
    "h264 10 -> ffv1": (10, ".mkv", "ffv1"),
}


class NoColour(ColorModel):
    """A ColorModel that says "no colour" at once: the rows then time everything but the
    network."""

    name = "none"
    render_size = 256
    multiple = 32

    def predict_ab(self, L, global_features=None, **_):
        return np.zeros(np.shape(L) + (2,), np.float32)


def make_sources(video: Path, frames: int, folder: Path) -> dict[int, Path]:
    """The first ``frames`` frames of ``video`` as 8-bit and 10-bit H.264 files."""
    import av

    with av.open(os.fspath(video)) as c:
        vs = c.streams.video[0]
        rate = vs.guessed_rate or vs.average_rate
        pictures = []
        for frame in c.decode(vs):
            pictures.append(frame.to_ndarray(format="rgb24"))
            if len(pictures) == frames:
                break
    sources = {}
    for depth, pix_fmt in ((8, "yuv420p"), (10, "yuv420p10le")):
        path = folder / f"source{depth}.mp4"
        with av.open(os.fspath(path), "w") as out:
            s = out.add_stream("libx264", rate=rate, options={"crf": "12",
                                                              "preset": "veryfast"})
            s.height, s.width = pictures[0].shape[:2]
            s.pix_fmt = pix_fmt
            s.codec_context.colorspace = 1
            for i, rgb in enumerate(pictures):
                f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                    format=pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
                f.pts = i
                out.mux(s.encode(f))
            out.mux(s.encode(None))
        sources[depth] = path
    return sources


def run_one(source: Path, output: Path, codec: str | None, model_name: str) -> dict:
    """One job in this process; its numbers (called in a child process by :func:`main`)."""
    from vidcolor.models.runtimes import load_color_model
    from vidcolor.options import EncoderOptions, VideoOptions
    from vidcolor.video.pipeline import colorize_video
    from vidcolor.video.probe import probe

    model = NoColour() if model_name == "none" else load_color_model(None, "auto")
    result = colorize_video(source, output, model,
                            VideoOptions(encoder=EncoderOptions(codec=codec)))
    info = probe(output)
    return {"frames": result.frames, "seconds": round(result.seconds, 2),
            "fps": round(result.frames / result.seconds, 2), "codec": info.codec,
            "bit_depth": info.bit_depth, "MB": round(output.stat().st_size / 1e6, 1),
            "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("video", nargs="?", type=Path,
                   default=data_root() / "video" / "multistream_subs_attachments_1080p.mkv")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--model", choices=("shipped", "none"), default="shipped")
    p.add_argument("--one", nargs=3, metavar=("SOURCE", "OUTPUT", "CODEC"),
                   help=argparse.SUPPRESS)  # a child's run
    args = p.parse_args(argv)
    if args.one:
        source, output, codec = args.one
        print(json.dumps(run_one(Path(source), Path(output), None if codec == "-" else codec,
                                 args.model)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        sources = make_sources(args.video, args.frames, folder)
        print(f"sources: {args.frames} frames, {time.perf_counter() - t:.1f} s (not timed)")
        for name, (depth, ext, codec) in VARIANTS.items():
            output = folder / (name.replace(" ", "_").replace(">", "") + ext)
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.archival", "--model", args.model, "--one",
                 str(sources[depth]), str(output), codec or "-"],
                capture_output=True, text=True)
            if child.returncode:
                sys.exit(f"{name}: failed\n{child.stderr[-2000:]}")
            row = {"run": name, **json.loads(child.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(f"{name:22} {row['fps']:7.2f} frames/s  {row['bit_depth']:2}-bit "
                  f"{row['codec']:8} {row['MB']:6.1f} MB  peak RSS {row['peak_rss_MB']} MB")
    print(json.dumps({"video": str(args.video), "frames": args.frames, "model": args.model,
                      "machine": platform.processor() or platform.machine(),
                      "cpus": os.cpu_count(), "rows": rows}))


if __name__ == "__main__":
    main()
