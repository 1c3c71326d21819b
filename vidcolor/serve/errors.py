""":class:`ApiError`: a request the server refuses, with its HTTP status and a one-line reason.

The serve modules raise it without knowing the web framework; :mod:`vidcolor.serve.app` turns
it into ``{"error": "..."}`` with that status (and any headers, such as ``Retry-After``).
"""

from __future__ import annotations

__all__ = ["ApiError"]


class ApiError(Exception):
    """A refused request: ``status`` (e.g. 413, 415, 422, 503), ``message`` (one line)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
