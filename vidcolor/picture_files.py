"""Which files are pictures: by name, with no decoder needed.

:data:`IMAGE_SUFFIXES` are the file name endings ``vidcolor image`` and ``vidcolor eval``
read; :func:`find_pictures` walks a folder for them (the walk itself is
:func:`vidcolor.outputs.find_files`, shared with the films' folder walk).
"""

from __future__ import annotations

from pathlib import Path

from vidcolor.outputs import find_files

__all__ = ["IMAGE_SUFFIXES", "find_pictures"]

# File name endings vidcolor reads as images (lower case).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"})


def find_pictures(folder: str | Path, exclude: str | Path | None = None) -> list[Path]:
    """Picture files under a folder, by name (:data:`IMAGE_SUFFIXES`), recursively, sorted.

    Hidden files and everything in hidden folders are skipped: vidcolor's own temporary files
    (``.NAME.XXXX.part``) among them, and the thumbnails and resource forks that file managers
    and other systems leave beside pictures.

    Parameters
    ----------
    folder : str or Path
    exclude : str or Path, optional
        Skip everything inside this folder (an output folder within the input).

    Returns
    -------
    list of Path
        Each ``folder / relative path``; files are not opened, so some may not decode.
    """
    return find_files(folder, IMAGE_SUFFIXES, exclude)
