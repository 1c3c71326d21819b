"""What an input film is: its first video stream described once, before any work starts.

:func:`probe` opens the input, decodes its first frame (so a file that will not decode is
refused now, not halfway through a job) and returns a :class:`VideoInfo`: size, time base,
rate, start time and the colour facts the decoder and encoder must agree on. Every other video
module works from that value. Timing is kept exactly downstream: every output frame gets the
pts and time base of the input frame it came from, so the display matrix (rotation) and sample
aspect ratio found here are copied to the output stream too.

Also here, because every module that opens or reads the input needs them: :func:`open_input`
(the input's errors as one-line :class:`~vidcolor.errors.VidcolorError` messages) and
:func:`ffmpeg_message` (an FFmpeg error in one short line).
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterator

import av
import av.error
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from vidcolor.errors import VidcolorError
from vidcolor.options import Window

__all__ = ["MATRIX_OF_TAG", "VideoInfo", "decode_packets", "ffmpeg_message", "matrix_tag", "open_input",
           "probe"]


@dataclass
class VideoInfo:
    """What vidcolor needs to know about an input's video stream.

    Attributes
    ----------
    path : str
    format_name : str
        The demuxer (e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``).
    stream_index : int
        Index of the (first) video stream.
    codec : str
    width, height : int
        Stored (not displayed) frame size.
    time_base : Fraction
        Of the video stream; output frames keep their pts in it.
    rate : Fraction
        Nominal frame rate (for the encoder's rate control and progress estimates only).
    start_time : float
        Seconds of the stream's first timestamp.
    duration : float or None
        Seconds.
    frames : int
        Frame count from the container, 0 if unknown.
    sample_aspect_ratio : Fraction or None
    display_matrix : tuple of 9 int or None
        FFmpeg display matrix (rotation/flip) found on the decoded frames.
    other_streams : list of str
        ``"index:type"`` of every other stream of the input.
    matrix : str
        YUV <-> RGB matrix (PyAV Colorspace name) used to decode and to encode: the source's
        tag, or for an untagged one what players assume (:func:`_yuv_matrix`).
    color_primaries, color_trc : int
        The input's tags (AVColorPrimaries, AVColorTransferCharacteristic), copied.
    bit_depth : int
        Bits per sample of the source (8, 10, 12, 16...). The frame contract follows from it
        (see :mod:`vidcolor.video.decode`): more than 8 bits are decoded to 16-bit RGB and the
        output is written at the output codec's depth nearest it (:attr:`high_bit_depth`).
    color_range : int
        AVColorRange of the source's YUV samples, which the output keeps: 1 (limited, "MPEG",
        also for an untagged or an RGB source) or 2 (full, "JPEG"). Decoding reads each
        frame's own range, so a full-range frame is never clipped to video range.
    colorspace : int
        The source's AVColorSpace tag (2: unspecified), copied to the output where it names a
        YUV matrix (else the output is tagged with :attr:`matrix`); 0 for an RGB source (an
        RGB format such as FFV1's gbrp10le or a DPX scan's), which FFV1 keeps RGB.
    sequence : ImageSequence or None
        The frame files of an image sequence input
        (:class:`vidcolor.video.sequence_files.ImageSequence`); None for a video file.
    timecode : str or None
        SMPTE timecode of the stream's first frame (``HH:MM:SS:FF``, ``;`` drop-frame): the
        input's timecode track or tag, a sequence's header, or ``--timecode``.
    field_order : str
        ``"progressive"``, ``"tt"`` or ``"bb"`` (top or bottom field first): set by the film
        job (:func:`vidcolor.video.fields.with_field_order`); :func:`probe` leaves it
        progressive.
    """

    path: str
    format_name: str
    stream_index: int
    codec: str
    width: int
    height: int
    time_base: Fraction
    rate: Fraction
    start_time: float
    duration: float | None
    frames: int
    sample_aspect_ratio: Fraction | None
    display_matrix: tuple[int, ...] | None
    other_streams: list[str] = field(default_factory=list)
    matrix: str = "ITU601"
    color_primaries: int = 2
    color_trc: int = 2
    bit_depth: int = 8
    color_range: int = 1
    colorspace: int = 2
    sequence: object | None = None
    timecode: str | None = None
    field_order: str = "progressive"

    @property
    def high_bit_depth(self) -> bool:
        """More than 8 bits per sample: frames are uint16 RGB (0..65535), not uint8."""
        return self.bit_depth > 8

    def estimate_frames(self, window: Window = Window()) -> int:
        """Expected frame count of a window (0 if unknown), for progress bars."""
        if window.is_whole and self.frames:
            return self.frames
        if self.duration is None:
            return 0
        return int(round(window.span(self.duration) * float(self.rate)))


def open_input(path) -> av.container.InputContainer:
    """Open an input for reading.

    Parameters
    ----------
    path : str, PathLike or binary file object
        A file object (seekable, read-only: an input held in memory by a cluster worker) is
        opened as it is.

    Raises
    ------
    VidcolorError
        Missing file, not a regular file (a folder, a FIFO, a device, a socket: opening or
        reading one could block forever or never end), not readable by this process, or
        nothing FFmpeg can read.
    """
    if hasattr(path, "read"):
        try:
            return av.open(path, "r")
        except av.error.FFmpegError as e:
            raise VidcolorError(f"{getattr(path, 'name', 'input')}: not a readable video "
                                f"({ffmpeg_message(e)})") from None
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise VidcolorError(f"{path}: no such file") from None
    except OSError as e:
        raise VidcolorError(f"{path}: cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise VidcolorError(f"{path}: is a folder, not a video")
    if not stat.S_ISREG(st.st_mode):
        raise VidcolorError(f"{path}: not a regular file (a pipe, device or socket), "
                            "so not a video file vidcolor can read")
    try:
        return av.open(path, "r")
    except PermissionError as e:  # av.error.PermissionError is one too
        raise VidcolorError(f"{path}: cannot be read ({e.strerror})") from None
    except av.error.FFmpegError as e:
        raise VidcolorError(f"{path}: not a readable video ({ffmpeg_message(e)})") from None
    except OSError as e:  # what FFmpeg did not wrap (an I/O error of the disk...)
        raise VidcolorError(f"{path}: cannot be read ({e.strerror or e})") from None


def decode_packets(container: av.container.InputContainer, stream: av.video.VideoStream,
                   refused: Callable[[av.Packet], None],
                   stopped: Callable[[BaseException], None]) -> Iterator[av.VideoFrame]:
    """A video stream's frames, demuxed and decoded packet by packet, damage skipped.

    A packet the decoder refuses costs only the frames it held (``container.decode`` would
    stop the whole stream there), and the decoder is flushed at the end even when the
    demuxer failed (a truncated file), so every frame FFmpeg can decode comes out.

    Parameters
    ----------
    container, stream
        Positioned where decoding starts.
    refused : callable
        Told each packet the decoder refused.
    stopped : callable
        Told the demuxer's error when it could not read on; the stream ends there.

    Yields
    ------
    av.VideoFrame
        In display order, with the pts the decoder gives.
    """
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return  # PyAV's demux ends with the packet that flushes the decoder
        except av.error.FFmpegError as e:
            stopped(e)
            break
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            refused(packet)
            continue
        yield from frames
    try:
        yield from stream.decode(None)
    except av.error.FFmpegError:
        pass  # the demuxer's error is already told; nothing more to recover


def ffmpeg_message(e: BaseException) -> str:
    """An error in one line for a user: FFmpeg's own text (first line, at most 200
    characters), or the exception's type name when it has none."""
    text = getattr(e, "strerror", None) or str(e)
    return str(text).splitlines()[0][:200] if text else type(e).__name__


def _first_frame(path, container, stream) -> av.VideoFrame:
    """The first frame that decodes, past any damaged packets (decode_frames skips them too).

    Raises
    ------
    VidcolorError
        No packet of the stream decodes, or the demuxer fails before one does.
    """
    errors: list[str] = []
    refused = lambda packet: errors.append("the decoder refused every packet")  # noqa: E731
    stopped = lambda e: errors.append(ffmpeg_message(e))  # noqa: E731
    for frame in decode_packets(container, stream, refused, stopped):
        return frame
    if errors:
        raise VidcolorError(f"{path}: video does not decode ({errors[-1]})")
    raise VidcolorError(f"{path}: video stream has no decodable frames")


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    # Looked up by its type: PyAV 18.1.1 iterates side data by type, 18.1.0 by entry.
    sd = frame.side_data.get(SideDataType.DISPLAYMATRIX)
    data = b"" if sd is None else bytes(sd)
    return struct.unpack("<9i", data[:36]) if len(data) >= 36 else None


def _bit_depth(frame: av.VideoFrame) -> int:
    """Bits per sample of a decoded frame's pixel format (8 for formats of fewer)."""
    return max([8, *(c.bits for c in frame.format.components)])


def _color_range(frame: av.VideoFrame) -> int:
    """The YUV range an output of this source keeps: 2 (full) for full-range YUV, else 1."""
    fmt = frame.format
    if fmt.is_rgb or fmt.name.startswith(("gray", "ya")):
        return 1  # no YUV range to keep: the output gets the usual video range
    full = fmt.name.startswith("yuvj") or int(frame.color_range or 0) == 2
    return 2 if full else 1


def _timecode(container, stream) -> str | None:
    """The start timecode of a film: its video stream's tag (MOV/MP4 ``tmcd`` tracks are
    read into it), a timecode track's, or the container's (Matroska, MXF)."""
    tagged = [stream.metadata, *(s.metadata for s in container.streams if s.type == "data"),
              container.metadata]
    for meta in tagged:
        for key, value in meta.items():
            if key.lower() == "timecode" and value:
                return value
    return None


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe an input's first video stream, decoding its first frame to check it decodes.

    Raises
    ------
    VidcolorError
        Missing or unreadable file, no video stream, undecodable video.
    """
    with open_input(path) as container:
        if not container.streams.video:
            raise VidcolorError(f"{path}: has no video stream")
        vs = container.streams.video[0]
        if vs.codec_context is None:
            raise VidcolorError(f"{path}: video codec not supported by this FFmpeg build")
        first = _first_frame(path, container, vs)
        rate = vs.guessed_rate or vs.average_rate or Fraction(25)
        tb = vs.time_base or Fraction(1, 90000)
        if vs.start_time is not None:
            start = float(vs.start_time * tb)
        elif container.start_time is not None:
            start = container.start_time / av.time_base
        else:
            start = 0.0
        if vs.duration:
            duration = float(vs.duration * tb)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = None
        others = [f"{s.index}:{s.type}" for s in container.streams if s.index != vs.index]
        matrix = _display_matrix(first)
        if matrix is None and "rotate" in vs.metadata:
            # Old-style tag (FFmpeg normally turns it into a display matrix on demux).
            matrix = _rotation_matrix(float(vs.metadata["rotate"]))
        return VideoInfo(
            path=os.fspath(path), format_name=container.format.name, stream_index=vs.index,
            codec=vs.codec_context.name, width=first.width, height=first.height,
            time_base=tb, rate=Fraction(rate).limit_denominator(100000), start_time=start,
            duration=duration, frames=int(vs.frames or 0),
            sample_aspect_ratio=_sar(vs), display_matrix=matrix, other_streams=others,
            matrix=_yuv_matrix(first.colorspace, first.height),
            color_primaries=int(vs.codec_context.color_primaries or 2),
            color_trc=int(vs.codec_context.color_trc or 2), bit_depth=_bit_depth(first),
            color_range=_color_range(first),
            colorspace=0 if first.format.is_rgb else int(first.colorspace),
            timecode=_timecode(container, vs),
        )


#: AVColorSpace tag -> the swscale matrix (PyAV Colorspace name), and back.
MATRIX_OF_TAG = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020",
                  10: "BT2020"}
_TAG_OF_MATRIX = {"ITU709": 1, "FCC": 4, "ITU601": 6, "SMPTE240M": 7, "BT2020": 9}


def _yuv_matrix(tag: int | None, height: int) -> str:
    """The YUV matrix of a stream: its tag, or for untagged video what players assume
    (BT.709 from 720 lines up, BT.601 below). Decoding and encoding with it, and tagging the
    output with it, keeps colours and lightness where a player will show them."""
    if tag in MATRIX_OF_TAG:
        return MATRIX_OF_TAG[int(tag)]
    return "ITU709" if height >= 720 else "ITU601"


def matrix_tag(matrix: str) -> int:
    """The AVColorSpace tag an output encoded with ``matrix`` (``VideoInfo.matrix``) carries;
    2 (unspecified) for a matrix without one."""
    return _TAG_OF_MATRIX.get(matrix, 2)


def _sar(stream) -> Fraction | None:
    try:
        sar = stream.sample_aspect_ratio
    except (AttributeError, ZeroDivisionError):
        return None
    return sar if sar and sar != 1 else None


def _rotation_matrix(degrees_clockwise: float) -> tuple[int, ...]:
    """FFmpeg display matrix for a clockwise `rotate` tag (16.16 fixed point, w in 2.30)."""
    theta = np.deg2rad(-degrees_clockwise)  # the matrix stores the counter-clockwise angle
    c, s = np.cos(theta), np.sin(theta)
    fx = lambda v: int(round(v * 65536))  # noqa: E731
    return (fx(c), fx(-s), 0, fx(s), fx(c), 0, 0, 0, 1 << 30)
