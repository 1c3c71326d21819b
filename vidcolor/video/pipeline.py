"""``vidcolor video``: decode -> Lab -> model -> stabilize -> upsample -> encode, for one film.

:func:`colorize_video` is the one-process film job: a :class:`~vidcolor.video.job.FilmJob`
(check -> plan or resume -> run -> remux) on a :class:`~vidcolor.video.local.LocalExecutor`
(three threads, :mod:`vidcolor.video.stages`). Frames are encoded into segment files in a work
folder next to the output (:mod:`vidcolor.video.workdir`), so an interrupted job continues with
``resume=True`` from its last finished segment; when all frames are done the segments and the
input's other streams are remuxed into a temporary file in the output's folder, renamed to the
output only when complete.
"""

from __future__ import annotations

import os

from vidcolor.models.protocol import ColorModel
from vidcolor.options import VideoOptions
from vidcolor.progress import Progress
from vidcolor.video.job import FilmJob, VideoResult
from vidcolor.video.local import LocalExecutor
from vidcolor.video.workdir import work_paths

__all__ = ["VideoResult", "colorize_video", "work_paths"]


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
        As :meth:`vidcolor.video.job.FilmJob.run`, which says what it raises.
    """
    job = FilmJob(input, output, options, overwrite=overwrite, resume=resume)
    return job.run(LocalExecutor(model), progress)
