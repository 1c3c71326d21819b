"""An image sequence as a film: described once (:func:`probe_sequence`), read frame by frame
(:class:`SequenceSource`, a :class:`~vidcolor.video.source.FrameSource`).

Frames are decoded by FFmpeg's image decoders (DPX, TIFF, OpenEXR, PNG, JPEG), one file a
packet. A sequence's clock is its numbering: the time base is one frame, and a frame's pts is
its number less the first number, so a gap (``allow_gaps``) keeps its time and the first
number is where frame numbers start again on output. Its rate comes from the first frame's
DPX or OpenEXR header, else ``fps`` (24 by default, said in one line); its timecode from that
header, else the job's ``--timecode``. Before any work every frame's header is read (size and
bit depth: a sequence of mixed frames is refused whole, and a DPX shorter than its header
says is refused as damaged); the first frame is decoded.

OpenEXR frames hold scene-linear light: they are encoded with the sRGB curve (values clipped
to [0, 1]) on the way in, as every other frame is display-referred, and decoded back on the
way out (:mod:`vidcolor.video.sequence_sink`).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.log import logger
from vidcolor.options import Window, parse_fps
from vidcolor.timecode import Timecode
from vidcolor.video.decode import DecodedFrame
from vidcolor.video.image_headers import FrameHeader, read_header
from vidcolor.video.probe import VideoInfo, _yuv_matrix, ffmpeg_message, probe
from vidcolor.video.sequence_files import ImageSequence, find_sequence, is_sequence_path

__all__ = ["DEFAULT_FPS", "SequenceSource", "probe_input", "probe_sequence", "read_frame",
           "sequence_identity", "srgb_encode"]

#: Frames a second of a sequence whose headers give none and no --fps is given.
DEFAULT_FPS = Fraction(24)
#: Bytes read of each frame to check its header (an OpenEXR header may run long).
_HEADER_BYTES = 1 << 16


def _png_header(data: bytes) -> FrameHeader:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height, bits = struct.unpack(">IIB", data[16:25])
    return FrameHeader(width=width, height=height, bits=bits)


def _peek(path: str, codec: str) -> FrameHeader:
    """A frame's header fields, from its first bytes (TIFF: tifffile, JPEG: Pillow, which
    read only the header)."""
    if codec == "tiff":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            return FrameHeader(width=page.imagewidth, height=page.imagelength,
                               bits=int(page.bitspersample))
    if codec == "mjpeg":
        from PIL import Image

        with Image.open(path) as im:
            return FrameHeader(width=im.width, height=im.height, bits=8)
    with open(path, "rb") as f:
        data = f.read(_HEADER_BYTES)
    header = _png_header(data) if codec == "png" else read_header(data, codec)
    if header.data_size is not None and os.path.getsize(path) < header.data_size:
        raise ValueError(f"cut short ({os.path.getsize(path)} of {header.data_size} bytes)")
    return header


def _check_headers(seq: ImageSequence) -> FrameHeader:
    """Every frame's header read and compared with the first's; the first one's fields.

    Raises
    ------
    VidcolorError
        A frame that cannot be read, or whose size or depth differs from the first's.
    """
    first = None
    for n in seq.numbers:
        path = seq.path(n)
        try:
            header = _peek(path, seq.codec)
        except OSError as e:
            raise VidcolorError(f"{path}: cannot be read ({e.strerror or e})") from None
        except Exception as e:  # noqa: BLE001 - any parser's complaint is a damaged frame
            raise VidcolorError(f"{path}: not a readable {seq.codec} frame ({e})") from None
        if first is None:
            first = header
        elif (header.width, header.height, header.bits) != (first.width, first.height,
                                                            first.bits):
            raise VidcolorError(
                f"{path}: {header.width}x{header.height} {header.bits}-bit, but the "
                f"sequence's first frame is {first.width}x{first.height} {first.bits}-bit "
                "(a sequence's frames must all be alike)")
    return first


def _decode(path: str, codec: str) -> av.VideoFrame:
    """One frame file decoded by FFmpeg's image decoder.

    Raises
    ------
    VidcolorError
        Unreadable or undecodable.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise VidcolorError(f"{path}: cannot be read ({e.strerror or e})") from None
    ctx = av.CodecContext.create(codec, "r")
    try:
        frames = [*ctx.decode(av.Packet(data)), *ctx.decode(None)]
    except av.error.FFmpegError as e:
        raise VidcolorError(f"{path}: not a readable {codec} frame "
                            f"({ffmpeg_message(e)})") from None
    if not frames:
        raise VidcolorError(f"{path}: not a readable {codec} frame (no picture)")
    return frames[0]


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] (clipped) -> the sRGB curve's values in [0, 1], float32."""
    x = np.clip(linear, 0.0, 1.0, dtype=np.float32)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def _is_float(frame: av.VideoFrame) -> bool:
    return "f16" in frame.format.name or "f32" in frame.format.name


def read_frame(path: str, codec: str, high_bit_depth: bool,
               reformatter: VideoReformatter | None = None
               ) -> tuple[np.ndarray, av.VideoFrame]:
    """One frame's RGB: uint16 (H, W, 3) for frames of more than 8 bits, else uint8; and the
    decoded frame (its format and size).

    Floating-point frames (OpenEXR) are taken as linear light and sRGB-encoded; JPEG's YUV is
    converted with its own BT.601 full-range matrix. ``reformatter``: one scaler kept for a
    sequence's frames (a frame's own is set up anew for every frame).
    """
    frame = _decode(path, codec)
    reformatter = reformatter or VideoReformatter()
    if _is_float(frame):
        linear = reformatter.reformat(frame, format="gbrpf32le").to_ndarray()
        return np.round(srgb_encode(linear) * 65535).astype(np.uint16), frame
    fmt = "rgb48le" if high_bit_depth else "rgb24"
    rgb = reformatter.reformat(frame, format=fmt, src_colorspace="ITU601").to_ndarray()
    return rgb, frame


def _rate(header: FrameHeader, fps: Fraction | None, shown: str) -> Fraction:
    if fps is not None:
        return fps
    if header.rate is not None:
        return header.rate
    logger.info(f"note: {shown}: no frame rate in the frames' headers; {DEFAULT_FPS} frames/s "
                "assumed (--fps sets another)")
    return DEFAULT_FPS


def probe_sequence(seq: ImageSequence, fps: Fraction | None = None) -> VideoInfo:
    """Describe a sequence as a film, checking every frame's header and decoding the first.

    Parameters
    ----------
    seq : ImageSequence
    fps : Fraction, optional
        Frames a second, over the headers' own rate.

    Returns
    -------
    VideoInfo
        ``sequence`` set; ``time_base`` one frame; ``timecode`` the first frame's header
        timecode, if any; ``bit_depth`` of the frames' samples (16 for half floats, 32 for
        float).

    Raises
    ------
    VidcolorError
        See :func:`_check_headers` and :func:`read_frame`.
    """
    header = _check_headers(seq)
    first = _decode(seq.path(seq.first), seq.codec)
    bits = max(c.bits for c in first.format.components)
    rate = _rate(header, fps, seq.pattern)
    span = seq.numbers[-1] - seq.first + 1
    tc = None if header.timecode is None else Timecode.from_bcd(header.timecode, rate)
    return VideoInfo(
        path=seq.pattern, format_name="image_sequence", stream_index=0, codec=seq.codec,
        width=first.width, height=first.height, time_base=1 / rate, rate=rate,
        start_time=0.0, duration=float(span / rate), frames=len(seq.numbers),
        sample_aspect_ratio=None, display_matrix=None,
        matrix=_yuv_matrix(None, first.height), bit_depth=bits,
        colorspace=0 if first.format.is_rgb else 2, sequence=seq, timecode=None if tc is None else str(tc))


def sequence_identity(seq: ImageSequence) -> dict:
    """What tells a resumed job its input sequence is the same: the pattern, and every
    frame's number, size and modification time (hashed)."""
    digest = hashlib.sha256()
    for n in seq.numbers:
        st = os.stat(seq.path(n))
        digest.update(f"{n}:{st.st_size}:{st.st_mtime_ns};".encode())
    return {"path": os.path.abspath(seq.pattern), "frames": len(seq.numbers),
            "listing": digest.hexdigest()}


@dataclass
class SequenceSource:
    """The frames of a window of an image sequence (a :class:`FrameSource`).

    Parameters
    ----------
    info : VideoInfo
        Of a sequence (:func:`probe_sequence`).
    window : Window
    from_pts, to_pts : int, optional
        Only frames from ``from_pts`` and before ``to_pts`` (a resumed job).
    warmup_before : int, optional
        See :class:`~vidcolor.video.source.FrameSource`.
    """

    info: VideoInfo
    window: Window = Window()
    from_pts: int | None = None
    to_pts: int | None = None
    warmup_before: int | None = None
    lost: list[float] = field(default_factory=list)

    def pts_range(self) -> tuple[int, int | None]:
        """The pts the window (and ``from_pts``, ``to_pts``) keeps: ``[lo, hi)``."""
        rate = self.info.rate
        t0, t1 = self.window.bounds(0.0)
        lo = int(round(Fraction(t0) * rate))
        hi = None if t1 is None else int(round(Fraction(t1) * rate))
        if self.from_pts is not None:
            lo = max(lo, self.from_pts)
        if self.to_pts is not None:
            hi = self.to_pts if hi is None else min(hi, self.to_pts)
        return lo, hi

    def frames(self) -> Iterator[DecodedFrame]:
        self.lost = []
        seq, info = self.info.sequence, self.info
        lo, hi = self.pts_range()
        reformatter = VideoReformatter()
        for n in seq.numbers:
            pts = n - seq.first
            if pts < lo:
                continue
            if hi is not None and pts >= hi:
                break
            rgb, frame = read_frame(seq.path(n), seq.codec, info.high_bit_depth,
                                    reformatter)
            if (frame.width, frame.height) != (info.width, info.height):
                raise VidcolorError(f"{seq.path(n)}: {frame.width}x{frame.height}, but the "
                                    f"sequence's frames are {info.width}x{info.height}")
            yield DecodedFrame(pts=pts, rgb=rgb)


def probe_input(path: str | os.PathLike, fps: str | None = None,
                allow_gaps: bool = False) -> VideoInfo:
    """Describe a film input: an image sequence (a folder of numbered frames, a printf
    pattern, a first frame file: :func:`~vidcolor.video.sequence_files.is_sequence_path`)
    or a video file (:func:`vidcolor.video.probe.probe`).

    Parameters
    ----------
    path : path
    fps : str, optional
        A sequence's frame rate over its headers' (:func:`vidcolor.options.parse_fps`).
    allow_gaps : bool
        Go on past missing frame numbers.

    Raises
    ------
    VidcolorError
        ``fps`` for a video file (an :class:`OptionError`); as :func:`probe_sequence`,
        :func:`~vidcolor.video.sequence_files.find_sequence` and
        :func:`~vidcolor.video.probe.probe`.
    """
    if not is_sequence_path(os.fspath(path)):
        if fps is not None:
            raise OptionError("fps", "{field} sets an image sequence's rate; {input} keeps its "
                              "own", input=path)
        return probe(path)
    seq = find_sequence(os.fspath(path), allow_gaps)
    return probe_sequence(seq, None if fps is None else parse_fps(fps))
