"""``vidcolor serve``: a local web page and a REST API over one model, jobs kept in SQLite.

The pieces, one module each:

- :mod:`~vidcolor.serve.config`: :class:`ServeConfig`, the server's settings, checked once
  (a network host needs a token); sizes like ``500MB``. Imports nothing of the web stack.
- :mod:`~vidcolor.serve.db`: :class:`~vidcolor.serve.db.JobStore`, the jobs table in SQLite.
- :mod:`~vidcolor.serve.uploads`: a multipart upload streamed to disk under a size limit.
- :mod:`~vidcolor.serve.sniff`: what an upload is, from its bytes (never from its name).
- :mod:`~vidcolor.serve.guides`: a request's guiding files (hint image, reference photos,
  keyframes, a colour copy) sniffed and placed; the hints JSON checked.
- :mod:`~vidcolor.serve.forms`: a request's text fields and guiding files -> the job's option
  values.
- :mod:`~vidcolor.serve.preview`: quick previews of a photo with hints (the network's colours
  of the last pictures kept).
- :mod:`~vidcolor.serve.workers`: the bounded pool colorization runs in, and the model lock.
- :mod:`~vidcolor.serve.runner`: one picture or film job run, its progress into the store.
- :mod:`~vidcolor.serve.jobs`: :class:`~vidcolor.serve.jobs.JobManager`, jobs from creation
  to deletion, and the restart of interrupted ones.
- :mod:`~vidcolor.serve.security`: the bearer token, same-origin and host checks.
- :mod:`~vidcolor.serve.api`: the routes under ``/api/v1``.
- :mod:`~vidcolor.serve.app`: :func:`create_app`, error handlers, the page at ``/``, and
  :func:`~vidcolor.serve.app.serve` (uvicorn).
- ``static/``: the page itself (plain HTML, CSS and JavaScript: no build step, no CDN).

FastAPI, uvicorn and python-multipart are the optional extra ``vidcolor[serve]``; nothing of
vidcolor outside this package imports them, and this ``__init__`` does not either, so the CLI
can say in one line what to install when they are missing (:func:`missing_extra`).
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRA_HINT", "create_app", "missing_extra"]

#: What `vidcolor serve` says when the extra is not installed.
EXTRA_HINT = ("the serve extra is not installed: pip install \"vidcolor[serve]\" "
              "(in a source checkout: pip install \".[serve]\")")

_EXTRA_MODULES = ("fastapi", "uvicorn", "python_multipart")


def missing_extra() -> list[str]:
    """The modules of the ``serve`` extra that cannot be imported (empty when all can)."""
    return [name for name in _EXTRA_MODULES if importlib.util.find_spec(name) is None]


def __getattr__(name):
    # Lazy, so that importing the config (the CLI does) never needs FastAPI.
    if name == "create_app":
        from vidcolor.serve.app import create_app

        return create_app
    raise AttributeError(f"module 'vidcolor.serve' has no attribute {name!r}")
