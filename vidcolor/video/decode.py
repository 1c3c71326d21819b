"""Decoding the input's video stream into RGB frames, one time window at a time.

Frames only ever pass through (memory stays bounded): :func:`decode_frames` yields them in
display order, each with the pts it has in the input, so the encoder can give the output frame
the very same timestamp (frame count, variable frame rates and the start time survive). The
frames are converted to RGB with the matrix :func:`~vidcolor.video.probe.probe` chose, the
one the encoder converts back with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import av.error
import numpy as np

from vidcolor.log import logger
from vidcolor.options import Window
from vidcolor.video.probe import VideoInfo, ffmpeg_message, open_input

__all__ = ["DecodedFrame", "decode_frames"]


@dataclass
class DecodedFrame:
    """One decoded video frame.

    Attributes
    ----------
    pts : int
        In the input stream's time base.
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
    """

    pts: int
    rgb: np.ndarray


def decode_frames(info: VideoInfo, window: Window = Window(),
                  from_pts: int | None = None) -> Iterator[DecodedFrame]:
    """Decode the video frames of a time window, in display order.

    Parameters
    ----------
    info : VideoInfo
    window : Window
        Seconds from the stream's start time: frames before ``window.start`` are skipped, and
        frames at or after ``start + duration``.
    from_pts : int, optional
        Skip frames whose pts is below this (used to resume a job).

    Yields
    ------
    DecodedFrame
        Frames with missing pts get one extrapolated at the nominal rate; pts are made strictly
        increasing (encoders and muxers require it). When the stream ends early on a decoding
        error, a warning is logged and the frames stop there.
    """
    tb = info.time_base
    step = max(1, int(round(1 / (float(info.rate) * tb)))) if info.rate else 1
    t0, t1 = window.bounds(info.start_time)
    lo = int(round(t0 / tb))
    hi = None if t1 is None else int(round(t1 / tb))
    if from_pts is not None:
        lo = max(lo, from_pts)
    fmt = "rgb48le" if info.high_bit_depth else "rgb24"
    with open_input(info.path) as container:
        vs = container.streams[info.stream_index]
        vs.thread_type = "AUTO"
        if lo > int(round(info.start_time / tb)):
            try:
                container.seek(lo, stream=vs, backward=True)
            except av.error.FFmpegError:
                container.seek(0, stream=vs)
        last = None
        frames = container.decode(vs)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except av.error.FFmpegError as e:
                where = f" after pts {last}" if last is not None else ""
                logger.warning(f"warning: video decoding stopped early{where} "
                               f"({ffmpeg_message(e)}); the output ends there")
                return
            pts = frame.pts if frame.pts is not None else (
                last + step if last is not None else lo)
            if last is not None and pts <= last:
                pts = last + 1
            if pts < lo:
                continue
            if hi is not None and pts >= hi:
                return
            last = pts
            yield DecodedFrame(pts=pts, rgb=frame.to_ndarray(format=fmt,
                                                              src_colorspace=info.matrix))
