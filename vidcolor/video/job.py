"""One film job: check -> plan (or resume) -> run on an executor -> remux, written once.

:class:`FilmJob` is the film's half of the work, the same wherever the frames are coloured:
it checks the paths, the input's streams, the window, the encoder and the keyframes before
any work (:meth:`FilmJob.check`, no model needed); opens the work folder next to the output,
fresh or continued (:mod:`vidcolor.video.workdir`: a resumed job must match in everything
that changes its frames); and, once every frame is in a finished segment, remuxes the segments
with the input's other streams into a temporary file renamed to the output only when complete.

The frames themselves are coloured by a :class:`FilmExecutor`: in this process
(:class:`vidcolor.video.local.LocalExecutor`, three threads) or on Ray
(:class:`vidcolor.video.cluster.ClusterSession`, chunks as actors). An executor plans what it
needs of the model (the render size, chunks) and runs the frames not yet in the work folder.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vidcolor._version import __version__
from vidcolor.errors import OptionError, VidcolorError
from vidcolor.provenance import provenance_text
from vidcolor.options import VideoOptions
from vidcolor.outputs import InputSet, check_output
from vidcolor.progress import Progress
from vidcolor.timecode import parse_timecode
from vidcolor.log import logger
from vidcolor.video.encode import (EncoderSettings, encoder_settings, output_format,
                                   output_tags)
from vidcolor.video.fields import check_field_rate, with_field_order
from vidcolor.video.colour_copy import open_copy
from vidcolor.references import check_references
from vidcolor.video.keyframes import PlacedKeyframe, place_keyframes
from vidcolor.video.probe import VideoInfo, ffmpeg_message
from vidcolor.video.remux import RemuxReport, remux
from vidcolor.video.sequence import probe_input, sequence_identity
from vidcolor.video.sequence_sink import (SequenceSettings, check_frames_free,
                                          check_sequence_output, frame_index, frame_numbers,
                                          is_sequence_output, sequence_settings)
from vidcolor.video.workdir import WorkFolder, file_identity, work_paths

__all__ = ["CheckedFilm", "FilmExecutor", "FilmJob", "FilmPlan", "FilmRun", "VideoResult"]


@dataclass
class VideoResult:
    """Summary of a finished film job."""

    output: Path
    frames: int  #: video frames in the output
    resumed_frames: int  #: of those, done by an earlier interrupted run
    seconds: float  #: wall time of this run
    cuts: int  #: scene cuts the stabilizer found (this run)
    report: RemuxReport = field(default_factory=RemuxReport)
    #: Frames of the window the decoder refused (damaged input; this run), left out.
    lost_frames: int = 0
    #: Wall seconds of the job's steps: "plan" (the checks included), "frames", "remux".
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        done = self.frames - self.resumed_frames
        return done / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class CheckedFilm:
    """What the checks found, before any work.

    Attributes
    ----------
    input, output : Path
    format_name : str
        The output's container; ``"sequence"`` for image frames.
    info : VideoInfo
        With the ``--timecode`` asked for, if any.
    settings : EncoderSettings or SequenceSettings
    placed : list of PlacedKeyframe
        The keyframes and the frames they colour, in time order; empty without keyframes.
    """

    input: Path
    output: Path
    format_name: str
    info: VideoInfo
    settings: EncoderSettings | SequenceSettings
    placed: list[PlacedKeyframe]

    @property
    def writes_frames(self) -> bool:
        """The output is an image sequence (no remux: each frame is written in place)."""
        return isinstance(self.settings, SequenceSettings)


@dataclass
class FilmPlan:
    """What an executor decided for a film once it knows the model.

    Attributes
    ----------
    options : VideoOptions
        As resolved for the model (its render size): what a resumed job compares.
    model_name, weights : str
        The model's name and the identity of its very weights.
    extra : dict
        The executor's own part of the job's identity (a cluster's chunks), JSON-able.
    detail : object
        The executor's own objects for :meth:`FilmExecutor.run`.
    """

    options: VideoOptions
    model_name: str
    weights: str
    extra: dict = field(default_factory=dict)
    detail: Any = None


@dataclass
class FilmRun:
    """What an executor's run did: the cuts its stabilizer found and how many frames the
    decoder refused."""

    cuts: int
    lost_frames: int


class FilmExecutor(Protocol):
    """Colours a checked film's frames into a work folder's segments."""

    def plan(self, film: CheckedFilm, options: VideoOptions) -> FilmPlan:
        """Resolve the options for the model and plan the work (no frame written)."""

    def run(self, film: CheckedFilm, plan: FilmPlan, work: WorkFolder,
            progress: Progress | None) -> FilmRun:
        """Colour the frames not yet in ``work`` (each finished segment recorded there).

        Whatever stops it, finished segments are kept for a resumed job."""


class FilmJob:
    """One film colorized into one output file.

    Parameters
    ----------
    input, output : path
        The output's extension picks the container (.mp4 .mkv .mov .webm .avi).
    options : VideoOptions, optional
    overwrite : bool
        Replace an existing output.
    resume : bool
        Continue an interrupted job with the same settings from its last finished segment.
    """

    def __init__(self, input: str | os.PathLike, output: str | os.PathLike,
                 options: VideoOptions | None = None, *, overwrite: bool = False,
                 resume: bool = False):
        self.input, self.output = Path(input), Path(output)
        self.options = options or VideoOptions()
        self.overwrite, self.resume = overwrite, resume
        self._checked: CheckedFilm | None = None

    def run(self, executor: FilmExecutor, progress: Progress | None = None) -> VideoResult:
        """Check, plan (or resume), colour the frames on ``executor``, remux.

        Parameters
        ----------
        executor : FilmExecutor
        progress : Progress, optional
            Told ``(frames done, expected total or None)`` as frames are encoded.

        Raises
        ------
        VidcolorError
            Bad input, unusable output path or settings, nothing decodable in the window.
        KeyboardInterrupt
            After cleaning up; the finished segments are kept for ``resume=True``.
        """
        t_begin = time.perf_counter()
        film = self.check()
        plan = executor.plan(film, self.options)
        work = self._open_work(film, plan)
        resumed = work.frames
        t_frames = time.perf_counter()
        ran = executor.run(film, plan, work, progress)
        if work.frames == 0:
            work.remove()
            raise VidcolorError(f"{film.input}: no video frames in the requested window")
        t_remux = time.perf_counter()
        report = RemuxReport(video_packets=work.frames)
        if not film.writes_frames:
            try:
                report = self._remux_into_place(film, work, plan)
            except VidcolorError:
                work.remove()  # the same streams would be refused again: nothing to resume
                raise
        work.remove()
        t_end = time.perf_counter()
        return VideoResult(output=film.output, frames=work.frames, resumed_frames=resumed,
                           seconds=t_end - t_begin, cuts=ran.cuts, report=report,
                           lost_frames=ran.lost_frames,
                           steps={"plan": t_frames - t_begin, "frames": t_remux - t_frames,
                                  "remux": t_end - t_remux})

    def check(self) -> CheckedFilm:
        """Every check that needs no model, before any work (done once per job).

        Raises
        ------
        VidcolorError
            One line naming the problem.
        """
        if self._checked is None:
            options = self.options
            copy = options.colour_from
            frames_out = is_sequence_output(self.output, options.sequence)
            format_name = "sequence" if frames_out else _check_paths(
                self.input, self.output, self.overwrite, () if copy is None else (copy.path,))
            info = _with_timecode(probe_input(self.input, options.fps, options.allow_gaps),
                                  options.timecode)
            if info.sequence is None:  # a scan's frames are whole pictures
                info = with_field_order(info, options.interlaced)
            _check_window(self.input, info, options)
            check_references(options.references)
            if copy is not None:
                _check_copy_fits(info, options)
                open_copy(copy)
            settings = self._frame_settings(info) if frames_out else \
                encoder_settings(format_name, options.encoder, info.bit_depth,
                                 (info.width, info.height), rgb=info.colorspace == 0,
                                 field_order=_kept_field_order(info, options))
            self.options = options = _keyframes_by_number(options, info)
            self._checked = CheckedFilm(self.input, self.output, format_name, info, settings,
                                        place_keyframes(info, options))
        return self._checked

    def _frame_settings(self, info: VideoInfo) -> SequenceSettings:
        """How the frames are written, once their files are known not to be the input's nor
        (without ``overwrite``; a resumed job's are checked once its work is found) to
        exist."""
        settings = sequence_settings(self.output, self.options.sequence, info)
        _check_frames_are_not_input(settings, info, self.input)
        if not self.resume:
            check_frames_free(settings, frame_numbers(info), self.overwrite)
        return settings

    def _open_work(self, film: CheckedFilm, plan: FilmPlan) -> WorkFolder:
        """The work folder, fresh or continued.

        A resumed job must match in everything that changes its frames: the input file, the
        very same weights (not just a model of the same name), the options as resolved (the
        batch size does not change a frame, so it may differ), the encoder and the executor's
        own plan.
        """
        compared = dataclasses.replace(plan.options, batch_size=None)
        seq = film.info.sequence
        identity = {"input": file_identity(film.input) if seq is None else
                    sequence_identity(seq), "model": plan.model_name,
                    "weights": plan.weights, "options": compared.to_dict(),
                    "encoder": dataclasses.asdict(film.settings), "vidcolor": __version__,
                    **plan.extra}
        if film.writes_frames:
            check_sequence_output(film.settings)
            work = WorkFolder(work_paths(film.settings.pattern)[0], identity)
            if not work.open(self.resume) and self.resume:
                try:  # nothing to resume: the frames there are someone else's
                    check_frames_free(film.settings, frame_numbers(film.info), self.overwrite)
                except VidcolorError:
                    work.remove()
                    raise
            return work
        work = WorkFolder(work_paths(film.output)[0], identity)
        work.open(self.resume)
        return work

    def _remux_into_place(self, film: CheckedFilm, work: WorkFolder,
                          plan: FilmPlan) -> RemuxReport:
        """Remux the segments and the input's other streams into a temporary file, then
        rename it to the output; nothing is left half-written."""
        import av.error

        output = film.output
        partial = work_paths(output)[1]
        try:
            segments = work.segment_files()
            report = remux(film.info, segments, partial, film.format_name,
                           plan.options.window,
                           metadata={"comment": provenance_text(plan.model_name)},
                           timecode=_timecode_at(film.info, segments[0][1]),
                           colour=output_tags(film.info, film.settings))
            os.replace(partial, output)
        except BaseException as e:
            partial.unlink(missing_ok=True)
            if isinstance(e, VidcolorError):
                raise VidcolorError(f"{output}: {e}") from None
            if isinstance(e, OSError):
                raise VidcolorError(f"{output}: writing failed ({e})") from e
            if isinstance(e, av.error.FFmpegError):
                raise VidcolorError(f"{output}: writing failed ({ffmpeg_message(e)})") from e
            raise
        return report


def _check_paths(input: Path, output: Path, overwrite: bool, others=()) -> str:
    """The output's muxer, once the output path is known to be usable; before any work.

    :func:`vidcolor.outputs.check_output` refuses an output that is the input (by path,
    symbolic or hard link), a folder, or a name too long for the work folder's and the
    temporary file's names; what is left here is the film's own: its extension, the folder,
    and an existing output. ``others``: more files the job reads (a colour copy).
    """
    format_name = output_format(output)
    check_output(output, InputSet([input, *others]))
    try:
        if not output.parent.is_dir():
            raise VidcolorError(f"{output.parent}: no such folder")
        exists = output.exists()
    except OSError as e:  # a folder on the way this process may not search
        raise VidcolorError(f"{output}: unusable output path ({e.strerror})") from None
    if exists and not overwrite:
        raise OptionError("overwrite", "{output}: already exists (use {field} to replace it)",
                          output=output)
    return format_name


def _check_frames_are_not_input(settings: SequenceSettings, info: VideoInfo,
                                input: Path) -> None:
    """Refuse frame files that would be the input's (its pattern, or the video file)."""
    seq = info.sequence
    inputs = [seq.pattern] if seq is not None else [os.fspath(input)]
    if any(os.path.realpath(settings.pattern) == os.path.realpath(p) for p in inputs):
        raise VidcolorError(f"{settings.pattern}: these are the input's frames; write the "
                            "coloured ones elsewhere")
    check_output(settings.pattern % 0, InputSet([input]))


def _with_timecode(info: VideoInfo, timecode: str | None) -> VideoInfo:
    """The film with the start timecode asked for (``--timecode``), checked at its rate."""
    if timecode is None:
        return info
    try:
        return dataclasses.replace(info, timecode=str(parse_timecode(timecode, info.rate)))
    except ValueError as e:
        raise OptionError("timecode", "{field}: {error}", error=e) from None


def _timecode_at(info: VideoInfo, pts: int) -> str | None:
    """The timecode of the frame at ``pts`` (the first coloured one), counted at the film's
    rate from its first frame's; None when the film has none."""
    if info.timecode is None:
        return None
    return str(parse_timecode(info.timecode, info.rate) + frame_index(info, pts))


def _keyframes_by_number(options: VideoOptions, info: VideoInfo) -> VideoOptions:
    """Keyframes given by frame number (``FILE@#N``) placed at their frame's time: a
    sequence's own numbers, a video's frames counted from 0 at its nominal rate.

    Raises
    ------
    VidcolorError
        A number the sequence has no frame of.
    """
    if all(k.time is not None for k in options.keyframes):
        return options
    seq, placed = info.sequence, []
    for k in options.keyframes:
        if k.time is None:
            if seq is not None and k.frame not in seq.numbers:
                raise VidcolorError(f"{k.path}: keyframe frame #{k.frame}: the sequence has no "
                                    f"such frame ({seq.first} to {seq.numbers[-1]})")
            index = k.frame - (seq.first if seq is not None else 0)
            k = dataclasses.replace(k, time=float(index / info.rate))
        placed.append(k)
    return dataclasses.replace(options, keyframes=tuple(placed))


def _check_copy_fits(info: VideoInfo, options: VideoOptions) -> None:
    """Refuse a colour copy for a film coloured field by field: the copy is matched to
    whole frames."""
    if info.field_order != "progressive" and options.deinterlace != "frame":
        raise VidcolorError(f"{info.path}: --colour-from colours whole frames; this film is "
                            "interlaced: add --deinterlace (frame) or --interlaced no")


def _kept_field_order(info: VideoInfo, options: VideoOptions) -> str | None:
    """The field order the output is encoded with: the input's, unless it is progressive or
    deinterlaced (``--deinterlace``, whose field rate is checked here)."""
    if info.field_order == "progressive":
        if options.deinterlace is not None:
            logger.info(f"note: {info.path} is progressive; --deinterlace changes nothing")
        return None
    if options.deinterlace == "field":
        check_field_rate(info)
    return None if options.deinterlace else info.field_order


def _check_window(input: Path, info: VideoInfo, options: VideoOptions) -> None:
    """Refuse a window that starts after the film's end now, before the work folder exists
    (a film of unknown duration is found empty only once decoded)."""
    if info.duration is not None and options.window.start >= info.duration:
        raise OptionError("start", "{input}: no video frames in the requested window ({field} "
                          "{start:g} s, the video lasts {duration:.2f} s)", input=input,
                          start=options.window.start, duration=info.duration)
