"""``vidcolor video``: decode -> Lab -> model -> stabilize -> upsample -> encode, for one film.

:func:`colorize_video` only composes the job's steps: check the options and paths, probe the
input, plan the work folder (or resume it), run the stages (:mod:`vidcolor.video.stages`),
remux. Frames are encoded into segment files in a work folder next to the output
(:mod:`vidcolor.video.workdir`), so an interrupted job continues with ``resume=True`` from its
last finished segment; when all frames are done the segments and the input's other streams are
remuxed into a temporary file in the output's folder, renamed to the output only when complete.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from vidcolor._version import __version__
from vidcolor.errors import VidcolorError
from vidcolor.provenance import provenance_text
from vidcolor.models.protocol import ColorModel
from vidcolor.models.runtimes import resolve_model
from vidcolor.options import VideoOptions, Window
from vidcolor.progress import Progress
from vidcolor.video.encode import EncoderSettings, encoder_settings, output_format
from vidcolor.outputs import InputSet, check_output
from vidcolor.video.frames import FrameColorizer, batch_size_for
from vidcolor.video.keyframes import (KeyframeGuide, PlacedKeyframe, backward_pass,
                                      place_keyframes)
from vidcolor.video.probe import VideoInfo, ffmpeg_message, probe
from vidcolor.video.remux import RemuxReport, remux
from vidcolor.video.stages import run_stages
from vidcolor.video.workdir import WorkFolder, file_identity, work_paths

__all__ = ["VideoResult", "check_job", "colorize_video", "keyframe_guide", "work_paths"]


@dataclass
class VideoResult:
    """Summary of a finished :func:`colorize_video` job."""

    output: Path
    frames: int  #: video frames in the output
    resumed_frames: int  #: of those, done by an earlier interrupted run
    seconds: float  #: wall time of this run
    cuts: int  #: scene cuts the stabilizer found (this run)
    report: RemuxReport = field(default_factory=RemuxReport)
    #: Frames of the window the decoder refused (damaged input; this run), left out.
    lost_frames: int = 0

    @property
    def fps(self) -> float:
        done = self.frames - self.resumed_frames
        return done / self.seconds if self.seconds > 0 else 0.0


def colorize_video(input: str | os.PathLike, output: str | os.PathLike,
                   model: ColorModel | None = None, options: VideoOptions | None = None, *,
                   overwrite: bool = False,
                   resume: bool = False, progress: Progress | None = None) -> VideoResult:
    """Colorize a video file, keeping its timing, rotation and other streams.

    Parameters
    ----------
    input, output : path
        The output's extension picks the container (.mp4 .mkv .mov .webm .avi).
    model : ColorModel or callable, optional
        A model, or a function returning one, called only once the input and output have
        been checked (:func:`vidcolor.models.runtimes.resolve_model`); default: the shipped
        model.
    options : VideoOptions, optional
    overwrite : bool
        Replace an existing output.
    resume : bool
        Continue an interrupted job with the same settings from its last finished segment.
    progress : Progress, optional
        Told ``(frames done, expected total or None)`` as frames are encoded.

    Returns
    -------
    VideoResult

    Raises
    ------
    VidcolorError
        Bad input, unusable output path or settings, nothing decodable in the window.
    KeyboardInterrupt
        After cleaning up; the finished segments are kept for ``resume=True``.
    """
    t_begin = time.perf_counter()
    input, output = Path(input), Path(output)
    options = options or VideoOptions()
    format_name, info, settings, placed = check_job(input, output, options, overwrite)
    model = resolve_model(model)
    core = FrameColorizer.from_options(model, options)
    # The model's own render size is known only now: the options are resolved (and their
    # bounds checked) with it, and the resolved options are what a resume compares.
    options = dataclasses.replace(options, render_size=core.render_size)
    batch_size = batch_size_for(options.batch_size, core.render_size, info.height, info.width)

    work = _plan_work(input, output, model, core, options, settings, resume)
    resumed_frames = work.frames
    _guide_with_keyframes(info, options, core, work, placed)
    lost = run_stages(info, core, work, settings, options, batch_size, progress)
    if work.frames == 0:
        work.remove()
        raise VidcolorError(f"{input}: no video frames in the requested window")
    try:
        report = _remux_into_place(info, work, output, format_name, options, model.name)
    except VidcolorError:
        work.remove()  # the same streams would be refused again: nothing worth resuming
        raise
    work.remove()
    return VideoResult(output=output, frames=work.frames, resumed_frames=resumed_frames,
                       seconds=time.perf_counter() - t_begin, cuts=core.cuts, report=report,
                       lost_frames=len(lost))


def check_job(input: Path, output: Path, options: VideoOptions, overwrite: bool
              ) -> tuple[str, VideoInfo, EncoderSettings, list[PlacedKeyframe]]:
    """Every check of a film job that needs no model, before any work: the paths, the input's
    streams, the window, the encoder and the keyframes.

    Returns
    -------
    format_name : str
        The output's container.
    info : VideoInfo
    settings : EncoderSettings
    placed : list of PlacedKeyframe
        The keyframes and the frames they colour (:func:`~vidcolor.video.keyframes.
        place_keyframes`), in time order; empty without keyframes.

    Raises
    ------
    VidcolorError
        One line naming the problem.
    """
    format_name = _check_paths(input, output, overwrite)
    info = probe(input)
    _check_window(input, info, options)
    settings = encoder_settings(format_name, options.encoder, info.high_bit_depth,
                                (info.width % 2 == 1, info.height % 2 == 1))
    return format_name, info, settings, place_keyframes(info, options)


def _check_paths(input: Path, output: Path, overwrite: bool) -> str:
    """The output's muxer, once the output path is known to be usable; before any work.

    :func:`vidcolor.outputs.check_output` refuses an output that is the input (by path,
    symbolic or hard link), a folder, or a name too long for the work folder's and the
    temporary file's names; what is left here is the film's own: its extension, the folder,
    and an existing output.
    """
    format_name = output_format(output)
    check_output(output, InputSet([input]))
    try:
        if not output.parent.is_dir():
            raise VidcolorError(f"{output.parent}: no such folder")
        exists = output.exists()
    except OSError as e:  # a folder on the way this process may not search
        raise VidcolorError(f"{output}: unusable output path ({e.strerror})") from None
    if exists and not overwrite:
        raise VidcolorError(f"{output}: already exists (use --overwrite to replace it)")
    return format_name


def _check_window(input: Path, info: VideoInfo, options: VideoOptions) -> None:
    """Refuse a window that starts after the film's end now, before the work folder exists
    (a film of unknown duration is found empty only once decoded)."""
    if info.duration is not None and options.window.start >= info.duration:
        raise VidcolorError(f"{input}: no video frames in the requested window (--start "
                            f"{options.window.start:g} s, the video lasts {info.duration:.2f} s)")


def _plan_work(input: Path, output: Path, model: ColorModel, core: FrameColorizer,
               options: VideoOptions, settings: EncoderSettings, resume: bool) -> WorkFolder:
    """The work folder, fresh or continued; the stabilizer restored to where it stopped.

    A resumed job must match in everything that changes its frames: the input file, the very
    same weights (not just a model of the same name), the options as resolved (the batch size
    does not change a frame, so it may differ) and the encoder.
    """
    compared = dataclasses.replace(options, batch_size=None)
    job = {"input": file_identity(input), "model": model.name, "weights": model.identity,
           "options": compared.to_dict(), "encoder": dataclasses.asdict(settings),
           "vidcolor": __version__}
    work = WorkFolder(work_paths(output)[0], job)
    work.open(resume)
    return work


def _guide_with_keyframes(info: VideoInfo, options: VideoOptions, core: FrameColorizer,
                          work: WorkFolder, placed: list[PlacedKeyframe]) -> None:
    """Give the colorizer its keyframe guide (the backwards pass done first, into the work
    folder), then restore the state the work folder continues from."""
    if placed:
        try:
            core.guide = keyframe_guide(info, options.window, placed, core,
                                        work.path / "keyframes", from_pts=work.next_pts)
        except BaseException:
            if not work.segments:  # nothing worth resuming
                work.remove()
            raise
    if core.has_state:
        core.set_state(work.state)


def keyframe_guide(info: VideoInfo, window: Window, placed: list[PlacedKeyframe],
                   core: FrameColorizer, folder: Path, from_pts: int | None = None,
                   source=None) -> KeyframeGuide:
    """The keyframes' guide of a run of the stages, its backward pass done first.

    The one construction of a guide, for the one-process job and for a cluster's chunk, so
    that both colour a keyframe's shot alike.

    Parameters
    ----------
    info : VideoInfo
    window : Window
    placed : list of PlacedKeyframe
        Those the run reaches (a chunk's own), in time order.
    core : FrameColorizer
        Gives the render shape and the lightness the streaming pass will see.
    folder : Path
        For the backward pass's files (inside the job's work folder or the chunk's own).
    from_pts : int, optional
        Where the run starts decoding: the backward pass decodes from there to the last
        keyframe, and the guide forgets the keyframes before it.
    source : binary file object, optional
        The input's bytes, read instead of ``info.path`` (a cluster worker's).

    Returns
    -------
    KeyframeGuide
    """
    from vidcolor.propagate import FILM_SPREAD

    shape = core.render_shape(info.height, info.width)
    # The backward pass opens ``info.path``, and opening takes a file object as a path too:
    # a worker's input is in memory, not on a file system it shares with the driver.
    decoded = info if source is None else dataclasses.replace(info, path=source)
    store = backward_pass(decoded, window, placed, lambda rgb: core.prepare(rgb).L_small, shape,
                          folder, from_pts=from_pts)
    return KeyframeGuide(placed, store, shape, FILM_SPREAD, from_pts=from_pts)


def _remux_into_place(info: VideoInfo, work: WorkFolder, output: Path, format_name: str,
                      options: VideoOptions, model_name: str) -> RemuxReport:
    """Remux the segments and the input's other streams into a temporary file, then rename
    it to the output; nothing is left half-written."""
    import av.error

    partial = work_paths(output)[1]
    try:
        report = remux(info, work.segment_files(), partial, format_name, options.window,
                       metadata={"comment": provenance_text(model_name)})
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
