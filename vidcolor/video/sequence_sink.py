"""Coloured frames written as an image sequence: DPX, TIFF, OpenEXR or PNG files, one a frame
(a :class:`~vidcolor.video.sink.FrameSink`).

:func:`sequence_settings` decides, before any work, the files' pattern and format and the
depth they keep: the source's, as near as the format allows (10-bit DPX stays 10-bit, 16-bit
TIFF 16, an 8-bit film 8; OpenEXR is half float, or float for float frames). Frames are
encoded by FFmpeg's image encoders; DPX and OpenEXR headers are given the film's frame rate
and each frame's timecode (:mod:`vidcolor.video.image_headers`). Each file is written under a
temporary name and renamed once complete.

A frame's number is the input's: an image sequence's own (its first number kept, gaps kept);
a video's frames are numbered from 0 at the first coloured frame. For ``--resume`` the work
folder records the frames in units of ``segment_frames`` (a listing file a unit, with the
temporal state after it, as a video's segments are recorded): a resumed job keeps the frames
of finished units and writes the rest again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vidcolor.atomic import write_bytes_atomic
from vidcolor.errors import OptionError, VidcolorError
from vidcolor.progress import Progress
from vidcolor.timecode import Timecode, parse_timecode
from vidcolor.video.image_headers import dpx_with_timing, exr_with_timing
from vidcolor.video.probe import VideoInfo
from vidcolor.video.sequence_files import SEQUENCE_CODECS, VIDEO_SUFFIXES, sequence_pattern
from vidcolor.video.sink import keep_for_resume
from vidcolor.video.workdir import WorkFolder

__all__ = ["SequenceSettings", "SequenceSink", "frame_numbers", "is_sequence_output",
           "sequence_settings"]

#: --sequence name -> file suffix.
_SUFFIX = {"dpx": ".dpx", "tiff": ".tif", "exr": ".exr", "png": ".png"}
#: Pixel format a format writes at each depth it has (big-endian DPX, as most readers expect).
_PIX_FMTS = {"dpx": {8: "rgb24", 10: "gbrp10be", 12: "gbrp12be", 16: "rgb48be"},
             "tiff": {8: "rgb24", 16: "rgb48le"}, "png": {8: "rgb24", 16: "rgb48be"},
             "exr": {16: "gbrpf32le", 32: "gbrpf32le"}}
#: Digits of the frame number in a folder output's file names.
_DIGITS = 6


@dataclass(frozen=True)
class SequenceSettings:
    """How the frames are written.

    Attributes
    ----------
    pattern : str
        printf path of the frame files (``out/scan_%06d.dpx``).
    codec : str
        FFmpeg image encoder: dpx, tiff, exr, png.
    bits : int
        Bits per sample written (EXR: 16 half, 32 float).
    pix_fmt : str
    options : dict
        The encoder's options.
    """

    pattern: str
    codec: str
    bits: int
    pix_fmt: str
    options: dict = field(default_factory=dict)


def is_sequence_output(output: str | os.PathLike, sequence: str | None) -> bool:
    """Whether a job writes frames: ``--sequence`` given, or an output pattern (``%06d``)."""
    return sequence is not None or sequence_pattern(os.fspath(output)) is not None


def _bits_for(codec: str, source_bits: int) -> int:
    """The depth a format keeps of a source's: the least of its depths at or above the
    source's (its deepest otherwise)."""
    depths = sorted(_PIX_FMTS[codec])
    if codec == "exr":
        return 32 if source_bits >= 32 else 16
    return next((d for d in depths if d >= source_bits), depths[-1])


def _pattern(output: Path, sequence: str | None, info: VideoInfo) -> tuple[str, str]:
    """The frame files' printf pattern and codec, from an output pattern or a folder."""
    if sequence_pattern(os.fspath(output)) is not None:
        codec = SEQUENCE_CODECS.get(output.suffix.lower())
        if codec not in _PIX_FMTS:
            raise VidcolorError(f"{output}: frames are written as .dpx, .tif, .exr or .png")
        if sequence is not None and codec != sequence:
            raise OptionError("sequence", "{field} {sequence}: the output pattern {output} "
                              "names another format", sequence=sequence, output=output)
        return os.fspath(output), codec
    if output.suffix.lower() in VIDEO_SUFFIXES:
        raise OptionError("sequence", "{field} {sequence}: frames go into a folder or a pattern "
                          "such as out/frame_%06d.dpx, not {output}", sequence=sequence,
                          output=output)
    seq = info.sequence
    stem = seq.prefix if seq is not None else Path(info.path).stem + "_"
    return os.path.join(os.fspath(output), f"{stem}%0{_DIGITS}d{_SUFFIX[sequence]}"), sequence


def sequence_settings(output: Path, sequence: str | None, info: VideoInfo) -> SequenceSettings:
    """The frames' pattern, format and depth for an input (before any work).

    Raises
    ------
    VidcolorError
        A format frames are not written in, or one that contradicts ``--sequence``.
    """
    pattern, codec = _pattern(output, sequence, info)
    bits = _bits_for(codec, info.bit_depth)
    options = {"format": "half" if bits == 16 else "float"} if codec == "exr" else {}
    return SequenceSettings(pattern, codec, bits, _PIX_FMTS[codec][bits], options)


def frame_numbers(info: VideoInfo, first_pts: int | None = None) -> list[int] | None:
    """The output frame numbers a sequence input gives (from ``first_pts`` on); None for a
    video (its numbers are counted as frames come)."""
    seq = info.sequence
    if seq is None:
        return None
    return [n for n in seq.numbers if first_pts is None or n - seq.first >= first_pts]


def frame_index(info: VideoInfo, pts: int) -> int:
    """The frame at ``pts`` counted at the film's rate from its first frame (what its
    timecode is the start timecode plus)."""
    return round((pts * info.time_base - Fraction(info.start_time)) * info.rate)


def check_frames_free(settings: SequenceSettings, numbers: list[int] | None,
                      overwrite: bool) -> None:
    """Refuse, before any work, output frames that exist (without ``overwrite``); for a video
    input, any file of the pattern's name."""
    if overwrite:
        return
    folder = os.path.dirname(settings.pattern) or "."
    if numbers is not None:
        taken = [settings.pattern % n for n in numbers if os.path.exists(settings.pattern % n)]
    else:
        prefix, suffix, _ = sequence_pattern(settings.pattern)
        taken = [os.path.join(folder, n) for n in (os.listdir(folder) if os.path.isdir(folder)
                                                   else ()) if n.startswith(prefix)
                 and n.endswith(suffix) and n[len(prefix):len(n) - len(suffix)].isdigit()]
    if taken:
        more = f" and {len(taken) - 1} more" if len(taken) > 1 else ""
        raise OptionError("overwrite", "{path}{more}: already exist(s) (use {field} to "
                          "replace)", path=sorted(taken)[0], more=more)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """The sRGB curve's values in [0, 1] -> linear light, float32."""
    x = encoded.astype(np.float32)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


class FrameEncoder:
    """Encodes one RGB frame into the bytes of an image file of the settings' format."""

    def __init__(self, settings: SequenceSettings, info: VideoInfo):
        self.settings, self.info = settings, info
        ctx = av.CodecContext.create(settings.codec, "w")
        ctx.width, ctx.height, ctx.pix_fmt = info.width, info.height, settings.pix_fmt
        ctx.time_base = Fraction(1, 1) / info.rate
        ctx.options = dict(settings.options)
        self.ctx = ctx
        # One scaler for the film's frames (a frame's own is set up anew for every frame).
        self._reformatter = VideoReformatter()

    def encode(self, rgb: np.ndarray, timecode: Timecode | None) -> bytes:
        """The file's bytes, its header holding the rate and ``timecode`` (DPX, OpenEXR)."""
        if self.settings.codec == "exr":
            scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
            linear = np.ascontiguousarray(srgb_decode(rgb / np.float32(scale)))
            frame = av.VideoFrame.from_ndarray(linear, format="gbrpf32le")
        else:
            fmt = "rgb48le" if rgb.dtype == np.uint16 else "rgb24"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
            if frame.format.name != self.settings.pix_fmt:
                frame = self._reformatter.reformat(frame, format=self.settings.pix_fmt)
        frame.pts = 0
        data = b"".join(bytes(p) for p in self.ctx.encode(frame))
        tc = None if timecode is None else timecode.bcd()
        if self.settings.codec == "dpx":
            return dpx_with_timing(data, self.info.rate, tc)
        if self.settings.codec == "exr":
            return exr_with_timing(data, self.info.rate, tc)
        return data


class SequenceSink:
    """Writes finished frames as files of ``settings.pattern``, each atomically, recording
    every ``unit_frames`` frames (with the temporal state after them) in the work folder.

    Parameters
    ----------
    work : WorkFolder
    info : VideoInfo
        The input film (rate, timecode, a sequence's numbers).
    settings : SequenceSettings
    unit_frames : int
    progress : Progress, optional
    total : int, optional
    """

    def __init__(self, work: WorkFolder, info: VideoInfo, settings: SequenceSettings,
                 unit_frames: int, progress: Progress | None = None,
                 total: int | None = None):
        self.work, self.info, self.settings = work, info, settings
        self.state_every, self.progress, self.total = unit_frames, progress, total
        self.dtype = np.uint16 if settings.bits > 8 else np.uint8
        self.frames_before = work.frames
        self.encoder = FrameEncoder(settings, info)
        self.start = None if info.timecode is None else parse_timecode(info.timecode,
                                                                       info.rate)
        self.unit: list[str] = []
        self.first_pts: int | None = None
        self.last_pts: int | None = None
        self.state: dict | None = None

    def number(self, pts: int) -> int:
        """The file number of a frame: a sequence's own; a video's count from 0."""
        if self.info.sequence is not None:
            return self.info.sequence.first + pts
        return self.work.frames + len(self.unit)

    def _timecode(self, pts: int) -> Timecode | None:
        return None if self.start is None else self.start + frame_index(self.info, pts)

    def write(self, pts: int, rgb: np.ndarray, state: dict | None) -> None:
        path = self.settings.pattern % self.number(pts)
        write_bytes_atomic(path, self.encoder.encode(rgb, self._timecode(pts)), overwrite=True)
        self.unit.append(os.path.basename(path))
        if self.first_pts is None:
            self.first_pts = pts
        self.last_pts, self.state = pts, state
        if self.progress is not None:
            self.progress(self.work.frames + len(self.unit), self.total)
        if len(self.unit) >= self.state_every:
            self.close()

    def close(self) -> None:
        """Record the frames written since the last unit, if any."""
        if not self.unit:
            return
        self.work.store_segment(f"frames{len(self.work.segments):05d}.txt",
                                ("\n".join(self.unit) + "\n").encode(), len(self.unit),
                                self.first_pts, self.last_pts, self.state)
        self.unit, self.first_pts, self.state = [], None, None

    def abort(self) -> None:
        """Nothing is half-written (each frame is renamed into place once complete)."""
        self.unit, self.first_pts = [], None

    def keep_finished(self) -> None:
        keep_for_resume(self.work)


def check_sequence_output(settings: SequenceSettings) -> None:
    """The output folder: made if missing (its parent must exist).

    Raises
    ------
    VidcolorError
        The parent is missing or the folder cannot be made.
    """
    folder = Path(os.path.dirname(settings.pattern) or ".")
    if folder.is_dir():
        return
    if not folder.parent.is_dir():
        raise VidcolorError(f"{folder.parent}: no such folder")
    try:
        folder.mkdir()
    except OSError as e:
        raise VidcolorError(f"{folder}: cannot be made ({e.strerror})") from None
