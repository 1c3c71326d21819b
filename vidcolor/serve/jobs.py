"""Jobs from upload to deletion: :class:`JobManager` ties the store, the pool and the runs.

Every job has a folder of its own under ``DATA/jobs/``, named by its id (an unguessable
``secrets.token_urlsafe`` value, checked against :data:`JOB_ID` before it names anything), with
the upload (``input.EXT``), the result (``result.EXT``; a keyframe export's ``keyframes/``
folder), its guiding files (:mod:`vidcolor.serve.guides`: hints, references, keyframes, a
colour copy) and, for films, the pipeline's hidden work folder. Jobs are of three kinds:
``image``, ``video`` and ``keyframes`` (a film's frames to colour by hand, exported). Deleting a job deletes that folder: at once when it is not running, else by its
worker as soon as the run has stopped. On start, jobs the last process left queued or running
are run again (films with ``resume=True``, from their last finished segment), and folders no
job owns any more are removed.

Quick picture requests (``POST /colorize``) are not jobs: their files live in ``DATA/tmp/`` for
as long as the request does.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Callable

from vidcolor.errors import VidcolorError
from vidcolor.log import logger
from vidcolor.models.protocol import ColorModel
from vidcolor.options import ImageOptions, VideoOptions
from vidcolor.serve import runner
from vidcolor.serve.config import ServeConfig
from vidcolor.serve.db import JobRecord, JobStore
from vidcolor.serve.errors import ApiError
from vidcolor.serve.forms import JobSpec
from vidcolor.serve.guides import HINTS_JSON, hint_files
from vidcolor.serve.preview import Previews
from vidcolor.serve.sniff import Media
from vidcolor.serve.uploads import Upload
from vidcolor.serve.workers import WorkerPool

__all__ = ["JOB_ID", "JobManager", "option_paths", "relocated", "write_hints"]

#: What a job id looks like (secrets.token_urlsafe(16)): anything else is no job.
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


class JobManager:
    """The server's jobs and the workers that run them.

    Parameters
    ----------
    config : ServeConfig
    model : ColorModel
        Shared by every run (each runtime lets one network call through at a time).
    """

    def __init__(self, config: ServeConfig, model: ColorModel):
        self.config = config
        self.model = model
        self.jobs_dir = config.data / "jobs"
        self.tmp_dir = config.data / "tmp"
        for folder in (config.data, self.jobs_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(config.data / "jobs.sqlite3")
        self.pool = WorkerPool(config.workers, config.queue, config.retry_after)
        self.previews = Previews(model, config.preview_size)
        self.stopping = threading.Event()
        self._controls: dict[str, runner.JobControl] = {}  # the jobs running now
        self._lock = threading.Lock()  # between a run starting and its job's deletion

    # --- folders --------------------------------------------------------------------------

    def new_folder(self, temporary: bool = False) -> tuple[str, Path]:
        """A fresh id and its (new, empty) folder: a job's, or a quick request's."""
        job_id = secrets.token_urlsafe(16)
        folder = (self.tmp_dir if temporary else self.jobs_dir) / job_id
        folder.mkdir()
        return job_id, folder

    def folder(self, job_id: str) -> Path:
        if not JOB_ID.match(job_id):  # never let a request's text reach the file system
            raise ValueError(f"not a job id: {job_id!r}")
        return self.jobs_dir / job_id

    def path(self, record: JobRecord, which: str) -> Path:
        """A job's ``input`` or ``result`` file."""
        return self.config.data / getattr(record, which)

    @staticmethod
    def remove_folder(folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    # --- jobs -----------------------------------------------------------------------------

    def create(self, job_id: str, folder: Path, upload: Upload, media: Media,
               spec: JobSpec | None, kind: str | None = None) -> JobRecord:
        """Record a job for an upload in its folder and queue it.

        A quick request's folder (``POST /colorize`` of a large picture) becomes the job's.
        ``kind`` "keyframes" (with ``spec`` None) exports a film's frames to colour.

        Raises
        ------
        ApiError
            503 when the pool is full (the job and its folder are removed again).
        """
        options = spec.options if spec is not None else None
        if folder != self.folder(job_id):
            os.replace(folder, self.folder(job_id))
            options = relocated(options, folder, self.folder(job_id))
            folder = self.folder(job_id)
        source = folder / f"input{media.suffix}"
        os.replace(folder / upload.path.name, source)
        rel = folder.relative_to(self.config.data)
        kind = kind or media.kind
        result = "keyframes" if kind == "keyframes" else f"result{spec.suffix}"
        record = self.store.add(
            id=job_id, kind=kind, name=upload.name, input=str(rel / source.name),
            result=str(rel / result), options={} if options is None else options.to_dict(),
            unit="tile" if kind == "image" else "frame", total=media.frames)
        try:
            self.pool.submit(self._run, job_id)
        except ApiError:
            self.store.delete(job_id)
            self.remove_folder(folder)
            raise
        logger.info(f"job {job_id}: {media.kind} {upload.name!r} queued")
        return record

    def get(self, job_id: str) -> JobRecord | None:
        return self.store.get(job_id) if JOB_ID.match(job_id) else None

    def list(self) -> list[JobRecord]:
        return self.store.list()

    def delete(self, job_id: str) -> bool:
        """Cancel a job if it runs and remove it with its files; False when there is none."""
        if not JOB_ID.match(job_id):
            return False
        with self._lock:
            if not self.store.delete(job_id):
                return False
            control = self._controls.get(job_id)
            if control is not None:
                control.cancel()  # its worker removes the folder once the run has stopped
        if control is None:
            self.remove_folder(self.folder(job_id))
        logger.info(f"job {job_id}: deleted")
        return True

    def colorize_now(self, source: Path, spec: JobSpec) -> Future:
        """A quick picture request: colorize ``source`` beside itself in a worker.

        Returns
        -------
        Future
            Of the result's path.
        """
        result = source.with_name(f"result{spec.suffix}")
        return self.pool.submit(runner.colorize_picture, self.model, source, result,
                                spec.options, None, hint_files(source.parent))

    # --- runs -----------------------------------------------------------------------------

    def _start(self, job_id: str) -> tuple[JobRecord, runner.JobControl] | None:
        """Mark a job running; None when it was deleted (or the server stops) before its turn."""
        with self._lock:
            record = self.store.get(job_id)
            if record is None or self.stopping.is_set():
                return None
            control = runner.JobControl(self.stopping)
            self._controls[job_id] = control
            self.store.update(job_id, state="running", started=time.time(), error=None,
                              attempts=record.attempts + 1, fps=None)
        return record, control

    def _run(self, job_id: str) -> None:
        """A worker's whole handling of one job (the pool's task)."""
        started = self._start(job_id)
        if started is None:
            if self.store.get(job_id) is None:
                self.remove_folder(self.folder(job_id))
            return
        record, control = started
        progress = runner.StoreProgress(self.store, job_id, control)
        try:
            done, resumed = self._colorize(record, progress)
            self.store.update(job_id, state="done", done=done, total=done, resumed=resumed)
            logger.info(f"job {job_id}: done")
        except runner.Cancelled:
            pass
        except runner.Interrupted:
            self.store.update(job_id, state="queued", fps=None)
            logger.info(f"job {job_id}: stopped with the server; it continues after a restart")
        except (VidcolorError, OSError) as e:
            paths = [self.path(record, "input"), self.path(record, "result")]
            self._fail(job_id, runner.public_message(e, paths, record.name,
                                                     self.folder(job_id)))
        except Exception:  # noqa: BLE001 - a bug must fail the job, not the worker
            logger.exception(f"job {job_id}: internal error")
            self._fail(job_id, "internal error (see the server's log)")
        finally:
            with self._lock:
                self._controls.pop(job_id, None)
                gone = self.store.get(job_id) is None
            if gone:
                self.remove_folder(self.folder(job_id))

    def _colorize(self, record: JobRecord, progress: runner.StoreProgress) -> tuple[int, int]:
        """Run the job's work: the units done (frames, or tiles of a picture, at least 1) and
        of those the frames an interrupted run had done."""
        source, result = self.path(record, "input"), self.path(record, "result")
        if record.kind == "keyframes":
            return runner.export_film_keyframes(source, result, progress), 0
        if record.kind == "image":
            runner.colorize_picture(self.model, source, result,
                                    ImageOptions.from_dict(record.options), progress,
                                    hint_files(source.parent))
            return max(progress.done, 1), 0
        options = VideoOptions.from_dict(record.options)
        return runner.colorize_film(self.model, source, result, options, progress,
                                    resume=record.attempts > 0)

    def _fail(self, job_id: str, message: str) -> None:
        self.store.update(job_id, state="failed", error=message, fps=None)
        logger.warning(f"job {job_id}: failed: {message}")

    # --- previews -------------------------------------------------------------------------

    def preview(self, source: Path, spec: JobSpec) -> bytes:
        """A quick picture request's preview (PNG bytes), with the hints in its folder; run
        it in a thread of its own, not the pool, so that it never waits behind a film."""
        return self.previews.render(source, spec.options, hint_files(source.parent))

    # --- the server's life ----------------------------------------------------------------

    def start(self) -> None:
        """Remove what no job owns, then run again the jobs the last process left unfinished."""
        self.remove_folder(self.tmp_dir)
        self.tmp_dir.mkdir()
        owned = self.store.ids()
        for folder in self.jobs_dir.iterdir():
            if folder.name not in owned:
                self.remove_folder(folder)
        for record in self.store.unfinished():
            logger.info(f"job {record.id}: continuing after a restart")
            self.pool.submit(self._run, record.id, force=True)

    def stop(self) -> None:
        """Stop the running jobs where they can continue later, and wait for the workers."""
        self.stopping.set()
        self.pool.shutdown()
        self.store.close()



def relocated(options: ImageOptions | VideoOptions | None, old: Path, new: Path):
    """``options`` whose files (references, keyframes, a colour copy) were in folder ``old``,
    now that it is ``new``."""
    if options is None:
        return None

    def move(path: str) -> str:
        return str(new / Path(path).relative_to(old)) if Path(path).is_relative_to(old) else path

    return type(options).from_dict(option_paths(options.to_dict(), move))


def option_paths(options: dict, change: Callable[[str], str]) -> dict:
    """A copy of an options dict with the path of each of its files (references, keyframes,
    a colour copy) changed by ``change``."""
    def changed(item):
        return {**item, "path": change(item["path"])} if isinstance(item, dict) else item

    data = dict(options)
    for key in ("references", "keyframes"):
        if key in data:
            data[key] = [changed(item) for item in data[key]]
    if data.get("colour_from"):
        data["colour_from"] = changed(data["colour_from"])
    return data


def write_hints(folder: Path, hints: dict | None) -> None:
    """Keep a picture's checked hints JSON in its folder, where its run finds them."""
    if hints is not None:
        (folder / HINTS_JSON).write_text(json.dumps(hints), encoding="utf-8")
