"""``vidcolor video`` with several films: files and folders in, one colorized film each out.

:func:`plan_films` pairs every input film with its output path (folders mirrored as
``vidcolor image`` mirrors them, :func:`vidcolor.outputs.plan_folder`), refusing a plan that
could not be carried out before any work; :func:`colorize_films` runs one job per film through
a function the caller gives (single-process or on a cluster) and reports what was written and
what failed (:class:`FilmReport`): a film that fails is logged in one line and the others
still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vidcolor.errors import VidcolorError
from vidcolor.log import logger
from vidcolor.outputs import InputSet, check_input, check_output, find_files, plan_folder
from vidcolor.video.encode import CONTAINERS, containers_for

__all__ = ["FilmReport", "VIDEO_SUFFIXES", "colorize_films", "find_videos", "plan_films"]

#: File name endings of the films a folder is searched for.
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg",
                            ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".ogv", ".3gp", ".mxf"})
#: The container a film is written in when its own cannot be written (Matroska keeps all).
FALLBACK_SUFFIX = ".mkv"


def find_videos(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Film files under a folder, by name (:data:`VIDEO_SUFFIXES`), recursively, sorted;
    hidden files and folders (vidcolor's own work folders among them) skipped."""
    return find_files(folder, VIDEO_SUFFIXES, exclude)


def film_suffix(suffix: str, codec: str | None = None) -> str:
    """The output ending for an input ending: itself where vidcolor writes that container
    (and it holds ``codec``, the encoder asked for), else :data:`FALLBACK_SUFFIX`, or the
    codec's usual container where Matroska cannot hold it (DNxHR: .mov)."""
    ending = suffix if suffix.lower() in CONTAINERS else FALLBACK_SUFFIX
    able = containers_for(codec) if codec else []
    if not able or ending.lower() in able:
        return ending
    return able[0]


def plan_films(inputs, output, codec: str | None = None) -> tuple[list[tuple[Path, Path]],
                                                                 bool]:
    """Pair every input film with its output path.

    One input file gives the file ``output`` (unless ``output`` is an existing folder or ends
    with a slash); anything else makes ``output`` a folder (see
    :func:`vidcolor.outputs.plan_folder`), each film in its own container where that holds
    ``codec`` (the ``--codec`` asked for), else in one that does (:func:`film_suffix`). No
    output may be an input.

    Returns
    -------
    jobs : list of (input path, output path)
    folder_mode : bool

    Raises
    ------
    VidcolorError
        Missing or unreadable inputs, folders without films, clashing or unusable outputs.
    """
    try:
        return _plan_films(inputs, output, codec)
    except OSError as e:  # a path this process may not look at, a name too long...
        raise VidcolorError(f"{e.filename}: cannot be read ({e.strerror})") from None


def _plan_films(inputs, output, codec: str | None) -> tuple[list[tuple[Path, Path]], bool]:
    inputs = [Path(p) for p in inputs]
    names_folder = str(output).endswith(("/", "\\"))
    output = Path(output)
    for path in inputs:
        check_input(path)
    if len(inputs) == 1 and inputs[0].is_file() and not output.is_dir() and not names_folder:
        return [(inputs[0], output)], False
    for path in inputs:
        if not (path.is_file() or path.is_dir()):
            raise VidcolorError(f"{path}: not a video file or folder")
    if output.exists() and not output.is_dir():
        raise VidcolorError(f"{output}: with several inputs, the output must be a folder")
    planned = plan_folder(inputs, output, find_videos,
                          lambda suffix: film_suffix(suffix, codec), "videos")
    reads = InputSet(src for src, _ in planned)
    for _, dst in planned:
        check_output(dst, reads)
    return planned, True


@dataclass
class FilmReport:
    """What a :func:`colorize_films` run did.

    Attributes
    ----------
    results : list
        Each finished job's result (a :class:`~vidcolor.video.pipeline.VideoResult`).
    failures : list of (Path, str)
        Each film not written: its input and a one-line message naming it.
    """

    results: list = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.results) + len(self.failures)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results)


def colorize_films(jobs: list[tuple[Path, Path]], colorize: Callable[[Path, Path], object],
                   done: Callable[[object], None] | None = None) -> FilmReport:
    """Run one job per film; a film that fails is logged and the others still run.

    Parameters
    ----------
    jobs : list of (input path, output path)
        From :func:`plan_films`; output folders are made as needed.
    colorize : callable
        ``colorize(input, output)`` runs one film's job and returns its result.
    done : callable, optional
        Told each finished job's result (a progress line).

    Returns
    -------
    FilmReport
    """
    report = FilmReport()
    for src, dst in jobs:
        try:
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise VidcolorError(f"{dst.parent}: cannot make the folder ({e.strerror})") \
                    from None
            result = colorize(src, dst)
        except VidcolorError as e:
            report.failures.append((src, str(e)))
            logger.error(f"error: {e}")
            continue
        report.results.append(result)
        if done is not None:
            done(result)
    return report
