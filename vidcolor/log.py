"""vidcolor's one logger, and the handler the CLI puts on it.

The library reports notes (``"note: ..."``, at INFO) and warnings (``"warning: ..."``, at
WARNING) through ``logging.getLogger("vidcolor")`` and never prints; whoever runs it decides
where they go. The ``vidcolor`` command sends them to stderr as ``vidcolor: MESSAGE`` lines;
a server or a distributed worker can attach its own handler instead.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["logger", "StderrHandler", "attach_stderr_handler", "one_line"]

logger = logging.getLogger("vidcolor")


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters shown as escapes, so a message
    naming a file called ``"a\\nb.png"`` stays one line on the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class StderrHandler(logging.StreamHandler):
    """Writes ``vidcolor: MESSAGE`` lines to whatever ``sys.stderr`` is at the time of each
    message (so a test capturing stderr, or a progress bar that wraps it, sees them)."""

    def __init__(self, level: int = logging.INFO):
        super().__init__()
        self.setLevel(level)
        self.setFormatter(logging.Formatter("vidcolor: %(message)s"))

    def format(self, record) -> str:
        return one_line(super().format(record))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it; the property wins
        pass


def attach_stderr_handler(handler: logging.Handler | None = None) -> logging.Handler:
    """Send the library's notes and warnings to stderr (once; a second call replaces it).

    Parameters
    ----------
    handler : logging.Handler, optional
        Default: a :class:`StderrHandler` at INFO.

    Returns
    -------
    logging.Handler
        The handler attached.
    """
    handler = handler or StderrHandler()
    for old in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler
