"""A job's options as values: checked once when made, compared for ``--resume``, sent as JSON.

The CLI builds these from its arguments, the library takes them, and a web request or a
distributed task can carry them whole (:meth:`to_dict` / ``from_dict``). Each is a frozen
dataclass whose constructor raises :class:`~vidcolor.errors.VidcolorError` with a one-line
message for a value no job could use, so a job never starts with options it would refuse
halfway; where the message names a command-line flag it is an
:class:`~vidcolor.errors.OptionError`, which knows the field (a web form says ``crf``, the
command line ``--crf``). This module imports nothing heavy: ``vidcolor --help`` must stay fast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass, field
from collections.abc import Iterable
from fractions import Fraction

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.log import one_line

__all__ = ["DEFAULT_SEGMENT_FRAMES", "DEFAULT_STRENGTH", "MAX_RENDER_SIZE", "ColourCopy",
           "EncoderOptions", "ImageOptions", "Keyframe", "Reference", "VideoOptions", "Window",
           "parse_time", "MAX_BATCH_PIXELS", "MAX_SECONDS", "keyframe_name", "max_batch_size",
           "keyframe_time", "parse_fps", "parse_keyframe", "parse_reference",
           "SEQUENCE_FORMATS"]

#: --interlaced: detect, top or bottom field first, progressive.
INTERLACED_CHOICES = ("auto", "tff", "bff", "no")
#: --deinterlace: progressive frames at the frame rate or at the field rate.
DEINTERLACE_CHOICES = ("frame", "field")
#: Default stabilization strength, as measured in benchmarks/RESULTS.md, "Temporal stability".
DEFAULT_STRENGTH = 0.8
#: Frames per resumable segment: what an interrupted job loses at most.
DEFAULT_SEGMENT_FRAMES = 240
#: Largest render size (network resolution) of any job, stills and films alike: 8x the shipped
#: model's 256; memory grows with its square (about 155 bytes a render pixel; a still's largest
#: view call needs about 1.6 GB at 2048, 4096 would need about 6 GB; benchmarks/RESULTS.md,
#: "Memory bounds").
MAX_RENDER_SIZE = 2048
#: Longest --start or --duration, in seconds (11.6 days): beyond any film, and small enough
#: that a time in the finest stream time base (nanoseconds) fits FFmpeg's 64-bit timestamps.
MAX_SECONDS = 1e6

# One film batch's model call costs about 150-170 bytes a render pixel of the batch (peak RSS,
# benchmarks/RESULTS.md, "Memory bounds"): --batch-size 4096 at 256 (268M pixels, some 40 GB)
# crashed a 24 GB machine. 2**25 pixels (5.7 GB measured, at 512 x 128) leaves such a machine
# room for the frames in flight (bounded by vidcolor.video.frames.batch_size_for), the encoder
# and the system.
#: Most render pixels (batch size x render size**2) one model call of a film may take.
MAX_BATCH_PIXELS = 2**25
#: Bytes a render pixel of a batch costs in one model call (measured, see above).
_BYTES_PER_PIXEL = 160
#: The render size a batch size is checked at when none is given (the shipped model's).
ASSUMED_RENDER_SIZE = 256
#: Largest --crf: the top of the widest range of any encoder (VP9, AV1: 0-63; x264: 0-51).
MAX_CRF = 63
#: What an encoder or preset name may look like (FFmpeg's are short ASCII words).
_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,64}")

_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_time(text: str) -> float:
    """Seconds from ``"12.5"``, ``"1:02.5"`` (MM:SS) or ``"1:00:02.5"`` (HH:MM:SS).

    Raises
    ------
    ValueError
        Unparseable or negative.
    """
    text = text.strip()
    m = _CLOCK.match(text)
    if m:
        hours, minutes, seconds = m.groups()
        value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    else:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"not a time: {text!r} (use seconds or [HH:]MM:SS)") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"time must be a finite number >= 0, got {text!r}")
    return value


#: A keyframe file named by its frame's time, as ``--export-keyframes`` writes them.
_TIME_NAME = re.compile(r"^(\d{2,})-(\d{2})-(\d{2}(?:\.\d+)?)$")


def keyframe_name(seconds: float) -> str:
    """The file name stem of a frame's time: ``HH-MM-SS.mmm`` (no colons, portable).

    Parameters
    ----------
    seconds : float, >= 0
        From the video stream's start.
    """
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}-{minutes:02d}-{rest // 1000:02d}.{rest % 1000:03d}"


def parse_keyframe(text: str) -> "Keyframe":
    """A ``--keyframe`` argument: ``FILE@TIME``, ``FILE@#N`` (frame number N), or ``FILE``
    named like :func:`keyframe_name`.

    TIME is seconds or ``[HH:]MM:SS[.ms]`` (:func:`parse_time`); N is a frame number (an
    image sequence's own numbering, a video's frames counted from 0); a path holding ``@``
    works when what follows its last ``@`` is not a time.

    Raises
    ------
    OptionError
        Neither a time or frame number after ``@`` nor a time in the file's name (field
        ``keyframes``).
    """
    path, at, when = text.rpartition("@")
    if at and re.fullmatch(r"#\d{1,9}", when.strip()):
        return Keyframe(path, None, frame=int(when.strip()[1:]))
    if at:
        try:
            return Keyframe(path, parse_time(when))
        except ValueError:
            pass
    seconds = keyframe_time(text)
    if seconds is None:
        raise OptionError("keyframes", "{field} {text}: expected FILE@TIME, FILE@#FRAME, or a "
                          "FILE named by its time like 00-01-23.456.png", "--keyframe",
                          text=_shown(text))
    return Keyframe(text, seconds)


def keyframe_time(name: str) -> float | None:
    """The time a file is named by (:func:`keyframe_name`, ``00-01-23.456.png``), in seconds;
    None when its name is not a time."""
    m = _TIME_NAME.match(os.path.splitext(os.path.basename(name))[0])
    if not m:
        return None
    hours, minutes, seconds = m.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


class _Options:
    """What every option value can do: become a plain dict (JSON-able) and back."""

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        for name, value in data.items():  # a tuple of values: a JSON list of their own dicts
            if isinstance(value, tuple):
                data[name] = [v.to_dict() for v in getattr(self, name)]
        return data

    @classmethod
    def from_dict(cls, data: dict):
        """The inverse of :meth:`to_dict`; unknown keys are refused (a typo is not ignored)."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise VidcolorError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
        values = {}
        for key, value in data.items():
            nested = _NESTED.get((cls.__name__, key))
            values[key] = nested.from_dict(value) if nested and isinstance(value, dict) else value
        return cls(**values)


def _values(cls, items, name: str) -> tuple:
    """``items`` as a tuple of ``cls`` values, dicts rebuilt by ``cls.from_dict``."""
    values = tuple(cls.from_dict(v) if isinstance(v, dict) else v for v in items)
    if not all(isinstance(v, cls) for v in values):
        raise VidcolorError(f"{name} must be {cls.__name__} values")
    return values


def _first_twice(values: list):
    """The smallest of ``values`` given more than once, or None."""
    return min((v for v in set(values) if values.count(v) > 1), default=None)


def _refusal(field: str | None, name: str, template: str, **values) -> VidcolorError:
    """The error of a refused value: an :class:`OptionError` of ``field``, ``name`` its
    command-line spelling; without a field, a plain one naming the value ``name`` (prose such
    as "render size", which reads the same to every caller)."""
    if field is None:
        return VidcolorError(template.format(field=name, **values))
    return OptionError(field, template, name, **values)


def _check_int(name: str, value, lowest: int, optional: bool = True,
               highest: int | None = None, field: str | None = None) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise _refusal(field, name, "{field} must be an integer >= {lowest}, got {value!r}",
                       lowest=lowest, value=value)
    if highest is not None and value > highest:
        raise _refusal(field, name, "{field} must be at most {highest}, got {value!r}",
                       highest=highest, value=value)


@dataclass(frozen=True)
class ImageOptions(_Options):
    """How one picture is colorized.

    Attributes
    ----------
    render_size : int, optional
        Network resolution, about ``render_size**2`` pixels, 1 to :data:`MAX_RENDER_SIZE`;
        None is the model's own.
    tile : int, optional
        Tile side for large pictures, in working pixels; None chooses automatically, 0 never
        tiles (see :func:`vidcolor.tiling.plan_tiles`).
    tile_overlap : int, optional
        Minimum overlap of neighbouring tiles, in working pixels; None is a quarter tile.
    references : tuple of Reference
        Colour photos guiding the picture's colours by correspondence (their ``time`` must be
        None).
    """

    render_size: int | None = None
    tile: int | None = None
    tile_overlap: int | None = None
    references: tuple = ()

    def __post_init__(self):
        _check_int("render size", self.render_size, 1, highest=MAX_RENDER_SIZE)
        _check_int("tile", self.tile, 0)
        _check_int("tile overlap", self.tile_overlap, 0)
        references = _values(Reference, self.references, "references")
        timed = [r for r in references if r.time is not None]
        if timed:
            raise OptionError("references", "{field} {path}@TIME: a photo has no time; give "
                              "the photo alone", "--reference", path=one_line(timed[0].path))
        object.__setattr__(self, "references", references)


def _shown(value) -> str:
    """A value as an error message shows it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _is_seconds(value) -> bool:
    """A number of seconds a window may have: 0 to MAX_SECONDS (so neither nan, inf, nor an
    integer too large for a float)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and 0 <= value <= MAX_SECONDS


@dataclass(frozen=True)
class Window(_Options):
    """The part of a film to colorize, in seconds from the video stream's own start.

    Attributes
    ----------
    start : float
        0 to :data:`MAX_SECONDS`.
    duration : float, optional
        Above 0, at most :data:`MAX_SECONDS`; None runs to the end.
    """

    start: float = 0.0
    duration: float | None = None

    def __post_init__(self):
        if not _is_seconds(self.start):
            raise OptionError("start", "{field} must be a time from 0 to {most:.0f} s, got "
                              "{value}", most=MAX_SECONDS, value=_shown(self.start))
        if self.duration is not None and not (_is_seconds(self.duration) and self.duration > 0):
            raise OptionError("duration", "{field} must be a time above 0, at most {most:.0f} "
                              "s, got {value}", most=MAX_SECONDS, value=_shown(self.duration))
        object.__setattr__(self, "start", float(self.start))
        if self.duration is not None:
            object.__setattr__(self, "duration", float(self.duration))

    @property
    def is_whole(self) -> bool:
        """True when the window is the whole film (every timestamp is kept as it is)."""
        return self.start <= 0 and self.duration is None

    def bounds(self, origin: float) -> tuple[float, float | None]:
        """The window on the stream's clock: seconds ``(t0, t1)``, ``t1`` None for the end.

        Parameters
        ----------
        origin : float
            Seconds of the stream's first timestamp (``VideoInfo.start_time``).
        """
        t0 = origin + self.start
        return t0, None if self.duration is None else t0 + self.duration

    def span(self, total: float) -> float:
        """Seconds of a ``total``-second film that fall inside the window."""
        span = max(total - self.start, 0.0)
        return span if self.duration is None else min(span, self.duration)


@dataclass(frozen=True)
class EncoderOptions(_Options):
    """How the colorized video stream is encoded; None picks the container's default.

    Attributes
    ----------
    codec : str, optional
        FFmpeg encoder name (default libx264; libvpx-vp9 for .webm), or a short name:
        ``prores`` (prores_ks), ``dnxhr`` (dnxhd), ``ffv1``.
    crf : int, optional
        Constant rate factor, 0 to :data:`MAX_CRF` (default 18 for libx264); the encoder
        checks its own range when the job starts.
    preset : str, optional
        Encoder speed preset (default veryfast).
    profile : str, optional
        The codec's profile, for ProRes (proxy, lt, standard, hq, 4444, 4444xq; default hq)
        and DNxHR (dnxhr_lb, dnxhr_sq, dnxhr_hq, dnxhr_hqx, dnxhr_444; default dnxhr_hqx for
        a source of more than 8 bits, else dnxhr_hq); checked against the codec when the
        job starts.
    """

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    profile: str | None = None

    def __post_init__(self):
        _check_int("--crf", self.crf, 0, highest=MAX_CRF, field="crf")
        for name, value in (("codec", self.codec), ("preset", self.preset),
                            ("profile", self.profile)):
            if value is not None and not (isinstance(value, str) and _NAME.fullmatch(value)):
                raise OptionError(name, "{field} must be an FFmpeg name (letters, digits, - _ . "
                                  "+), got {value}", value=_shown(value))


def _file_sha256(path: str, what: str = "keyframe") -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as e:
        raise VidcolorError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    return digest.hexdigest()


@dataclass(frozen=True)
class Keyframe(_Options):
    """A colour version of one frame of a film, made by hand: its a/b guide the frame's shot.

    Attributes
    ----------
    path : str
        A picture file (anything ``vidcolor image`` reads) of the frame's size, or of its
        aspect ratio.
    time : float or None
        Seconds from the video stream's start, 0 to :data:`MAX_SECONDS`; the frame whose
        timestamp is nearest is the one coloured. None when ``frame`` is given (the film job
        sets it from the frame number once it knows the film).
    sha256 : str, optional
        The file's content hash, computed when None: a resumed job refuses a changed file.
    frame : int, optional
        The frame's number (an image sequence's own numbering; a video's frames counted
        from 0), instead of or as well as its time.
    """

    path: str
    time: float | None
    sha256: str | None = None
    frame: int | None = None

    def __post_init__(self):
        if not isinstance(self.path, str) or not self.path:
            raise VidcolorError(f"keyframe path must be a file name, got {_shown(self.path)}")
        if self.frame is not None and (isinstance(self.frame, bool)
                                       or not isinstance(self.frame, int) or self.frame < 0):
            raise VidcolorError(f"{self.path}: keyframe frame must be a number >= 0, got "
                                f"{_shown(self.frame)}")
        if self.time is not None or self.frame is None:  # else placed by its number later
            if not _is_seconds(self.time):
                raise VidcolorError(f"{self.path}: keyframe time must be 0 to "
                                    f"{MAX_SECONDS:.0f} s, got {_shown(self.time)}")
            object.__setattr__(self, "time", float(self.time))
        if self.sha256 is None:
            object.__setattr__(self, "sha256", _file_sha256(self.path))

    def to_dict(self) -> dict:
        data = super().to_dict()
        if data["frame"] is None:  # a keyframe by time reads as it always did
            del data["frame"]
        return data


@dataclass(frozen=True)
class Reference(_Options):
    """A colour photo that is not a frame of the input (a publicity still, the location in
    colour): its colours guide the input's by feature correspondence.

    Attributes
    ----------
    path : str
        A picture file (anything ``vidcolor image`` reads), any size.
    time : float, optional
        For a film, seconds from the video stream's start from which it guides; None guides
        the whole film (and is the only value a photo takes).
    sha256 : str, optional
        The file's content hash, computed when None: a resumed job refuses a changed file.
    """

    path: str
    time: float | None = None
    sha256: str | None = None

    def __post_init__(self):
        if not isinstance(self.path, str) or not self.path:
            raise VidcolorError(f"reference path must be a file name, got {_shown(self.path)}")
        if self.time is not None:
            if not _is_seconds(self.time):
                raise VidcolorError(f"{self.path}: reference time must be 0 to "
                                    f"{MAX_SECONDS:.0f} s, got {_shown(self.time)}")
            object.__setattr__(self, "time", float(self.time))
        if self.sha256 is None:
            object.__setattr__(self, "sha256", _file_sha256(self.path, "reference photo"))


def parse_reference(text: str) -> Reference:
    """A ``--reference`` argument: ``PHOTO`` or ``PHOTO@TIME`` (:func:`parse_time`); a path
    holding ``@`` works when what follows its last ``@`` is not a time."""
    path, at, when = text.rpartition("@")
    if at:
        try:
            return Reference(path, parse_time(when))
        except ValueError:
            pass
    return Reference(text)


@dataclass(frozen=True)
class ColourCopy(_Options):
    """A colour copy of the same film (any resolution or codec, e.g. a worn colour print or
    tape): its chroma, aligned frame by frame, colours the black-and-white master.

    Attributes
    ----------
    path : str
        A video file.
    offset : int
        Frames by which the copy is late (> 0) or early (< 0) against the master: master
        frame ``i`` is first looked for at copy frame ``i + offset``.
    sha256 : str, optional
        The file's content hash, computed when None: a resumed job refuses a changed file.
    """

    path: str
    offset: int = 0
    sha256: str | None = None

    def __post_init__(self):
        if not isinstance(self.path, str) or not self.path:
            raise VidcolorError(f"colour copy path must be a file name, got {_shown(self.path)}")
        if isinstance(self.offset, bool) or not isinstance(self.offset, int) \
                or abs(self.offset) > 10**7:
            raise OptionError("colour_offset", "{field} must be a whole number of frames, got "
                              "{value}", "--colour-offset", value=_shown(self.offset))
        if self.sha256 is None:
            object.__setattr__(self, "sha256", _file_sha256(self.path, "colour copy"))


@dataclass(frozen=True)
class VideoOptions(_Options):
    """How a film is colorized (the output path and resume/overwrite are the job's, not these).

    Attributes
    ----------
    render_size : int, optional
        Network resolution, at most :data:`MAX_RENDER_SIZE`; None is the model's own.
    batch_size : int, optional
        Frames per model call, at most :func:`max_batch_size` of the render size (None is
        taken as :data:`ASSUMED_RENDER_SIZE`, and checked again once the model is known); None
        chooses by device and frame size (:func:`vidcolor.video.frames.batch_size_for`).
    stabilize : bool
        Temporal stabilization of the chroma.
    stabilize_strength : float in [0, 1]
    window : Window
    segment_frames : int
        Frames per resumable segment.
    encoder : EncoderOptions
    keyframes : tuple of Keyframe
        Hand-coloured frames whose colour is propagated through their shots; at most one a
        time.
    references : tuple of Reference
        Colour photos guiding the film's colours by correspondence, each from its time on.
    colour_from : ColourCopy, optional
        A colour copy of the same film whose chroma colours it.
    fps : str, optional
        Frames a second of an image sequence input (``24``, ``23.976``, ``24000/1001``), over
        its headers' rate; default the headers', else 24.
    timecode : str, optional
        SMPTE timecode of the input's first frame (``HH:MM:SS:FF``, ``HH:MM:SS;FF``
        drop-frame), over the input's own; the output starts at its first coloured frame's.
    allow_gaps : bool
        Colour an image sequence with missing numbers (the timing keeps the gaps).
    sequence : str, optional
        Write image frames of this format (dpx, tiff, exr, png) into the output folder.
    interlaced : {"auto", "tff", "bff", "no"}
        Whether the film is interlaced: found from the stream and frames, top or bottom
        field first, or progressive (:mod:`vidcolor.video.fields`).
    deinterlace : {None, "frame", "field"}
        An interlaced film's output: None keeps its fields (each coloured on its own);
        "frame" and "field" write progressive frames at the frame or the field rate.
    """

    render_size: int | None = None
    batch_size: int | None = None
    stabilize: bool = True
    stabilize_strength: float = DEFAULT_STRENGTH
    window: Window = field(default_factory=Window)
    segment_frames: int = DEFAULT_SEGMENT_FRAMES
    encoder: EncoderOptions = field(default_factory=EncoderOptions)
    keyframes: tuple[Keyframe, ...] = ()
    references: tuple[Reference, ...] = ()
    colour_from: ColourCopy | None = None
    fps: str | None = None
    timecode: str | None = None
    allow_gaps: bool = False
    sequence: str | None = None
    interlaced: str = "auto"
    deinterlace: str | None = None

    def __post_init__(self):
        _check_int("render size", self.render_size, 1, highest=MAX_RENDER_SIZE)
        _check_int("batch size", self.batch_size, 1)
        render = self.render_size or ASSUMED_RENDER_SIZE
        if self.batch_size is not None and self.batch_size > max_batch_size(render):
            raise VidcolorError(
                f"batch size {self.batch_size} at render size {render} would take about "
                f"{self.batch_size * render**2 * _BYTES_PER_PIXEL / 2**30:.0f} GiB of memory in"
                f" one model call; at most {max_batch_size(render)} frames at that size")
        _check_int("segment_frames", self.segment_frames, 1, optional=False)
        if not (isinstance(self.window, Window) and isinstance(self.encoder, EncoderOptions)):
            raise VidcolorError("window and encoder must be Window and EncoderOptions values")
        s = self.stabilize_strength
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= s <= 1.0:
            # Not an OptionError yet: the server's clients are promised this wording
            # (tests/serve/test_serve.py); as one, they would read "stabilize_strength".
            raise VidcolorError(f"--stabilize-strength must be in [0, 1], got {s}")
        object.__setattr__(self, "stabilize_strength", float(s))
        object.__setattr__(self, "stabilize", bool(self.stabilize))
        self._check_keyframes()
        object.__setattr__(self, "references",
                           _values(Reference, self.references, "references"))
        colour_from = self.colour_from
        if isinstance(colour_from, dict):
            colour_from = ColourCopy.from_dict(colour_from)
        if colour_from is not None and not isinstance(colour_from, ColourCopy):
            raise VidcolorError("colour_from must be a ColourCopy value")
        object.__setattr__(self, "colour_from", colour_from)
        self._check_sequence_fields()
        if self.interlaced not in INTERLACED_CHOICES:
            raise OptionError("interlaced", "{field} must be one of {choices}, got {value}",
                              choices=", ".join(INTERLACED_CHOICES),
                              value=_shown(self.interlaced))
        if self.deinterlace not in (None, *DEINTERLACE_CHOICES):
            raise OptionError("deinterlace", "{field} must be one of {choices}, got {value}",
                              choices=", ".join(DEINTERLACE_CHOICES),
                              value=_shown(self.deinterlace))

    def _check_sequence_fields(self) -> None:
        if self.fps is not None:
            parse_fps(self.fps)
        if self.timecode is not None and not (isinstance(self.timecode, str)
                                              and _TIMECODE.fullmatch(self.timecode.strip())):
            raise OptionError("timecode", "{field} must be HH:MM:SS:FF (HH:MM:SS;FF for "
                              "drop-frame), got {value}", value=_shown(self.timecode))
        if self.sequence is not None and self.sequence not in SEQUENCE_FORMATS:
            raise OptionError("sequence", "{field} must be one of {names}, got {value}",
                              names=", ".join(SEQUENCE_FORMATS), value=_shown(self.sequence))
        object.__setattr__(self, "allow_gaps", bool(self.allow_gaps))

    @classmethod
    def from_fields(cls, *, start: float = 0.0, duration: float | None = None,
                    codec: str | None = None, crf: int | None = None,
                    preset: str | None = None, profile: str | None = None,
                    keyframes: Iterable[Keyframe] = (), **fields) -> "VideoOptions":
        """The options of flat named fields, as a command line or a form gives them.

        ``start`` and ``duration`` become the :class:`Window`, ``codec``, ``crf``,
        ``preset`` and ``profile`` the :class:`EncoderOptions`; ``fields`` are this class's own (render_size,
        batch_size, stabilize, stabilize_strength, segment_frames). Checked in this order:
        the window, the encoder, then ``keyframes`` (an iterable, so one made lazily, such as
        the CLI's parsed ``--keyframe`` arguments, is read only now), then the rest.

        Raises
        ------
        VidcolorError
            The first value no job could use; an :class:`OptionError` naming its field for
            ``start``, ``duration``, ``codec``, ``crf``, ``preset`` and ``profile``.
        """
        window = Window(start, duration)
        encoder = EncoderOptions(codec, crf, preset, profile)
        return cls(window=window, encoder=encoder, keyframes=tuple(keyframes), **fields)

    def _check_keyframes(self) -> None:
        keyframes = _values(Keyframe, self.keyframes, "keyframes")
        twice = _first_twice([k.time for k in keyframes if k.time is not None])
        if twice is not None:
            raise VidcolorError(f"two keyframes at {twice:g} s; give one a frame")
        twice = _first_twice([k.frame for k in keyframes if k.time is None])
        if twice is not None:
            raise VidcolorError(f"two keyframes for frame #{twice}; give one a frame")
        object.__setattr__(self, "keyframes", tuple(sorted(
            keyframes, key=lambda k: (k.time is None, k.time or 0.0, k.frame or 0))))


#: Frame formats ``--sequence`` writes, by their file suffix.
SEQUENCE_FORMATS = ("dpx", "tiff", "exr", "png")
_TIMECODE = re.compile(r"\d{1,2}:\d{2}:\d{2}[:;.,]\d{2,3}")
#: NTSC rates a decimal --fps is taken as (23.976 is 24000/1001).
_NTSC = tuple(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120))


def parse_fps(text: str) -> Fraction:
    """A frame rate: ``24``, ``23.976`` (an NTSC rate within 0.001), or ``24000/1001``.

    Raises
    ------
    OptionError
        Not a rate above 0 and at most 1000 (field ``fps``).
    """
    try:
        rate = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        rate = None
    if rate is None or not 0 < rate <= 1000:
        raise OptionError("fps", "{field} must be a frame rate above 0, at most 1000 (24, "
                          "23.976, 24000/1001), got {value}", value=_shown(text))
    for ntsc in _NTSC:
        if rate != ntsc and abs(rate - ntsc) < Fraction(1, 1000):
            return ntsc
    return rate


def max_batch_size(render_size: int) -> int:
    """The most frames one model call may take at a render size (:data:`MAX_BATCH_PIXELS`)."""
    return max(1, MAX_BATCH_PIXELS // render_size**2)


#: Fields holding another option value, rebuilt by ``from_dict``.
_NESTED = {("VideoOptions", "window"): Window, ("VideoOptions", "encoder"): EncoderOptions,
           ("VideoOptions", "colour_from"): ColourCopy}
