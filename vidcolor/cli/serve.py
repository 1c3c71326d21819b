"""``vidcolor serve``: the web page and REST API of :mod:`vidcolor.serve` (the serve extra)."""

from __future__ import annotations

import os
import sys

from vidcolor.cli.common import _add_model, _add_runtime, _model, _positive_int
from vidcolor.errors import VidcolorError


def _add_serve(sub) -> None:
    p = sub.add_parser(
        "serve", help="a web page and a REST API for colorizing (needs the serve extra)",
        description="Serve a web page (drop a photo or a film) and a REST API under /api/v1 "
        "(documented at /docs). One model is loaded once; jobs, their options and results are "
        "kept under --data, so finished results survive a restart and interrupted films "
        "continue. Needs the serve extra: pip install \"vidcolor[serve]\".")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; any "
                   "other address needs --token)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--data", default="vidcolor-data", metavar="DIR",
                   help="folder for the jobs database and files (default ./vidcolor-data)")
    p.add_argument("--token", default=os.environ.get("VIDCOLOR_TOKEN"),
                   help="bearer token every API call must carry (default: $VIDCOLOR_TOKEN, "
                   "which keeps it out of the process list)")
    p.add_argument("--max-upload", default="2GB", metavar="SIZE",
                   help="largest upload, like 500MB, 2GB or a number of bytes (default 2GB)")
    p.add_argument("--workers", type=_positive_int, default=2, metavar="N",
                   help="pictures or films colorized at once (default 2)")
    _add_model(p)
    _add_runtime(p)
    p.set_defaults(run=_run_serve)


def _run_serve(args) -> int:
    from vidcolor.serve import EXTRA_HINT, missing_extra
    from vidcolor.serve.config import ServeConfig, parse_size

    if missing_extra():
        raise VidcolorError(EXTRA_HINT)
    config = ServeConfig(args.data, host=args.host, port=args.port, token=args.token or None,
                         max_upload=parse_size(args.max_upload), workers=args.workers)
    from vidcolor.serve.app import serve

    model = _model(args)  # before listening: a bad model is told at once
    hint = " (open it with #token=TOKEN at the end)" if config.token else ""
    print(f"vidcolor: serving {config.url}{hint}; data in {config.data}; Ctrl-C stops",
          file=sys.stderr)
    serve(config, model)
    return 0
