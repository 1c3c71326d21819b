"""An interlaced film through the stages: its fields coloured and woven back, or its frames
deinterlaced.

The stages colour whatever pictures a :class:`~vidcolor.video.source.FrameSource` gives, in
display order, and hand them to a :class:`~vidcolor.video.sink.FrameSink`. For an interlaced
film (:mod:`vidcolor.video.fields`) a run wraps the film's source and sink:

- :class:`FieldRun` (the default): :class:`FieldSource` gives each frame's two fields, in time
  order, as pictures of their own, so the model, the stabilizer and the keyframes' guide run
  along the field sequence at twice the frame rate; each field's render copy keeps its frame's
  aspect (:attr:`~vidcolor.video.frames.FrameColorizer.display_shape`). After stabilization
  :class:`FieldPairing` gives each second field its first field's colour, carried along the
  flow, wherever the two show the same thing, so the fields of one frame differ in colour only
  where the picture moved between them. :class:`WovenSink`
  weaves the two coloured fields back into the frame (each keeps its own lightness), encoded
  interlaced with the film's field order. A field's pts is twice its frame's, plus one for the
  second field: strictly increasing, and the frame's pts is the field's halved.
- :class:`DeinterlacedRun` (``--deinterlace``): :class:`DeinterlacedSource` turns the frames
  into progressive ones with FFmpeg's ``bwdif`` before anything else sees them, one per frame
  or one per field (the second half a frame later).
- :class:`FrameRun`: a progressive film, as it is.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Iterator

import av
import numpy as np

from vidcolor.errors import VidcolorError
from vidcolor.options import VideoOptions
from vidcolor.video.decode import DecodedFrame
from vidcolor.video.fields import frame_step, split_fields, weave
from vidcolor.video.probe import VideoInfo
from vidcolor.video.sink import FrameSink
from vidcolor.video.source import FrameSource

__all__ = ["DeinterlacedRun", "DeinterlacedSource", "FieldPairing", "FieldRun", "FieldSource",
           "FrameRun", "WovenSink", "film_run", "matched_contrast"]


class FrameRun:
    """A film's frames as they are: the source, the sink and every pts unchanged.

    Attributes
    ----------
    info : VideoInfo
        The film as the sink encodes it (its rate).
    display_shape : (int, int) or None
        The shape whose aspect the pictures' render copies keep; None: their own.
    pairing : FieldPairing or None
        The temporal step joining the fields of a frame, for the frame colorizer.
    """

    def __init__(self, info: VideoInfo):
        self.info = info
        self.display_shape: tuple[int, int] | None = None
        self.pairing: FieldPairing | None = None

    def source(self, source: FrameSource) -> FrameSource:
        return source

    def sink(self, sink: FrameSink) -> FrameSink:
        return sink

    def pts(self, pts: int | None) -> int | None:
        """A frame's pts (a keyframe's, where a run starts) as the pictures' pts."""
        return pts

    def pictures(self, frames: int) -> int:
        """The output frames of ``frames`` input frames."""
        return frames


def film_run(info: VideoInfo, options: VideoOptions) -> FrameRun:
    """The run an input takes: its fields (an interlaced film), deinterlaced frames
    (``--deinterlace``), or its frames."""
    if info.field_order == "progressive":
        return FrameRun(info)
    if options.deinterlace is not None:
        return DeinterlacedRun(info, options.deinterlace == "field")
    return FieldRun(info)


class FieldRun(FrameRun):
    """An interlaced film's fields coloured one by one, woven back into its frames."""

    def __init__(self, info: VideoInfo):
        super().__init__(info)
        self.display_shape = (info.height, info.width)
        self.pairing = FieldPairing()

    def source(self, source: FrameSource) -> FrameSource:
        return FieldSource(source, self.info.field_order)

    def sink(self, sink: FrameSink) -> FrameSink:
        return WovenSink(sink, self.info.field_order)

    def pts(self, pts: int | None) -> int | None:
        return None if pts is None else 2 * pts


#: The pairing's flow consistency scale: so large that only the lightness decides the trust.
#: A field period's motion is small, and the flow is least consistent where it matters least
#: (flat and dark pictures, whose colour a small displacement does not change); where the
#: carried lightness does not match (an occlusion, a wrong flow) the field keeps its own.
_ANY_FLOW = 1e3


class FieldPairing:
    """The second field of each frame takes its first field's colour where they show the same
    thing: the first field's a/b carried to it (along the flow between them or from the same
    place, per pixel whichever fits better), trusted as far as the lightness carried with it
    matches the field's own once the fields' median and contrast are matched (a fade changes
    them between fields), blended with the field's own a/b by that trust (no strength below
    1: the fields are one frame; where something moved in ways the flow misses, or appeared,
    the field keeps its own colour).

    A first field (even pts, see :class:`FieldSource`) passes unchanged and is remembered;
    nothing carries past a frame, so a resumed job (at a frame's end) needs no state.
    """

    def __init__(self):
        self._first: tuple[np.ndarray, np.ndarray] | None = None  # its a/b and L

    def step(self, pts: int, analysis, ab: np.ndarray) -> np.ndarray:
        """The picture's a/b (h, w, 2), in about [-110, 110], after the pairing.

        Parameters
        ----------
        pts : int
        analysis : FrameAnalysis
            The picture's: render-size L in [0, 100], the flow from the picture before.
        ab : ndarray of float32, shape (h, w, 2)
        """
        first, self._first = self._first, ((ab, analysis.L) if pts % 2 == 0 else None)
        if pts % 2 == 0 or first is None:
            return ab
        ab_first, L_first = first
        carried, trust = _carried(ab_first, L_first, matched_contrast(analysis.L, L_first),
                                  None if analysis.previous is None else analysis.flows())
        t = trust[..., None]
        return (t * carried + (1.0 - t) * ab).astype(np.float32)


def _carried(ab: np.ndarray, L: np.ndarray, L_next: np.ndarray, flows
             ) -> tuple[np.ndarray, np.ndarray]:
    """A field's a/b (h, w, 2) carried to the next field (lightness ``L`` to ``L_next``, both
    (h, w)), and the trust in it (h, w) in [0, 1]: per pixel along the flow or from the same
    place, whichever the lightness matches better (the flow spreads motion into still parts,
    and may point outside the picture there). ``flows`` None: the same place only (a cut
    between the fields: a frame is one picture, the lightness decides)."""
    from vidcolor.video.stabilize import DEFAULT_SIGMA_L, warp_step

    still = np.zeros(L.shape + (2,), np.float32)
    carried, trust = warp_step(ab, L, L_next, still, still, _ANY_FLOW, DEFAULT_SIGMA_L)
    if flows is not None:
        moved, moved_trust = warp_step(ab, L, L_next, *flows, _ANY_FLOW, DEFAULT_SIGMA_L)
        better = moved_trust > trust
        carried = np.where(better[..., None], moved, carried)
        trust = np.maximum(trust, moved_trust)
    return carried, trust


def matched_contrast(L: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``L`` (h, w) with the median and the spread (10th to 90th percentile) of ``like`` (a
    fade's step undone; percentiles, so that something entering the picture barely moves
    them), float32; unchanged in scale where ``L`` is flat."""
    lo, mid, hi = np.percentile(L, (10, 50, 90))
    like_lo, like_mid, like_hi = np.percentile(like, (10, 50, 90))
    gain = (like_hi - like_lo) / (hi - lo) if hi - lo > 1e-3 else 1.0
    return ((L - mid) * gain + like_mid).astype(np.float32)


class FieldSource:
    """Each frame of a source as its two fields, the first in time first (see the module's
    notes for their pts).

    Parameters
    ----------
    frames_of : FrameSource
        The film's frames.
    order : {"tt", "bb"}
    """

    def __init__(self, frames_of: FrameSource, order: str):
        self.frames_of, self.order = frames_of, order

    @property
    def info(self) -> VideoInfo:
        return self.frames_of.info

    @property
    def warmup_before(self) -> int | None:
        before = self.frames_of.warmup_before
        return None if before is None else 2 * before

    @property
    def lost(self) -> list[float]:
        return self.frames_of.lost

    def frames(self) -> Iterator[DecodedFrame]:
        for frame in self.frames_of.frames():
            first, second = split_fields(frame.rgb, self.order)
            yield DecodedFrame(2 * frame.pts, np.ascontiguousarray(first))
            yield DecodedFrame(2 * frame.pts + 1, np.ascontiguousarray(second))


class WovenSink:
    """Takes coloured fields (from a :class:`FieldSource`) and hands their frames, woven,
    to the film's sink, with the temporal state that came with each frame's second field.

    Parameters
    ----------
    frames_to : FrameSink
    order : {"tt", "bb"}
    """

    def __init__(self, frames_to: FrameSink, order: str):
        self.frames_to, self.order = frames_to, order
        self.dtype = frames_to.dtype
        self.state_every = 2 * frames_to.state_every
        self.frames_before = 2 * frames_to.frames_before
        self._first: tuple[int, np.ndarray] | None = None

    def write(self, pts: int, rgb: np.ndarray, state: dict | None) -> None:
        if pts % 2 == 0:
            self._first = (pts, rgb)
            return
        if self._first is None or self._first[0] != pts - 1:
            raise VidcolorError("internal error: a second field without its first")
        first, self._first = self._first[1], None
        self.frames_to.write(pts // 2, weave(first, rgb, self.order), state)

    def close(self) -> None:
        self.frames_to.close()

    def abort(self) -> None:
        self.frames_to.abort()

    def keep_finished(self) -> None:
        self.frames_to.keep_finished()


class DeinterlacedRun(FrameRun):
    """An interlaced film as progressive frames: one per frame, or per field (``per_field``,
    the frame rate doubled)."""

    def __init__(self, info: VideoInfo, per_field: bool):
        rate = info.rate * 2 if per_field else info.rate
        super().__init__(dataclasses.replace(info, rate=rate, field_order="progressive"))
        self.order, self.per_field = info.field_order, per_field
        self.step = frame_step(info)

    def source(self, source: FrameSource) -> FrameSource:
        return DeinterlacedSource(source, self.order, self.per_field, self.step)

    def pictures(self, frames: int) -> int:
        return 2 * frames if self.per_field else frames


class DeinterlacedSource:
    """A source's frames made progressive by FFmpeg's ``bwdif`` (in PyAV's filter graph):
    one per frame with the frame's pts, or one per field, the second half a frame later.

    Parameters
    ----------
    frames_of : FrameSource
    order : {"tt", "bb"}
    per_field : bool
    step : int
        A frame's duration in the time base (the last frame's second half).

    Notes
    -----
    A source starting mid-film (a resumed job) is read from one frame earlier, so ``bwdif``
    has the frame before, and what comes out before the start is left out.
    """

    def __init__(self, frames_of: FrameSource, order: str, per_field: bool, step: int):
        self.order, self.per_field, self.step = order, per_field, step
        self.start = getattr(frames_of, "from_pts", None)
        if self.start is not None:
            frames_of = dataclasses.replace(frames_of, from_pts=self.start - step)
        self.frames_of = frames_of

    @property
    def info(self) -> VideoInfo:
        return self.frames_of.info

    @property
    def warmup_before(self) -> int | None:
        return self.frames_of.warmup_before

    @property
    def lost(self) -> list[float]:
        return self.frames_of.lost

    def frames(self) -> Iterator[DecodedFrame]:
        graph = None
        for frame in self.frames_of.frames():
            graph = graph or _Bwdif(frame.rgb, self.info.time_base, self.order, self.per_field)
            yield from self._kept(graph.push(frame))
        if graph is not None:
            yield from self._kept(graph.push(None))

    def _kept(self, out: list[DecodedFrame]) -> Iterator[DecodedFrame]:
        for frame in out:
            if self.start is None or frame.pts >= self.start:
                yield frame


class _Bwdif:
    """One ``bwdif`` filter graph over RGB frames: what comes out for each frame pushed (a
    frame later: ``bwdif`` looks at the next frame), with pts in the input's time base."""

    def __init__(self, rgb: np.ndarray, time_base: Fraction, order: str, per_field: bool):
        self.time_base = time_base
        self.format = "rgb48le" if rgb.dtype == np.uint16 else "rgb24"
        planar = "gbrp16le" if rgb.dtype == np.uint16 else "gbrp"
        mode = "send_field" if per_field else "send_frame"
        parity = "tff" if order == "tt" else "bff"
        graph = av.filter.Graph()
        chain = [graph.add_buffer(width=rgb.shape[1], height=rgb.shape[0], format=self.format,
                                  time_base=time_base),
                 graph.add("format", planar),
                 graph.add("bwdif", f"mode={mode}:parity={parity}:deint=all"),
                 graph.add("format", self.format), graph.add("buffersink")]
        for a, b in zip(chain, chain[1:]):
            a.link_to(b)
        graph.configure()
        self.graph, self.last = graph, None

    def push(self, frame: DecodedFrame | None) -> list[DecodedFrame]:
        if frame is None:
            self.graph.push(None)
        else:
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.rgb),
                                                 format=self.format)
            picture.pts, picture.time_base = frame.pts, self.time_base
            self.graph.push(picture)
        out = []
        while True:
            try:
                picture = self.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return out
            pts = int(round(Fraction(picture.pts) * picture.time_base / self.time_base))
            if self.last is not None and pts <= self.last:
                pts = self.last + 1
            self.last = pts
            out.append(DecodedFrame(pts, picture.to_ndarray(format=self.format)))
