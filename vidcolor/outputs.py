"""The one check every output path passes before any work: it never is, or aliases, an input.

Pictures and films are written to a hidden temporary name next to the output and renamed into
place only when complete (``.NAME.XXXXXXXX.part`` for pictures, ``.NAME.vidcolor-work/`` and
``.STEM.partial.EXT`` for films), so an output path is usable only if those names fit the
folder's file system too, and it is refused outright when it is one of the inputs: through the
same path, a symbolic link or a hard link, whatever ``--overwrite`` says. A path that cannot
be followed (a symbolic link loop) is refused in one line, as an input and as an output.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Iterable

from vidcolor.errors import VidcolorError

__all__ = ["InputSet", "check_input", "check_output", "plan_folder"]

#: Bytes the longest hidden name made next to an output adds to the output's own name.
_HIDDEN_NAME_EXTRA = 15


def _resolved(path: Path) -> Path:
    """``path.resolve()``, or the absolute path as it is where a symbolic link loop stops the
    resolution (Python before 3.13 raises RuntimeError there, not OSError): such a path is
    refused in one line where it is opened or checked, not here."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def check_input(path: Path) -> None:
    """Refuse an input path with nothing behind it, in one line that says why.

    Raises
    ------
    VidcolorError
        Nothing there, or a path this process cannot follow: a symbolic link loop, a folder
        on the way it may not search.
    """
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise VidcolorError(f"{path}: no such file or folder") from None
    except OSError as e:  # ELOOP, EACCES, ENAMETOOLONG: Path.exists() would say "missing"
        raise VidcolorError(f"{path}: cannot be read ({e.strerror})") from None


def _is_dir(path: Path) -> bool:
    """Whether ``path`` is a folder (False when nothing is there, a dangling link included);
    unlike ``Path.is_dir``, a symbolic link loop raises (ELOOP): nothing is written there."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


class InputSet:
    """The files a job reads, by identity (device and inode) as well as by path, so an output
    that reaches one of them through another name is recognised."""

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self.paths: set[Path] = set()
        self.ids: set[tuple[int, int]] = set()
        for p in paths:
            self.add(Path(p))

    def add(self, path: Path) -> None:
        self.paths.add(_resolved(path))
        try:
            st = path.stat()
        except OSError:
            return
        self.ids.add((st.st_dev, st.st_ino))

    def __contains__(self, path: Path) -> bool:
        if _resolved(path) in self.paths:
            return True
        try:
            st = path.stat()
        except OSError:
            return False
        return (st.st_dev, st.st_ino) in self.ids


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output(output: str | os.PathLike, inputs: InputSet | None = None) -> Path:
    """Refuse an output path no job could write safely; before anything is created.

    Parameters
    ----------
    output : path
        A file to be written (a picture or a film).
    inputs : InputSet, optional
        What the job reads; the output may not be any of them.

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    VidcolorError
        The output is an input, a folder, in a folder that does not exist, or has a name too
        long for its file system once the temporary names are made from it.
    """
    output = Path(output)
    if inputs is not None and output in inputs:
        raise VidcolorError(f"{output}: the output would overwrite the input")
    # stat can fail with EACCES or ENAMETOOLONG where the path cannot even be looked at, and
    # with ELOOP where it is (or goes through) a symbolic link loop
    try:
        folder_exists = output.parent.is_dir()
        limit = _name_max(output.parent if folder_exists else Path("."))
        if len(os.fsencode(output.name)) + _HIDDEN_NAME_EXTRA > limit:
            raise VidcolorError(f"{output.name[:40]}...: output name too long for this file "
                                f"system (at most {limit - _HIDDEN_NAME_EXTRA} bytes)")
        is_dir = _is_dir(output)
    except OSError as e:
        raise VidcolorError(f"{output}: unusable output path ({e.strerror})") from None
    if is_dir:
        raise VidcolorError(f"{output}: is a folder")
    return output


def plan_folder(inputs: list[Path], output: Path, find: Callable[[Path, Path | None], list],
                suffix_of: Callable[[str], str], kind: str) -> list[tuple[Path, Path]]:
    """Pair inputs with outputs in the folder ``output``, as ``vidcolor image`` and
    ``vidcolor video`` do with several inputs or a folder.

    A single input folder is mirrored into ``output`` with the same relative names; with
    several inputs, files keep their names and folders keep their own name as a subfolder.

    Parameters
    ----------
    inputs : list of Path
        Files and folders, known to exist.
    output : Path
        The output folder.
    find : callable
        ``find(folder, exclude)``: the input files under a folder, sorted, skipping
        everything inside ``exclude`` (an output folder within the input) when it is given.
    suffix_of : callable
        The output's file name ending for an input's ending.
    kind : str
        What the files are, plural ("pictures"), for the error messages.

    Returns
    -------
    list of (input path, output path)

    Raises
    ------
    VidcolorError
        A folder without such files, or two inputs that would be written to the same output.
    """
    jobs = []
    for path in inputs:
        if path.is_file():
            jobs.append((path, Path(path.name)))
            continue
        # An output folder inside this one holds earlier outputs, not inputs; one that is this
        # folder (or holds it) excludes nothing, and check_output refuses what would clash.
        inside = _resolved(path) in _resolved(output).parents
        found = find(path, output if inside else None)
        if not found:
            raise VidcolorError(f"{path}: no {kind} in this folder")
        prefix = Path() if len(inputs) == 1 else Path(_resolved(path).name)
        jobs += [(f, prefix / f.relative_to(path)) for f in found]

    planned, seen = [], {}
    for src, rel in jobs:
        dst = output / rel.with_suffix(suffix_of(rel.suffix))
        if dst in seen:
            raise VidcolorError(f"{seen[dst]} and {src} would both be written to {dst}")
        seen[dst] = src
        planned.append((src, dst))
    return planned


def find_files(folder: str | Path, suffixes, exclude: str | Path | None = None) -> list[Path]:
    """Files under a folder whose names end in one of ``suffixes`` (lower case, with the dot),
    recursively, sorted.

    Hidden files and everything in hidden folders are skipped: vidcolor's own temporary files
    and work folders among them, and what file managers leave beside pictures and films.

    Parameters
    ----------
    folder : str or Path
    suffixes : collection of str
    exclude : str or Path, optional
        Skip everything inside this folder (an output folder within the input).

    Returns
    -------
    list of Path
        Each ``folder / relative path``; files are not opened.

    Raises
    ------
    VidcolorError
        A folder below that cannot be read.
    """
    folder = Path(folder)
    exclude = None if exclude is None else _resolved(Path(exclude))
    found = []

    def unreadable(e: OSError):  # os.walk would skip such a folder without a word
        raise VidcolorError(f"{e.filename}: cannot read this folder ({e.strerror})")

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # hidden: never looked into
        for name in files:
            path = Path(root) / name
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            if exclude is not None and exclude in _resolved(path).parents:
                continue
            if path.is_file():
                found.append(path)
    return sorted(found)
