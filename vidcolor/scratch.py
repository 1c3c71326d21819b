"""Work arrays a thread keeps from one frame to the next.

The finishing steps of a film run frame after frame in the same threads, on frames of one
size. Allocated afresh each frame, their full-resolution work arrays cost more in page faults
than the arithmetic done in them (benchmarks/RESULTS.md, "Throughput"); so each thread keeps
its own and makes new ones only when the size changes.
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

__all__ = ["kept"]

T = TypeVar("T")
_local = threading.local()


def kept(name: str, key, make: Callable[[], T]) -> T:
    """This thread's work arrays ``name``, as ``make()`` made them for ``key`` (e.g. a shape);
    made again when the key differs from the last one asked for under that name."""
    entry = getattr(_local, name, None)
    if entry is None or entry[0] != key:
        entry = (key, make())
        setattr(_local, name, entry)
    return entry[1]
