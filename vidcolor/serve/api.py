"""The REST API under ``/api/v1``: quick pictures, jobs, and what the server is.

``POST /colorize``
    One picture (multipart field ``file``) -> the colour picture, in the input's format and
    bit depth unless ``format`` asks for another, with the provenance mark (also sent as the
    ``X-Vidcolor-Provenance`` header). A picture larger than the server's ``sync_pixels``
    answers 202 with a job instead, like ``POST /jobs``.
``POST /preview``
    One picture with its hints -> a PNG at preview size (:class:`ServeConfig.preview_size
    <vidcolor.serve.config.ServeConfig>` on its long side), quickly: what the page shows
    after every change of a hint.
``POST /jobs``
    A picture or a film with its options (see :data:`vidcolor.serve.forms.FIELDS`) and
    guiding files (:data:`vidcolor.serve.guides.FILES`: hints, references, keyframes, a colour
    copy) -> 202 and the job, ``Location`` its URL.
``POST /keyframes``
    A film -> 202 and a job exporting the frames to colour by hand (as ``vidcolor video
    --export-keyframes``); ``GET /jobs/{id}/keyframes`` lists them once it is done,
    ``GET /jobs/{id}/keyframes/{name}`` gives each (a grey PNG named by its time).
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
import re
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from vidcolor._version import __version__
from vidcolor.errors import VidcolorError
from vidcolor.provenance import provenance_text
from vidcolor.options import keyframe_time
from vidcolor.serve import forms, guides
from vidcolor.serve.db import JobRecord
from vidcolor.serve.errors import ApiError
from vidcolor.serve.jobs import JobManager, option_paths, write_hints
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
# An exported keyframe's name (vidcolor.options.keyframe_name): nothing else names a file.
_KEYFRAME_NAME = re.compile(r"^\d{2,}-\d{2}-\d{2}\.\d{3}\.png$")


def _manager(request: Request) -> JobManager:
    return request.app.state.manager


def _authorize(request: Request) -> None:
    request.app.state.guard.check(request.headers)


router = APIRouter(prefix=PREFIX, dependencies=[Depends(_authorize)])


def _for(kinds: tuple[str, ...]) -> str:
    return f" (for {' and '.join(guides.PLURAL[k] for k in kinds)})"


def _upload_doc(kinds: tuple[str, ...], fields: tuple[str, ...] | None = None,
                what: str = "The picture or film.") -> dict:
    """The multipart body for the OpenAPI page (the body is parsed by hand, as a stream):
    the fields that apply to ``kinds`` (only ``fields`` when given)."""
    properties = {FILE_FIELD: {"type": "string", "format": "binary", "description": what}}
    for name, spec in forms.FIELDS.items():
        if set(spec.kinds) & set(kinds) and (fields is None or name in fields):
            properties[name] = {"type": spec.json_type,
                                "description": spec.doc + _for(spec.kinds)}
    for name, spec in guides.FILES.items():
        if set(spec.kinds) & set(kinds) and (fields is None or name in fields):
            binary = {"type": "string", "format": "binary"}
            several = spec.limit is not None
            properties[name] = {**({"type": "array", "items": binary} if several else binary),
                                "description": spec.doc + _for(spec.kinds)}
    schema = {"type": "object", "required": [FILE_FIELD], "properties": properties}
    return {"requestBody": {"required": True,
                            "content": {"multipart/form-data": {"schema": schema}}}}


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _shown_options(options: dict) -> dict:
    """A job's options without the server's paths: each file by its name in the job."""
    return option_paths(options, lambda path: Path(path).name)


def _result_url(record: JobRecord) -> str | None:
    if record.state != "done":
        return None
    return f"{PREFIX}/jobs/{record.id}/{'keyframes' if record.kind == 'keyframes' else 'result'}"


def job_json(record: JobRecord) -> dict:
    """A job as the API shows it."""
    eta = record.eta
    return {
        "id": record.id, "kind": record.kind, "state": record.state, "name": record.name,
        "format": Path(record.result).suffix.lstrip("."),
        "options": _shown_options(record.options),
        "progress": {"done": record.done, "total": record.total, "unit": record.unit,
                     "fps": round(record.fps, 2) if record.fps else None,
                     "eta_seconds": None if eta is None else round(eta, 1)},
        "resumed_frames": record.resumed, "attempts": record.attempts, "error": record.error,
        "created": _iso(record.created), "updated": _iso(record.updated),
        "result": _result_url(record),
    }


def _accepted(record: JobRecord) -> JSONResponse:
    return JSONResponse(job_json(record), status_code=202,
                        headers={"Location": f"{PREFIX}/jobs/{record.id}"})


def _download_name(name: str, suffix: str) -> str:
    return f"{Path(name).stem or 'picture'}_colour{suffix}"


async def _receive(request: Request, manager: JobManager, folder: Path,
                   fields: bool = True) -> tuple[Upload, Media, forms.JobSpec | None]:
    """The upload in ``folder``, what it is, and the job it asks for (with ``fields``; else
    no field or guiding file is taken, and no spec made); all checked."""
    config = manager.config
    try:
        upload = await receive_upload(request.stream(), request.headers.get("content-type"),
                                      request.headers.get("content-length"), folder,
                                      config.max_upload,
                                      guides.file_limits(config) if fields else None)
    except ClientDisconnect:
        raise ApiError(400, "the upload was interrupted") from None
    media = await run_in_threadpool(sniff, upload.path, config.max_pixels, upload.name)
    given = {**request.query_params, **upload.fields}
    if not fields:
        if given:
            raise ApiError(422, f"unknown form field {sorted(given)[0]!r} (this call takes "
                                f"only '{FILE_FIELD}')")
        return upload, media, None
    spec = await run_in_threadpool(_spec, upload, media, given, config, folder)
    return upload, media, spec


def _spec(upload: Upload, media: Media, fields: dict, config, folder: Path) -> forms.JobSpec:
    """The job's spec with its guiding files placed and its hints kept (in a worker thread:
    it reads the files); the server's paths never shown in a refusal."""
    placed = guides.place_guides(upload, media, config)
    try:
        spec = forms.job_spec(media, fields, config, placed)
    except VidcolorError as e:
        names = {str(path): name for path, name in placed.keyframes}
        names.update({str(path): path.name for path in placed.references})
        text = forms.client_message(e)
        for path, name in names.items():
            text = text.replace(path, name)
        raise ApiError(422, text.replace(f"{folder}/", "")) from None
    write_hints(folder, spec.hints)
    return spec


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
            raise ApiError(422, public_message(e, paths, upload.name, folder)) from None
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


_PREVIEW_FIELDS = ("hints", "hints_image", "references", "render_size")


@router.post("/preview", response_class=Response,
             openapi_extra=_upload_doc(("image",), _PREVIEW_FIELDS),
             responses={200: {"content": {"image/png": {}}, "description": "the preview"}})
async def preview(request: Request):
    """One picture with its hints -> a PNG at preview size, quickly (the network's colours of
    a picture are kept, so a changed hint costs only its spread)."""
    manager = _manager(request)
    _, folder = manager.new_folder(temporary=True)
    try:
        upload, media, spec = await _receive(request, manager, folder)
        if media.kind != "image":
            raise ApiError(415, "a film: previews are of pictures")
        unknown = {*upload.fields, *request.query_params} - set(_PREVIEW_FIELDS)
        if unknown:
            raise ApiError(422, f"{sorted(unknown)[0]}: not taken by a preview")
        source = folder / f"input{media.suffix}"
        os.replace(upload.path, source)
        try:
            png = await run_in_threadpool(manager.preview, source, spec)
        except VidcolorError as e:
            raise ApiError(422, public_message(e, [source], upload.name, folder)) from None
    finally:
        await run_in_threadpool(manager.remove_folder, folder)
    return Response(png, media_type="image/png")


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


@router.post("/keyframes", status_code=202,
             openapi_extra=_upload_doc(("video",), (), "The film."))
async def export_keyframes(request: Request):
    """A film -> 202 and a job writing its frames to colour by hand: the first of each shot
    and each where the last one's colour no longer reaches (``vidcolor video
    --export-keyframes``). Colour any of them and send them back as ``keyframes`` of
    ``POST /jobs`` with the film."""
    manager = _manager(request)
    manager.pool.check_room()
    job_id, folder = manager.new_folder()
    try:
        upload, media, _ = await _receive(request, manager, folder, fields=False)
        if media.kind != "video":
            raise ApiError(415, "a picture: keyframes are exported from films")
        record = manager.create(job_id, folder, upload, media, None, kind="keyframes")
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


def _check_done(record: JobRecord, not_ready: str) -> None:
    """Refuse (409) a job that failed, or one not done yet (saying ``not_ready``)."""
    if record.state == "failed":
        raise ApiError(409, f"the job failed: {record.error}")
    if record.state != "done":
        raise ApiError(409, f"the job is {record.state}: {not_ready}")


@router.get("/jobs/{job_id}/result", response_class=FileResponse)
def job_result(job_id: str, request: Request):
    """The finished job's file."""
    manager = _manager(request)
    record = _record(manager, job_id)
    _check_done(record, "its result is not ready yet")
    if record.kind == "keyframes":
        raise ApiError(409, f"a keyframe export: its pictures are listed at "
                            f"{PREFIX}/jobs/{record.id}/keyframes")
    path = manager.path(record, "result")
    if not path.is_file():
        raise ApiError(410, "the result file is gone")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix),
                        filename=_download_name(record.name, path.suffix))


def _export_folder(manager: JobManager, job_id: str) -> tuple[JobRecord, Path]:
    record = _record(manager, job_id)
    if record.kind != "keyframes":
        raise ApiError(404, "not a keyframe export")
    _check_done(record, "its keyframes are not ready yet")
    return record, manager.path(record, "result")


@router.get("/jobs/{job_id}/keyframes")
def list_keyframes(job_id: str, request: Request) -> dict:
    """A finished keyframe export's pictures, in time order: name, time (seconds), URL."""
    _, folder = _export_folder(_manager(request), job_id)
    names = sorted((p.name for p in folder.glob("*.png") if _KEYFRAME_NAME.match(p.name)),
                   key=keyframe_time)
    return {"keyframes": [{"name": n, "time": keyframe_time(n),
                           "url": f"{PREFIX}/jobs/{job_id}/keyframes/{n}"} for n in names]}


@router.get("/jobs/{job_id}/keyframes/{name}", response_class=FileResponse)
def keyframe_picture(job_id: str, name: str, request: Request):
    """One exported keyframe: a grey PNG of the frame, named by its time."""
    _, folder = _export_folder(_manager(request), job_id)
    if not _KEYFRAME_NAME.match(name) or not (folder / name).is_file():
        raise ApiError(404, "no such keyframe")
    return FileResponse(folder / name, media_type="image/png", filename=name)


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
            "preview_size": config.preview_size,
            "limits": {"hints": config.max_hints, "keyframes": config.max_keyframes,
                       "references": config.max_references},
            "fields": {name: list(spec.kinds)
                       for name, spec in [*forms.FIELDS.items(), *guides.FILES.items()]}}
