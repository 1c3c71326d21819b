"""Where colorization runs: a bounded pool of worker threads, and one model shared by them.

The event loop only receives, answers and waits: pictures and films are colorized in a fixed
number of worker threads, with a fixed number of tasks allowed to wait for one. Past that the
server is busy and says so at once (503 with ``Retry-After``) instead of queueing without end.

The model is loaded once and shared by the workers; each runtime lets one network call through
at a time (on a CPU a second simultaneous call would only share the same cores), and
everything around the calls (decoding, upsampling, encoding) still runs in parallel.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor


from vidcolor.serve.errors import ApiError

__all__ = ["WorkerPool"]


class WorkerPool:
    """``workers`` threads and room for ``queue`` tasks waiting for them.

    Parameters
    ----------
    workers : int
    queue : int
    retry_after : int
        Seconds a refused client is asked to wait.
    """

    def __init__(self, workers: int, queue: int, retry_after: int):
        self._executor = ThreadPoolExecutor(max_workers=workers,
                                            thread_name_prefix="vidcolor-serve")
        self.capacity = workers + queue
        self.retry_after = retry_after
        self._tasks = 0  # running or waiting
        self._lock = threading.Lock()

    @property
    def tasks(self) -> int:
        """Tasks running or waiting now."""
        return self._tasks

    def busy_error(self) -> ApiError:
        return ApiError(503, f"the server is busy ({self._tasks} tasks running or waiting); "
                             "try again shortly", {"Retry-After": str(self.retry_after)})

    def check_room(self) -> None:
        """Refuse now (503) when a new task would not be taken: before a long upload."""
        if self._tasks >= self.capacity:
            raise self.busy_error()

    def submit(self, fn, *args, force: bool = False) -> Future:
        """Run ``fn(*args)`` in a worker.

        Parameters
        ----------
        force : bool
            Take it even when full: work accepted before a restart is never refused.

        Raises
        ------
        ApiError
            503 (with ``Retry-After``) when running and waiting tasks fill the pool.
        """
        with self._lock:
            if self._tasks >= self.capacity and not force:
                raise self.busy_error()
            self._tasks += 1
        future = self._executor.submit(fn, *args)
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: Future) -> None:
        with self._lock:
            self._tasks -= 1

    def shutdown(self) -> None:
        """Wait for the running tasks (told to stop by their jobs) and drop the waiting ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)
