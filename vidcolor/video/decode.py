"""Decoding the input's video stream into RGB frames, one time window at a time.

Frames only ever pass through (memory stays bounded): :func:`decode_frames` yields them in
display order, each with the pts it has in the input, so the encoder can give the output frame
the very same timestamp (frame count, variable frame rates and the start time survive).

The frame contract (every :class:`~vidcolor.video.source.FrameSource` keeps it, whatever it
reads: a video file, an image sequence, fields):

- ``DecodedFrame.rgb`` is gamma-encoded RGB, shape (H, W, 3): **uint16 (0..65535) when the
  source has more than 8 bits per sample** (``VideoInfo.bit_depth > 8``, i.e.
  ``VideoInfo.high_bit_depth``), uint8 (0..255) otherwise. A 10-bit sample v becomes about
  v * 65535 / 1023: no step through 8 bits anywhere.
- YUV is turned into RGB with the source's own matrix (``VideoInfo.matrix``) and each
  frame's own range (a full-range frame is not clipped to video range).
- The lightness the network sees is a render-size copy of the frame's L; the output's L is
  the frame's own at full resolution and precision (``FrameColorizer.prepare`` / ``finish``,
  which return RGB of the frame's dtype).
- A sink takes finished frames of the same dtype (``FrameSink.dtype``);
  :class:`~vidcolor.video.encode.SegmentWriter` feeds uint16 frames to FFmpeg as rgb48le
  and converts them to the output's pixel format (10-bit 4:2:2 ProRes, 16-bit 4:4:4 FFV1...)
  with the same matrix, the source's range and its colour tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from vidcolor.log import logger
from vidcolor.options import Window
from vidcolor.video.probe import VideoInfo, decode_packets, ffmpeg_message, open_input

__all__ = ["DecodedFrame", "decode_frames"]


@dataclass
class DecodedFrame:
    """One decoded video frame.

    Attributes
    ----------
    pts : int
        In the input stream's time base.
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        uint16 (0..65535) for a source of more than 8 bits, uint8 (0..255) otherwise (the
        module's frame contract).
    """

    pts: int
    rgb: np.ndarray


def decode_frames(info: VideoInfo, window: Window = Window(), from_pts: int | None = None,
                  lost: list[float] | None = None, source=None,
                  to_pts: int | None = None) -> Iterator[DecodedFrame]:
    """Decode the video frames of a time window, in display order, past any damage.

    Parameters
    ----------
    info : VideoInfo
    window : Window
        Seconds from the stream's start time: frames before ``window.start`` are skipped, and
        frames at or after ``start + duration``.
    from_pts : int, optional
        Skip frames whose pts is below this (used to resume a job).
    lost : list, optional
        Receives, once decoding is done, the time (seconds from the stream's start) of each
        frame of the window the decoder refused: the time of the packet FFmpeg refused, which
        with frame threads is up to one frame per thread after the damaged one.
    source : binary file object, optional
        The input's bytes, read instead of ``info.path`` (see
        :func:`~vidcolor.video.probe.open_input`).
    to_pts : int, optional
        Stop before the first frame whose pts is this or later (a chunk's end).

    Yields
    ------
    DecodedFrame
        Frames with missing pts get one extrapolated at the nominal rate; pts are made strictly
        increasing (encoders and muxers require it). Packets the decoder refuses are skipped,
        every other frame is kept with its own pts, and the refused ones are told in one
        warning line at the end. When the demuxer fails (a truncated file) the frames still
        inside the decoder come out, and a warning says where the video stopped.
    """
    tb = info.time_base
    step = max(1, int(round(1 / (float(info.rate) * tb)))) if info.rate else 1
    t0, t1 = window.bounds(info.start_time)
    lo = int(round(t0 / tb))
    hi = None if t1 is None else int(round(t1 / tb))
    if from_pts is not None:
        lo = max(lo, from_pts)
    if to_pts is not None:
        hi = to_pts if hi is None else min(hi, to_pts)
    fmt = "rgb48le" if info.high_bit_depth else "rgb24"
    refused: list[int] = []  # pts of the refused packets (about where the output was if none)
    stopped: list[BaseException] = []
    last = None
    # One scaler for the window's frames: a frame's own (to_ndarray's) is set up anew, with
    # its threads, for every frame.
    reformatter = VideoReformatter()
    with open_input(info.path if source is None else source) as container:
        vs = container.streams[info.stream_index]
        vs.thread_type = "AUTO"
        if lo > int(round(info.start_time / tb)):
            try:
                container.seek(lo, stream=vs, backward=True)
            except av.error.FFmpegError:
                container.seek(0, stream=vs)

        def refuse(packet) -> None:
            known = packet.pts if packet.pts is not None else packet.dts
            refused.append(known if known is not None else (last if last is not None else lo))

        for frame in decode_packets(container, vs, refuse, stopped.append):
            pts = frame.pts if frame.pts is not None else (
                last + step if last is not None else lo)
            if last is not None and pts <= last:
                pts = last + 1
            if pts < lo:
                continue
            if hi is not None and pts >= hi:
                break
            last = pts
            rgb = reformatter.reformat(frame, format=fmt, src_colorspace=info.matrix)
            yield DecodedFrame(pts=pts, rgb=rgb.to_ndarray())
    times = [float(p * tb) - info.start_time for p in refused
             if p >= lo and (hi is None or p < hi)]
    _warn(times, stopped, None if last is None else float(last * tb) - info.start_time)
    if lost is not None:
        lost.extend(times)


def _warn(lost: list[float], stopped: list[BaseException], end: float | None) -> None:
    """One warning line for the refused frames, one for a demuxer that stopped early."""
    if lost:
        shown = ", ".join(f"{t:.2f} s" for t in lost[:_SHOWN])
        more = f" and {len(lost) - _SHOWN} more" if len(lost) > _SHOWN else ""
        frames = "1 frame" if len(lost) == 1 else f"{len(lost)} frames"
        logger.warning(f"warning: {frames} could not be decoded (at {shown}{more}); "
                       "the others are kept")
    if stopped:
        where = f" after {end:.2f} s" if end is not None else ""
        logger.warning(f"warning: video decoding stopped early{where} "
                       f"({ffmpeg_message(stopped[0])}); the output ends there")


#: Times of refused frames shown in the warning; a badly damaged film lists only the first.
_SHOWN = 10
