"""The application: :func:`create_app` (routes, error handlers, the page) and :func:`serve`.

Every error leaves as ``{"error": "one line"}`` with its status, never as a traceback: the
handlers below cover refusals (:class:`~vidcolor.serve.errors.ApiError`), the library's user
errors (:class:`~vidcolor.errors.VidcolorError`, 422, an option's naming its form field),
FastAPI's and Starlette's own (404, 405, validation), and anything else (500; the traceback
goes to the server's log only). The page at ``/`` is three files of this package
(``static/``), with a content security policy that lets it load nothing from elsewhere.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from vidcolor._version import __version__
from vidcolor.errors import VidcolorError
from vidcolor.log import logger
from vidcolor.models.protocol import ColorModel
from vidcolor.serve.api import router
from vidcolor.serve.config import ServeConfig
from vidcolor.serve.errors import ApiError
from vidcolor.serve.forms import client_message
from vidcolor.serve.jobs import JobManager
from vidcolor.serve.security import Guard

__all__ = ["create_app", "serve"]

STATIC = Path(__file__).resolve().parent / "static"
_HEADERS = {
    # The page loads its own files only; pictures and films it shows are blob: URLs.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "media-src 'self' blob:; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# FastAPI's /docs page is Swagger UI, whose script and style come from a CDN and which starts
# with an inline script: the one page allowed them (it shows the local /openapi.json).
_DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
             "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: "
             "https://fastapi.tiangolo.com; frame-ancestors 'none'")


class _SecurityHeaders:
    """Pure ASGI middleware adding :data:`_HEADERS` to every HTTP response (Starlette's
    ``BaseHTTPMiddleware`` would re-wrap every streamed file and upload)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        headers = dict(_HEADERS)
        if scope["path"] == "/docs":
            headers["Content-Security-Policy"] = _DOCS_CSP

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()
                         if k.lower().encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    line = " ".join(str(message).split()) or "error"
    return JSONResponse({"error": line}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        return _error(e.status, e.message, e.headers)

    @app.exception_handler(VidcolorError)
    async def vidcolor_error(request: Request, e: VidcolorError):
        return _error(422, client_message(e))  # an option named as the form names it

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        return _error(e.status_code, e.detail, getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        logger.error(f"internal error on {request.method} {request.url.path}", exc_info=e)
        return _error(500, "internal error (see the server's log)")


def create_app(data: str | Path | None = None, model: ColorModel | None = None,
               config: ServeConfig | None = None, **settings) -> FastAPI:
    """The web application of ``vidcolor serve``.

    Parameters
    ----------
    data : path, optional
        The data folder (the jobs database, each job's files); or give `config`.
    model : ColorModel, optional
        The one model every request uses; default the shipped one, loaded now.
    config : ServeConfig, optional
        All settings; by default ``ServeConfig(data, **settings)``.
    **settings
        Fields of :class:`ServeConfig` (``max_upload=``, ``token=``, ``workers=``...).

    Returns
    -------
    FastAPI
        Its lifespan starts the workers (and the jobs a previous run left unfinished) and
        stops them, keeping interrupted films resumable.
    """
    if config is None:
        if data is None:
            raise TypeError("create_app needs the data folder or a ServeConfig")
        config = ServeConfig(data, **settings)
    if model is None:
        from vidcolor.models.store import load_model

        model = load_model()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.manager = JobManager(config, model)
        app.state.manager.start()
        try:
            yield
        finally:
            app.state.manager.stop()

    app = FastAPI(title="vidcolor", version=__version__, lifespan=lifespan, redoc_url=None,
                  description="Colorize black-and-white photographs and film.")
    app.state.guard = Guard(config.token)
    app.state.config = config
    _add_error_handlers(app)
    app.include_router(router)

    app.add_middleware(_SecurityHeaders)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(config: ServeConfig, model: ColorModel | None = None) -> None:
    """Run the server until Ctrl-C (or SIGTERM): running films stop where a restart resumes.

    Parameters
    ----------
    config : ServeConfig
    model : ColorModel, optional
        Default: the shipped model.
    """
    import uvicorn

    app = create_app(config=config, model=model)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info",
                timeout_graceful_shutdown=30)
