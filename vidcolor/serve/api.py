"""The REST API under ``/api/v1``: quick pictures, jobs, and what the server is.

``POST /colorize``
    One picture (multipart field ``file``) -> the colour picture, in the input's format and
    bit depth unless ``format`` asks for another, with the provenance mark (also sent as the
    ``X-Vidcolor-Provenance`` header). A picture larger than the server's ``sync_pixels``
    answers 202 with a job instead, like ``POST /jobs``.
``POST /jobs``
    A picture or a film with its options (see :data:`vidcolor.serve.forms.FIELDS`) -> 202 and
    the job, ``Location`` its URL.
``GET /jobs``, ``GET /jobs/{id}``
    Jobs: state, progress (done, total, unit, fps, ETA), error, result URL once done.
``GET /jobs/{id}/result``
    The result file (409 until the job is done).
``DELETE /jobs/{id}``
    Cancel the job if it runs, and remove it and its files.
``GET /info``
    Version, model, limits and load.

Every request passes :class:`~vidcolor.serve.security.Guard` first. Fields may also be given
as query parameters (``?format=png``). Handlers that only touch the database or the disk are
plain functions, which FastAPI runs in its thread pool: the event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from vidcolor._version import __version__
from vidcolor.errors import VidcolorError
from vidcolor.provenance import provenance_text
from vidcolor.serve import forms
from vidcolor.serve.db import JobRecord
from vidcolor.serve.errors import ApiError
from vidcolor.serve.jobs import JobManager
from vidcolor.serve.runner import public_message
from vidcolor.serve.sniff import Media, sniff
from vidcolor.serve.uploads import FILE_FIELD, Upload, receive_upload

__all__ = ["router", "job_json", "MEDIA_TYPES"]

MEDIA_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".tif": "image/tiff", ".webp": "image/webp",
    ".mp4": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
    ".webm": "video/webm", ".avi": "video/x-msvideo",
}
PREFIX = "/api/v1"


def _manager(request: Request) -> JobManager:
    return request.app.state.manager


def _authorize(request: Request) -> None:
    request.app.state.guard.check(request.headers)


router = APIRouter(prefix=PREFIX, dependencies=[Depends(_authorize)])


def _upload_doc(kinds: tuple[str, ...]) -> dict:
    """The multipart body for the OpenAPI page (the body is parsed by hand, as a stream)."""
    properties = {FILE_FIELD: {"type": "string", "format": "binary"}}
    for name, spec in forms.FIELDS.items():
        if set(spec.kinds) & set(kinds):
            properties[name] = {"type": spec.json_type,
                                "description": f"for {' and '.join(spec.kinds)} uploads"}
    schema = {"type": "object", "required": [FILE_FIELD], "properties": properties}
    return {"requestBody": {"required": True,
                            "content": {"multipart/form-data": {"schema": schema}}}}


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def job_json(record: JobRecord) -> dict:
    """A job as the API shows it."""
    eta = record.eta
    return {
        "id": record.id, "kind": record.kind, "state": record.state, "name": record.name,
        "format": Path(record.result).suffix.lstrip("."), "options": record.options,
        "progress": {"done": record.done, "total": record.total, "unit": record.unit,
                     "fps": round(record.fps, 2) if record.fps else None,
                     "eta_seconds": None if eta is None else round(eta, 1)},
        "resumed_frames": record.resumed, "attempts": record.attempts, "error": record.error,
        "created": _iso(record.created), "updated": _iso(record.updated),
        "result": f"{PREFIX}/jobs/{record.id}/result" if record.state == "done" else None,
    }


def _accepted(record: JobRecord) -> JSONResponse:
    return JSONResponse(job_json(record), status_code=202,
                        headers={"Location": f"{PREFIX}/jobs/{record.id}"})


def _download_name(name: str, suffix: str) -> str:
    return f"{Path(name).stem or 'picture'}_colour{suffix}"


async def _receive(request: Request, manager: JobManager,
                   folder: Path) -> tuple[Upload, Media, forms.JobSpec]:
    """The upload in ``folder``, what it is, and the job it asks for; all checked."""
    config = manager.config
    try:
        upload = await receive_upload(request.stream(), request.headers.get("content-type"),
                                      request.headers.get("content-length"), folder,
                                      config.max_upload)
    except ClientDisconnect:
        raise ApiError(400, "the upload was interrupted") from None
    media = await run_in_threadpool(sniff, upload.path, config.max_pixels, upload.name)
    spec = forms.job_spec(media, {**request.query_params, **upload.fields}, config)
    return upload, media, spec


@router.post("/colorize", openapi_extra=_upload_doc(("image",)),
             response_class=FileResponse, responses={202: {"description": "a job, for large "
                                                                          "pictures"}})
async def colorize(request: Request):
    """One picture in, the colour picture out (or 202 and a job for a large scan)."""
    manager = _manager(request)
    manager.pool.check_room()
    job_id, folder = manager.new_folder(temporary=True)
    future = None
    try:
        upload, media, spec = await _receive(request, manager, folder)
        if media.kind != "image":
            raise ApiError(415, "a film: send it to POST /api/v1/jobs")
        if media.width * media.height > manager.config.sync_pixels:
            return _accepted(manager.create(job_id, folder, upload, media, spec))
        source = folder / f"input{media.suffix}"
        os.replace(upload.path, source)
        future = manager.colorize_now(source, spec)
        try:
            result = await asyncio.wrap_future(future)
        except VidcolorError as e:
            paths = [source, source.with_name(f"result{spec.suffix}")]
            raise ApiError(422, public_message(e, paths, upload.name)) from None
    except BaseException:
        if future is not None and not future.done():  # the worker still writes there
            future.add_done_callback(lambda _: manager.remove_folder(folder))
        else:
            manager.remove_folder(folder)
        raise
    return FileResponse(result, media_type=MEDIA_TYPES[result.suffix],
                        filename=_download_name(upload.name, result.suffix),
                        headers={"X-Vidcolor-Provenance": provenance_text(manager.model.name)},
                        background=BackgroundTask(manager.remove_folder, folder))


@router.post("/jobs", status_code=202, openapi_extra=_upload_doc(("image", "video")))
async def create_job(request: Request):
    """A picture or film job: 202 with the job; follow ``Location`` for its progress."""
    manager = _manager(request)
    manager.pool.check_room()  # before a long upload, not after
    job_id, folder = manager.new_folder()
    try:
        upload, media, spec = await _receive(request, manager, folder)
        record = manager.create(job_id, folder, upload, media, spec)
    except BaseException:
        manager.remove_folder(folder)
        raise
    return _accepted(record)


def _record(manager: JobManager, job_id: str) -> JobRecord:
    record = manager.get(job_id)
    if record is None:
        raise ApiError(404, "no such job")
    return record


@router.get("/jobs")
def list_jobs(request: Request) -> dict:
    """Every job, newest first."""
    return {"jobs": [job_json(r) for r in _manager(request).list()]}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, request: Request) -> dict:
    """A job's state, progress and error."""
    return job_json(_record(_manager(request), job_id))


@router.get("/jobs/{job_id}/result", response_class=FileResponse)
def job_result(job_id: str, request: Request):
    """The finished job's file."""
    manager = _manager(request)
    record = _record(manager, job_id)
    if record.state == "failed":
        raise ApiError(409, f"the job failed: {record.error}")
    if record.state != "done":
        raise ApiError(409, f"the job is {record.state}: its result is not ready yet")
    path = manager.path(record, "result")
    if not path.is_file():
        raise ApiError(410, "the result file is gone")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix),
                        filename=_download_name(record.name, path.suffix))


@router.delete("/jobs/{job_id}")
def delete_job(job_id: str, request: Request) -> dict:
    """Cancel the job if it runs; remove it and its files."""
    if not _manager(request).delete(job_id):
        raise ApiError(404, "no such job")
    return {"deleted": job_id}


@router.get("/info")
def info(request: Request) -> dict:
    """What this server is and takes."""
    manager = _manager(request)
    config = manager.config
    return {"vidcolor": __version__, "model": manager.model.name, "workers": config.workers,
            "tasks": manager.pool.tasks, "capacity": manager.pool.capacity,
            "max_upload": config.max_upload, "max_pixels": config.max_pixels,
            "sync_pixels": config.sync_pixels,
            "fields": {name: list(spec.kinds) for name, spec in forms.FIELDS.items()}}
