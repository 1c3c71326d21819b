"""Where a film's frames come from: the :class:`FrameSource` contract and a video file's.

A source yields the frames of a film in display order, each with its pts in the stream's time
base (:class:`~vidcolor.video.decode.DecodedFrame`), and describes the film they belong to
(:class:`~vidcolor.video.probe.VideoInfo`: size, rate, time base, bit depth). It can be read
more than once (the keyframes' backward pass reads ahead of the stages), and tells the frames
its decoder refused once a read is done. A video file is read through PyAV
(:class:`VideoFileSource`), an image sequence frame file by frame file
(:class:`vidcolor.video.sequence.SequenceSource`); :func:`open_source` picks the one of a
film, and the stages, the keyframes and the job do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

from vidcolor.options import Window
from vidcolor.video.decode import DecodedFrame, decode_frames
from vidcolor.video.probe import VideoInfo

__all__ = ["FrameSource", "FrameSpan", "VideoFileSource", "open_source"]


@dataclass(frozen=True)
class FrameSpan:
    """The frames one run of the stages covers, when it is not the rest of the film (a chunk
    of a distributed job).

    Attributes
    ----------
    from_pts : int
        Decoding starts at the first frame at or after this pts.
    first_pts : int
        Frames before it are warm-up: they seed the stabilizer and are not written.
    end_pts : int or None
        Decoding stops before this pts; None runs to the window's end.
    """

    from_pts: int
    first_pts: int
    end_pts: int | None = None


class FrameSource(Protocol):
    """A film's frames in display order.

    Attributes
    ----------
    info : VideoInfo
        The film the frames belong to.
    warmup_before : int or None
        Frames before this pts only seed the temporal steps and are not written.
    lost : list of float
        After a read: seconds (from the stream's start) of the frames the decoder refused.
    """

    info: VideoInfo
    warmup_before: int | None
    lost: list[float]

    def frames(self) -> Iterator[DecodedFrame]:
        """Read the frames afresh, from the source's first one."""


@dataclass
class VideoFileSource:
    """The frames of a window of a video file (or of its bytes in memory), through PyAV.

    Parameters
    ----------
    info : VideoInfo
    window : Window
    from_pts, to_pts : int, optional
        Only frames from ``from_pts`` and before ``to_pts`` (a resumed job, a chunk).
    warmup_before : int, optional
        See :class:`FrameSource`.
    open : callable, optional
        Returns a new binary file object over the input's bytes, read instead of
        ``info.path`` (a cluster worker's input is in memory).
    """

    info: VideoInfo
    window: Window = Window()
    from_pts: int | None = None
    to_pts: int | None = None
    warmup_before: int | None = None
    open: Callable | None = None
    lost: list[float] = field(default_factory=list)

    @classmethod
    def span(cls, info: VideoInfo, window: Window, span: FrameSpan | None,
             open: Callable | None = None, from_pts: int | None = None) -> "VideoFileSource":
        """The frames of a chunk's ``span``, or of the rest of the window from ``from_pts``."""
        if span is None:
            return cls(info, window, from_pts=from_pts, open=open)
        return cls(info, window, from_pts=span.from_pts, to_pts=span.end_pts,
                   warmup_before=span.first_pts, open=open)

    def frames(self) -> Iterator[DecodedFrame]:
        self.lost = []
        return decode_frames(self.info, self.window, from_pts=self.from_pts, lost=self.lost,
                             source=None if self.open is None else self.open(),
                             to_pts=self.to_pts)


def open_source(info: VideoInfo, window: Window = Window(), span: FrameSpan | None = None,
                open: Callable | None = None, from_pts: int | None = None) -> FrameSource:
    """The source of a film's frames: an image sequence's files or a video file's stream
    (a chunk's ``span``, or the rest of the window from ``from_pts``)."""
    if info.sequence is not None:
        from vidcolor.video.sequence import SequenceSource

        if span is None:
            return SequenceSource(info, window, from_pts=from_pts)
        return SequenceSource(info, window, from_pts=span.from_pts, to_pts=span.end_pts,
                              warmup_before=span.first_pts)
    return VideoFileSource.span(info, window, span, open, from_pts)
