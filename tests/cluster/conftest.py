"""The ``--cluster`` tests' set-up: a local Ray for a test module that asks for it
(``pytestmark = pytest.mark.usefixtures("local_ray")``). Ray is imported only then; the
modules themselves skip without it."""

from __future__ import annotations

import functools
import os

import pytest

import support
from vidcolor.options import VideoOptions


@pytest.fixture(scope="module")
def crash_marker(tmp_path_factory):
    """The crash hook's marker: present (the hook disarmed) unless a test removes it."""
    marker = tmp_path_factory.mktemp("crash") / "crashed"
    marker.touch()
    return marker


@pytest.fixture(scope="module")
def local_ray(crash_marker):
    """One local Ray (2 CPUs) for the module; its workers import :mod:`support`'s fakes, and
    one crashes on purpose once a test removes ``crash_marker``."""
    import ray

    from vidcolor.video.cluster import CRASH_MARKER_ENV

    path = os.pathsep.join([str(support.REPO), str(support.TESTS)])  # workers import the fakes
    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False,
             log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path, CRASH_MARKER_ENV: str(crash_marker)}})
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def lossless_options():
    """``lossless_options(**kw)``: :meth:`VideoOptions.from_fields` with preset ultrafast and
    crf 0, so a cluster run's frames and one process's can be compared."""
    return functools.partial(VideoOptions.from_fields, preset="ultrafast", crf=0)
