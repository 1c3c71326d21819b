"""Who may call the API: the bearer token, and requests that come from the page's own origin.

- With a token (required off loopback, see :class:`~vidcolor.serve.config.ServeConfig`),
  every API call carries ``Authorization: Bearer TOKEN``, compared in constant time.
- Without one, the server is on loopback and open to this machine; two checks keep web pages
  from elsewhere out of it. A ``Host`` header that is not a loopback name is refused: a
  hostile site can make its own name resolve to 127.0.0.1 (DNS rebinding) and would otherwise
  be same-origin with the server.
- Always, a request whose ``Origin`` is another site's is refused: browsers send cross-site
  form posts without asking first, and those would start jobs.
"""

from __future__ import annotations

import hmac
from typing import Mapping
from urllib.parse import urlsplit

from vidcolor.serve.config import is_loopback
from vidcolor.serve.errors import ApiError

__all__ = ["Guard"]


def _hostname(netloc: str) -> str:
    """``"[::1]:8000"`` -> ``"::1"``, ``"localhost:8000"`` -> ``"localhost"``."""
    return urlsplit(f"//{netloc}").hostname or ""


class Guard:
    """The checks every API request passes.

    Parameters
    ----------
    token : str, optional
        The bearer token; None leaves the API open to loopback callers.
    """

    def __init__(self, token: str | None):
        self.token = token.encode() if token else None

    def check(self, headers: Mapping[str, str]) -> None:
        """Raise :class:`ApiError` (401 or 403) unless the request may go on.

        Parameters
        ----------
        headers : mapping
            The request's headers, by lower-case name.
        """
        host = headers.get("host", "")
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != host:  # "null" included
            raise ApiError(403, "cross-origin requests are refused")
        if self.token is None:
            if not is_loopback(_hostname(host)):
                raise ApiError(403, f"Host {host!r} refused: the server is bound to loopback "
                                    "without a token (start it with --token to use other names)")
            return
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                  self.token):
            raise ApiError(401, "missing or wrong token (send Authorization: Bearer TOKEN)",
                           {"WWW-Authenticate": "Bearer"})
