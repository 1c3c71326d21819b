"""``vidcolor video IN --export-keyframes DIR``: the frames to colour by hand, one per shot.

The first frame of each shot, and each frame where the colour of the last one written no
longer reaches :data:`REACH` of the picture (content the shot has changed to: a whip pan, a
new view the cut detector does not call a cut; measured as :class:`KeyframeReach` carries a
keyframe's colour), and, with ``every``, one every so many seconds within a long shot, is
written as a grey RGB PNG named by its time (:func:`vidcolor.options.keyframe_name`,
``00-01-23.456.png``), so that handing it back coloured is ``--keyframe DIR/00-01-23.456.png``.
Shots are found by the film's frame analysis (:class:`vidcolor.video.analysis.FrameAnalyzer`,
the stabilizer's cuts and flow) on lightness at the render size films are colorized at, so
they are the shots ``vidcolor video`` keeps colour within. Frames stream through (memory
stays one frame); the pictures are written into a hidden folder next to ``DIR`` and moved into
``DIR`` only once all are done, none replacing an existing file without ``overwrite``. The job
is an :class:`ExportRequest` in (checked once, when made) and an :class:`ExportReport` out.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidcolor import color
from vidcolor._version import __version__
from vidcolor.colorize import render_shape, resize_l
from vidcolor.errors import OptionError, VidcolorError
from vidcolor.options import ASSUMED_RENDER_SIZE, ImageOptions, Window, keyframe_name
from vidcolor.picture_write import write_image
from vidcolor.progress import Progress
from vidcolor.video.analysis import FrameAnalyzer
from vidcolor.video.keyframes import KeyframeReach
from vidcolor.video.probe import VideoInfo
from vidcolor.video.sequence import probe_input
from vidcolor.video.source import open_source

__all__ = ["ExportReport", "ExportRequest", "export_keyframes", "REACH"]

#: Rounding of the render shape shot detection works at (the shipped model's).
_MULTIPLE = 32
#: Share of the picture a written frame's colour must still reach; below it the frame is
#: written too.
REACH = 0.5


@dataclass(frozen=True)
class ExportRequest:
    """What one ``--export-keyframes`` run writes, checked once when made.

    Attributes
    ----------
    input : Path
        The film.
    folder : Path
        Where the pictures go; made if missing (its parent must exist when the job runs).
    every : float, optional
        Seconds, above 0: also a frame this long after the last one written in the same shot.
    window : Window
        The part of the film looked at.
    render_size : int, optional
        The size cuts are looked for at (default the shipped model's), as
        :class:`~vidcolor.options.ImageOptions` bounds it.
    overwrite : bool
        Replace pictures of the same names in ``folder``.
    reach : float or None
        Share of the picture in [0, 1]: a frame where the last written frame's colour is
        trusted on less is written too. None: shots (and ``every``) only.
    fps : str, optional
        An image sequence's frame rate, over its headers' (as ``VideoOptions.fps``).
    allow_gaps : bool
        Go on past an image sequence's missing frame numbers.

    Raises
    ------
    VidcolorError
        A value no export could use (an :class:`~vidcolor.errors.OptionError` for ``every``),
        refused before the film is opened.
    """

    input: Path
    folder: Path
    every: float | None = None
    window: Window = field(default_factory=Window)
    render_size: int | None = None
    overwrite: bool = False
    reach: float | None = REACH
    fps: str | None = None
    allow_gaps: bool = False

    def __post_init__(self):
        every = self.every
        if every is not None and (isinstance(every, bool) or not isinstance(every, (int, float))
                                  or not every > 0):
            raise OptionError("every", "{field} must be a number of seconds above 0, got "
                              "{every}", every=every)
        if not isinstance(self.window, Window):
            raise VidcolorError(f"window must be a Window value, got {self.window!r}")
        ImageOptions(render_size=self.render_size)
        reach = self.reach
        if reach is not None and (isinstance(reach, bool) or not isinstance(reach, (int, float))
                                  or not 0 <= reach <= 1):
            raise VidcolorError(f"reach must be a share of the picture in [0, 1], got {reach!r}")
        # Callers pass strings (the CLI, tests): kept as paths, so the value stays frozen.
        object.__setattr__(self, "input", Path(self.input))
        object.__setattr__(self, "folder", Path(self.folder))
        object.__setattr__(self, "overwrite", bool(self.overwrite))


@dataclass
class ExportReport:
    """What :func:`export_keyframes` wrote."""

    folder: Path
    files: list[Path]  #: in time order
    shots: int
    frames: int  #: frames looked at


def _staging(folder: Path) -> Path:
    staging = folder.with_name(f".{folder.name}.vidcolor-export")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
    except OSError as e:
        raise VidcolorError(f"{folder.parent}: cannot write there ({e.strerror})") from None
    return staging


def _check_folder(folder: Path) -> None:
    # lexists: a dangling link or a symbolic link loop is no folder either (mkdir fails there)
    if os.path.lexists(folder) and not folder.is_dir():
        raise VidcolorError(f"{folder}: exists and is not a folder")
    if not folder.parent.is_dir():
        raise VidcolorError(f"{folder.parent}: no such folder")


def _move_into_place(staging: Path, folder: Path, names: list[str], overwrite: bool) -> None:
    """Move the finished pictures into ``folder``; refuse before moving any if one exists."""
    folder.mkdir(exist_ok=True)
    if not overwrite:
        taken = [n for n in names if (folder / n).exists()]
        if taken:
            more = f" and {len(taken) - 1} more" if len(taken) > 1 else ""
            raise OptionError("overwrite", "{path}{more}: already exist(s) (use {field} to "
                              "replace)", path=folder / taken[0], more=more)
    for name in names:
        os.replace(staging / name, folder / name)


def export_keyframes(request: ExportRequest | str | os.PathLike, *args, **keywords
                     ) -> ExportReport:
    """Write the first frame of each shot of a film, each frame the last written one's colour
    no longer reaches, and one every ``request.every`` seconds within a shot, as grey PNGs
    named by their time.

    Called ``export_keyframes(request, progress=None)``. The older call with loose values,
    ``export_keyframes(input, folder, every=None, window=Window(), render_size=None,
    overwrite=False, progress=None, reach=REACH)``, is still taken: they make the request.

    Parameters
    ----------
    request : ExportRequest
    progress : Progress, optional
        Told ``(frames looked at, expected total or None)``.

    Returns
    -------
    ExportReport

    Raises
    ------
    VidcolorError
        As :class:`ExportRequest`; bad input, unusable folder, a picture that exists (without
        ``overwrite``).
    """
    if isinstance(request, ExportRequest):
        return _export(request, *args, **keywords)
    return _export(*_loose_request(request, *args, **keywords))


def _loose_request(input: str | os.PathLike, folder: str | os.PathLike,
                   every: float | None = None, window: Window = Window(),
                   render_size: int | None = None, overwrite: bool = False,
                   progress: Progress | None = None, reach: float | None = REACH
                   ) -> tuple[ExportRequest, Progress | None]:
    """The request and progress of the older call's loose values, in its order."""
    return ExportRequest(input, folder, every, window, render_size, overwrite, reach), progress


def _export(request: ExportRequest, progress: Progress | None = None) -> ExportReport:
    """The job: find the frames, write them staged, move them into the folder."""
    folder = request.folder
    _check_folder(folder)
    info = probe_input(request.input, request.fps, request.allow_gaps)
    shape = render_shape(info.height, info.width, request.render_size or ASSUMED_RENDER_SIZE,
                         _MULTIPLE)
    dtype = np.uint16 if info.high_bit_depth else np.uint8
    mark = (f"a frame of {request.input.name} exported by vidcolor {__version__} to colour by "
            "hand")
    counts = {"shots": 0, "frames": 0}
    staging = _staging(folder)
    names = []
    try:
        for seconds, L in _frames_to_export(info, request.window, shape, request.every,
                                            request.reach, counts, progress):
            name = keyframe_name(seconds) + ".png"
            write_image(staging / name, color.l_to_grey_rgb(L, dtype=dtype), mark=mark)
            names.append(name)
        if not names:
            raise VidcolorError(f"{request.input}: no video frames in the requested window")
        _move_into_place(staging, folder, names, request.overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportReport(folder, [folder / n for n in names], counts["shots"], counts["frames"])


def _frames_to_export(info: VideoInfo, window: Window, shape: tuple[int, int],
                      every: float | None, reach: float | None, counts: dict,
                      progress: Progress | None):
    """The frames to write, streaming: ``(seconds from the stream's start, L (H, W) float32
    in [0, 100])`` for each first frame of a shot, each frame the last written one's colour
    reaches less than ``reach`` of and, with ``every``, each frame that long after the last
    one of its shot; ``counts`` gets the shots and frames looked at."""
    last = 0.0
    analyze, reached = FrameAnalyzer(), KeyframeReach()
    total = info.estimate_frames(window) or None
    for frame in open_source(info, window).frames():
        counts["frames"] += 1
        seconds = float(frame.pts * info.time_base) - info.start_time
        L = color.rgb_to_l(frame.rgb)
        analysis = analyze(resize_l(L, shape))
        counts["shots"] += int(analysis.cut)
        # Not carried across a cut: a cut writes the frame anyway.
        lost = not analysis.cut and reach is not None and reached.step(analysis) < reach
        if analysis.cut or lost or (every is not None and seconds - last >= every - 1e-6):
            last = seconds
            if reach is not None:
                reached.start(analysis)
            yield seconds, L
        if progress is not None:
            progress(counts["frames"], total)
