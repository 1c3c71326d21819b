"""How long work tells its caller how far it has got: one callable type, and no bars.

The library counts (tiles of a picture, pictures of a folder) and calls a :class:`Progress`;
whoever runs it decides what that looks like: the ``vidcolor`` command draws terminal bars, a
server could send the counts to a browser, a test can record them. Nothing here imports a
progress-bar package.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Progress", "no_progress"]


class Progress(Protocol):
    """``progress(done, total)``: called with the units done so far, first with ``done = 0``.

    Parameters
    ----------
    done : int
        Units finished so far (a running count, not an increment), from 0 up to ``total``.
    total : int or None
        How many units there are in all; None when that is not known in advance.

    A count that starts again from 0 is a new piece of work (the next picture's tiles).
    """

    def __call__(self, done: int, total: int | None) -> None:
        ...


def no_progress(done: int, total: int | None) -> None:
    """A :class:`Progress` that tells nobody: the default wherever progress is optional."""
