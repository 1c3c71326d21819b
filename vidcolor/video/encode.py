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
from av.video.reformatter import VideoReformatter

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.log import logger
from vidcolor.options import EncoderOptions
from vidcolor.video.fields import AVFIELD, yuv_by_field, yuv_frame
from vidcolor.video.probe import MATRIX_OF_TAG, VideoInfo, ffmpeg_message, matrix_tag

__all__ = ["CODEC_ALIASES", "CONTAINERS", "EncoderSettings", "SegmentWriter",
           "containers_for", "encoder_settings", "output_colorspace", "output_format", "output_range",
           "pixel_format"]

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
        The output's pixel format (depth and chroma), from the codec, the profile and the
        source's depth (:func:`pixel_format`).
    container : str
        The output muxer (``""`` if unknown); some need encoder options of their own.
    profile : str or None
        The codec's profile (ProRes, DNxHR), as FFmpeg names it.
    field_order : str, optional
        ``"tt"`` or ``"bb"``: the frames are interlaced, encoded so (x264: interlaced coding
        with that field order) and tagged so; None: progressive.
    """

    codec: str
    crf: int | None
    preset: str | None
    pix_fmt: str
    container: str = ""
    profile: str | None = None
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
        if self.profile:
            opts["profile"] = self.profile
        opts.update(_CODEC_OPTIONS.get(self.codec, {}))
        if self.field_order is not None:
            opts.update(interlaced_options(self.codec, self.field_order))
        return opts

    @property
    def video_range_only(self) -> bool:
        """The codec is defined for video (limited) range only: a full-range source is
        written at video range."""
        return self.codec in _PROFILES


#: Fixed options of some encoders: FFV1 as archives keep it (version 3, a CRC per slice so
#: damage is found and confined, every frame a keyframe); VP9 and x265 made usable.
_CODEC_OPTIONS = {
    "ffv1": {"level": "3", "slicecrc": "1", "g": "1"},
    "libvpx-vp9": {"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"},
    "libx265": {"x265-params": "log-level=error"},
}
#: Short names of the archival codecs -> FFmpeg encoder.
CODEC_ALIASES = {"prores": "prores_ks", "dnxhr": "dnxhd"}
#: Profiles of the codecs that have them -> pixel format; the first is the default (DNxHR's
#: default depends on the source's depth, :func:`_profile`).
_PROFILES = {
    "prores_ks": {"hq": "yuv422p10le", "proxy": "yuv422p10le", "lt": "yuv422p10le",
                  "standard": "yuv422p10le", "4444": "yuv444p10le", "4444xq": "yuv444p10le"},
    "dnxhd": {"dnxhr_hq": "yuv422p", "dnxhr_hqx": "yuv422p10le", "dnxhr_444": "yuv444p10le",
              "dnxhr_lb": "yuv422p", "dnxhr_sq": "yuv422p"},
}
#: 10-bit formats of the encoders that have them (a high-bit-depth input keeps its depth).
_TEN_BIT = {"libx264": "yuv420p10le", "libx265": "yuv420p10le", "libvpx-vp9": "yuv420p10le",
            "libsvtav1": "yuv420p10le"}
#: FFV1's 4:4:4 formats by bits per sample: a source gets the first that holds its depth.
_FFV1_DEPTHS = ((8, "yuv444p"), (9, "yuv444p9le"), (10, "yuv444p10le"), (12, "yuv444p12le"),
                (14, "yuv444p14le"), (16, "yuv444p16le"))
#: FFV1's RGB formats by bits per sample, for RGB sources (scans: DPX, TIFF).
_FFV1_RGB_DEPTHS = ((8, "bgr0"), (9, "gbrp9le"), (10, "gbrp10le"), (12, "gbrp12le"),
                    (14, "gbrp14le"), (16, "gbrp16le"))
#: DNxHR's smallest frame (FFmpeg refuses smaller ones with no reason given).
_DNXHR_MIN_SIZE = (256, 120)


def encoder_settings(format_name: str, options: EncoderOptions, bit_depth: int = 8,
                     size: tuple[int, int] = (64, 64), rgb: bool = False,
                     field_order: str | None = None) -> EncoderSettings:
    """Choose the video encoder for an output container, and check it really works.

    Parameters
    ----------
    format_name : str
        The output muxer (:func:`output_format`).
    options : EncoderOptions
        What the user asked for; each None takes the container's or encoder's default.
    bit_depth : int
        Bits per sample of the source (``VideoInfo.bit_depth``): more than 8 are encoded at
        10 bits or more where the encoder can (:func:`pixel_format`).
    size : (int, int)
        The frames' width and height (odd sizes are encoded 4:4:4; DNxHR has a smallest).
    rgb : bool
        The source is RGB (``VideoInfo.colorspace == 0``): FFV1 keeps it RGB.
    field_order : str, optional
        ``"tt"`` or ``"bb"``: interlaced frames, encoded and tagged with that field order.

    Raises
    ------
    VidcolorError
        Unknown encoder, not a video encoder, one the container cannot hold (naming the
        containers that can), an unknown profile, a preset it does not have, or any setting
        the encoder refuses: the encoder is opened with the settings and encodes one small
        frame into an in-memory file of the output's format, so nothing is refused later,
        after the work folder exists.
    """
    codec = CODEC_ALIASES.get(options.codec, options.codec) or _DEFAULT_CODEC.get(format_name,
                                                                                   "libx264")
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
    _check_container(codec, format_name, options.codec or codec)
    profile = _profile(codec, options.profile, bit_depth)
    settings = EncoderSettings(codec=codec, crf=crf, preset=_preset(codec, options.preset),
                               pix_fmt=pixel_format(codec, bit_depth, profile, rgb),
                               container=format_name, profile=profile,
                               field_order=field_order)
    _check_size(settings, size)
    _check_encoder(settings, options, size)
    if bit_depth > 8 and _bits(settings.pix_fmt) <= 8:
        logger.info(f"note: {codec} writes {settings.pix_fmt} here, 8 bits of the source's "
                    f"{bit_depth}; ffv1, prores or libx264 keep more")
    return settings


def _bits(pix_fmt: str) -> int:
    return max(c.bits for c in av.video.format.VideoFormat(pix_fmt).components)


def pixel_format(codec: str, bit_depth: int, profile: str | None = None,
                 rgb: bool = False) -> str:
    """The output's pixel format for a codec, its profile and the source's bits per sample.

    ProRes and DNxHR: their profile's (ProRes is always 10-bit); FFV1: 4:4:4 at the source's
    depth, RGB for an RGB source (``rgb``); x264, x265, VP9, SVT-AV1: 4:2:0 at 10 bits for a
    source of more than 8; MJPEG: full-range 4:2:0; any other: 8-bit 4:2:0.
    """
    if codec in _PROFILES:
        return _PROFILES[codec][profile]
    if codec == "ffv1":
        depths = _FFV1_RGB_DEPTHS if rgb else _FFV1_DEPTHS
        return next(fmt for bits, fmt in depths if bits >= min(bit_depth, 16))
    if codec == "mjpeg":
        return "yuvj420p"
    deep = _TEN_BIT.get(codec) if bit_depth > 8 else None
    return deep if deep and _makes(codec, deep) else "yuv420p"


def _makes(codec: str, pix_fmt: str) -> bool:
    """Whether this FFmpeg build's encoder takes a pixel format (libvpx may lack 10-bit)."""
    formats = av.codec.Codec(codec, "w").video_formats
    return formats is None or any(f.name == pix_fmt for f in formats)


def _profile(codec: str, given: str | None, bit_depth: int) -> str | None:
    """The profile for an encoder: the one asked for (DNxHR's also without ``dnxhr_``), or
    the default; None for an encoder without profiles here."""
    if codec not in _PROFILES:
        if given is not None:
            raise OptionError("profile", "{field} {given}: only ProRes (prores) and DNxHR "
                              "(dnxhr) take a profile here, not {codec}", given=given,
                              codec=codec)
        return None
    names = _PROFILES[codec]
    if given is None:
        return "dnxhr_hqx" if codec == "dnxhd" and bit_depth > 8 else next(iter(names))
    name = given.lower()
    if codec == "dnxhd" and not name.startswith("dnxhr_"):
        name = "dnxhr_" + name
    if name not in names:
        raise OptionError("profile", "{field} {given}: {codec} takes one of {names}",
                          given=given, codec=codec, names=", ".join(names))
    return name


def containers_for(codec: str) -> list[str]:
    """The output extensions whose container holds a codec (short names too), one per
    muxer, its usual one first (ProRes and DNxHR: .mov; FFV1: .mkv); [] for an unknown
    codec."""
    codec = CODEC_ALIASES.get(codec, codec)
    try:
        av.codec.Codec(codec, "w")
    except (ValueError, av.error.FFmpegError):
        return []
    by_muxer = {}
    for ext, muxer in CONTAINERS.items():
        if muxer not in by_muxer and _container_holds(muxer, codec):
            by_muxer[muxer] = ext
    home = _HOME_CONTAINER.get(codec)
    return sorted(by_muxer.values(), key=lambda ext: ext != home)


#: The container each archival codec is usually kept in.
_HOME_CONTAINER = {"prores_ks": ".mov", "dnxhd": ".mov", "ffv1": ".mkv"}


def _check_container(codec: str, format_name: str, asked: str) -> None:
    """Refuse a codec the output's container cannot hold, naming the extensions that can
    (``asked``: the codec as the user named it)."""
    if _container_holds(format_name, codec):
        return
    able = containers_for(codec)
    where = f" (use {' or '.join(able)})" if able else ""
    raise OptionError("codec", "{field} {asked}: the {container} container cannot hold "
                      "{codec} video{where}", asked=asked, codec=codec, container=format_name,
                      where=where)


def _container_holds(format_name: str, codec: str) -> bool:
    with av.open(io.BytesIO(), "w", format=format_name) as out:
        try:
            out.add_stream(codec, rate=25)
        except (ValueError, av.error.FFmpegError):
            return False
        return True


def _check_size(settings: EncoderSettings, size: tuple[int, int]) -> None:
    least = _DNXHR_MIN_SIZE
    if settings.codec == "dnxhd" and (size[0] < least[0] or size[1] < least[1]):
        raise OptionError("codec", "{field} {codec}: DNxHR needs frames of at least "
                          "{w}x{h}, these are {width}x{height}", codec=settings.codec,
                          w=least[0], h=least[1], width=size[0], height=size[1])


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
                   size: tuple[int, int]) -> None:
    """Refuse settings the encoder or the container will not take, naming the option."""
    opts = settings.options()
    error = _try_encoder(settings, opts, size)
    if error is None:
        return
    # Which of the user's options is refused: the one without which the encoder works.
    for key, value in (("crf", options.crf), ("preset", options.preset)):
        rest = {k: v for k, v in opts.items() if k != key}
        if value is not None and key in opts and _try_encoder(settings, rest, size) is None:
            raise OptionError(key, "{field} {value}: refused by the {codec} encoder ({error})",
                              value=value, codec=settings.codec, error=error)
    refused = "the {codec} encoder cannot make {pix_fmt} video for {container} output ({error})"
    values = dict(codec=settings.codec, pix_fmt=settings.pix_fmt,
                  container=settings.container, error=error)
    if options.codec:  # the encoder the user named: the option to change
        raise OptionError("codec", "{field} {codec}: " + refused, **values)
    raise VidcolorError(refused.format(**values))


def _try_encoder(settings: EncoderSettings, opts: dict[str, str],
                 size: tuple[int, int]) -> str | None:
    """Encode one small frame with these encoder options into an in-memory file of the
    output's format; None if that works, else FFmpeg's refusal in one line.

    The frame is 64x64 (65 for an odd width or height), or the real size for DNxHR, whose
    frames have a smallest size.

    Raises
    ------
    VidcolorError
        The container cannot hold the codec at all.
    """
    if settings.codec == "dnxhd":
        width, height = size
    else:
        width, height = 64 + size[0] % 2, 64 + size[1] % 2
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


#: Segment containers, best first: MP4/MOV keep any time base exactly (edit lists restore the
#: encoder's B-frame delay); Matroska (milliseconds) is the fallback for other codecs.
_SEGMENT_FORMATS = ("mp4", "mov", "matroska")


def colour_muxer_options(format_name: str) -> dict[str, str]:
    """Muxer options that keep the colour tags: MP4/MOV write them only when all three are
    known, unless told to."""
    return {"movflags": "+write_colr"} if format_name in ("mp4", "mov") else {}


def _open_segment(path: Path, settings: EncoderSettings, rate: Fraction):
    for fmt in _SEGMENT_FORMATS:
        container = av.open(os.fspath(path), "w", format=fmt,
                            options=colour_muxer_options(fmt))
        try:
            stream = container.add_stream(settings.codec, rate=rate, options=settings.options())
            return container, stream
        except (ValueError, av.error.FFmpegError):
            container.close()
    raise VidcolorError(f"no container for segments of {settings.codec} video")


def output_colorspace(info: VideoInfo, settings: EncoderSettings) -> int:
    """The output's AVColorSpace tag: 0 (RGB) for RGB output; the source's where it names a
    YUV matrix (BT.470BG stays BT.470BG), else that of the matrix the frames are converted
    with."""
    if _is_rgb(settings.pix_fmt):
        return 0
    return info.colorspace if info.colorspace in MATRIX_OF_TAG else matrix_tag(info.matrix)


def _is_rgb(pix_fmt: str) -> bool:
    return av.video.format.VideoFormat(pix_fmt).is_rgb


def output_range(info: VideoInfo, settings: EncoderSettings) -> str:
    """The output's YUV range (PyAV name): the source's, except for formats of one range
    (yuvj and RGB: full) and codecs defined for video range only (ProRes, DNxHR)."""
    if settings.pix_fmt.startswith("yuvj") or _is_rgb(settings.pix_fmt):
        return "JPEG"
    if info.color_range == 2 and not settings.video_range_only:
        return "JPEG"
    return "MPEG"


def output_tags(info: VideoInfo, settings: EncoderSettings) -> dict[str, int]:
    """The output stream's colour tags (AVCOL values by codec-context attribute), which the
    segments' frames are converted for. The final remux sets them again: MP4 segments keep
    them only when primaries and transfer are known too, and FFV1 has no place for them."""
    return {"color_range": 2 if output_range(info, settings) == "JPEG" else 1,
            "colorspace": output_colorspace(info, settings),
            "color_primaries": info.color_primaries,
            "color_trc": info.color_trc}


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
        for name, value in output_tags(info, settings).items():
            setattr(stream.codec_context, name, value)
        self._range = output_range(info, settings)  # what frames are converted to
        if settings.field_order is not None:
            stream.codec_context.field_order = AVFIELD[settings.field_order]  # the tag
        self._pix_fmt = pix_fmt
        self._by_field = settings.field_order is not None
        self._stream = stream
        # One scaler for the segment's frames (each frame's own would be set up anew).
        self._reformatter = VideoReformatter()

    def write(self, pts: int, rgb: np.ndarray) -> None:
        """Encode one frame.

        Parameters
        ----------
        pts : int
            In the input stream's time base.
        rgb : ndarray of uint8 (0..255) or uint16 (0..65535), shape (H, W, 3)
            Gamma-encoded RGB (the frame contract of :mod:`vidcolor.video.decode`): uint16
            goes to FFmpeg as rgb48le, so a 10- or 16-bit output gets every bit of it; it
            is converted to the output's pixel format with the stream's matrix and range.
        """
        # Converted with the matrix the stream is tagged with; interlaced: by field, so no
        # chroma row mixes the two fields.
        convert = yuv_by_field if self._by_field else yuv_frame
        frame = convert(rgb, self._pix_fmt, self.info.matrix, self._range, self._reformatter)
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
