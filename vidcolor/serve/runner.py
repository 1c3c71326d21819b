"""One run of a job in a worker thread: the library's picture or film job, watched and stoppable.

The work itself is the library's (:func:`vidcolor.photos.colorize_file`,
:func:`vidcolor.video.pipeline.colorize_video`, a film job in this process); this module adds
what a server needs around it. :class:`StoreProgress` is the job's
:class:`~vidcolor.progress.Progress`: it writes frames done, the total and the rate into the
jobs table (a few times a second, not every frame), and it is also where a run learns that
it must stop, since the library calls it after every frame: it raises :class:`Cancelled` when
the job was deleted, :class:`Interrupted` when the server is shutting down (the film's
finished segments are kept, and the restarted server resumes them).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from vidcolor.errors import VidcolorError
from vidcolor.provenance import provenance_text
from vidcolor.models.protocol import ColorModel
from vidcolor.options import ImageOptions, VideoOptions
from vidcolor.serve.db import JobStore
from vidcolor.serve.forms import client_message

__all__ = ["Cancelled", "Interrupted", "JobControl", "StoreProgress", "colorize_picture",
           "colorize_film", "export_film_keyframes", "public_message"]

# Seconds between two progress writes to the jobs table.
_PROGRESS_INTERVAL = 0.5


class Cancelled(Exception):
    """The job was deleted while it ran: stop, and leave nothing behind."""


class Interrupted(Exception):
    """The server is stopping: stop, and keep what a restart continues from."""


class JobControl:
    """How a running job is told to stop: deleted (:meth:`cancel`) or the server stopping
    (``stopping``, shared by every job)."""

    def __init__(self, stopping: threading.Event):
        self.cancelled = threading.Event()
        self.stopping = stopping

    def cancel(self) -> None:
        self.cancelled.set()

    def check(self) -> None:
        """Raise :class:`Cancelled` or :class:`Interrupted` when the job must stop."""
        if self.cancelled.is_set():
            raise Cancelled
        if self.stopping.is_set():
            raise Interrupted


class StoreProgress:
    """A :class:`~vidcolor.progress.Progress` that records a job's progress in the store.

    The rate is this run's own (frames a resumed film took over do not count), so the ETA is
    honest right after a restart.

    Parameters
    ----------
    store : JobStore
    job_id : str
    control : JobControl
        Checked on every call.
    """

    def __init__(self, store: JobStore, job_id: str, control: JobControl):
        self.store, self.job_id, self.control = store, job_id, control
        self.first: tuple[float, int] | None = None  # (time, done) of the first report
        self.last_write = 0.0
        self.done = 0

    def __call__(self, done: int, total: int | None) -> None:
        self.control.check()
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        self.done = done
        finished = total is not None and done >= total
        if now - self.last_write < _PROGRESS_INTERVAL and not finished:
            return
        self.last_write = now
        seconds = now - self.first[0]
        fps = (done - self.first[1]) / seconds if seconds > 0.2 else None
        self.store.update(self.job_id, done=done, total=total, fps=fps)


def public_message(error: Exception, paths: list[Path], name: str,
                   folder: Path | None = None) -> str:
    """The library's one-line message for a client: the server's own paths (the job's input
    and result files) replaced by the upload's name, the job's other files (keyframes,
    references) by their names in its ``folder``, an option named by its form field."""
    text = client_message(error).strip()
    text = text.splitlines()[0] if text else type(error).__name__
    for path in sorted((str(p) for p in paths), key=len, reverse=True):
        text = text.replace(path, name)
    if folder is not None:
        text = text.replace(f"{folder}/", "")
    return text


def export_film_keyframes(src: Path, folder: Path, progress: StoreProgress) -> int:
    """Write the frames to colour of a film into ``folder`` (replacing what a stopped run
    left), as ``vidcolor video --export-keyframes`` does; the frames looked at."""
    from vidcolor.video.shots import ExportRequest, export_keyframes

    report = export_keyframes(ExportRequest(src, folder, overwrite=True), progress)
    return report.frames


def colorize_picture(model: ColorModel, src: Path, dst: Path, options: ImageOptions,
                     progress: StoreProgress | None = None, hints=None) -> Path:
    """Colorize one picture file into ``dst`` (its format from ``dst``'s ending), with the
    provenance mark; ``progress`` hears the tiles of a large one; ``hints`` are its
    :class:`vidcolor.photos.HintFiles`, if any.

    Raises
    ------
    VidcolorError
        Unreadable picture, or a format that cannot hold it (JPEG with transparency).
    Cancelled, Interrupted
        From ``progress``.
    """
    from vidcolor.colorize import ImageColorizer
    from vidcolor.photos import colorize_file

    colorizer = ImageColorizer(model, options, progress)
    try:
        colorize_file(src, dst, colorizer, provenance_text(model.name), overwrite=True,
                      hints=hints)
    except MemoryError:
        raise VidcolorError("the picture is too large for the memory available") from None
    return dst


def colorize_film(model: ColorModel, src: Path, dst: Path, options: VideoOptions,
                  progress: StoreProgress, resume: bool) -> tuple[int, int]:
    """Colorize a film into ``dst``; continue an interrupted run's segments with ``resume``.

    Returns
    -------
    (frames, resumed) : tuple of int
        Frames in the result, and of those the frames an interrupted run had finished.
    """
    from vidcolor.video.pipeline import colorize_video

    result = colorize_video(src, dst, model, options, overwrite=True, resume=resume,
                            progress=progress)
    return result.frames, result.resumed_frames
