"""Where a film's coloured frames go: the :class:`FrameSink` contract and the work folder's.

A sink takes finished frames in display order, each with its pts and, now and then, the state
of the temporal steps after it (what a resumed job continues from). Today's sink encodes them
into segment files of a job's work folder (:class:`SegmentSink`), which the film job remuxes
with the input's other streams once every frame is in (:mod:`vidcolor.video.job`); an image
sequence's frames are written by :class:`vidcolor.video.sequence_sink.SequenceSink`, and the
stages do not change.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from vidcolor.log import logger
from vidcolor.progress import Progress
from vidcolor.video.encode import EncoderSettings, SegmentWriter
from vidcolor.video.probe import VideoInfo
from vidcolor.video.workdir import WorkFolder

__all__ = ["FrameSink", "SegmentSink", "keep_for_resume"]


class FrameSink(Protocol):
    """Takes a film's finished frames, in display order.

    Attributes
    ----------
    dtype : numpy dtype
        Of the RGB frames it takes (uint16 for a film of more than 8 bits).
    state_every : int
        Hand the temporal steps' state with every this many frames (with the last frame of
        each of the sink's units, e.g. a segment).
    frames_before : int
        Frames already done before this run (a resumed job's).
    """

    dtype: type
    state_every: int
    frames_before: int

    def write(self, pts: int, rgb: np.ndarray, state: dict | None) -> None:
        """One frame (H, W, 3) of :attr:`dtype`, and the state after it where one is due."""

    def close(self) -> None:
        """Every frame is written: finish what is pending."""

    def abort(self) -> None:
        """Stopped: drop what is unfinished."""

    def keep_finished(self) -> None:
        """After a failed or interrupted run: keep what is finished for a later run."""


class SegmentSink:
    """Writes finished frames into segment files of ``segment_frames`` frames each, and
    records every completed segment (with the temporal state it ends on) in the work folder.

    Parameters
    ----------
    work : WorkFolder
    info : VideoInfo
        The input film's stream (rate, time base, bit depth).
    settings : EncoderSettings
    segment_frames : int
    progress : Progress, optional
        Told ``(frames done, expected total or None)`` after every frame.
    total : int, optional
        The frames expected in all.
    """

    def __init__(self, work: WorkFolder, info: VideoInfo, settings: EncoderSettings,
                 segment_frames: int, progress: Progress | None = None,
                 total: int | None = None):
        self.work, self.info, self.settings = work, info, settings
        self.state_every = segment_frames
        self.progress, self.total = progress, total
        self.dtype = np.uint16 if info.high_bit_depth else np.uint8
        self.frames_before = work.frames
        self.writer: SegmentWriter | None = None
        self.state: dict | None = None

    def write(self, pts: int, rgb: np.ndarray, state: dict | None) -> None:
        if self.writer is None:
            self.writer = SegmentWriter(self.work.next_segment(), self.info, self.settings)
        self.writer.write(pts, rgb)
        self.state = state
        if self.progress is not None:
            self.progress(self.work.frames + self.writer.frames, self.total)
        if self.writer.frames >= self.state_every:
            self.close()

    def close(self) -> None:
        """Finish the current segment, if any."""
        if self.writer is None:
            return
        w, self.writer = self.writer, None
        w.close()
        self.work.add_segment(w.path.name, w.frames, w.first_pts, w.last_pts, self.state)

    def abort(self) -> None:
        """Delete an unfinished segment (an interruption or an error)."""
        if self.writer is not None:
            self.writer.abort()
            self.writer = None

    def keep_finished(self) -> None:
        keep_for_resume(self.work)


def keep_for_resume(work: WorkFolder) -> None:
    """After a failed or interrupted run: keep the finished segments for ``--resume``, or
    remove the work folder when there are none (nothing worth resuming)."""
    if work.segments:
        logger.info(f"stopped: {work.frames} frames done are kept in {work.path}; "
                    "rerun the same command with --resume to continue")
    else:
        work.remove()
