"""Keyframes checked and placed before any work (:func:`place_keyframes`).

Each keyframe's picture must read and have the film's aspect ratio (:data:`ASPECT_TOLERANCE`;
another size is resized), and each colours the frame with the nearest timestamp (demuxed
only, nothing decoded), one keyframe per frame (:class:`PlacedKeyframe`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import av.error

from vidcolor.errors import VidcolorError
from vidcolor.imageio import read_image
from vidcolor.options import Keyframe, VideoOptions, Window
from vidcolor.video.probe import VideoInfo, open_input

__all__ = ["ASPECT_TOLERANCE", "PlacedKeyframe", "place_keyframes"]

#: Largest relative difference of a keyframe's aspect ratio from the film's (it is resized).
ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class PlacedKeyframe:
    """A keyframe and the frame it colours.

    Attributes
    ----------
    keyframe : Keyframe
    pts : int
        Of the frame with the nearest timestamp, in the stream's time base; the keyframe
        applies to the first decoded frame at or after it.
    """

    keyframe: Keyframe
    pts: int


def _check_picture(keyframe: Keyframe, info: VideoInfo) -> None:
    """Refuse a keyframe file that does not read, or whose shape is not the film's."""
    rgb = read_image(keyframe.path).rgb
    h, w = rgb.shape[:2]
    if (h, w) == (info.height, info.width):
        return
    ratio = (w / h) / (info.width / info.height)
    if abs(ratio - 1.0) > ASPECT_TOLERANCE:
        raise VidcolorError(f"{keyframe.path}: keyframe is {w}x{h}, the film {info.width}x"
                            f"{info.height} (another aspect ratio)")


def _window_pts(info: VideoInfo, window: Window, last_time: float) -> list[int]:
    """Sorted pts of the video packets in the window, up to a little past ``last_time``
    (seconds from the stream's start); demuxed only, nothing decoded. An image sequence's
    are its frame numbers less the first."""
    if info.sequence is not None:
        from vidcolor.video.sequence import SequenceSource

        lo, hi = SequenceSource(info, window).pts_range()
        seq = info.sequence
        return [n - seq.first for n in seq.numbers
                if n - seq.first >= lo and (hi is None or n - seq.first < hi)]
    tb = info.time_base
    t0, t1 = window.bounds(info.start_time)
    lo, hi = int(round(t0 / tb)), None if t1 is None else int(round(t1 / tb))
    stop = int(round((info.start_time + last_time + 1.0) / tb))
    found = []
    with open_input(info.path) as container:
        vs = container.streams[info.stream_index]
        try:
            if lo > int(round(info.start_time / tb)):
                container.seek(lo, stream=vs, backward=True)
            for packet in container.demux(vs):
                if packet.pts is None:
                    continue
                if lo <= packet.pts and (hi is None or packet.pts < hi):
                    found.append(packet.pts)
                if packet.dts is not None and packet.dts > stop:
                    break
        except av.error.FFmpegError:  # a damaged file: the frames found so far are the clip's
            pass
    return sorted(set(found))


def place_keyframes(info: VideoInfo, options: VideoOptions) -> list[PlacedKeyframe]:
    """Check every keyframe and find the frame it colours, before any work.

    Returns
    -------
    list of PlacedKeyframe
        In time order.

    Raises
    ------
    VidcolorError
        A file that does not read or has another aspect ratio, a time outside the window's
        frames, two keyframes on one frame.
    """
    if not options.keyframes:
        return []
    for k in options.keyframes:
        _check_picture(k, info)
    pts = _window_pts(info, options.window, options.keyframes[-1].time)
    tb, step = float(info.time_base), 1.0 / float(info.rate or 25)
    times = [p * tb - info.start_time for p in pts]
    placed: dict[int, Keyframe] = {}
    for k in options.keyframes:
        i = bisect.bisect_left(times, k.time)
        near = min((j for j in (i - 1, i) if 0 <= j < len(times)),
                   key=lambda j: abs(times[j] - k.time), default=None)
        if near is None or abs(times[near] - k.time) > step:
            raise VidcolorError(f"{k.path}: keyframe time {k.time:g} s is outside the clip's "
                                "frames" + (f" ({times[0]:.3f} s to {times[-1]:.3f} s)"
                                            if times else ""))
        if pts[near] in placed:
            raise VidcolorError(f"{k.path}: keyframe for the same frame as "
                                f"{placed[pts[near]].path} ({times[near]:.3f} s)")
        placed[pts[near]] = k
    return [PlacedKeyframe(k, p) for p, k in sorted(placed.items())]
