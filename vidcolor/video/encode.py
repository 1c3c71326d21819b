"""Encoding the colorized frames: the output container, the video encoder, segment files.

The colorized video stream is encoded into *segment files*, video only, which make an
interrupted job resumable; :func:`vidcolor.video.remux.remux` later copies their packets into
the real output. Segments are MP4 where the codec allows (it keeps any time base exactly and
restores the encoder's B-frame delay with an edit list). Each frame is encoded with the pts and
time base of the input frame it came from, with the input's matrix, colour tags and sample
aspect ratio.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.log import logger
from vidcolor.options import EncoderOptions
from vidcolor.video.fields import yuv_by_field
from vidcolor.video.probe import VideoInfo, ffmpeg_message, matrix_tag

__all__ = ["CONTAINERS", "EncoderSettings", "SegmentWriter", "encoder_settings",
           "output_format"]

#: Output file extension -> FFmpeg muxer.
CONTAINERS = {
    ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
    ".avi": "avi",
}
#: Default video encoder for each muxer (WebM only takes VP8/VP9/AV1).
_DEFAULT_CODEC = {"webm": "libvpx-vp9"}
#: Default CRF per encoder (x264 18 is visually lossless; the others are matched to it roughly).
_DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libvpx-vp9": 30, "libsvtav1": 30}
#: Encoders that take a ``crf`` option (others would silently ignore one).
_CRF_ENCODERS = {*_DEFAULT_CRF, "libvpx", "libaom-av1"}
# x264 "veryfast" at CRF 18 on bbb 480p: 7.3 ms of CPU a frame against medium's 17.4 and
# 41.9 dB against 42.8 dB to the frames handed in (file 13% smaller); end to end that is
# +20% frames/s on 2 cores. --preset medium (or slower) for the last fraction of a dB.
_DEFAULT_PRESETS = {"libx264": "veryfast", "libx265": "veryfast"}
_X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                 "slower", "veryslow", "placebo")
#: Encoders that have a speed preset, and its names (empty: numbers the encoder checks).
_PRESETS = {"libx264": _X264_PRESETS, "libx265": _X264_PRESETS, "libsvtav1": ()}


def output_format(path: str | os.PathLike) -> str:
    """The FFmpeg muxer for an output path, from its extension.

    Raises
    ------
    VidcolorError
        An extension not in :data:`CONTAINERS`.
    """
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
    container : str
        The output muxer (``""`` if unknown); some need encoder options of their own.
    field_order : str, optional
        ``"tt"`` or ``"bb"``: the frames are interlaced, encoded so (x264: interlaced coding
        with that field order) and tagged so; None: progressive.
    """

    codec: str
    crf: int | None
    preset: str | None
    pix_fmt: str
    container: str = ""
    field_order: str | None = None

    def options(self) -> dict[str, str]:
        """The FFmpeg encoder options (``AVOption`` name -> value) for these settings."""
        opts: dict[str, str] = {}
        if self.container == "avi":
            # AVI stores no presentation timestamps: without B-frames, decode order is
            # display order and every frame keeps its time.
            opts["bf"] = "0"
        if self.crf is not None:
            opts["crf"] = str(self.crf)
        if self.preset:
            opts["preset"] = self.preset
        if self.codec == "libvpx-vp9":
            opts.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
        if self.codec == "libx265":
            opts["x265-params"] = "log-level=error"
        if self.field_order is not None:
            opts.update(interlaced_options(self.codec, self.field_order))
        return opts


def encoder_settings(format_name: str, options: EncoderOptions, high_bit_depth: bool,
                     odd_size: tuple[bool, bool] = (False, False),
                     field_order: str | None = None) -> EncoderSettings:
    """Choose the video encoder for an output container, and check it really works.

    Parameters
    ----------
    format_name : str
        The output muxer (:func:`output_format`).
    options : EncoderOptions
        What the user asked for; each None takes the container's or encoder's default.
    high_bit_depth : bool
        The input has more than 8 bits per sample: encode at 10 bits where the encoder can.
    odd_size : (bool, bool)
        Whether the input's width and height are odd (such video is encoded 4:4:4).
    field_order : str, optional
        ``"tt"`` or ``"bb"``: interlaced frames, encoded and tagged with that field order.

    Raises
    ------
    VidcolorError
        Unknown encoder, not a video encoder, one the container cannot hold, a preset it does
        not have, or any setting the encoder refuses: the encoder is opened with the settings
        and encodes one small frame into an in-memory file of the output's format, so nothing
        is refused later, after the work folder exists.
    """
    codec = options.codec or _DEFAULT_CODEC.get(format_name, "libx264")
    try:
        kind = av.codec.Codec(codec, "w").type
    except (ValueError, av.error.FFmpegError):
        raise VidcolorError(f"unknown video encoder {codec!r}") from None
    if kind != "video":
        raise OptionError("codec", "{field} {codec}: an {kind} encoder, not a video encoder",
                          codec=codec, kind=kind)
    crf = options.crf
    if crf is None:
        crf = _DEFAULT_CRF.get(codec)
    elif codec not in _CRF_ENCODERS:
        # FFmpeg would ignore it without a word, and the user would get another quality.
        raise OptionError("crf", "{field} {crf}: the {codec} encoder has no constant rate "
                          "factor", crf=crf, codec=codec)
    pix_fmt = _TEN_BIT.get(codec, "yuv420p") if high_bit_depth else "yuv420p"
    if codec in ("mjpeg",):
        pix_fmt = "yuvj420p"
    settings = EncoderSettings(codec=codec, crf=crf, preset=_preset(codec, options.preset),
                               pix_fmt=pix_fmt, container=format_name,
                               field_order=field_order)
    _check_encoder(settings, options, odd_size)
    return settings


#: 10-bit formats of the encoders that have them (a high-bit-depth input keeps its depth).
_TEN_BIT = {"libx264": "yuv420p10le", "libx265": "yuv420p10le", "libvpx-vp9": "yuv420p10le",
            "libsvtav1": "yuv420p10le"}


def interlaced_options(codec: str, field_order: str) -> dict[str, str]:
    """Encoder options for interlaced frames: interlaced DCT and motion estimation where
    the encoder has them, and x264's field order (x264 takes it from its own parameters, not
    from the stream's tag)."""
    opts = {"flags": "+ildct+ilme"} if codec in _INTERLACED_CODING else {}
    if codec == "libx264":
        opts["x264-params"] = "tff=1" if field_order == "tt" else "bff=1"
    return opts


#: Encoders with interlaced coding tools (AV_CODEC_FLAG_INTERLACED_DCT / _ME).
_INTERLACED_CODING = {"libx264", "mpeg2video", "mpeg4", "dnxhd", "prores_ks"}


def _preset(codec: str, given: str | None) -> str | None:
    """The preset for an encoder: the one asked for, checked by name where the encoder's
    names are known (x264 would print its own complaint to the terminal), or the default;
    None for an encoder without presets."""
    if given is None:
        return _DEFAULT_PRESETS.get(codec)
    if codec not in _PRESETS:
        logger.info(f"note: the {codec} encoder has no speed presets; --preset {given} "
                    "changes nothing")
        return None
    names = _PRESETS[codec]
    if names and given not in names:
        raise OptionError("preset", "{field} {given}: {codec} takes one of {names}",
                          given=given, codec=codec, names=", ".join(names))
    return given


def _check_encoder(settings: EncoderSettings, options: EncoderOptions,
                   odd_size: tuple[bool, bool]) -> None:
    """Refuse settings the encoder or the container will not take, naming the option."""
    opts = settings.options()
    error = _try_encoder(settings, opts, odd_size)
    if error is None:
        return
    # Which of the user's options is refused: the one without which the encoder works.
    for key, value in (("crf", options.crf), ("preset", options.preset)):
        rest = {k: v for k, v in opts.items() if k != key}
        if value is not None and key in opts and _try_encoder(settings, rest, odd_size) is None:
            raise OptionError(key, "{field} {value}: refused by the {codec} encoder ({error})",
                              value=value, codec=settings.codec, error=error)
    refused = "the {codec} encoder cannot make {pix_fmt} video for {container} output ({error})"
    values = dict(codec=settings.codec, pix_fmt=settings.pix_fmt,
                  container=settings.container, error=error)
    if options.codec:  # the encoder the user named: the option to change
        raise OptionError("codec", "{field} {codec}: " + refused, **values)
    raise VidcolorError(refused.format(**values))


def _try_encoder(settings: EncoderSettings, opts: dict[str, str],
                 odd_size: tuple[bool, bool]) -> str | None:
    """Encode one small frame with these encoder options into an in-memory file of the
    output's format; None if that works, else FFmpeg's refusal in one line.

    Raises
    ------
    VidcolorError
        The container cannot hold the codec at all.
    """
    width, height = 64 + odd_size[0], 64 + odd_size[1]
    pix_fmt = _pix_fmt_for_size(settings.pix_fmt, width, height)
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8),
                                       format="rgb24").reformat(format=pix_fmt)
    frame.pts = 0
    with av.open(io.BytesIO(), "w", format=settings.container) as out:
        try:
            stream = out.add_stream(settings.codec, rate=25, options=opts)
        except (ValueError, av.error.FFmpegError):
            raise VidcolorError(f"the {settings.container} container cannot hold "
                                f"{settings.codec} video") from None
        try:
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
        except (ValueError, av.error.FFmpegError) as e:
            return ffmpeg_message(e)
    return None


def _pix_fmt_for_size(pix_fmt: str, width: int, height: int) -> str:
    """4:2:0 needs even sizes; odd-sized video is encoded 4:4:4 so it keeps its exact size."""
    if (width % 2 or height % 2) and "420" in pix_fmt:
        return pix_fmt.replace("420", "444")
    return pix_fmt


#: FFmpeg's AVFieldOrder of a field order.
_AVFIELD = {"tt": 2, "bb": 3}

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

    Attributes
    ----------
    frames : int
        Frames written so far.
    first_pts, last_pts : int or None
        Of the frames written, in the input stream's time base.

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
        cc.colorspace = matrix_tag(info.matrix)
        self._range = "JPEG" if settings.pix_fmt.startswith("yuvj") else "MPEG"
        cc.color_range = 2 if self._range == "JPEG" else 1  # what frames are converted to
        cc.color_primaries = info.color_primaries
        cc.color_trc = info.color_trc
        if settings.field_order is not None:
            cc.field_order = _AVFIELD[settings.field_order]  # the container's tag
        self._pix_fmt = pix_fmt
        self._by_field = settings.field_order is not None
        self._stream = stream

    def write(self, pts: int, rgb: np.ndarray) -> None:
        """Encode one frame.

        Parameters
        ----------
        pts : int
            In the input stream's time base.
        rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        """
        if self._by_field:  # interlaced: no chroma row mixes the two fields
            frame = yuv_by_field(rgb, self._pix_fmt, self.info.matrix, self._range)
        else:
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
