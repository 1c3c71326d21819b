"""The streaming video pipeline: decode -> Lab -> model -> stabilize -> upsample -> encode.

One frame's path, and which thread does what::

    decode thread   PyAV decode -> RGB -> full-res L -> render-size L           --queue-->
    main thread     batches of render-size L -> model.predict_ab -> Stabilizer  --queue-->
    encode thread   upsample a/b with the full-res L -> Lab -> RGB -> encoder -> segment

Queues are bounded, so memory does not grow with the clip's length, and the three stages
overlap (OpenCV, numpy, PyAV and TensorFlow release the GIL in their heavy parts).

Frames are encoded into segment files of ``segment_frames`` frames in a work folder next to the
output, with a small JSON progress file and the stabilizer's state after the last finished
segment. An interrupted job can be continued with ``resume=True``; when all frames are done the
segments and the input's other streams are remuxed into a temporary file in the output's
folder, which is renamed to the output only when complete.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from vidcolor import __version__, color
from vidcolor.colorize import finish_rgb, render_shape, resize_l
from vidcolor.errors import VidcolorError
from vidcolor.video import io as vio
from vidcolor.video.stabilize import DEFAULT_STRENGTH, Stabilizer

__all__ = ["DEFAULT_SEGMENT_FRAMES", "FrameColorizer", "VideoResult", "colorize_video",
           "default_batch_size", "work_paths"]

#: Frames per segment: what an interrupted job loses at most.
DEFAULT_SEGMENT_FRAMES = 240
_PROGRESS_VERSION = 1
_END = object()
Log = Callable[[str], None]


def _stderr_log(message: str) -> None:
    print(f"vidcolor: {message}", file=sys.stderr)


def default_batch_size() -> int:
    """Frames per model call: larger on a GPU, where it pays, small on a CPU (less latency
    and memory). Only looks for a GPU if TensorFlow is already imported (by the model)."""
    tf = sys.modules.get("tensorflow")
    try:
        if tf is not None and tf.config.list_physical_devices("GPU"):
            return 32
    except Exception:  # noqa: BLE001 - any failure means: no usable GPU
        pass
    return 8


class FrameColorizer:
    """The per-frame steps of the pipeline, independent of files and threads.

    Parameters
    ----------
    model : Colorizer-like
        Has ``predict_ab(L (N, h, w) float32 in [0, 100]) -> (N, h, w, 2)``, ``render_size``,
        ``multiple``.
    render_size : int, optional
        Defaults to the model's.
    stabilizer : Stabilizer or None
        None: every frame is colorized on its own.
    """

    def __init__(self, model, render_size: int | None = None,
                 stabilizer: Stabilizer | None = None):
        self.model = model
        self.render_size = int(render_size or model.render_size)
        self.stabilizer = stabilizer
        self.cuts = 0

    def render_shape(self, height: int, width: int) -> tuple[int, int]:
        return render_shape(height, width, self.render_size, getattr(self.model, "multiple", 32))

    def prepare(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-resolution and render-size lightness of one frame.

        Parameters
        ----------
        rgb : ndarray of uint8 or uint16, shape (H, W, 3)

        Returns
        -------
        L_full : ndarray of float32, shape (H, W), in [0, 100]
        L_small : ndarray of float32, shape (h, w), in [0, 100]
        """
        L_full = color.rgb_to_l(rgb)
        return L_full, resize_l(L_full, self.render_shape(*L_full.shape))

    def predict(self, L_small: list[np.ndarray], batch_size: int | None = None) -> np.ndarray:
        """Model chroma for a batch of render-size frames: (N, h, w) -> (N, h, w, 2).

        A short batch (a clip's last) is padded to ``batch_size`` with copies of its last frame:
        the model's compiled function is per input shape, and a new batch size would cost
        another trace (about a second on a CPU), far more than a few extra frames.
        """
        n = len(L_small)
        batch = np.stack(L_small).astype(np.float32, copy=False)
        if batch_size is not None and n < batch_size:
            batch = np.concatenate([batch, np.repeat(batch[-1:], batch_size - n, axis=0)])
        return np.asarray(self.model.predict_ab(batch)[:n], np.float32)

    def stabilize(self, L_small: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Temporal stabilization of one frame's chroma, in display order (h, w, 2)."""
        if self.stabilizer is None:
            return ab
        out, info = self.stabilizer(L_small, ab)
        self.cuts += int(info.cut)
        return out

    finish = staticmethod(finish_rgb)

    def colorize_frames(self, frames: Iterable[np.ndarray],
                        batch_size: int = 8) -> Iterator[np.ndarray]:
        """Colorize a sequence of RGB frames in one thread (for benchmarks and tests).

        Parameters
        ----------
        frames : iterable of ndarray, uint8 or uint16, shape (H, W, 3)

        Yields
        ------
        ndarray, same dtype and shape as each input frame
        """
        batch: list[tuple[np.ndarray, np.ndarray, np.dtype]] = []

        def flush():
            ab = self.predict([b[1] for b in batch], batch_size)
            for (L_full, L_small, dtype), ab_i in zip(batch, ab):
                yield self.finish(self.stabilize(L_small, ab_i), L_small, L_full, dtype)
            batch.clear()

        for rgb in frames:
            batch.append((*self.prepare(rgb), rgb.dtype))
            if len(batch) >= batch_size:
                yield from flush()
        if batch:
            yield from flush()


# --- job bookkeeping -------------------------------------------------------------------------

@dataclass
class VideoResult:
    """Summary of a finished :func:`colorize_video` job."""

    output: Path
    frames: int  #: video frames in the output
    resumed_frames: int  #: of those, done by an earlier interrupted run
    seconds: float  #: wall time of this run
    cuts: int  #: scene cuts the stabilizer found (this run)
    report: vio.RemuxReport = field(default_factory=vio.RemuxReport)

    @property
    def fps(self) -> float:
        done = self.frames - self.resumed_frames
        return done / self.seconds if self.seconds > 0 else 0.0


def work_paths(output: Path) -> tuple[Path, Path]:
    """The work folder and temporary output for an output path (both in its folder, hidden),
    so the final rename never crosses file systems."""
    output = Path(output)
    work = output.with_name(f".{output.name}.vidcolor-work")
    partial = output.with_name(f".{output.stem}.partial{output.suffix}")
    return work, partial


def _input_identity(path: Path) -> dict:
    st = path.stat()
    return {"path": os.fspath(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class _Progress:
    """progress.json + state.npz of a work folder: written atomically after each segment."""

    def __init__(self, work: Path, job: dict):
        self.work = work
        self.job = job
        self.segments: list[dict] = []
        self.next_pts: int | None = None
        self.frames = 0
        self.state: dict | None = None

    @property
    def path(self) -> Path:
        return self.work / "progress.json"

    def load(self) -> bool:
        """Load an earlier run's progress if it was for the same job; False if none."""
        try:
            with open(self.path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return False
        if data.get("version") != _PROGRESS_VERSION:
            return False
        if data.get("job") != self.job:
            raise VidcolorError(
                f"{self.work}: the interrupted job there was started with other settings or "
                "another input; rerun with the same options, or without --resume to start over")
        segments = [s for s in data["segments"] if (self.work / s["file"]).is_file()]
        if len(segments) != len(data["segments"]):
            raise VidcolorError(f"{self.work}: segment files are missing; rerun without --resume")
        self.segments = segments
        self.next_pts = data.get("next_pts")
        self.frames = int(data.get("frames", 0))
        state_path = self.work / "state.npz"
        if data.get("has_state") and state_path.is_file():
            with np.load(state_path) as z:
                self.state = {k: z[k] for k in z.files}
        return True

    def add_segment(self, name: str, frames: int, first_pts: int, last_pts: int,
                    state: dict | None) -> None:
        self.segments.append({"file": name, "frames": frames, "first_pts": first_pts,
                              "last_pts": last_pts})
        self.frames += frames
        self.next_pts = last_pts + 1
        if state is not None:
            tmp = self.work / "state.tmp.npz"
            np.savez(tmp, **state)
            os.replace(tmp, self.work / "state.npz")
        data = {"version": _PROGRESS_VERSION, "job": self.job, "segments": self.segments,
                "next_pts": self.next_pts, "frames": self.frames,
                "has_state": state is not None}
        tmp = self.work / "progress.tmp.json"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, self.path)


# --- threads ---------------------------------------------------------------------------------

class _Stop(Exception):
    """Raised inside a stage when another stage failed or the job was interrupted."""


class _Channel:
    """A bounded queue whose blocking calls give up when the job is stopping."""

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


class _Worker(threading.Thread):
    def __init__(self, name: str, target, stop: threading.Event):
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


# --- the job ---------------------------------------------------------------------------------

def colorize_video(input: str | os.PathLike, output: str | os.PathLike, model=None, *,
                   model_dir: str | os.PathLike | None = None, render_size: int | None = None,
                   batch_size: int | None = None, stabilize: bool = True,
                   stabilize_strength: float = DEFAULT_STRENGTH, start: float = 0.0,
                   duration: float | None = None, codec: str | None = None,
                   crf: int | None = None, preset: str | None = None, overwrite: bool = False,
                   resume: bool = False, segment_frames: int = DEFAULT_SEGMENT_FRAMES,
                   progress: bool = True, log: Log = _stderr_log) -> VideoResult:
    """Colorize a video file, keeping its timing, rotation and other streams.

    Parameters
    ----------
    input, output : path
        The output's extension picks the container (.mp4 .mkv .mov .webm .avi).
    model : Colorizer-like, optional
        Default: :func:`vidcolor.models.store.load_model` of `model_dir`.
    model_dir : path, optional
    render_size : int, optional
        Network resolution (default: the model's).
    batch_size : int, optional
        Frames per model call (default: :func:`default_batch_size`).
    stabilize : bool
        Temporal stabilization of the chroma.
    stabilize_strength : float in [0, 1]
    start, duration : float
        Seconds: colorize only this window (the output starts at the window's start).
    codec, crf, preset : optional
        Video encoder (default libx264, VP9 for .webm), quality and speed.
    overwrite : bool
        Replace an existing output.
    resume : bool
        Continue an interrupted job with the same settings from its last finished segment.
    segment_frames : int
        Frames per resumable segment.
    progress : bool
        Show a progress bar (tqdm, on stderr).
    log : callable
        Receives one-line notes and warnings.

    Returns
    -------
    VideoResult

    Raises
    ------
    VidcolorError
        Bad input, unusable output path or settings, nothing decodable in the window.
    KeyboardInterrupt
        After cleaning up; the finished segments are kept for ``resume=True``.
    """
    t_begin = time.perf_counter()
    input, output = Path(input), Path(output)
    format_name = vio.output_format(output)
    if output.exists() and not overwrite:
        raise VidcolorError(f"{output}: already exists (use --overwrite to replace it)")
    if output.exists() and output.is_dir():
        raise VidcolorError(f"{output}: is a folder")
    if not output.parent.is_dir():
        raise VidcolorError(f"{output.parent}: no such folder")
    if input.exists() and output.exists() and os.path.samefile(input, output):
        raise VidcolorError(f"{output}: the output would overwrite the input")
    if start < 0 or (duration is not None and duration <= 0):
        raise VidcolorError("--start must be >= 0 and --duration > 0")
    if not 0.0 <= stabilize_strength <= 1.0:
        raise VidcolorError(f"--stabilize-strength must be in [0, 1], got {stabilize_strength}")
    if segment_frames <= 0:
        raise VidcolorError("segment_frames must be positive")
    info = vio.probe(input)
    settings = vio.encoder_settings(format_name, codec, crf, preset, info.high_bit_depth)

    if model is None:
        from vidcolor.models.store import load_model

        model = load_model(model_dir)
    # A resumed job must use the very same weights, not just a model of the same name.
    directory = getattr(model, "directory", None)
    weights = Path(directory) / "weights.npz" if directory else None
    model_id = _input_identity(weights) if weights and weights.is_file() else None
    core = FrameColorizer(model, render_size,
                          Stabilizer(stabilize_strength) if stabilize else None)
    batch_size = batch_size or default_batch_size()

    work, partial = work_paths(output)
    job = {
        "input": _input_identity(input), "model": getattr(model, "name", type(model).__name__),
        "weights": model_id,
        "render_size": core.render_size, "stabilize": bool(stabilize),
        "strength": float(stabilize_strength), "start": float(start),
        "duration": None if duration is None else float(duration),
        "encoder": [settings.codec, settings.crf, settings.preset, settings.pix_fmt],
        "segment_frames": int(segment_frames), "vidcolor": __version__,
    }
    prog = _Progress(work, job)
    resumed = False
    if resume:
        resumed = prog.load()
        if not resumed:
            log("note: no interrupted job to resume; starting from the beginning")
    elif work.exists():
        log(f"note: discarding the work of an earlier interrupted run in {work} "
            "(use --resume to continue it instead)")
    if not resumed:
        shutil.rmtree(work, ignore_errors=True)
        try:
            work.mkdir()
        except OSError as e:
            raise VidcolorError(f"{output.parent}: cannot write there ({e.strerror})") from None
        prog.job = job
    if core.stabilizer is not None and prog.state is not None:
        core.stabilizer.set_state(prog.state)
    resumed_frames = prog.frames
    if resumed:
        log(f"resuming after {resumed_frames} frames ({len(prog.segments)} segments)")

    _run_frames(info, core, prog, settings, batch_size, start, duration, segment_frames,
                progress, log)
    if prog.frames == 0:
        shutil.rmtree(work, ignore_errors=True)
        raise VidcolorError(f"{input}: no video frames in the requested window")

    provenance = f"colorized by vidcolor {__version__}, model {job['model']}"
    segments = [(work / s["file"], s["first_pts"]) for s in prog.segments]
    try:
        report = vio.remux(info, segments, partial, format_name, start, duration,
                           metadata={"comment": provenance}, log=log)
        os.replace(partial, output)
    except BaseException as e:
        partial.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise VidcolorError(f"{output}: writing failed ({e})") from e
        import av.error

        if isinstance(e, av.error.FFmpegError):
            raise VidcolorError(f"{output}: writing failed ({vio._short(e)})") from e
        raise
    shutil.rmtree(work, ignore_errors=True)
    return VideoResult(output=output, frames=prog.frames, resumed_frames=resumed_frames,
                       seconds=time.perf_counter() - t_begin, cuts=core.cuts, report=report)


def _run_frames(info: vio.VideoInfo, core: FrameColorizer, prog: _Progress,
                settings: vio.EncoderSettings, batch_size: int, start: float,
                duration: float | None, segment_frames: int, progress: bool, log: Log) -> None:
    """Decode, colorize and encode the not-yet-done frames into segments (three threads)."""
    stop = threading.Event()
    decoded = _Channel(2 * batch_size, stop)
    colored = _Channel(2 * batch_size, stop)
    dtype = np.uint16 if info.high_bit_depth else np.uint8

    def decode_stage():
        for f in vio.decode_frames(info, start, duration, from_pts=prog.next_pts, log=log):
            decoded.put((f.pts, *core.prepare(f.rgb)))
        decoded.put(_END)

    def encode_stage():
        from tqdm import tqdm

        total = info.estimate_frames(start, duration) or None
        bar = tqdm(total=total, initial=prog.frames, unit="frame", disable=not progress,
                   dynamic_ncols=True, leave=False, file=sys.stderr, desc="colorizing")
        writer = None
        last_state = None

        def emit(pts, rgb, state):
            nonlocal writer, last_state
            if writer is None:
                name = f"seg{len(prog.segments):05d}.vseg"
                writer = vio.SegmentWriter(prog.work / name, info, settings)
            writer.write(pts, rgb)
            last_state = state
            bar.update(1)
            if writer.frames >= segment_frames:
                writer.close()
                prog.add_segment(writer.path.name, writer.frames, writer.first_pts,
                                 writer.last_pts, state)
                writer = None

        # Upsampling and Lab -> RGB at full resolution are the heaviest per-frame work after
        # the model: a few threads do them (OpenCV releases the GIL), results in order.
        pending: deque = deque()
        n_threads = _finish_threads()
        with ThreadPoolExecutor(max_workers=n_threads,
                                thread_name_prefix="vidcolor-finish") as pool:
            try:
                while True:
                    item = colored.get()
                    if item is _END:
                        break
                    pts, ab, L_small, L_full, state = item
                    pending.append((pts, pool.submit(core.finish, ab, L_small, L_full, dtype),
                                    state))
                    while pending and (len(pending) > 2 * n_threads
                                       or pending[0][1].done()):
                        pts, fut, state = pending.popleft()
                        emit(pts, fut.result(), state)
                while pending:
                    pts, fut, state = pending.popleft()
                    emit(pts, fut.result(), state)
                if writer is not None:
                    writer.close()
                    prog.add_segment(writer.path.name, writer.frames, writer.first_pts,
                                     writer.last_pts, last_state)
                    writer = None
            finally:
                for _, fut, _ in pending:
                    fut.cancel()
                if writer is not None:
                    writer.abort()
                bar.close()

    workers = [_Worker("decode", decode_stage, stop), _Worker("encode", encode_stage, stop)]
    for w in workers:
        w.start()
    index = prog.frames
    try:
        done = False
        while not done:
            batch = []
            while len(batch) < batch_size:
                item = decoded.get()
                if item is _END:
                    done = True
                    break
                batch.append(item)
            if not batch:
                break
            ab = core.predict([b[2] for b in batch], batch_size)
            for (pts, L_full, L_small), ab_i in zip(batch, ab):
                ab_s = core.stabilize(L_small, ab_i)
                index += 1
                # The stabilizer's state travels with a segment's last frame, to be saved
                # with that segment (what a resumed job continues from).
                state = None
                if core.stabilizer is not None and index % segment_frames == 0:
                    state = core.stabilizer.get_state()
                colored.put((pts, ab_s, L_small, L_full, state))
        colored.put(_END)
        for w in workers:
            while w.is_alive():
                w.join(timeout=0.1)
    except _Stop:
        pass
    except BaseException:
        stop.set()
        for w in workers:
            w.join()
        if prog.segments:
            log(f"stopped: {prog.frames} frames done are kept in {prog.work}; "
                "rerun the same command with --resume to continue")
        else:
            shutil.rmtree(prog.work, ignore_errors=True)  # nothing worth resuming
        raise
    stop.set()
    for w in workers:
        w.join()
    for w in workers:
        if w.error is not None:
            _raise_stage_error(w.error)


def _finish_threads() -> int:
    """Threads for the full-resolution finishing step: one per two cores, 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def _raise_stage_error(error: BaseException) -> None:
    """Re-raise a worker's error in the main thread; FFmpeg errors become user errors."""
    import av.error

    if isinstance(error, (VidcolorError, KeyboardInterrupt)):
        raise error
    if isinstance(error, av.error.FFmpegError):
        raise VidcolorError(f"video processing failed: {vio._short(error)}") from error
    if isinstance(error, OSError):  # disk full, folder removed under us...
        raise VidcolorError(f"writing failed: {error}") from error
    raise error
