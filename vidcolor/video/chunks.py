"""A film cut into chunks that can be colorized apart, and one chunk's colorization.

A chunk needs nothing from its neighbour when it starts at a scene cut: the stabilizer
forgets its history there (:func:`vidcolor.video.analysis.is_cut`, the one definition of a
cut). :func:`scan_film` finds the cuts as the stabilizer would see them (the same render-size
lightness), and :func:`plan_chunks` groups whole shots into chunks of at most
``segment_frames`` frames. A shot longer than that is split, and each later piece starts with
a warm-up: the frames before it (within the shot) are colorized again to seed the stabilizer
and are not written, so the stabilized colours at the join are those the film would have had
in one run, up to what the recursion has not yet forgotten (:func:`warmup_frames`). A shot
that holds a colour keyframe is never split, however long: the keyframe's colour travels
through its whole shot frame by frame, forwards from the keyframe and backwards to the shot's
start (:mod:`vidcolor.video.keyframes`), which no warm-up could reproduce. The keyframe
travels with that chunk (its placed pts and content hash in :attr:`ChunkSpec.options`, its
file's bytes beside the chunk).

:func:`colorize_chunk` is a worker's whole job for one chunk: decode its frames from the
input's bytes held in memory (:class:`MemoryFile`; no shared file system is assumed), run the
usual stages (:func:`vidcolor.video.stages.run_stages`) into one segment file in a local
temporary folder, and hand back the encoded bytes; a chunk's keyframes guide it as they guide
the one-process job (:func:`vidcolor.video.local.colorize_span`, the run of the stages both
share; the keyframes' backward pass decodes the chunk's span from the same bytes). Nothing
here imports Ray (:mod:`vidcolor.video.cluster` does the distributing).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from vidcolor import color
from vidcolor.colorize import render_shape, resize_l
from vidcolor.errors import VidcolorError
from vidcolor.models.protocol import ColorModel
from vidcolor.options import Keyframe, Reference, VideoOptions, Window
from vidcolor.progress import Progress
from vidcolor.video.analysis import CutTracker
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import EncoderSettings
from vidcolor.video.frames import FrameColorizer, batch_size_for
from vidcolor.video.keyframes import PlacedKeyframe
from vidcolor.video.local import colorize_span
from vidcolor.video.probe import VideoInfo
from vidcolor.video.source import FrameSpan
from vidcolor.video.workdir import WorkFolder

__all__ = ["ChunkJob", "ChunkResult", "ChunkSpec", "FilmScan", "MemoryFile", "colorize_chunk",
           "plan_chunks", "scan_film", "warmup_frames"]

#: What may be left, in a/b units, of a wrong seed after a warm-up (under half an 8-bit level).
WARMUP_RESIDUE = 0.5
#: The largest a/b difference a seed can have from the true history (the model's a/b range).
_AB_SPAN = 220.0
#: Most warm-up frames of a chunk, whatever the strength (full strength never forgets).
MAX_WARMUP_FRAMES = 64


def warmup_frames(strength: float) -> int:
    """Warm-up frames that make a chunk's join invisible at a stabilization strength.

    The stabilizer blends the warped history with weight ``strength x confidence``, at most
    ``strength``, so after ``k`` frames a seed that differs from the true history by ``d``
    differs by at most ``d x strength**k``; the warm-up is the smallest ``k`` that brings the
    widest ``d`` under :data:`WARMUP_RESIDUE`, capped at :data:`MAX_WARMUP_FRAMES`.
    """
    if strength <= 0.0:
        return 0
    if strength >= 1.0:
        return MAX_WARMUP_FRAMES
    return min(MAX_WARMUP_FRAMES, math.ceil(math.log(WARMUP_RESIDUE / _AB_SPAN)
                                            / math.log(strength)))


@dataclass
class FilmScan:
    """The frames of a film's window, as a cheap pass over it saw them.

    Attributes
    ----------
    pts : list of int
        Every frame's pts, in display order (what the decoder gives the workers too).
    shot_starts : list of int
        Indexes of the frames that start a shot (the first frame is one).
    lost : list of float
        Seconds of the frames the decoder refused.
    """

    pts: list[int]
    shot_starts: list[int]
    lost: list[float] = field(default_factory=list)


def scan_film(info: VideoInfo, window: Window, render_size: int, multiple: int,
              find_cuts: bool = True) -> FilmScan:
    """Decode a film's window once: its frames' pts and, with ``find_cuts``, its scene cuts
    as the stabilizer finds them (the histogram of the same render-size lightness)."""
    shape = render_shape(info.height, info.width, render_size, multiple)
    pts: list[int] = []
    starts: list[int] = []
    lost: list[float] = []
    cuts = CutTracker()
    for frame in decode_frames(info, window, lost=lost):
        if find_cuts and cuts(resize_l(color.rgb_to_l(frame.rgb), shape)):
            starts.append(len(pts))
        pts.append(frame.pts)
    return FilmScan(pts=pts, shot_starts=starts or [0], lost=lost)


@dataclass(frozen=True)
class ChunkSpec:
    """One chunk of a film: what a worker needs to know besides the job's settings.

    Attributes
    ----------
    index : int
        Its place in the film (names its segment file).
    span : FrameSpan
        The frames decoded, the first one written, the end.
    frames : int
        Frames written (the warm-up not counted).
    warmup : int
        Frames decoded and colorized only to seed the stabilizer.
    flow_primed : bool
        In one run, the stabilizer's flow would have been computed before this chunk's
        frames (see :meth:`~vidcolor.video.analysis.FrameAnalyzer.prime_flow`).
    options : dict
        Per-chunk settings that travel with the chunk: ``"keyframes"``, the keyframes of its
        frames, each ``{"number", "name", "time", "sha256", "pts"}`` (its place in the film's
        keyframes, its file's name, its time, content hash and placed pts), in time order.
        Part of the chunk's record, so a resumed job refuses a changed keyframe.
    """

    index: int
    span: FrameSpan
    frames: int
    warmup: int = 0
    flow_primed: bool = False
    options: dict = field(default_factory=dict)

    @property
    def segment_name(self) -> str:
        return f"chunk{self.index:05d}.vseg"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _shots(scan: FilmScan) -> list[tuple[int, int]]:
    """(first, end) frame indexes of every shot."""
    starts = sorted(set(scan.shot_starts) | {0})
    return list(zip(starts, starts[1:] + [len(scan.pts)]))


def plan_chunks(scan: FilmScan, max_frames: int, warmup: int,
                keyframes: list[PlacedKeyframe] = ()) -> list[ChunkSpec]:
    """Chunks of whole shots, at most ``max_frames`` written frames each; a longer shot is
    split into pieces of ``max_frames``, each after its first seeded by up to ``warmup``
    frames of the same shot, unless it holds a keyframe.

    Parameters
    ----------
    scan : FilmScan
    max_frames : int
    warmup : int
    keyframes : list of PlacedKeyframe, optional
        The film's keyframes (:func:`~vidcolor.video.keyframes.place_keyframes`), in time
        order. Each colours the first frame at or after its pts; the shot of that frame is
        kept in one chunk, which carries the keyframe (:attr:`ChunkSpec.options`). One past
        the last frame colours nothing, as in one process.

    Returns
    -------
    list of ChunkSpec
        In display order, covering every frame of the scan once (none for no frames).
    """
    if not scan.pts:
        return []
    shots = _shots(scan)
    at_frame = {}  # frame index -> its keyframes, as a chunk's options list them
    for number, placed in enumerate(keyframes):
        i = bisect.bisect_left(scan.pts, placed.pts)
        if i < len(scan.pts):
            at_frame.setdefault(i, []).append(
                {"number": number, "name": os.path.basename(placed.keyframe.path),
                 "time": placed.keyframe.time, "sha256": placed.keyframe.sha256,
                 "pts": placed.pts})
    pieces: list[tuple[int, int, int]] = []  # (decode from, first written, end) indexes
    for first, end in shots:
        # A keyframe's colour propagates through its whole shot in sequence: never split it.
        whole = any(first <= i < end for i in at_frame)
        if end - first <= max_frames or whole:
            if pieces and pieces[-1][0] == pieces[-1][1] and end - pieces[-1][1] <= max_frames:
                pieces[-1] = (pieces[-1][0], pieces[-1][1], end)  # one more whole shot
            else:
                pieces.append((first, first, end))
            continue
        for start in range(first, end, max_frames):
            pieces.append((max(first, start - warmup), start, min(end, start + max_frames)))
    chunks = []
    for i, (lo, start, end) in enumerate(pieces):
        end_pts = scan.pts[end] if end < len(scan.pts) else None
        span = FrameSpan(from_pts=scan.pts[lo], first_pts=scan.pts[start], end_pts=end_pts)
        # Flow is computed between two frames of a shot: did a pair come before `lo`?
        primed = any(min(e, lo) - f >= 2 for f, e in shots if f < lo)
        own = [k for j in sorted(at_frame) if start <= j < end for k in at_frame[j]]
        chunks.append(ChunkSpec(index=i, span=span, frames=end - start, warmup=start - lo,
                                flow_primed=primed, options={"keyframes": own} if own else {}))
    return chunks


class MemoryFile:
    """A read-only, seekable binary file over bytes already in memory (a worker's view of the
    input in Ray's object store: nothing is copied but what the demuxer reads).

    Parameters
    ----------
    buffer : bytes-like
    name : str
        Shown in error messages.
    """

    def __init__(self, buffer, name: str = "input"):
        self._view = memoryview(buffer).cast("B")
        self._pos = 0
        self.name = name

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view),
                                                                  self._pos + size)
        data = bytes(self._view[self._pos:end])
        self._pos = max(self._pos, end)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


@dataclass(frozen=True)
class ChunkJob:
    """The settings every chunk of one film shares (sent with each chunk; all small).

    Attributes
    ----------
    info : VideoInfo
    settings : EncoderSettings
    options : VideoOptions
        As resolved for the model (its render size).
    """

    info: VideoInfo
    settings: EncoderSettings
    options: VideoOptions


@dataclass
class ChunkResult:
    """What a worker hands back for a chunk.

    Attributes
    ----------
    index : int
    data : bytes
        The encoded segment file; empty when no frame was written.
    frames : int
    first_pts, last_pts : int or None
    lost : list of float
        Seconds of the frames the decoder refused.
    error : str or None
        A one-line problem the user can fix; then nothing else is set.
    seconds : float
        The worker's wall time on the chunk.
    """

    index: int
    data: bytes = b""
    frames: int = 0
    first_pts: int | None = None
    last_pts: int | None = None
    lost: list[float] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


#: Segment length of a chunk's single segment: never reached, so a chunk is one segment.
_ONE_SEGMENT = 2**31


def colorize_chunk(model: ColorModel, job: ChunkJob, chunk: ChunkSpec, data,
                   progress: Progress | None = None, keyframe_files=(),
                   reference_files=()) -> ChunkResult:
    """Colorize one chunk of a film from its bytes in memory into one encoded segment.

    Parameters
    ----------
    model : ColorModel
    job : ChunkJob
    chunk : ChunkSpec
    data : bytes-like
        The whole input file.
    progress : Progress, optional
        Told the chunk's frames written so far.
    keyframe_files : sequence of bytes-like
        The files of the chunk's keyframes, in the order of its ``options["keyframes"]``.
    reference_files : sequence of bytes-like
        The files of the job's reference photos, in the order of ``job.options.references``.

    Returns
    -------
    ChunkResult

    Raises
    ------
    VidcolorError
        The chunk's frames could not be decoded or encoded.
    """
    t_begin = time.perf_counter()
    core = FrameColorizer.from_options(model, job.options)
    info = job.info
    if chunk.flow_primed:
        core.analyzer.prime_flow(core.render_shape(info.height, info.width))
    batch_size = batch_size_for(job.options.batch_size, core.render_size, info.height,
                                info.width)
    name = os.path.basename(info.path)
    with tempfile.TemporaryDirectory(prefix="vidcolor-chunk-") as tmp:
        placed = _write_keyframes(chunk, keyframe_files, Path(tmp) / "keyframe-files")
        references = _write_references(job.options.references, reference_files,
                                       Path(tmp) / "reference-files")
        options = dataclasses.replace(job.options, segment_frames=_ONE_SEGMENT,
                                      references=references)
        work = WorkFolder(Path(tmp) / "work", {})
        work.open(False)
        lost = colorize_span(info, core, options, job.settings, work, placed, batch_size,
                             progress, span=chunk.span,
                             open_input=lambda: MemoryFile(data, name=name))
        result = ChunkResult(index=chunk.index, lost=lost)
        if work.segments:
            segment = work.segments[0]
            result.data = (work.path / segment["file"]).read_bytes()
            result.frames = segment["frames"]
            result.first_pts, result.last_pts = segment["first_pts"], segment["last_pts"]
    result.seconds = time.perf_counter() - t_begin
    return result


def _write_keyframes(chunk: ChunkSpec, files, folder: Path) -> list[PlacedKeyframe]:
    """The chunk's keyframes as files of this worker (the guide reads them by path), placed
    where the driver placed them.

    Raises
    ------
    VidcolorError
        Other keyframe files than the chunk lists.
    """
    listed = chunk.options.get("keyframes", [])
    if len(files) != len(listed):
        raise VidcolorError(f"chunk {chunk.index}: {len(listed)} keyframes planned, "
                            f"{len(files)} received")
    placed = []
    for entry, content in zip(listed, files):
        path = _worker_file(folder, entry["number"], entry["name"], content)
        placed.append(PlacedKeyframe(Keyframe(path, entry["time"], entry["sha256"]),
                                     entry["pts"]))
    return placed


def _write_references(references, files, folder: Path) -> tuple[Reference, ...]:
    """The job's reference photos as files of this worker (the guide reads them by path).

    Raises
    ------
    VidcolorError
        Other reference files than the job lists.
    """
    if len(files) != len(references):
        raise VidcolorError(f"{len(references)} reference photos in the job, "
                            f"{len(files)} received")
    return tuple(dataclasses.replace(r, path=_worker_file(folder, n, Path(r.path).name, data))
                 for n, (r, data) in enumerate(zip(references, files)))


def _worker_file(folder: Path, number: int, name: str, content) -> str:
    """A guide's file written on this worker; its path. Its own name (in a folder of its own,
    ``number``) keeps the picture's format and error messages."""
    path = folder / f"{number:04d}" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return str(path)


def check_chunk_result(result: ChunkResult, chunk: ChunkSpec) -> None:
    """Refuse a chunk whose worker wrote other frames than the plan said.

    Raises
    ------
    VidcolorError
    """
    if result.error is not None:
        raise VidcolorError(result.error)
    if result.frames and result.first_pts != chunk.span.first_pts:
        raise VidcolorError(f"chunk {chunk.index}: the worker decoded other frames than the "
                            "driver (first pts differ)")
