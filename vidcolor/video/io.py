"""PyAV input and output: probing, decoding, segment encoding and the final remux.

The video stream is the only one vidcolor changes. It is decoded here, colorized elsewhere,
encoded here into *segment files* (video only, MP4: it keeps any time base and restores the
encoder's B-frame delay with an edit list), and at the end :func:`remux` writes the real output
in one pass: the video packets of all segments in order, interleaved with every other stream of
the input copied packet for packet (audio, subtitles, attachments; chapters and metadata too),
re-encoding only the audio a container cannot hold. Segments make an interrupted job
resumable; memory stays bounded because frames only ever pass through.

Timing: every output frame gets the pts and time base of the input frame it came from, so
frame count, variable frame rates and the start time survive. The display matrix (rotation)
and sample aspect ratio of the input stream are copied to the output stream.
"""

from __future__ import annotations

import heapq
import os
import struct
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import av.error
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from vidcolor.errors import VidcolorError

__all__ = [
    "CONTAINERS",
    "DecodedFrame",
    "EncoderSettings",
    "RemuxReport",
    "SegmentWriter",
    "VideoInfo",
    "decode_frames",
    "encoder_settings",
    "output_format",
    "probe",
    "remux",
]

Log = Callable[[str], None]

#: Output file extension -> FFmpeg muxer.
CONTAINERS = {
    ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
    ".avi": "avi",
}
#: Default video encoder for each muxer (WebM only takes VP8/VP9/AV1).
_DEFAULT_CODEC = {"webm": "libvpx-vp9"}
#: Default CRF per encoder (x264 18 is visually lossless; the others are matched to it roughly).
_DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libvpx-vp9": 30, "libsvtav1": 30}
# x264 "veryfast" at CRF 18 on bbb 480p: 7.3 ms of CPU a frame against medium's 17.4 and
# 41.9 dB against 42.8 dB to the frames handed in (file 13% smaller); end to end that is
# +20% frames/s on 2 cores. --preset medium (or slower) for the last fraction of a dB.
_DEFAULT_PRESET = "veryfast"
#: Audio encoder used when the output container cannot take the input's audio codec.
_FALLBACK_AUDIO = {"mp4": "aac", "mov": "aac", "matroska": "aac", "webm": "libopus",
                   "avi": "libmp3lame"}
#: Matroska statistics tags describe the old stream; the muxer writes fresh ones.
_STALE_TAG_PREFIXES = ("_STATISTICS", "BPS", "DURATION", "NUMBER_OF_FRAMES", "NUMBER_OF_BYTES")


def _stderr_log(message: str) -> None:
    print(f"vidcolor: {message}", file=sys.stderr)


# --- probing ---------------------------------------------------------------------------------

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
    high_bit_depth : bool
        More than 8 bits per sample: decoded as 16-bit RGB, encoded at 10 bits.
    sample_aspect_ratio : Fraction or None
    display_matrix : tuple of 9 int or None
        FFmpeg display matrix (rotation/flip) found on the decoded frames.
    matrix : str
        YUV <-> RGB matrix (PyAV Colorspace name) used to decode and to encode.
    color_primaries, color_trc : int
        The input's tags (AVColorPrimaries, AVColorTransferCharacteristic), copied.
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
    high_bit_depth: bool
    sample_aspect_ratio: Fraction | None
    display_matrix: tuple[int, ...] | None
    other_streams: list[str] = field(default_factory=list)
    matrix: str = "ITU601"
    color_primaries: int = 2
    color_trc: int = 2

    def estimate_frames(self, start: float = 0.0, duration: float | None = None) -> int:
        """Expected frame count of a window (0 if unknown), for progress bars."""
        if duration is None and start <= 0 and self.frames:
            return self.frames
        if self.duration is None:
            return 0
        span = max(self.duration - start, 0.0)
        if duration is not None:
            span = min(span, duration)
        return int(round(span * float(self.rate)))


def _open_input(path: str | os.PathLike) -> av.container.InputContainer:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VidcolorError(f"{path}: no such file")
    if os.path.isdir(path):
        raise VidcolorError(f"{path}: is a folder, not a video")
    try:
        return av.open(path, "r")
    except av.error.FFmpegError as e:
        raise VidcolorError(f"{path}: not a readable video ({_short(e)})") from None


def _short(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return str(text).splitlines()[0][:200] if text else type(e).__name__


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    for sd in frame.side_data:
        if sd.type == SideDataType.DISPLAYMATRIX:
            data = bytes(sd)
            if len(data) >= 36:
                return struct.unpack("<9i", data[:36])
    return None


def _high_bit_depth(stream) -> bool:
    fmt = stream.codec_context.format
    if fmt is None:
        return False
    return any(c.bits > 8 for c in fmt.components)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe an input's first video stream, decoding its first frame to check it decodes.

    Raises
    ------
    VidcolorError
        Missing or unreadable file, no video stream, undecodable video.
    """
    with _open_input(path) as container:
        if not container.streams.video:
            raise VidcolorError(f"{path}: has no video stream")
        vs = container.streams.video[0]
        if vs.codec_context is None:
            raise VidcolorError(f"{path}: video codec not supported by this FFmpeg build")
        first = None
        try:
            for frame in container.decode(vs):
                first = frame
                break
        except av.error.FFmpegError as e:
            raise VidcolorError(f"{path}: video does not decode ({_short(e)})") from None
        if first is None:
            raise VidcolorError(f"{path}: video stream has no decodable frames")
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
            duration=duration, frames=int(vs.frames or 0), high_bit_depth=_high_bit_depth(vs),
            sample_aspect_ratio=_sar(vs), display_matrix=matrix, other_streams=others,
            matrix=_yuv_matrix(first.colorspace, first.height),
            color_primaries=int(vs.codec_context.color_primaries or 2),
            color_trc=int(vs.codec_context.color_trc or 2),
        )


#: AVColorSpace tag -> the swscale matrix (PyAV Colorspace name), and back.
_MATRIX_OF_TAG = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020",
                  10: "BT2020"}
_TAG_OF_MATRIX = {"ITU709": 1, "FCC": 4, "ITU601": 6, "SMPTE240M": 7, "BT2020": 9}


def _yuv_matrix(tag: int | None, height: int) -> str:
    """The YUV matrix of a stream: its tag, or for untagged video what players assume
    (BT.709 from 720 lines up, BT.601 below). Decoding and encoding with it, and tagging the
    output with it, keeps colours and lightness where a player will show them."""
    if tag in _MATRIX_OF_TAG:
        return _MATRIX_OF_TAG[int(tag)]
    return "ITU709" if height >= 720 else "ITU601"


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


# --- decoding --------------------------------------------------------------------------------

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


def decode_frames(info: VideoInfo, start: float = 0.0, duration: float | None = None,
                  from_pts: int | None = None, log: Log = _stderr_log) -> Iterator[DecodedFrame]:
    """Decode the video frames of a time window, in display order.

    Parameters
    ----------
    info : VideoInfo
    start : float
        Seconds from the stream's start time; frames before it are skipped.
    duration : float, optional
        Seconds; frames at or after ``start + duration`` are skipped.
    from_pts : int, optional
        Skip frames whose pts is below this (used to resume a job).
    log : callable
        Receives a warning when the stream ends early on a decoding error.

    Yields
    ------
    DecodedFrame
        Frames with missing pts get one extrapolated at the nominal rate; pts are made strictly
        increasing (encoders and muxers require it).
    """
    tb = info.time_base
    step = max(1, int(round(1 / (float(info.rate) * tb)))) if info.rate else 1
    lo = int(round((info.start_time + start) / tb))
    hi = None if duration is None else int(round((info.start_time + start + duration) / tb))
    if from_pts is not None:
        lo = max(lo, from_pts)
    fmt = "rgb48le" if info.high_bit_depth else "rgb24"
    with _open_input(info.path) as container:
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
                log(f"warning: video decoding stopped early{where} ({_short(e)}); "
                    "the output ends there")
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


# --- encoding --------------------------------------------------------------------------------

def output_format(path: str | os.PathLike) -> str:
    """The FFmpeg muxer for an output path, from its extension."""
    ext = Path(path).suffix.lower()
    if ext not in CONTAINERS:
        known = " ".join(sorted(CONTAINERS))
        raise VidcolorError(f"{path}: unknown output extension {ext or '(none)'!r} "
                            f"(use one of {known})")
    return CONTAINERS[ext]


@dataclass(frozen=True)
class EncoderSettings:
    """How the colorized video stream is encoded.

    Attributes
    ----------
    codec : str
        FFmpeg encoder name.
    crf : int or None
    preset : str or None
    pix_fmt : str
    """

    codec: str
    crf: int | None
    preset: str | None
    pix_fmt: str
    container: str = ""

    def options(self) -> dict[str, str]:
        opts: dict[str, str] = {}
        if self.container == "avi":
            # AVI stores no presentation timestamps: without B-frames, decode order is
            # display order and every frame keeps its time.
            opts["bf"] = "0"
        if self.crf is not None:
            opts["crf"] = str(self.crf)
        if self.codec in ("libx264", "libx265") and self.preset:
            opts["preset"] = self.preset
        if self.codec == "libvpx-vp9":
            opts.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
        if self.codec == "libsvtav1" and self.preset and self.preset.isdigit():
            opts["preset"] = self.preset
        if self.codec == "libx265":
            opts["x265-params"] = "log-level=error"
        return opts


def encoder_settings(format_name: str, codec: str | None, crf: int | None, preset: str | None,
                     high_bit_depth: bool) -> EncoderSettings:
    """Choose and check the video encoder for an output container.

    Raises
    ------
    VidcolorError
        Unknown encoder, or one the container cannot hold.
    """
    codec = codec or _DEFAULT_CODEC.get(format_name, "libx264")
    try:
        av.codec.Codec(codec, "w")
    except (ValueError, av.error.FFmpegError):
        raise VidcolorError(f"unknown video encoder {codec!r}") from None
    probe_out = av.open(os.devnull, "w", format=format_name)
    try:
        probe_out.add_stream(codec, rate=25)
    except (ValueError, av.error.FFmpegError):
        raise VidcolorError(f"the {format_name} container cannot hold {codec} video") from None
    finally:
        probe_out.close()
    if crf is None:
        crf = _DEFAULT_CRF.get(codec)
    ten_bit = {"libx264": "yuv420p10le", "libx265": "yuv420p10le",
               "libvpx-vp9": "yuv420p10le", "libsvtav1": "yuv420p10le"}
    pix_fmt = ten_bit.get(codec, "yuv420p") if high_bit_depth else "yuv420p"
    if codec in ("mjpeg",):
        pix_fmt = "yuvj420p"
    return EncoderSettings(codec=codec, crf=crf, preset=preset or _DEFAULT_PRESET, pix_fmt=pix_fmt,
                           container=format_name)


def _pix_fmt_for_size(pix_fmt: str, width: int, height: int) -> str:
    """4:2:0 needs even sizes; odd-sized video is encoded 4:4:4 so it keeps its exact size."""
    if (width % 2 or height % 2) and "420" in pix_fmt:
        return pix_fmt.replace("420", "444")
    return pix_fmt


#: Segment containers, best first: MP4/MOV keep any time base exactly (edit lists restore the
#: encoder's B-frame delay); Matroska (milliseconds) is the fallback for other codecs.
_SEGMENT_FORMATS = ("mp4", "mov", "matroska")


def _open_segment(path: Path, settings: EncoderSettings, rate: Fraction):
    for fmt in _SEGMENT_FORMATS:
        container = av.open(os.fspath(path), "w", format=fmt)
        try:
            stream = container.add_stream(settings.codec, rate=rate, options=settings.options())
            return container, stream
        except (ValueError, av.error.FFmpegError):
            container.close()
    raise VidcolorError(f"no container for segments of {settings.codec} video")


class SegmentWriter:
    """Encodes colorized frames into one video-only segment file (MP4, see _SEGMENT_FORMATS).

    Parameters
    ----------
    path : Path
    info : VideoInfo
        Gives size, time base, rate, aspect ratio.
    settings : EncoderSettings

    Notes
    -----
    yuv420p needs even sizes: odd-sized video is encoded 4:4:4 instead (same size as the
    input; fewer players handle it, but neither padding nor cropping changes the picture).
    """

    def __init__(self, path: Path, info: VideoInfo, settings: EncoderSettings):
        self.path = Path(path)
        self.info = info
        self.frames = 0
        self.first_pts: int | None = None
        self.last_pts: int | None = None
        self._container, stream = _open_segment(self.path, settings, info.rate)
        pix_fmt = _pix_fmt_for_size(settings.pix_fmt, info.width, info.height)
        stream.width = info.width
        stream.height = info.height
        stream.pix_fmt = pix_fmt
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        stream.thread_type = "AUTO"
        if info.sample_aspect_ratio:
            stream.codec_context.sample_aspect_ratio = info.sample_aspect_ratio
        cc = stream.codec_context
        cc.colorspace = _TAG_OF_MATRIX.get(info.matrix, 2)
        self._range = "JPEG" if settings.pix_fmt.startswith("yuvj") else "MPEG"
        cc.color_range = 2 if self._range == "JPEG" else 1  # what frames are converted to
        cc.color_primaries = info.color_primaries
        cc.color_trc = info.color_trc
        self._pix_fmt = pix_fmt
        self._stream = stream

    def write(self, pts: int, rgb: np.ndarray) -> None:
        """Encode one frame.

        Parameters
        ----------
        pts : int
            In the input stream's time base.
        rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        """
        fmt = "rgb48le" if rgb.dtype == np.uint16 else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
        # Convert with the matrix the stream is tagged with (PyAV would use BT.601).
        frame = frame.reformat(format=self._pix_fmt, dst_colorspace=self.info.matrix,
                               dst_color_range=self._range)
        frame.pts = int(pts)
        frame.time_base = self.info.time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1
        if self.first_pts is None:
            self.first_pts = int(pts)
        self.last_pts = int(pts)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def abort(self) -> None:
        """Close without flushing and delete the file (an interrupted segment)."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the file is deleted anyway
            pass
        self.path.unlink(missing_ok=True)


# --- the final remux -------------------------------------------------------------------------

@dataclass
class RemuxReport:
    """What :func:`remux` did with each input stream."""

    video_packets: int = 0
    copied: dict[int, int] = field(default_factory=dict)  # input index -> packets copied
    reencoded: dict[int, str] = field(default_factory=dict)  # input index -> new codec
    dropped: dict[int, str] = field(default_factory=dict)  # input index -> reason
    bad_packets: dict[int, int] = field(default_factory=dict)  # input index -> dropped packets
    attachments: int = 0


def _clean_metadata(meta: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in meta.items() if not k.upper().startswith(_STALE_TAG_PREFIXES)}


class _AudioReencoder:
    """Decodes one input audio stream and encodes it with a codec the output can hold."""

    def __init__(self, out, in_stream, codec: str):
        cc = in_stream.codec_context
        rate = 48000 if codec == "libopus" else (cc.sample_rate or 48000)
        self.stream = out.add_stream(codec, rate=rate)
        self.stream.layout = cc.layout.name if cc.layout else "stereo"
        if codec == "libopus" and cc.layout and cc.layout.nb_channels > 2:
            self.stream.layout = "stereo"  # libopus' surround mapping is not universally played
        self.in_stream = in_stream
        self.resampler = av.AudioResampler(
            format=self.stream.codec_context.codec.audio_formats[0].name,
            layout=self.stream.layout, rate=rate)
        self.next_pts = None

    def encode(self, frames) -> list:
        packets = []
        for frame in frames:
            for rs in self.resampler.resample(frame):
                packets += self.stream.encode(rs)
        return packets

    def flush(self) -> list:
        packets = []
        for rs in self.resampler.resample(None):
            packets += self.stream.encode(rs)
        return packets + list(self.stream.encode(None))


def _packet_time(packet) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    if ts is None or packet.time_base is None:
        return -1e18
    return float(ts * packet.time_base)


def remux(info: VideoInfo, segments: list[tuple[Path, int]], output: Path, format_name: str,
          start: float = 0.0, duration: float | None = None,
          metadata: dict[str, str] | None = None, log: Log = _stderr_log) -> RemuxReport:
    """Write the final file: segment video plus the input's other streams.

    Parameters
    ----------
    info : VideoInfo
    segments : list of (Path, int)
        Video-only files from :class:`SegmentWriter`, in order, each with the pts of the
        first frame written into it.
    output : Path
        Written directly (the caller renames it into place).
    format_name : str
        Output muxer.
    start, duration : float
        The window that was colorized; other streams' packets outside it are left out.
    metadata : dict, optional
        Merged into the input's container metadata (provenance).
    log : callable
        Receives notes (streams re-encoded or dropped) and warnings (bad packets).

    Returns
    -------
    RemuxReport
    """
    # A container can still refuse a stream when the header is written (a data track it
    # does not know, say). Rather than fail the whole job, retry with less.
    fallbacks = [set(), {"data"}, {"data", "subtitle", "attachment"}]
    for i, skip in enumerate(fallbacks):
        try:
            return _remux_once(info, segments, output, format_name, start, duration, metadata,
                               log, skip)
        except _HeaderError as e:
            if i == len(fallbacks) - 1:
                raise VidcolorError(f"{output}: the {format_name} muxer refused the streams "
                                    f"({e})") from None
            log(f"note: the {format_name} muxer refused the header ({e}); "
                f"retrying without {' and '.join(sorted(fallbacks[i + 1]))} streams")
    raise AssertionError("not reached")


class _HeaderError(Exception):
    """The muxer could not write the output's header."""


def _remux_once(info: VideoInfo, segments, output: Path, format_name: str, start: float,
                duration: float | None, metadata, log: Log, skip: set[str]) -> RemuxReport:
    report = RemuxReport()
    inp = _open_input(info.path)
    seg_containers = [av.open(os.fspath(p), "r") for p, _ in segments]
    first_pts = [pts for _, pts in segments]
    out = av.open(os.fspath(output), "w", format=format_name)
    try:
        out.metadata.update(_clean_metadata(dict(inp.metadata)))
        out.metadata.update(metadata or {})
        template = seg_containers[0].streams.video[0]
        vout = out.add_stream_from_template(template, opaque=True)
        in_v = inp.streams[info.stream_index]
        vout.metadata.update(_clean_metadata(dict(in_v.metadata)))
        vout.disposition = in_v.disposition
        if info.display_matrix is not None:
            vout.set_display_matrix(info.display_matrix)
        routes = _route_streams(inp, out, info, format_name, report, log, skip)
        try:
            out.set_chapters(_chapters_in_window(inp, info, start, duration))
        except Exception as e:  # noqa: BLE001 - chapters are a nicety, never fatal
            log(f"note: chapters not kept ({_short(e)})")
        try:
            out.start_encoding()
        except (ValueError, av.error.FFmpegError) as e:
            raise _HeaderError(_short(e)) from None
        shift = _window_shift(info, start)

        last_count = [0]
        video = _segment_packets(seg_containers, first_pts, info.time_base, vout, last_count,
                                 annexb=format_name == "avi")
        others = _input_packets(inp, routes, info, start, duration, report, log)
        last_dts: dict[int, int] = {}
        for packet in heapq.merge(video, others, key=_packet_time):
            _mux(out, packet, shift, last_dts)
        for route in routes.values():
            if isinstance(route, _AudioReencoder):
                for packet in route.flush():
                    _mux(out, packet, shift, last_dts)
        report.video_packets = last_count[0]
    finally:
        out.close()
        for c in seg_containers:
            c.close()
        inp.close()
    return report


def _window_shift(info: VideoInfo, start: float) -> float:
    """Seconds subtracted from every timestamp so a trimmed output starts where the input
    does (0 for a full conversion: timestamps are kept exactly)."""
    return max(float(start), 0.0)


def _chapters_in_window(inp, info: VideoInfo, start: float, duration: float | None) -> list:
    chapters = inp.chapters()
    if start <= 0 and duration is None:
        return chapters
    kept = []
    t0 = info.start_time + start
    t1 = None if duration is None else t0 + duration
    for ch in chapters:
        tb = ch["time_base"]
        s, e = float(ch["start"] * tb), float(ch["end"] * tb)
        if e <= t0 or (t1 is not None and s >= t1):
            continue
        s, e = max(s, t0) - start, (e if t1 is None else min(e, t1)) - start
        kept.append({**ch, "start": int(round(s / tb)), "end": int(round(e / tb))})
    return kept


def _route_streams(inp, out, info: VideoInfo, format_name: str, report: RemuxReport,
                   log: Log, skip: set[str] = frozenset()) -> dict:
    """Decide per input stream: copy (-> output stream), re-encode (audio), or drop."""
    routes: dict[int, object] = {}
    for s in inp.streams:
        if s.index == info.stream_index:
            continue
        if s.type in skip:
            report.dropped[s.index] = f"{s.type} stream refused by the {format_name} muxer"
            continue
        if s.type == "attachment":
            if format_name != "matroska":
                report.dropped[s.index] = "attachments need .mkv"
                continue
            try:
                ost = out.add_stream_from_template(s)
                ost.metadata.update(dict(s.metadata))
                report.attachments += 1
            except (ValueError, av.error.FFmpegError) as e:
                report.dropped[s.index] = f"attachment not copied ({_short(e)})"
            continue
        if s.type == "video":
            if s.disposition & av.stream.Disposition.attached_pic:
                report.dropped[s.index] = "cover art"
            else:
                report.dropped[s.index] = "only the first video stream is colorized"
            continue
        if s.codec_context is None and s.type != "data":
            report.dropped[s.index] = f"{s.type} stream without codec"
            continue
        try:
            ost = out.add_stream_from_template(s, opaque=True) if s.codec_context is not None \
                else out.add_stream_from_template(s)
        except (ValueError, av.error.FFmpegError) as e:
            if s.type == "audio" and s.codec_context is not None \
                    and s.codec_context.codec.is_decoder:
                codec = _FALLBACK_AUDIO.get(format_name, "aac")
                try:
                    route = _AudioReencoder(out, s, codec)
                except (ValueError, av.error.FFmpegError) as e2:
                    report.dropped[s.index] = f"audio could not be re-encoded ({_short(e2)})"
                    continue
                route.stream.metadata.update(_clean_metadata(dict(s.metadata)))
                route.stream.disposition = s.disposition
                routes[s.index] = route
                report.reencoded[s.index] = codec
                continue
            name = s.codec_context.name if s.codec_context is not None else s.type
            report.dropped[s.index] = f"{format_name} cannot hold {s.type} codec {name}"
            continue
        ost.metadata.update(_clean_metadata(dict(s.metadata)))
        try:
            ost.disposition = s.disposition
        except (AttributeError, ValueError):
            pass
        if s.type == "audio" and s.codec_context is not None:
            # A decoder checks audio packets on the way; copies of undecodable ones are dropped.
            try:
                checker = av.CodecContext.create(s.codec_context.name, "r")
                _copy_decoder_params(s, checker)
            except (ValueError, av.error.FFmpegError):
                checker = None  # no decoder in this build: copy unchecked
            routes[s.index] = (ost, checker)
        else:
            routes[s.index] = (ost, None)
        report.copied[s.index] = 0
    for idx, why in report.dropped.items():
        log(f"note: stream {idx} left out: {why}")
    for idx, codec in report.reencoded.items():
        src = inp.streams[idx].codec_context.name
        log(f"note: audio stream {idx} ({src}) re-encoded to {codec}: "
            f"{format_name} cannot hold {src}")
    return routes


def _copy_decoder_params(stream, ctx) -> None:
    src = stream.codec_context
    try:
        ctx.extradata = src.extradata
        ctx.sample_rate = src.sample_rate
        ctx.layout = src.layout
    except (AttributeError, ValueError):
        pass


#: AVI wants H.264/HEVC as Annex B (start codes); the MP4 segments hold length-prefixed NALs.
_ANNEXB_FILTERS = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


def _annexb(packets: Iterator, stream, vout) -> Iterator:
    bsf = av.BitStreamFilterContext(_ANNEXB_FILTERS[stream.codec_context.name], in_stream=stream)
    tb = stream.time_base
    for packet in packets:
        for out in bsf.filter(packet):  # the filter takes the packet's data
            out.time_base = tb
            yield out
    for out in bsf.filter(None):
        out.time_base = tb
        yield out


def _segment_packets(containers, first_pts: list[int], time_base: Fraction, vout,
                     count: list[int], annexb: bool = False) -> Iterator:
    """Video packets of all segments, re-targeted at the output stream, with the timestamps
    the frames were encoded with."""
    for c, first in zip(containers, first_pts):
        vs = c.streams.video[0]
        offset = None
        packets = c.demux(vs)
        if annexb and vs.codec_context.name in _ANNEXB_FILTERS:
            packets = _annexb((p for p in packets if p.size), vs, vout)
        for packet in packets:
            if packet.size == 0:
                continue
            if offset is None:
                # Some muxers shift timestamps to keep dts non-negative (the encoder's B-frame
                # delay). The first packet is the segment's first frame (a keyframe), so its
                # pts tells any shift; undo it so pts are the input's again.
                want = int(round(first * time_base / packet.time_base))
                offset = (packet.pts - want) if packet.pts is not None else 0
            if offset:
                if packet.pts is not None:
                    packet.pts -= offset
                if packet.dts is not None:
                    packet.dts -= offset
            packet.stream = vout
            count[0] += 1
            yield packet


def _input_packets(inp, routes: dict, info: VideoInfo, start: float, duration: float | None,
                   report: RemuxReport, log: Log) -> Iterator:
    """Packets of the copied/re-encoded input streams inside the window, in file order."""
    if not routes:
        return
    streams = [inp.streams[i] for i in routes]
    t0 = info.start_time + start
    t1 = None if duration is None else t0 + duration
    windowed = start > 0 or duration is not None  # a full conversion copies every packet
    if start > 0:
        try:
            inp.seek(int(max(t0 - 1.0, 0) * av.time_base), backward=True)
        except av.error.FFmpegError:
            pass
    demux = inp.demux(*streams)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            break
        except av.error.FFmpegError as e:
            log(f"warning: input ends early while copying streams ({_short(e)})")
            break
        if packet.size == 0:
            continue
        if windowed and packet.pts is not None:
            # Packets starting inside the window. One straddling its start is left out: its
            # shifted timestamp would be negative, and some muxers (Matroska) would then
            # shift every stream, video included.
            t = float(packet.pts * packet.time_base)
            if t < t0 - 1e-6 or (t1 is not None and t >= t1):
                continue
        route = routes[packet.stream.index]
        idx = packet.stream.index
        if isinstance(route, _AudioReencoder):
            try:
                frames = route.in_stream.codec_context.decode(packet)
            except av.error.FFmpegError:
                report.bad_packets[idx] = report.bad_packets.get(idx, 0) + 1
                continue
            yield from route.encode(frames)
            continue
        ost, checker = route
        if checker is not None:
            try:
                checker.decode(packet)
            except av.error.FFmpegError:
                report.bad_packets[idx] = report.bad_packets.get(idx, 0) + 1
                continue
        packet.stream = ost
        report.copied[idx] = report.copied.get(idx, 0) + 1
        yield packet
    for idx, n in report.bad_packets.items():
        log(f"warning: stream {idx}: {n} undecodable packet(s) left out; "
            "the rest of the stream is kept")


def _mux(out, packet, shift: float, last_dts: dict[int, int]) -> None:
    idx = packet.stream.index
    tb = packet.time_base
    if shift and tb is not None:
        off = int(round(shift / tb))
        if packet.pts is not None:
            packet.pts -= off
        if packet.dts is not None:
            packet.dts -= off
    # Segments are encoded independently: at a boundary the new encoder's first dts can fall
    # on or before the previous segment's last one. Nudge it forward (never past its pts).
    if packet.dts is not None:
        prev = last_dts.get(idx)
        if prev is not None and packet.dts <= prev:
            packet.dts = prev + 1
            if packet.pts is not None and packet.pts < packet.dts:
                packet.pts = packet.dts
        last_dts[idx] = packet.dts
    out.mux(packet)
