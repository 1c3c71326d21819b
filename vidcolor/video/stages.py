"""The film's frames through four threads: decode -> model -> temporal steps -> finish.

Which thread does what::

    decode thread    a FrameSource's RGB -> full-res L -> render-size L        --channel-->
    main thread      batches of render-size L -> the model's a/b               --channel-->
    temporal thread  in display order: frame analysis, stabilizer, keyframes   --channel-->
    encode thread    upsample a/b with the full-res L -> RGB (a few threads) -> a FrameSink

Channels are bounded, so memory does not grow with the film's length, and the stages overlap
(OpenCV, numpy, numba's kernels, PyAV and the runtimes release the GIL in their heavy parts):
the temporal steps of one batch run while the model colours the next. The model runs in
the calling thread: some backends bind their state to the thread that built the model.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator


from vidcolor.errors import VidcolorError
from vidcolor.video.frames import Frame, FrameColorizer, batched
from vidcolor.video.probe import VideoInfo, ffmpeg_message
from vidcolor.video.sink import FrameSink
from vidcolor.video.source import FrameSource

__all__ = ["run_stages"]

_END = object()


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


def _decode_stage(source: FrameSource, core: FrameColorizer, out: _Channel) -> None:
    for f in source.frames():
        frame = core.prepare(f.rgb, f.pts)
        frame.warmup = source.warmup_before is not None and f.pts < source.warmup_before
        out.put(frame)
    out.close()


def _model_stage(core: FrameColorizer, batch_size: int, inp: _Channel, out: _Channel) -> None:
    for batch in batched(inp, batch_size):
        for frame in core.predict_batch(batch, batch_size):
            out.put(frame)
    out.close()


def _temporal_stage(core: FrameColorizer, state_every: int, first_index: int, inp: _Channel,
                    out: _Channel) -> None:
    index = first_index
    for frame in inp:
        core.follow(frame)
        index += 1
        # The temporal steps' state travels with a segment's last frame, to be saved with that
        # segment (what a resumed job continues from).
        if core.has_state and index % state_every == 0:
            frame.state = core.get_state()
        out.put(frame)
    out.close()


def _encode_stage(core: FrameColorizer, inp: _Channel, sink: FrameSink) -> None:
    # Upsampling and Lab -> RGB at full resolution are the heaviest per-frame work after
    # the model: a few threads do them (OpenCV releases the GIL), results kept in order.
    n_threads = _finish_threads()
    pending: deque[tuple[Frame, Future]] = deque()
    with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="vidcolor-finish") as pool:
        try:
            for frame in inp:
                if frame.warmup:
                    continue
                pending.append((frame, pool.submit(core.finish, frame, sink.dtype)))
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


def run_stages(source: FrameSource, core: FrameColorizer, sink: FrameSink, batch_size: int
               ) -> list[float]:
    """Decode, colorize and finish the source's frames into the sink.

    Parameters
    ----------
    source : FrameSource
        The frames; those before its ``warmup_before`` only seed the temporal steps.
    core : FrameColorizer
        Its temporal steps already hold the state the sink continues from.
    sink : FrameSink
        Receives each finished frame, with the temporal state every ``sink.state_every``
        frames (counted from ``sink.frames_before``).
    batch_size : int

    Returns
    -------
    list of float
        Seconds (from the stream's start) of the frames the decoder refused; the others are
        all written.

    Raises
    ------
    VidcolorError
        A stage failed on the input or the disk (FFmpeg and OS errors become one line).
    KeyboardInterrupt
        After the stages stopped.

    Whatever stops the stages, the sink keeps what is finished
    (:meth:`~vidcolor.video.sink.FrameSink.keep_finished`).
    """
    stop = threading.Event()
    size = _channel_size(batch_size, source.info)
    decoded, predicted, followed = (_Channel(size, stop) for _ in range(3))
    workers = [_Worker("decode", lambda: _decode_stage(source, core, decoded), stop),
               _Worker("temporal", lambda: _temporal_stage(core, sink.state_every,
                                                           sink.frames_before, predicted,
                                                           followed), stop),
               _Worker("encode", lambda: _encode_stage(core, followed, sink), stop)]
    for w in workers:
        w.start()
    try:
        _model_stage(core, batch_size, decoded, predicted)
        for w in workers:
            while w.is_alive():  # join with a timeout, so Ctrl-C reaches this thread
                w.join(timeout=0.1)
    except _Stop:
        pass
    except BaseException:
        stop.set()
        for w in workers:
            w.join()
        sink.keep_finished()
        raise
    stop.set()
    for w in workers:
        w.join()
    for w in workers:
        if w.error is not None:
            sink.keep_finished()
            _raise_stage_error(w.error)
    return source.lost


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
