"""Interlaced video: whether a film is interlaced, which field comes first, and its frames
split into fields and woven back.

An interlaced frame holds two fields, the even rows (the top field) and the odd rows (the
bottom field), taken a field period apart: 50 fields a second in a 25-frame PAL transfer. The
*field order* says which is first in time: ``"tt"`` (top field first) or ``"bb"`` (bottom
field first); ``"progressive"`` is a film of whole frames.

:func:`detect_field_order` reads it from the stream where the stream says it (the container's
or the codec's field order, the frames' interlaced flag) and from the pictures where it does
not: a combing measure after FFmpeg's ``idet`` filter (:func:`frame_vote`), which weaves each
frame's fields with the fields of the frame before and sees which pairing combs least.
:func:`split_fields` and :func:`weave` are the two directions between a frame and its fields,
in temporal order.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import numpy as np

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.log import logger
from vidcolor.video.probe import VideoInfo, decode_packets, ffmpeg_message, open_input

__all__ = ["FIELD_ORDERS", "FieldOrder", "check_field_rate", "comb", "detect_field_order",
           "frame_step", "frame_vote", "split_fields", "votes_order", "weave",
           "with_field_order"]

#: The field orders vidcolor tells apart (FFmpeg's names for the display order).
FIELD_ORDERS = ("progressive", "tt", "bb")
#: FFmpeg's AVFieldOrder -> ours: TT and BT show the top field first, BB and TB the bottom.
_OF_AVFIELD = {1: "progressive", 2: "tt", 3: "bb", 4: "bb", 5: "tt"}
#: Ours -> AVFieldOrder (the encoder's and container's tag).
AVFIELD = {"progressive": 1, "tt": 2, "bb": 3}
#: Frames decoded to look for combing when the stream does not say it is interlaced.
DETECT_FRAMES = 30
#: Frames that must show interlacing, and more of them than show progressive frames.
_MIN_VOTES = 3
#: Width the detection scales frames to (their rows kept).
_DETECT_WIDTH = 480


@dataclass(frozen=True)
class FieldOrder:
    """A film's field order and where it was found.

    Attributes
    ----------
    order : str
        One of :data:`FIELD_ORDERS`.
    how : str
        ``"stream"`` (the stream's tags or flags), ``"frames"`` (the combing measure),
        ``"asked"`` (``--interlaced``) or ``"none"`` (nothing says interlaced).
    """

    order: str
    how: str

    @property
    def interlaced(self) -> bool:
        return self.order != "progressive"


def split_fields(rgb: np.ndarray, order: str) -> tuple[np.ndarray, np.ndarray]:
    """A frame's two fields, the first in time first.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, ...) or (H, W)
    order : {"tt", "bb"}

    Returns
    -------
    (first, second) : views of shape (ceil(H/2) or floor(H/2), W, ...)
        The top field is rows 0, 2, 4...; the bottom field rows 1, 3, 5...
    """
    top, bottom = rgb[0::2], rgb[1::2]
    return (top, bottom) if order == "tt" else (bottom, top)


def weave(first: np.ndarray, second: np.ndarray, order: str) -> np.ndarray:
    """The frame of two fields (the inverse of :func:`split_fields`).

    Parameters
    ----------
    first, second : ndarray, shapes (h1, W, ...) and (h2, W, ...)
        The fields in time order; the top field has as many rows as the bottom one, or one
        more (an odd frame height).
    order : {"tt", "bb"}

    Returns
    -------
    ndarray, shape (h1 + h2, W, ...)
    """
    top, bottom = (first, second) if order == "tt" else (second, first)
    frame = np.empty((top.shape[0] + bottom.shape[0],) + top.shape[1:], top.dtype)
    frame[0::2], frame[1::2] = top, bottom
    return frame


def comb(picture: np.ndarray) -> float:
    """How much a picture's rows alternate: the mean of |row above + row below - 2 row|.

    Parameters
    ----------
    picture : ndarray of float32, shape (H, W), H >= 3
        Lightness, any scale.

    Returns
    -------
    float
        Large where neighbouring rows come from two moments of a moving picture.
    """
    return float(np.abs(picture[:-2] + picture[2:] - 2.0 * picture[1:-1]).mean())


def frame_vote(prev: np.ndarray, cur: np.ndarray) -> str | None:
    """What one frame and the one before show: ``"progressive"``, ``"tt"``, ``"bb"`` or None
    (too still, or too alike either way, to tell).

    FFmpeg's ``idet`` logic: the frame's own weave is compared with its top field woven with
    the previous bottom field (a field period apart in a top-first film) and its bottom field
    woven with the previous top field (a field period apart in a bottom-first film). In a
    progressive film both crossings comb more than the frame itself (a frame period apart,
    against none); in an interlaced one the frame combs as much as the nearer crossing, and
    the farther one (three field periods) combs most.

    Parameters
    ----------
    prev, cur : ndarray of float32, shape (H, W)
        Lightness of two consecutive frames, in [0, 255].
    """
    if float(np.abs(cur - prev).mean()) < 0.5:
        return None
    own = comb(cur)
    tff = comb(weave(cur[0::2], prev[1::2], "tt"))
    bff = comb(weave(prev[0::2], cur[1::2], "tt"))
    near, far = min(tff, bff), max(tff, bff)
    if own * 1.3 < near:
        return "progressive"
    if own > 0.75 * near and far > 1.08 * near:
        return "tt" if tff < bff else "bb"
    # Where both crossings comb alike the motion between the frames does not show in them,
    # so the frame's own combing is its picture's (grass, fabric, fine stripes), not fields'.
    return None


def votes_order(votes: list[str | None]) -> str | None:
    """The field order most frames vote for (:func:`frame_vote`), or None if fewer than
    :data:`_MIN_VOTES` frames show combing, or no more than show progressive frames (as many
    top-first as bottom-first votes: top field first)."""
    counts = Counter(votes)
    combed = counts["tt"] + counts["bb"]
    if combed < _MIN_VOTES or combed <= counts["progressive"]:
        return None
    return "bb" if counts["bb"] > counts["tt"] else "tt"


def detect_field_order(path: str | os.PathLike, stream_index: int = 0,
                       frames: int = DETECT_FRAMES) -> FieldOrder:
    """A film's field order: the stream's tag, else its frames' flags and pictures.

    Parameters
    ----------
    path : path
    stream_index : int
        The video stream (``VideoInfo.stream_index``).
    frames : int
        Frames decoded from the start to look at.

    Returns
    -------
    FieldOrder
        From the stream's tag where it names an interlaced order; else from the pictures
        (also when the stream says progressive: captures are often tagged so); a film the
        stream flags interlaced but no picture orders is taken as top field first.
    """
    with open_input(path) as container:
        stream = container.streams[stream_index]
        tagged = _OF_AVFIELD.get(int(stream.codec_context.field_order or 0))
        if tagged in ("tt", "bb"):
            return FieldOrder(tagged, "stream")
        stream.thread_type = "AUTO"
        try:
            flagged, votes = _look(container, stream, frames)
        except av.error.FFmpegError as e:
            raise VidcolorError(f"{path}: video does not decode ({ffmpeg_message(e)})") from None
    seen = votes_order(votes)
    if seen is not None:
        if tagged == "progressive" and not flagged:
            logger.info(f"note: {os.fspath(path)} is tagged progressive but its frames are "
                        f"interlaced ({_ORDER_NAME[seen]}); --interlaced no to treat it as "
                        "progressive")
        return FieldOrder(seen, "frames")
    if flagged:
        return FieldOrder("tt", "stream")
    return FieldOrder("progressive", "none")


_ORDER_NAME = {"tt": "top field first", "bb": "bottom field first"}


def _look(container, stream, frames: int) -> tuple[bool, list[str | None]]:
    """Decode up to ``frames`` frames: whether most are flagged interlaced, and each one's
    :func:`frame_vote` against the frame before."""
    flags, votes, prev = [], [], None
    for frame in decode_packets(container, stream, lambda packet: None, lambda e: None):
        flags.append(frame.interlaced_frame)
        # Combing is along the rows: the columns can be fewer, every row is needed.
        narrow = frame.reformat(width=min(frame.width, _DETECT_WIDTH), height=frame.height,
                                format="gray")
        cur = narrow.to_ndarray().astype(np.float32)
        if prev is not None and prev.shape == cur.shape and cur.shape[0] >= 6:
            votes.append(frame_vote(prev, cur))
        prev = cur
        if len(flags) >= frames or _settled(votes):
            break
    return bool(flags) and sum(flags) * 2 > len(flags), votes


def _settled(votes: list[str | None]) -> bool:
    """Enough frames looked at: :data:`_SETTLED` progressive ones and not one combed."""
    return votes.count("progressive") >= _SETTLED and \
        not any(v in ("tt", "bb") for v in votes)


#: Progressive frames (and no combed one) after which the detection stops looking.
_SETTLED = 8


def with_field_order(info: VideoInfo, choice: str = "auto") -> VideoInfo:
    """The film's :class:`~vidcolor.video.probe.VideoInfo` with its field order resolved.

    Parameters
    ----------
    info : VideoInfo
    choice : {"auto", "tff", "bff", "no"}
        ``--interlaced``: detect, top or bottom field first, or progressive.

    Returns
    -------
    VideoInfo
        With ``field_order`` one of :data:`FIELD_ORDERS` (a note says an interlaced one).
    """
    if choice == "no":
        found = FieldOrder("progressive", "asked")
    elif choice in ("tff", "bff"):
        found = FieldOrder(choice[0] * 2, "asked")
    else:
        found = detect_field_order(info.path, info.stream_index)
    if found.interlaced and found.how != "asked":
        logger.info(f"note: interlaced video ({_ORDER_NAME[found.order]}, found from the "
                    f"{'stream' if found.how == 'stream' else 'frames'})")
    return dataclasses.replace(info, field_order=found.order)


def frame_step(info: VideoInfo) -> int:
    """A frame's duration in the stream's time base (at the nominal rate), at least 1."""
    if not info.rate:
        return 1
    return max(1, int(round(1 / (Fraction(info.rate) * info.time_base))))


def check_field_rate(info: VideoInfo) -> None:
    """Refuse ``--deinterlace field`` where the stream's time base cannot hold a time between
    two frames (a field's), before any work.

    Raises
    ------
    OptionError
    """
    if frame_step(info) < 2:
        raise OptionError("deinterlace", "{field} field: the input's time base ({tb}) has no "
                          "time between two frames; use --deinterlace frame, or remux the "
                          "input to .mkv or .mp4 first", tb=str(info.time_base))


# --- YUV by field: 4:2:0 chroma rows belong to one field each --------------------------------


def _rows(plane) -> np.ndarray:
    """A picture plane's bytes as rows, (plane height, line size) uint8, a copy."""
    return np.frombuffer(bytes(plane), np.uint8).reshape(plane.height, plane.line_size)


def _frame_of_rows(planes: list[np.ndarray], width: int, height: int, pix_fmt: str):
    """A new frame whose planes hold ``planes`` (rows of bytes, as :func:`_rows` gives): rows
    beyond a plane's height are left out, missing ones repeat the last (a field of an odd
    number of rows has one chroma row more than every other chroma row of its frame)."""
    frame = av.VideoFrame(width, height, pix_fmt)
    for plane, rows in zip(frame.planes, planes):
        target = np.zeros((plane.height, plane.line_size), np.uint8)
        n = min(plane.line_size, rows.shape[1])
        m = min(plane.height, rows.shape[0])
        target[:m, :n] = rows[:m, :n]
        target[m:, :n] = rows[m - 1, :n]
        plane.update(target.tobytes())
    return frame


def yuv_frame(rgb: np.ndarray, pix_fmt: str, matrix: str, color_range: str,
              reformatter=None):
    """A frame's RGB (uint8, or uint16 as rgb48le so a deep output gets every bit)
    converted to ``pix_fmt`` with ``matrix`` and ``color_range`` (PyAV's names; PyAV's own
    default would be BT.601).

    ``reformatter``: an ``av.video.reformatter.VideoReformatter`` kept for a film's frames;
    a frame's own ``reformat`` sets up a new FFmpeg scaler (and its threads) every call.
    """
    fmt = "rgb48le" if rgb.dtype == np.uint16 else "rgb24"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
    if reformatter is None:
        return frame.reformat(format=pix_fmt, dst_colorspace=matrix,
                              dst_color_range=color_range)
    return reformatter.reformat(frame, format=pix_fmt, dst_colorspace=matrix,
                                dst_color_range=color_range)


def yuv_by_field(rgb: np.ndarray, pix_fmt: str, matrix: str, color_range: str,
                 reformatter=None):
    """An interlaced frame's YUV, each field converted on its own and the planes woven, so
    that no chroma row mixes the two fields (a progressive conversion of a 4:2:0 frame
    averages each top-field row's colour with a bottom-field row's: colour combing where
    something moves).

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
    pix_fmt : str
        A planar YUV format (``yuv420p``, ``yuv420p10le``...).
    matrix, color_range : str
        PyAV's names (``"ITU601"``, ``"MPEG"``).
    reformatter : VideoReformatter, optional
        As for :func:`yuv_frame`.

    Returns
    -------
    av.VideoFrame
    """
    fields = [yuv_frame(rgb[k::2], pix_fmt, matrix, color_range, reformatter)
              for k in (0, 1)]
    planes = [weave(_rows(top), _rows(bottom), "tt")
              for top, bottom in zip(fields[0].planes, fields[1].planes)]
    return _frame_of_rows(planes, rgb.shape[1], rgb.shape[0], pix_fmt)


def rgb_by_field(frame, fmt: str = "rgb24", matrix: str = "ITU601") -> np.ndarray:
    """An interlaced YUV frame's RGB, each field converted on its own (the inverse of
    :func:`yuv_by_field`).

    Returns
    -------
    ndarray, shape (H, W, 3), uint8 (``rgb24``) or uint16 (``rgb48le``)
    """
    planes = [_rows(p) for p in frame.planes]
    pix_fmt = frame.format.name
    fields = [_frame_of_rows([p[k::2] for p in planes], frame.width,
                             (frame.height + 1 - k) // 2, pix_fmt)
              .to_ndarray(format=fmt, src_colorspace=matrix) for k in (0, 1)]
    return weave(fields[0], fields[1], "tt")


