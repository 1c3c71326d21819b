"""The server's settings as one value, checked once: :class:`ServeConfig`, and sizes in text.

Safe by default is decided here, before anything listens: the server binds to 127.0.0.1 unless
told otherwise, and any other address needs a bearer token. This module imports nothing of the
web stack, so the CLI can check its arguments without the ``serve`` extra installed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.options import DEFAULT_SEGMENT_FRAMES

__all__ = ["ServeConfig", "is_loopback", "parse_size", "MIN_TOKEN_LENGTH"]

#: Shorter tokens are refused: a network-facing server must not be guessable in an afternoon.
MIN_TOKEN_LENGTH = 12

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str) -> int:
    """Bytes from ``"500MB"``, ``"2GB"``, ``"1.5G"``, ``"64MiB"`` or plain ``"1000000"``.

    KB, MB, GB, TB are powers of 1000 (as disks and browsers count); KiB, MiB... of 1024.

    Raises
    ------
    VidcolorError
        Not a size, or zero.
    """
    m = _SIZE.match(str(text))
    if not m:
        raise VidcolorError(f"not a size: {text!r} (use e.g. 500MB, 2GB or a number of bytes)")
    number, prefix, binary = m.groups()
    base = 1024 if binary else 1000
    value = int(float(number) * base ** _POWERS[prefix.lower()])
    if value <= 0:
        raise VidcolorError(f"size must be more than 0 bytes, got {text!r}")
    return value


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _positive(name: str, value, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise VidcolorError(f"{name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class ServeConfig:
    """How ``vidcolor serve`` runs.

    Attributes
    ----------
    data : Path
        Holds ``jobs.sqlite3``, each job's folder and the temporary files of quick requests.
    host, port : str, int
        Where to listen; a host other than a loopback address needs `token`.
    token : str, optional
        The bearer token every API call must carry (at least :data:`MIN_TOKEN_LENGTH`
        characters); None on loopback leaves the API open to this machine's users.
    max_upload : int
        Bytes an upload may have; past it the request gets 413.
    workers : int
        Pictures or films colorized at once (the model itself runs one call at a time).
    queue : int
        Work waiting for a worker beyond those running; more gets 503 with Retry-After.
    max_pixels : int
        Largest picture accepted (decompression bombs are refused before decoding).
    sync_pixels : int
        ``POST /colorize`` answers larger pictures with 202 and a job instead of waiting.
    segment_frames : int
        Frames per resumable segment of film jobs (what a restart loses at most).
    batch_size : int, optional
        Frames per model call of film jobs; None chooses by device.
    retry_after : int
        Seconds a 503 asks the client to wait.
    max_hints : int
        Points a ``hints`` JSON may hold.
    max_keyframes : int
        Keyframe pictures one film job may take.
    max_references : int
        Reference photos one job may take.
    preview_size : int
        Long side, in pixels, of the pictures ``POST /preview`` answers with (at most).
    """

    data: Path
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_upload: int = 2_000_000_000
    workers: int = 2
    queue: int = 16
    max_pixels: int = 100_000_000
    sync_pixels: int = 24_000_000
    segment_frames: int = DEFAULT_SEGMENT_FRAMES
    batch_size: int | None = None
    retry_after: int = 5
    max_hints: int = 500
    max_keyframes: int = 64
    max_references: int = 8
    preview_size: int = 512

    def __post_init__(self):
        object.__setattr__(self, "data", Path(self.data))
        for name in ("max_upload", "workers", "queue", "max_pixels", "sync_pixels",
                     "segment_frames", "retry_after", "max_hints", "max_keyframes",
                     "max_references", "preview_size"):
            _positive(name.replace("_", "-"), getattr(self, name))
        _positive("batch-size", self.batch_size, optional=True)
        if not (isinstance(self.port, int) and 0 <= self.port <= 65535):
            raise OptionError("port", "{field} must be in 0..65535, got {port!r}",
                              port=self.port)
        if self.token is not None:
            self._check_token(self.token)
        elif not is_loopback(self.host):
            raise VidcolorError(
                f"--host {self.host} lets other machines in: give --token or set "
                "VIDCOLOR_TOKEN too (make one with python3 -c 'import secrets; "
                "print(secrets.token_urlsafe())')")

    @staticmethod
    def _check_token(token: str) -> None:
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token) \
                or not token.isprintable():
            raise OptionError("token", "{field} must be at least {least} printable characters "
                              "without spaces", least=MIN_TOKEN_LENGTH)

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

