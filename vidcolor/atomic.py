"""Atomic file writes: a file appears under its final name only once it is complete.

The bytes go to a hidden temporary file in the same folder (``.NAME.XXXXXXXX.part``, so the
rename never crosses file systems), which is then renamed into place; an interrupted run
never leaves a half-written file under the final name. Nothing here knows what the bytes
are, so pictures, sheets and any other output can use it without importing a decoder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from vidcolor.errors import OptionError

__all__ = ["exists_error", "write_bytes_atomic"]

# The process umask, read once at import (reading it means setting it, which is not
# thread-safe later): temporary files are created private, and given the usual mode on rename.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def exists_error(path: str | Path) -> OptionError:
    """The error of an output file that exists: ``overwrite`` is the option that replaces it."""
    return OptionError("overwrite", "{path}: exists (use {field} to replace it)", path=path)


def write_bytes_atomic(path: str | Path, data: bytes, overwrite: bool = False) -> None:
    """Write a file under its final name only once it is complete.

    The bytes go to a temporary file in the same folder (so the rename cannot cross file
    systems), which is then renamed into place.

    Parameters
    ----------
    path : str or Path
    data : bytes
    overwrite : bool
        Without it an existing file is never replaced, even one that appears while writing.

    Raises
    ------
    OptionError
        If ``path`` exists and ``overwrite`` is False (:func:`exists_error`).
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise exists_error(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; outputs get the usual mode
        if overwrite:
            os.replace(tmp, path)
        else:
            _rename_no_clobber(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _rename_no_clobber(tmp: str, path: Path) -> None:
    # A hard link fails atomically if the name is taken, unlike a rename.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise exists_error(path) from None
    except OSError:  # file systems without hard links: check, then rename
        if path.exists():
            raise exists_error(path) from None
        os.replace(tmp, path)
