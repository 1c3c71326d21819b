"""``vidcolor video --cluster``: a film's chunks colorized by Ray actors, joined as one job.

The driver (this process) checks the paths and probes the input as the single-process job
does, reads the input file once into Ray's object store, starts one actor per worker slot
(each loads the model once: one GPU each where the cluster has GPUs, one CPU otherwise),
scans the film for its scene cuts and plans the chunks (:mod:`vidcolor.video.chunks`). Each
actor decodes its chunk from those bytes, colorizes and encodes it, and hands the encoded
segment back through the object store; no file system is shared. Colour keyframes are placed
by the driver before any work; each one's file travels through the object store with the
chunk that holds its (unsplit) shot; the reference photos' files travel with every chunk. The
driver writes each segment into the job's work
folder as it arrives (so ``--resume`` continues an interrupted job with the chunks not yet
done) and remuxes them with the input's other streams exactly as the single-process job
does.

A worker that dies in the middle of a chunk is restarted by Ray and the chunk is done again
(``max_restarts`` / ``max_task_retries``). The whole input must fit in the object store of
the driver's node, and of each node a worker runs on (one copy a node). Ray is imported only
here, and only when a cluster is asked for: ``import vidcolor`` never needs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from vidcolor.errors import OptionError, VidcolorError, first_line
from vidcolor.models.protocol import ColorModel
from vidcolor.options import Keyframe, Reference, VideoOptions
from vidcolor.progress import Progress
from vidcolor.video.chunks import (ChunkJob, ChunkResult, ChunkSpec, check_chunk_result,
                                   colorize_chunk, plan_chunks, scan_film, warmup_frames)
from vidcolor.video.job import CheckedFilm, FilmJob, FilmPlan, FilmRun, VideoResult
from vidcolor.video.sink import keep_for_resume
from vidcolor.video.workdir import WorkFolder

__all__ = ["ClusterSession", "colorize_video_on_cluster", "import_ray", "parse_cluster"]

#: The message when Ray is missing, ``{field}`` the option's spelling (an OptionError template).
RAY_MISSING = "{field} needs Ray, which is not installed: pip install \"vidcolor[cluster]\""
#: Times Ray restarts a dead actor, and retries the chunk it was doing.
WORKER_RETRIES = 3
#: Environment variable naming a marker file: a test hook. While the file is absent, the
#: first worker to reach its second frame creates it and exits at once (a worker that dies).
CRASH_MARKER_ENV = "VIDCOLOR_TEST_CRASH_MARKER"


def import_ray():
    """Ray, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise OptionError("cluster", RAY_MISSING) from None
    return ray


def parse_cluster(spec: str) -> tuple[str | None, int | None]:
    """``(address, local worker count)`` of a ``--cluster`` value.

    ``local`` or ``local:N`` start Ray on this machine (N worker processes, default one per
    core): the address is None. Anything else (``auto``, ``ray://head:10001``) is an address
    to join, with no count.

    Raises
    ------
    VidcolorError
        ``local:`` followed by anything but a positive integer, or an empty value.
    """
    spec = spec.strip()
    if spec == "local":
        return None, os.cpu_count() or 1
    if spec.startswith("local:"):
        count = spec[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise OptionError("cluster", "{field} local:N needs a positive number of workers, "
                              "got {spec!r}", spec=spec)
        return None, int(count)
    if not spec:
        raise OptionError("cluster", "{field} needs local, local:N or a Ray address")
    return spec, None


class ChunkWorker:
    """A Ray actor's state: the model, loaded once, that colorizes chunk after chunk.

    Parameters
    ----------
    load_model : callable
        Returns the ColorModel; called once, in the worker.
    """

    def __init__(self, load_model: Callable[[], ColorModel]):
        self.model = load_model()

    def describe(self) -> dict:
        """What the driver needs of the model: its name, identity and render shape."""
        return {"name": self.model.name, "identity": self.model.identity,
                "render_size": int(self.model.render_size),
                "multiple": int(self.model.multiple)}

    def colorize(self, data, job: ChunkJob, chunk: ChunkSpec, *files) -> ChunkResult:
        """:func:`~vidcolor.video.chunks.colorize_chunk`, a user's problem handed back as
        one line rather than raised (Ray would wrap it in its traceback). ``files``: the
        chunk's keyframes' files, then the job's reference photos'."""
        keys = len(chunk.options.get("keyframes", ()))
        try:
            return colorize_chunk(self.model, job, chunk, data, _crash_hook(), files[:keys],
                                  files[keys:])
        except VidcolorError as e:
            return ChunkResult(index=chunk.index, error=str(e))


def _crash_hook() -> Progress | None:
    """The test hook of :data:`CRASH_MARKER_ENV`: a progress that kills this worker once."""
    marker = os.environ.get(CRASH_MARKER_ENV)
    if not marker:
        return None

    def progress(done: int, total) -> None:
        if done >= 2 and not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)

    return progress


def _worker_env() -> dict[str, str]:
    """Environment of the workers: they import the same vidcolor as this process (a
    checkout, not only an install)."""
    root = str(Path(__file__).resolve().parents[2])
    return {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}


def _connect(ray, spec: str, object_store_memory: int | None) -> bool:
    """Join or start Ray for ``spec``; True when this call did (so the session closes it)."""
    if ray.is_initialized():
        return False
    address, count = parse_cluster(spec)
    runtime_env = {"env_vars": _worker_env()}
    try:
        if address is None:
            ray.init(num_cpus=count, object_store_memory=object_store_memory,
                     include_dashboard=False, log_to_driver=False, runtime_env=runtime_env,
                     logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, runtime_env=runtime_env,
                     logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise OptionError("cluster", "{field} {spec}: cannot start or join Ray ({why})",
                          spec=spec, why=first_line(e)) \
            from None
    return True


def _local_threads(workers: int) -> dict:
    """Actor options on a local Ray this session started: this machine's cores shared out
    (Ray would give a one-CPU actor's libraries a single thread)."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {**_worker_env(), "OMP_NUM_THREADS": str(threads)}
    return {"runtime_env": {"env_vars": env}}


def _worker_slots(ray) -> tuple[int, dict]:
    """How many actors the cluster holds and the resources each asks for: one a GPU where
    there are GPUs, else one a CPU."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return gpus, {"num_gpus": 1, "num_cpus": 1}
    return max(1, int(resources.get("CPU", 1))), {"num_cpus": 1}


class ClusterSession:
    """Ray actors holding the model, ready to colorize films chunk by chunk.

    Parameters
    ----------
    cluster : str
        ``local``, ``local:N`` or a Ray address (see :func:`parse_cluster`); an already
        initialized Ray is used as it is.
    load_model : callable
        Returns the ColorModel; sent to every worker (it must pickle), called there once.
    workers : int, optional
        Actors to start; default one per slot of the cluster (:func:`_worker_slots`).
    object_store_memory : int, optional
        Bytes of object store of a local Ray (it holds each input file whole).
    """

    def __init__(self, cluster: str, load_model: Callable[[], ColorModel],
                 workers: int | None = None, object_store_memory: int | None = None):
        self.ray = import_ray()
        self.started = _connect(self.ray, cluster, object_store_memory)
        slots, resources = _worker_slots(self.ray)
        count = workers or slots
        if self.started and parse_cluster(cluster)[0] is None and "num_gpus" not in resources:
            resources.update(_local_threads(count))
        actor = self.ray.remote(ChunkWorker).options(
            max_restarts=WORKER_RETRIES, max_task_retries=WORKER_RETRIES, **resources)
        self.actors = [actor.remote(load_model) for _ in range(count)]
        #: Seconds of the last film's steps: scan, chunks (wall), workers (their sum); the remux is
        #: the job's (:attr:`~vidcolor.video.job.VideoResult.steps`).
        self.timings: dict[str, float] = {}
        try:
            self.model = self.ray.get(self.actors[0].describe.remote())
        except self.ray.exceptions.RayError as e:
            self.close()
            raise VidcolorError(f"the cluster's workers could not load the model "
                                f"({first_line(e)})") from None

    def close(self) -> None:
        """Stop the actors, and Ray itself if this session started it."""
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self.started:
            self.ray.shutdown()
            self.started = False

    def __enter__(self) -> "ClusterSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def colorize_video(self, input, output, options: VideoOptions | None = None, *,
                       overwrite: bool = False, resume: bool = False,
                       progress: Progress | None = None) -> VideoResult:
        """Colorize one film on the cluster; the same output as
        :func:`vidcolor.video.pipeline.colorize_video`, which documents the parameters.

        Raises
        ------
        VidcolorError
            As the single-process job, and when a chunk failed on every retry.
        """
        job = FilmJob(input, output, options, overwrite=overwrite, resume=resume)
        return job.run(self, progress)

    def plan(self, film: CheckedFilm, options: VideoOptions) -> FilmPlan:
        """The film's chunks (:class:`~vidcolor.video.job.FilmExecutor`): its scene cuts found
        by a scan, whole shots grouped; they are part of the job's identity.

        Raises
        ------
        VidcolorError
            See :func:`cluster_refusal`; a keyframe or reference file changed since its
            options were made.
        """
        refusal = cluster_refusal(options.colour_from is not None,
                                  film.info.sequence is not None or film.writes_frames)
        if refusal is not None:
            raise refusal
        _check_fits(self.ray, film.input, film.input.stat().st_size)
        options = dataclasses.replace(options,
                                      render_size=options.render_size or self.model["render_size"])
        t_scan = time.perf_counter()
        # A keyframe's colour stops at its shot's cuts even without the stabilizer.
        scan = scan_film(film.info, options.window, options.render_size, self.model["multiple"],
                         find_cuts=options.stabilize or bool(film.placed))
        self.timings = {"scan": time.perf_counter() - t_scan, "workers": 0.0}
        warmup = warmup_frames(options.stabilize_strength) if options.stabilize else 0
        chunks = plan_chunks(scan, options.segment_frames, warmup, film.placed)
        keyframe_files = [_read_guide_file(p.keyframe, "keyframe") for p in film.placed]
        reference_files = [_read_guide_file(r, "reference photo") for r in options.references]
        return FilmPlan(options, self.model["name"], self.model["identity"],
                        extra={"chunks": [c.to_dict() for c in chunks]},
                        detail=(scan, chunks, keyframe_files, reference_files))

    def run(self, film: CheckedFilm, plan: FilmPlan, work: WorkFolder,
            progress: Progress | None) -> FilmRun:
        """Send the chunks not yet in ``work`` to the actors; store each segment as it comes
        (:class:`~vidcolor.video.job.FilmExecutor`)."""
        scan, chunks, keyframe_files, reference_files = plan.detail
        t_chunks = time.perf_counter()
        lost = self._run_chunks(film.input, ChunkJob(film.info, film.settings, plan.options),
                                chunks, work, progress, len(scan.pts), keyframe_files,
                                reference_files)
        self.timings["chunks"] = time.perf_counter() - t_chunks
        cuts = len(scan.shot_starts) if plan.options.stabilize else 0
        return FilmRun(cuts=cuts, lost_frames=len(set(scan.lost) | set(lost)))

    def _run_chunks(self, input: Path, job: ChunkJob, chunks: list[ChunkSpec],
                    work: WorkFolder, progress: Progress | None, total: int,
                    keyframe_files: list[bytes], reference_files: list[bytes]) -> list[float]:
        """Send the chunks not yet in ``work`` to the actors, each with its keyframes' files
        (``keyframe_files``: the film's, in time order) and the reference photos' (every
        chunk, in the options' order); store each segment as it comes.

        Returns
        -------
        list of float
            Seconds of the frames the workers' decoders refused.
        """
        done = {s["file"] for s in work.segments}
        todo = {c.index: c for c in chunks if c.segment_name not in done}
        if progress is not None:
            progress(work.frames, total)
        data = self.ray.put(np.frombuffer(_read_input(input), np.uint8))
        numbers = {k["number"] for c in todo.values() for k in c.options.get("keyframes", ())}
        keyframe_refs = {n: self.ray.put(keyframe_files[n]) for n in sorted(numbers)}
        reference_refs = [self.ray.put(content) for content in reference_files]
        lost: list[float] = []
        try:
            for result in self._results(data, job, list(todo.values()), keyframe_refs,
                                        reference_refs):
                chunk = todo[result.index]
                check_chunk_result(result, chunk)
                if result.frames:
                    work.store_segment(chunk.segment_name, result.data, result.frames,
                                       result.first_pts, result.last_pts)
                lost += result.lost
                self.timings["workers"] += result.seconds
                if progress is not None:
                    progress(work.frames, total)
        except BaseException:
            keep_for_resume(work)
            raise
        finally:
            del data, keyframe_refs, reference_refs
        return lost

    def _results(self, data, job: ChunkJob, chunks: list[ChunkSpec], keyframe_refs: dict,
                 reference_refs: list):
        """The chunks' results as they finish, each actor kept busy with two chunks."""
        ray = self.ray
        queue = list(reversed(chunks))
        running: dict = {}

        def submit(actor) -> None:
            if queue:
                chunk = queue.pop()
                # Top-level arguments, so that Ray hands the worker the bytes, not references.
                files = [keyframe_refs[k["number"]] for k in chunk.options.get("keyframes", ())]
                running[actor.colorize.remote(data, job, chunk, *files, *reference_refs)] = actor

        for actor in self.actors * 2:
            submit(actor)
        try:
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                actor = running.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except ray.exceptions.RayError as e:
                    raise VidcolorError(f"a chunk failed on every worker retry "
                                        f"({first_line(e)})") from None
                submit(actor)
                yield result
        finally:
            for ref in running:  # stopped early: the chunks waiting for a worker are dropped
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - a chunk already running just finishes
                    pass


def _read_input(input: Path) -> bytes:
    try:
        return input.read_bytes()
    except OSError as e:
        raise VidcolorError(f"{input}: cannot be read ({e.strerror})") from None


def cluster_refusal(colour_from: bool, frames: bool) -> VidcolorError | None:
    """Why a film cannot be coloured on the cluster, or None: asked by the command line before
    Ray starts and by :meth:`ClusterSession.plan`. The workers share no file system: the
    input, keyframes and reference photos go through the object store, but a colour copy (a
    second film, read as it plays) and image sequences do not.

    Parameters
    ----------
    colour_from : bool
        The job has a colour copy.
    frames : bool
        The input or the output is an image sequence.
    """
    if frames:
        return VidcolorError("--cluster colours video files into a video file; colour image "
                             "sequences in this process (leave out --cluster)")
    if colour_from:
        return VidcolorError("--colour-from colours a film in this process only: leave out "
                             "--cluster")
    return None


def _read_guide_file(guide: Keyframe | Reference, what: str) -> bytes:
    """A keyframe's or reference photo's bytes, as they were when its options were made (their
    hash is what a resumed job compares).

    Raises
    ------
    VidcolorError
    """
    try:
        content = Path(guide.path).read_bytes()
    except OSError as e:
        raise VidcolorError(f"{guide.path}: cannot read the {what} ({e.strerror})") from None
    if hashlib.sha256(content).hexdigest() != guide.sha256:
        raise VidcolorError(f"{guide.path}: the {what} changed since the job was given it")
    return content


def _check_fits(ray, input: Path, size: int) -> None:
    """Refuse an input larger than the smallest node's object store, which must hold it.

    Raises
    ------
    VidcolorError
    """
    stores = [n["Resources"].get("object_store_memory", 0) for n in ray.nodes() if n["Alive"]]
    smallest = min((s for s in stores if s), default=0)
    if smallest and size > smallest:
        raise OptionError("cluster", "{input}: {size:.0f} MiB does not fit in the cluster's "
                          "object store ({smallest:.0f} MiB on a node); give Ray more (ray "
                          "start --object-store-memory) or run without {field}", input=input,
                          size=size / 2**20, smallest=smallest / 2**20)


def colorize_video_on_cluster(input, output, load_model: Callable[[], ColorModel],
                              options: VideoOptions | None = None, *, cluster: str = "local",
                              overwrite: bool = False, resume: bool = False,
                              progress: Progress | None = None) -> VideoResult:
    """Colorize one film on a Ray cluster (see :class:`ClusterSession`), the session's
    actors stopped afterwards."""
    with ClusterSession(cluster, load_model) as session:
        return session.colorize_video(input, output, options, overwrite=overwrite,
                                      resume=resume, progress=progress)
