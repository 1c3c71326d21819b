"""Which files make an image sequence: a folder of numbered frames, a printf pattern
(``scan_%06d.dpx``) or the first file (``scan_000100.dpx``), found by name only.

A sequence is the frames of one name pattern (a prefix, a number, a suffix), ordered by
number; the first number is kept (it becomes the output's first number and the origin of
frame numbers), and a gap in the numbering is refused unless asked to go on. Nothing is
decoded here and nothing heavy imported: the command line asks :func:`is_sequence_path`
which inputs are sequences.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vidcolor.errors import OptionError, VidcolorError

__all__ = ["ImageSequence", "SEQUENCE_CODECS", "VIDEO_SUFFIXES", "find_sequence",
           "is_sequence_path",
           "sequence_pattern"]

#: Frame file suffix -> the FFmpeg image codec that reads and writes it.
SEQUENCE_CODECS = {".dpx": "dpx", ".tif": "tiff", ".tiff": "tiff", ".exr": "exr",
                   ".png": "png", ".jpg": "mjpeg", ".jpeg": "mjpeg"}
#: Suffixes of video files: a folder holding one is a folder of films, not a scan.
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mxf", ".mpg",
                   ".mpeg", ".wmv", ".flv"}
_PRINTF = re.compile(r"%(0?)(\d*)d")
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")
#: Missing numbers named in a gap's error.
_SHOWN = 8


@dataclass(frozen=True)
class ImageSequence:
    """The numbered frame files of one sequence.

    Attributes
    ----------
    folder : str
    prefix, suffix : str
        Around the number (``scan_`` and ``.dpx``).
    digits : int
        Zero padding of the numbers (0: none).
    numbers : tuple of int
        Of the frames found, ascending.
    codec : str
        The FFmpeg image codec of the suffix.
    """

    folder: str
    prefix: str
    suffix: str
    digits: int
    numbers: tuple[int, ...]
    codec: str

    @property
    def first(self) -> int:
        return self.numbers[0]

    @property
    def pattern(self) -> str:
        """The printf pattern of the frame files (``folder/scan_%06d.dpx``)."""
        width = f"0{self.digits}" if self.digits else ""
        return os.path.join(self.folder, f"{self.prefix}%{width}d{self.suffix}")

    def path(self, number: int) -> str:
        return self.pattern % number

    def missing(self) -> list[int]:
        """The numbers between the first and the last that have no file."""
        have = set(self.numbers)
        return [n for n in range(self.first, self.numbers[-1] + 1) if n not in have]


def sequence_pattern(path: str) -> tuple[str, str, int] | None:
    """``(prefix, suffix, digits)`` of a file name holding a printf number (``%06d``,
    ``%d``), None if it has none."""
    name = os.path.basename(path)
    m = _PRINTF.search(name)
    if not m or _PRINTF.search(name, m.end()):
        return None
    return name[:m.start()], name[m.end():], int(m.group(2) or 0) if m.group(1) else 0


def _codec(suffix: str, shown: str) -> str:
    codec = SEQUENCE_CODECS.get(suffix.lower())
    if codec is None:
        known = " ".join(sorted(SEQUENCE_CODECS))
        raise VidcolorError(f"{shown}: not a frame format vidcolor reads as a sequence (use "
                            f"one of {known})")
    return codec


def is_sequence_path(path: str) -> bool:
    """Whether an input names an image sequence: a printf pattern, a picture file, or a
    folder holding numbered pictures and no video files."""
    if sequence_pattern(path) is not None:
        return True
    p = Path(path)
    try:
        if p.is_file():
            return p.suffix.lower() in SEQUENCE_CODECS
        if p.is_dir():
            names = os.listdir(p)
            numbered = any((m := _NUMBERED.match(n)) and m.group(3).lower() in SEQUENCE_CODECS
                           for n in names)
            return numbered and not any(os.path.splitext(n)[1].lower() in VIDEO_SUFFIXES
                                        for n in names)
    except OSError:
        return False
    return False


def _listing(folder: str, shown: str) -> list[str]:
    try:
        return os.listdir(folder or ".")
    except FileNotFoundError:
        raise VidcolorError(f"{shown}: no such folder") from None
    except OSError as e:
        raise VidcolorError(f"{shown}: cannot be read ({e.strerror})") from None


def _numbers(names: list[str], prefix: str, suffix: str, digits: int) -> list[int]:
    """The frame numbers among file names of one pattern (padding as the pattern says)."""
    width = f"{{{digits},}}" if digits else "+"
    rx = re.compile(re.escape(prefix) + rf"(\d{width})" + re.escape(suffix) + "$")
    found = []
    for name in names:
        m = rx.match(name)
        if m and (digits or len(m.group(1)) == 1 or m.group(1)[0] != "0"):
            found.append(int(m.group(1)))
    return sorted(set(found))


def _from_folder(folder: str) -> tuple[str, str, int]:
    """The one pattern of a folder's numbered pictures."""
    groups: dict[tuple[str, str], set[int]] = {}
    for name in _listing(folder, folder):
        m = _NUMBERED.match(name)
        if m and m.group(3).lower() in SEQUENCE_CODECS:
            groups.setdefault((m.group(1), m.group(3)), set()).add(len(m.group(2)))
    if not groups:
        raise VidcolorError(f"{folder}: no numbered frames in this folder")
    if len(groups) > 1:
        names = ", ".join(f"{p}#{s}" for p, s in sorted(groups)[:3])
        raise VidcolorError(f"{folder}: frames of more than one sequence ({names}); name one "
                            "with a pattern such as scan_%06d.dpx")
    (prefix, suffix), widths = next(iter(groups.items()))
    return prefix, suffix, min(widths) if len(widths) == 1 else 0


def find_sequence(path: str, allow_gaps: bool = False) -> ImageSequence:
    """The sequence an input names: a folder, a printf pattern, or its first file.

    Raises
    ------
    VidcolorError
        A pattern that matches nothing, a folder with no or several sequences, a format that
        is not read as frames; an :class:`OptionError` of ``allow_gaps`` naming the missing
        numbers of a gap.
    """
    path = os.fspath(path)
    start = None
    if os.path.isdir(path):
        folder = path
        prefix, suffix, digits = _from_folder(folder)
    elif (parts := sequence_pattern(path)) is not None:
        folder = os.path.dirname(path)
        prefix, suffix, digits = parts
    else:
        folder, name = os.path.split(path)
        m = _NUMBERED.match(name)
        if not m:
            raise VidcolorError(f"{path}: not a numbered frame (such as scan_000100.dpx)")
        prefix, digits_text, suffix = m.groups()
        start, digits = int(digits_text), len(digits_text) if digits_text[0] == "0" else 0
        if not os.path.isfile(path):
            raise VidcolorError(f"{path}: no such file")
    codec = _codec(suffix, path)
    numbers = [n for n in _numbers(_listing(folder, folder or "."), prefix, suffix, digits)
               if start is None or n >= start]
    if not numbers:
        raise VidcolorError(f"{path}: no frames match this pattern")
    seq = ImageSequence(folder, prefix, suffix, digits, tuple(numbers), codec)
    missing = seq.missing()
    if missing and not allow_gaps:
        shown = ", ".join(str(n) for n in missing[:_SHOWN])
        more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
        raise OptionError("allow_gaps", "{pattern}: frame{s} {shown}{more} missing (use "
                          "{field} to go on; the timing keeps the gap)", pattern=seq.pattern,
                          s="s" if len(missing) > 1 else "", shown=shown, more=more)
    return seq
