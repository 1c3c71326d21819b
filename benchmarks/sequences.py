"""Image sequence paths against a video file's: frames/s and peak memory of a film job.

    python -m benchmarks.sequences [--clip VIDEO] [--frames 48]

Makes, from the first N frames of a 1080p clip (default the data's
multistream_subs_attachments_1080p.mkv), a 10-bit DPX sequence (gbrp10, 2048-byte headers
with rate and timecode) and the same frames as an H.264 file (x264 veryfast, CRF 18, 10-bit
4:2:0, so both inputs take the 16-bit frame path), then times four `vidcolor video` jobs,
each in its own process (so its peak RSS is its own): DPX sequence -> ProRes 422 HQ (.mov),
DPX sequence -> FFV1 (.mkv), DPX sequence -> H.264 (.mp4: the input path alone differs from
the last) and H.264 file -> H.264 (.mp4). The model is a flat stand-in (a/b a fixed
function of L, no network): what is compared is the input and output path around it,
decoding, the colour maths, stabilization and encoding, which a real model's time would hide. Prints one JSON line per job.
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
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.quality import data_root
from vidcolor.models.protocol import ColorModel


class FlatModel(ColorModel):
    """A stand-in ColorModel: a/b a fixed function of L, instantly."""

    name = "flat"
    render_size = 256
    multiple = 32

    def predict_ab(self, L, global_features=None, hints=None):
        L = np.asarray(L, np.float32)
        return np.stack([20 * np.sin(L / 15.0), 15 * np.cos(L / 20.0)], -1)


def make_inputs(clip: Path, frames: int, folder: Path) -> tuple[Path, Path]:
    """The DPX sequence and the H.264 file of the clip's first ``frames`` frames."""
    import av

    from vidcolor.timecode import parse_timecode
    from vidcolor.video.image_headers import dpx_with_timing

    seq = folder / "scan"
    seq.mkdir()
    h264 = folder / "file.mp4"
    tc = parse_timecode("01:00:00:00", 24)
    with av.open(os.fspath(clip)) as src, av.open(os.fspath(h264), "w") as out:
        stream = out.add_stream("libx264", rate=24, options={"crf": "18",
                                                             "preset": "veryfast"})
        for i, frame in enumerate(src.decode(video=0)):
            if i == frames:
                break
            if i == 0:
                stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, \
                    "yuv420p10le"
                dpx = av.CodecContext.create("dpx", "w")
                dpx.width, dpx.height, dpx.pix_fmt = frame.width, frame.height, "gbrp10le"
                dpx.time_base = Fraction(1, 24)
            rgb = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb48le"),
                                             format="rgb48le")
            data = b"".join(bytes(p) for p in dpx.encode(rgb.reformat(format="gbrp10le")))
            (seq / f"scan_{86400 + i:07d}.dpx").write_bytes(
                dpx_with_timing(data, Fraction(24), (tc + i).bcd()))
            f = rgb.reformat(format="yuv420p10le", dst_colorspace="ITU709")
            f.pts, f.time_base = i, Fraction(1, 24)
            for p in stream.encode(f):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)
    return seq, h264


def run_job(src: str, dst: str, codec: str) -> dict:
    """One job in this process: frames/s and this process's peak RSS."""
    from vidcolor.options import VideoOptions
    from vidcolor.video.pipeline import colorize_video

    options = VideoOptions.from_fields(codec=codec, batch_size=8)
    result = colorize_video(src, dst, FlatModel(), options)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"input": Path(src).name, "output": Path(dst).name, "codec": codec,
            "frames": result.frames, "fps": round(result.fps, 2),
            "frames_seconds": round(result.steps["frames"], 2), "peak_rss_mb": round(peak)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=data_root() / "video" /
                   "multistream_subs_attachments_1080p.mkv")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--job", nargs=3, metavar=("SRC", "DST", "CODEC"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.job:
        print(json.dumps(run_job(*args.job)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        seq, h264 = make_inputs(args.clip, args.frames, Path(tmp))
        jobs = [(seq, "seq_prores.mov", "prores"), (seq, "seq_ffv1.mkv", "ffv1"),
                (seq, "seq_h264.mp4", "libx264"), (h264, "file_h264.mp4", "libx264")]
        for src, name, codec in jobs:
            out = subprocess.run([sys.executable, "-m", "benchmarks.sequences", "--job",
                                  os.fspath(src), os.path.join(tmp, name), codec],
                                 capture_output=True, text=True, check=True)
            line = json.loads(out.stdout.strip().splitlines()[-1])
            line["machine"] = f"{platform.processor() or platform.machine()}, " \
                              f"{os.cpu_count()} cores"
            print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
