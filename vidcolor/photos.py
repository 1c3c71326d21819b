"""The ``vidcolor image`` job: picture files and folders in, colorized and marked files out.

:func:`plan_outputs` pairs every input picture with its output path (and refuses a plan that
could not be carried out, before any work); :func:`colorize_files` colorizes them one by one
with an :class:`~vidcolor.colorize.ImageColorizer`, and reports what it wrote and what failed
(:class:`ImageReport`). A picture that fails is logged and the others are still done; what
that means for an exit status is the caller's business (the CLI's), as are progress bars.
Reading is :mod:`vidcolor.imageio`'s, writing :mod:`vidcolor.picture_write`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vidcolor import hints as hints_module
from vidcolor.atomic import exists_error
from vidcolor.colorize import ImageColorizer
from vidcolor.errors import VidcolorError
from vidcolor.imageio import read_image
from vidcolor.log import logger
from vidcolor.outputs import InputSet, check_input, check_output, plan_folder
from vidcolor.picture_files import find_pictures
from vidcolor.picture_write import output_suffix, writable_suffix, write_image
from vidcolor.progress import Progress, no_progress
from vidcolor.provenance import provenance_text

__all__ = ["ImageReport", "HintFiles", "plan_outputs", "colorize_file", "colorize_files"]


@dataclass
class ImageReport:
    """What a :func:`colorize_files` run did.

    Attributes
    ----------
    outputs : list of Path
        The files written, in the order they were done.
    failures : list of (Path, str)
        Each picture that was not written: its input path and a one-line message (which names
        the file).
    """

    outputs: list[Path] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many pictures were tried: written or failed."""
        return len(self.outputs) + len(self.failures)


@dataclass(frozen=True)
class HintFiles:
    """Where the pictures' hints are (:mod:`vidcolor.hints`): one file, or a folder holding
    ``<stem>.json`` (``<stem>.png`` for hint images) for each picture that has hints.

    Attributes
    ----------
    path : Path
    image : bool
        RGBA hint images of each picture's size instead of JSON points.
    """

    path: Path
    image: bool = False

    def _file(self, src: Path) -> Path | None:
        """The hint file of picture ``src``, None when a folder holds none for it."""
        if not self.path.is_dir():
            return self.path
        found = self.path / f"{src.stem}{'.png' if self.image else '.json'}"
        return found if found.is_file() else None

    def check(self, jobs: list[tuple[Path, Path]], folder_mode: bool) -> None:
        """Refuse missing hint files and bad JSON before any picture is read.

        Raises
        ------
        VidcolorError
            One line naming the file and the problem.
        """
        if not self.path.exists():
            raise VidcolorError(f"{self.path}: no such hints file or folder")
        if folder_mode and not self.path.is_dir():
            raise VidcolorError(f"{self.path}: with several pictures, hints must be a folder "
                                f"of <name>{'.png' if self.image else '.json'} files")
        for src, _ in jobs:
            file = self._file(src)
            if file is not None and not self.image:
                hints_module.read_json(file, None)

    def for_picture(self, src: Path, shape: tuple[int, int]) -> "hints_module.Hints | None":
        """The hints of picture ``src`` (its size as displayed), None when it has none."""
        file = self._file(src)
        if file is None:
            return None
        if self.image:
            return hints_module.read_hint_image(file, shape)
        return hints_module.read_json(file, shape)


def plan_outputs(inputs, output) -> tuple[list[tuple[Path, Path]], bool]:
    """Pair every input picture with its output path.

    One input file gives the file ``output`` (unless ``output`` is an existing folder). Anything
    else makes ``output`` a folder: a single input folder is mirrored into it with the same
    relative names; with several inputs, files keep their names and folders keep their own name
    as a subfolder. BMP inputs give PNG outputs (BMP cannot hold the provenance mark). Every
    output passes :func:`vidcolor.outputs.check_output` against all the inputs, so no input is
    ever written, whatever ``--overwrite`` says: not through the same name, a symbolic or hard
    link, nor an output folder that is an input folder.

    Parameters
    ----------
    inputs : sequence of str or Path
        Files and folders.
    output : str or Path

    Returns
    -------
    jobs : list of (input path, output path)
    folder_mode : bool
        True when the output is a folder.

    Raises
    ------
    VidcolorError
        Missing inputs or ones that are neither files nor folders, folders without pictures, an
        output format that cannot be written, two inputs that would be written to the same
        output, or an output that is an input or could not be written (see ``check_output``).
    """
    inputs = [Path(p) for p in inputs]
    names_folder = str(output).endswith(("/", "\\"))  # "out/" means a folder; Path drops the /
    output = Path(output)
    for path in inputs:
        check_input(path)
        if not (path.is_file() or path.is_dir()):  # a FIFO would block its reader
            raise VidcolorError(f"{path}: not a picture file or folder")
    if len(inputs) == 1 and inputs[0].is_file() and not output.is_dir() and not names_folder:
        if not writable_suffix(output.suffix):
            what = output.suffix or "a file without an ending"
            raise VidcolorError(f"{output}: cannot write {what}; use .png, .tif, .jpg or .webp")
        planned, folder_mode = [(inputs[0], output)], False
    else:
        planned, folder_mode = _plan_folder(inputs, output), True
    reads = InputSet(src for src, _ in planned)
    for _, dst in planned:
        check_output(dst, reads)
    return planned, folder_mode


def _plan_folder(inputs: list[Path], output: Path) -> list[tuple[Path, Path]]:
    """The jobs of folder mode (see :func:`plan_outputs`), clashes refused."""
    return plan_folder(inputs, output, find_pictures, output_suffix, "pictures")


def colorize_file(src: Path, dst: Path, colorizer: ImageColorizer, mark: str,
                  overwrite: bool, hints: HintFiles | None = None) -> None:
    """Colorize one picture file into another, keeping size, depth, alpha and lightness.

    The colours are written over the decoded samples where the decoder allows (one
    full-resolution picture in memory, not two); the output file appears only once it is
    complete (see :func:`vidcolor.picture_write.write_image`), so an interruption leaves nothing
    half-written.

    Parameters
    ----------
    src, dst : Path
    colorizer : ImageColorizer
    mark : str
        The provenance text (:func:`vidcolor.provenance.provenance_text`).
    overwrite : bool
        Replace an existing ``dst``; without it that is an error, raised before any work.
    hints : HintFiles, optional
        Where this picture's hints are, if it has any.

    Raises
    ------
    VidcolorError
        Unreadable input, invalid hints, existing output without ``overwrite``, or an output
        that cannot be written; the message names the file.
    """
    if dst.exists() and not overwrite:  # before the work, not after
        raise exists_error(dst)
    picture = read_image(src)
    picture_hints = hints.for_picture(src, picture.rgb.shape[:2]) if hints else None
    # Decoders hand out read-only arrays at times (Pillow's buffers); then a new one it is.
    out = picture.rgb if picture.rgb.flags.writeable else None
    if picture_hints is None:  # the automatic path, called as it always was
        rgb = colorizer.colorize(picture.rgb, out=out)
    else:
        rgb = colorizer.colorize(picture.rgb, out=out, hints=picture_hints)
    try:
        write_image(dst, rgb, picture.alpha, mark=mark, overwrite=overwrite)
    except OSError as e:
        raise VidcolorError(f"{dst}: cannot write ({e.strerror or e})") from None


def colorize_files(inputs, output, colorizer: ImageColorizer, *, overwrite: bool = False,
                   progress: Progress | None = None, hints: HintFiles | None = None) -> ImageReport:
    """Colorize picture files and folders: the work of ``vidcolor image``.

    Each output has its input's size, bit depth (8 or 16; JPEG and WebP outputs are 8-bit),
    alpha channel and lightness; only a/b are predicted. A provenance mark naming the model
    goes into every output. A picture that cannot be read or written, or that is too large for
    the memory available, is logged (``logger.error``, one line naming the file) and the others
    are still done.

    Parameters
    ----------
    inputs : sequence of str or Path
        Picture files and folders (see :func:`plan_outputs` for where the outputs go).
    output : str or Path
        The output file, or folder.
    colorizer : ImageColorizer
        The model and options every picture is colorized with.
    overwrite : bool
        Replace existing outputs; by default they are left alone and reported as failures.
    progress : Progress, optional
        Told the pictures done (written or failed) so far, out of all of them.
    hints : HintFiles, optional
        The pictures' hints (a picture a folder holds none for gets automatic colours).

    Returns
    -------
    ImageReport

    Raises
    ------
    VidcolorError
        Problems that stop everything before any work: missing inputs, folders without
        pictures, outputs that cannot be planned (see :func:`plan_outputs`), missing hint files
        or bad JSON.
    """
    progress = progress or no_progress
    jobs, folder_mode = plan_outputs(inputs, output)
    if hints is not None:
        hints.check(jobs, folder_mode)
    mark = provenance_text(colorizer.model.name)
    report = ImageReport()
    progress(0, len(jobs))
    for done, (src, dst) in enumerate(jobs, 1):
        try:
            colorize_file(src, dst, colorizer, mark, overwrite, hints)
            report.outputs.append(dst)
        except VidcolorError as e:
            _fail(report, src, str(e))
        except MemoryError:  # one huge scan should not end a folder's run
            _fail(report, src, f"{src}: too large for the memory available")
        progress(done, len(jobs))
    return report


def _fail(report: ImageReport, src: Path, message: str) -> None:
    report.failures.append((src, message))
    logger.error(f"error: {message}")
