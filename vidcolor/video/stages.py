"""The film's frames through three threads: decode -> colorize -> finish and encode.

Which thread does what::

    decode thread   PyAV decode -> RGB -> full-res L -> render-size L         --channel-->
    main thread     batches of render-size L -> model -> stabilizer           --channel-->
    encode thread   upsample a/b with the full-res L -> RGB (a few threads) -> segment files

Channels are bounded, so memory does not grow with the film's length, and the stages overlap
(OpenCV, numpy, PyAV and TensorFlow release the GIL in their heavy parts). The model runs in
the calling thread: some backends bind their state to the thread that built the model.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from dataclasses import dataclass
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator

import numpy as np

from vidcolor.errors import VidcolorError
from vidcolor.log import logger
from vidcolor.options import VideoOptions
from vidcolor.progress import Progress
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import EncoderSettings, SegmentWriter
from vidcolor.video.frames import Frame, FrameColorizer, batched
from vidcolor.video.probe import VideoInfo, ffmpeg_message
from vidcolor.video.workdir import WorkFolder

__all__ = ["FrameSpan", "keep_for_resume", "run_stages"]

_END = object()


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


class _Stop(Exception):
    """Raised inside a stage when another stage failed or the job was interrupted."""


class _Channel:
    """A bounded queue between two stages whose blocking calls give up when the job stops."""

    def __init__(self, size: int, stop: threading.Event):
        self.q: queue.Queue = queue.Queue(maxsize=size)
        self.stop = stop

    def put(self, item) -> None:
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self):
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                return self.q.get(timeout=0.1)
            except queue.Empty:
                continue

    def __iter__(self) -> Iterator:
        """Items until the sending stage's end mark."""
        while (item := self.get()) is not _END:
            yield item

    def close(self) -> None:
        self.put(_END)


class _Worker(threading.Thread):
    """A stage in its own thread; its error is kept for the main thread and stops the job."""

    def __init__(self, name: str, target: Callable[[], None], stop: threading.Event):
        super().__init__(name=f"vidcolor-{name}", daemon=True)
        self._target_fn = target
        self._stop_event = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except _Stop:
            pass
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self.error = e
            self._stop_event.set()


def _finish_threads() -> int:
    """Threads for the full-resolution finishing step: one per two cores, 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


class _SegmentSink:
    """Writes finished frames into segment files of ``segment_frames`` frames each, and
    records every completed segment (with the stabilizer state it ends on) in the work
    folder."""

    def __init__(self, work: WorkFolder, info: VideoInfo, settings: EncoderSettings,
                 segment_frames: int, progress: Progress | None, total: int | None):
        self.work, self.info, self.settings = work, info, settings
        self.segment_frames = segment_frames
        self.progress, self.total = progress, total
        self.writer: SegmentWriter | None = None
        self.state: dict | None = None

    def write(self, pts: int, rgb: np.ndarray, state: dict | None) -> None:
        if self.writer is None:
            self.writer = SegmentWriter(self.work.next_segment(), self.info, self.settings)
        self.writer.write(pts, rgb)
        self.state = state
        if self.progress is not None:
            self.progress(self.work.frames + self.writer.frames, self.total)
        if self.writer.frames >= self.segment_frames:
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


def _decode_stage(info: VideoInfo, options: VideoOptions, core: FrameColorizer,
                  work: WorkFolder, out: _Channel, lost: list[float],
                  span: FrameSpan | None, source) -> None:
    if span is None:
        frames = decode_frames(info, options.window, from_pts=work.next_pts, lost=lost)
    else:
        frames = decode_frames(info, options.window, from_pts=span.from_pts, lost=lost,
                               source=source, to_pts=span.end_pts)
    for f in frames:
        frame = core.prepare(f.rgb, f.pts)
        frame.warmup = span is not None and f.pts < span.first_pts
        out.put(frame)
    out.close()


def _colorize_stage(core: FrameColorizer, batch_size: int, segment_frames: int,
                    first_index: int, inp: _Channel, out: _Channel) -> None:
    index = first_index
    for batch in batched(inp, batch_size):
        for frame in core.colorize_batch(batch, batch_size):
            index += 1
            # The stabilizer's and guide's state travels with a segment's last frame, to be saved
            # with that segment (what a resumed job continues from).
            if core.has_state and index % segment_frames == 0:
                frame.state = core.get_state()
            out.put(frame)
    out.close()


def _encode_stage(core: FrameColorizer, dtype, inp: _Channel, sink: _SegmentSink) -> None:
    # Upsampling and Lab -> RGB at full resolution are the heaviest per-frame work after
    # the model: a few threads do them (OpenCV releases the GIL), results kept in order.
    n_threads = _finish_threads()
    pending: deque[tuple[Frame, Future]] = deque()
    with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="vidcolor-finish") as pool:
        try:
            for frame in inp:
                if frame.warmup:
                    continue
                pending.append((frame, pool.submit(core.finish, frame, dtype)))
                while pending and (len(pending) > 2 * n_threads or pending[0][1].done()):
                    done, fut = pending.popleft()
                    sink.write(done.pts, fut.result(), done.state)
            while pending:
                done, fut = pending.popleft()
                sink.write(done.pts, fut.result(), done.state)
            sink.close()
        finally:
            for _, fut in pending:
                fut.cancel()
            sink.abort()


def run_stages(info: VideoInfo, core: FrameColorizer, work: WorkFolder,
               settings: EncoderSettings, options: VideoOptions, batch_size: int,
               progress: Progress | None = None, span: FrameSpan | None = None,
               source=None) -> list[float]:
    """Decode, colorize and encode the frames not yet in ``work``'s segments.

    Parameters
    ----------
    info : VideoInfo
    core : FrameColorizer
        Its stabilizer already holds the state the work folder continues from.
    work : WorkFolder
        Receives each finished segment.
    settings : EncoderSettings
    options : VideoOptions
        The window and segment length.
    batch_size : int
    progress : Progress, optional
        Told ``(frames done, expected total or None)`` after every encoded frame.
    span : FrameSpan, optional
        Only these frames (a chunk), its warm-up not written; default: the rest of the film.
    source : binary file object, optional
        The input's bytes, read instead of ``info.path``, with ``span``.

    Returns
    -------
    list of float
        Seconds (from the stream's start) of the frames the decoder refused; the others are
        all encoded.

    Raises
    ------
    VidcolorError
        A stage failed on the input or the disk (FFmpeg and OS errors become one line).
    KeyboardInterrupt
        After the stages stopped.

    Whatever stops the stages, finished segments are kept for a resumed job, and the work
    folder is removed when there are none.
    """
    stop = threading.Event()
    decoded = _Channel(_channel_size(batch_size, info), stop)
    colored = _Channel(_channel_size(batch_size, info), stop)
    dtype = np.uint16 if info.high_bit_depth else np.uint8
    sink = _SegmentSink(work, info, settings, options.segment_frames, progress,
                        info.estimate_frames(options.window) or None)
    lost: list[float] = []
    workers = [_Worker("decode", lambda: _decode_stage(info, options, core, work, decoded, lost,
                                                       span, source), stop),
               _Worker("encode", lambda: _encode_stage(core, dtype, colored, sink), stop)]
    for w in workers:
        w.start()
    try:
        _colorize_stage(core, batch_size, options.segment_frames, work.frames, decoded, colored)
        for w in workers:
            while w.is_alive():  # join with a timeout, so Ctrl-C reaches this thread
                w.join(timeout=0.1)
    except _Stop:
        pass
    except BaseException:
        stop.set()
        for w in workers:
            w.join()
        keep_for_resume(work)
        raise
    stop.set()
    for w in workers:
        w.join()
    for w in workers:
        if w.error is not None:
            keep_for_resume(work)
            _raise_stage_error(w.error)
    return lost


def keep_for_resume(work: WorkFolder) -> None:
    """After a failed or interrupted run: keep the finished segments for ``--resume``, or
    remove the work folder when there are none (nothing worth resuming)."""
    if work.segments:
        logger.info(f"stopped: {work.frames} frames done are kept in {work.path}; "
                    "rerun the same command with --resume to continue")
    else:
        work.remove()


#: Bytes of full-resolution frames a channel between two stages may hold: two batches keep
#: the stages overlapping at any common size, and large frames (4K: 33 MB) stay bounded.
_CHANNEL_BYTES = 1 << 30


def _channel_size(batch_size: int, info: VideoInfo) -> int:
    """Frames a channel holds: two batches, fewer if their lightness (float32) would pass
    :data:`_CHANNEL_BYTES`."""
    return max(1, min(2 * batch_size, _CHANNEL_BYTES // (4 * info.width * info.height)))


def _raise_stage_error(error: BaseException) -> None:
    """Re-raise a worker's error in the main thread; FFmpeg errors become user errors."""
    import av.error

    if isinstance(error, (VidcolorError, KeyboardInterrupt)):
        raise error
    if isinstance(error, av.error.FFmpegError):
        raise VidcolorError(f"video processing failed: {ffmpeg_message(error)}") from error
    if isinstance(error, OSError):  # disk full, folder removed under us...
        raise VidcolorError(f"writing failed: {error}") from error
    raise error
