"""The work folder of a film job: finished segments and what a resumed job continues from.

Next to the output, hidden, the folder holds the segment files (video only), a small
``progress.json`` (the job's settings, the segments done, the next pts) and ``state.npz`` (the
stabilizer's state after the last finished segment), both replaced atomically after each
segment. A resumed job continues only if its settings, input and model are the same.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.log import logger

__all__ = ["WorkFolder", "file_identity", "work_paths"]

_PROGRESS_VERSION = 1


def work_paths(output: str | os.PathLike) -> tuple[Path, Path]:
    """The work folder and temporary output for an output path (both in its folder, hidden),
    so the final rename never crosses file systems."""
    output = Path(output)
    work = output.with_name(f".{output.name}.vidcolor-work")
    partial = output.with_name(f".{output.stem}.partial{output.suffix}")
    return work, partial


def file_identity(path: Path) -> dict:
    """Path, size and modification time: what tells a resumed job its input is the same."""
    st = path.stat()
    return {"path": os.fspath(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class WorkFolder:
    """progress.json + state.npz of a job, written atomically after each segment.

    Parameters
    ----------
    path : Path
        The folder (see :func:`work_paths`).
    job : dict
        JSON-able settings of the job; a resumed job must have equal ones.

    Attributes
    ----------
    segments : list of dict
        ``{"file", "frames", "first_pts", "last_pts"}`` per finished segment, in order.
    next_pts : int or None
        Where decoding continues.
    frames : int
        Frames in the finished segments.
    state : dict or None
        The stabilizer's state after the last finished segment.
    """

    def __init__(self, path: Path, job: dict):
        self.path = Path(path)
        self.job = job
        self.segments: list[dict] = []
        self.next_pts: int | None = None
        self.frames = 0
        self.state: dict | None = None

    @property
    def progress_file(self) -> Path:
        return self.path / "progress.json"

    def open(self, resume: bool) -> bool:
        """Continue an interrupted job's work (``resume``) or start afresh.

        Returns
        -------
        bool
            True when an earlier run's segments are continued.

        Raises
        ------
        VidcolorError
            The interrupted job had other settings, its segments are gone, or the folder
            cannot be made.
        """
        if resume:
            if self._load():
                logger.info(f"resuming after {self.frames} frames ({len(self.segments)} segments)")
                return True
            logger.info("note: no interrupted job to resume; starting from the beginning")
        elif self.path.exists():
            logger.info(f"note: discarding the work of an earlier interrupted run in {self.path} "
                        "(use --resume to continue it instead)")
        shutil.rmtree(self.path, ignore_errors=True)
        try:
            self.path.mkdir()
        except OSError as e:
            raise VidcolorError(f"{self.path.parent}: cannot write there ({e.strerror})") from None
        return False

    def _load(self) -> bool:
        """Load an earlier run's progress if it was for the same job; False if none."""
        try:
            with open(self.progress_file) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return False
        if data.get("version") != _PROGRESS_VERSION:
            return False
        if data.get("job") != self.job:
            raise OptionError(
                "resume", "{path}: the interrupted job there was started with other settings or "
                "another input; rerun with the same options, or without {field} to start over",
                path=self.path)
        segments = [s for s in data["segments"] if (self.path / s["file"]).is_file()]
        if len(segments) != len(data["segments"]):
            raise OptionError("resume", "{path}: segment files are missing; rerun without "
                              "{field}", path=self.path)
        self.segments = segments
        self.next_pts = data.get("next_pts")
        self.frames = int(data.get("frames", 0))
        state_path = self.path / "state.npz"
        if data.get("has_state") and state_path.is_file():
            with np.load(state_path) as z:
                self.state = {k: z[k] for k in z.files}
        return True

    def next_segment(self) -> Path:
        """The file the next segment is written to."""
        return self.path / f"seg{len(self.segments):05d}.vseg"

    def add_segment(self, name: str, frames: int, first_pts: int, last_pts: int,
                    state: dict | None) -> None:
        """Record a finished segment (and the stabilizer's state after it)."""
        self.segments.append({"file": name, "frames": frames, "first_pts": first_pts,
                              "last_pts": last_pts})
        self.frames += frames
        self.next_pts = last_pts + 1
        if state is not None:
            tmp = self.path / "state.tmp.npz"
            np.savez(tmp, **state)
            os.replace(tmp, self.path / "state.npz")
        data = {"version": _PROGRESS_VERSION, "job": self.job, "segments": self.segments,
                "next_pts": self.next_pts, "frames": self.frames,
                "has_state": state is not None}
        tmp = self.path / "progress.tmp.json"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, self.progress_file)

    def store_segment(self, name: str, data: bytes, frames: int, first_pts: int,
                      last_pts: int, state: dict | None = None) -> None:
        """Write a segment encoded elsewhere (a cluster worker's chunk, a sequence's listing),
        then record it (with the state after it, if any).

        The file is written under a temporary name and renamed, so a recorded segment is
        always complete; segments may arrive in any order (:meth:`segment_files` sorts them).
        """
        tmp = self.path / f"{name}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, self.path / name)
        self.add_segment(name, frames, first_pts, last_pts, state)

    def segment_files(self) -> list[tuple[Path, int]]:
        """Each finished segment's file and first pts, in display order (what the remux
        takes)."""
        ordered = sorted(self.segments, key=lambda s: s["first_pts"])
        return [(self.path / s["file"], s["first_pts"]) for s in ordered]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
