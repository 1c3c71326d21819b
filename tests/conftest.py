"""Shared test set-up: the fixtures every test file may use.

The files are grouped per command (``image/``, ``video/``, ``cluster/``, ``serve/``,
``models/``; the library core at the top) with the end-to-end runs apart in ``e2e/`` (real
data, a real saved model, a browser, the benchmark and fuzz harnesses). Test files never
import one another: what several of them share is a fixture here (``cluster/conftest.py``
adds a local Ray). The few names needed at import time or outside pytest (the clip builders
for ``benchmarks/fuzz.py``, the fake model's class for module-level subclasses, Ray workers
and subprocesses, paths for skip marks) are defined in ``support.py`` (not a test file) and
handed out here as fixtures too.

Fixtures
--------
library_log_on_stderr (autouse)
    The library's notes and warnings on stderr, as the CLI shows them.
make_clip, make_audio_only, read_video, stream_summary
    Tiny synthetic clips made with PyAV, and reading back a file's frames and streams.
fake_model
    ``store.load_model`` gives a fresh :class:`support.FakeColorizer` (the CLI runs on it).
picture_fake
    Makes the picture tests' FakeColorizer (``support.PICTURE_FAKE`` settings).
tiny_model_dir
    A real saved model (an untrained alpha network named "test"), made once; skips without
    Keras.
scene_picture, save_picture
    A colour picture with shading and a strong edge; saving one (16 bits, alpha) as a file.
run_video, video_cli
    ``colorize_video`` with the fake model and flat option keywords; ``vidcolor video`` in
    this process.
paint_keyframe, mean_ab
    A colour keyframe painted on a frame's lightness; a picture's mean a/b.
live_server
    Starts a real ``vidcolor serve`` in a subprocess (killed after the test).
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import support
from vidcolor import color
from vidcolor.color import fit_gamut
from vidcolor.log import attach_stderr_handler, logger
from vidcolor.options import VideoOptions


@pytest.fixture(autouse=True)
def library_log_on_stderr():
    """The library's notes and warnings on stderr as ``vidcolor: ...`` lines, as the CLI
    shows them, so tests that call the library directly can read them with capsys."""
    handler = attach_stderr_handler()
    yield
    logger.removeHandler(handler)


# --- synthetic clips -------------------------------------------------------------------------


@pytest.fixture
def one_finisher(monkeypatch):
    """One finishing thread whatever the machine, so how far the model can run ahead of the
    writer (and so how many frames an interrupt leaves) is bounded the same everywhere.

    With batches of 1 the writer is then at most 8 frames behind, however slow it is (three
    channels of 2 frames, one in hand, two finishing): a model interrupted after 12 frames
    leaves a finished segment of 4."""
    from vidcolor.video import stages

    monkeypatch.setattr(stages, "_finish_threads", lambda: 1)


@pytest.fixture(scope="session")
def make_clip():
    """``make_clip(path, n=12, size=(48, 64), rate=24, ...)``: write a small clip (colour bars,
    a moving square; optionally VFR timestamps, a cut, audio, rotation, subtitles, an
    attachment) and return its path. See :func:`support.make_clip`."""
    return support.make_clip


@pytest.fixture(scope="session")
def make_audio_only():
    """``make_audio_only(path)``: an MP4 holding a short silent AAC stream and no video."""
    return support.make_audio_only


@pytest.fixture(scope="session")
def read_video():
    """``read_video(path) -> (times, frames)``: decoded frame times (s) and RGB frames of a
    file's first video stream."""
    return support.read_video


@pytest.fixture(scope="session")
def stream_summary():
    """``stream_summary(path) -> dict``: types, codecs and packet counts of a file's streams,
    container metadata and attachment names."""
    return support.stream_summary


# --- the fake model --------------------------------------------------------------------------


@pytest.fixture
def fake_model(monkeypatch):
    """The shipped model's loader gives a fresh FakeColorizer (the film tests' settings)."""
    import vidcolor.models.store as store

    monkeypatch.setattr(store, "load_model", lambda directory=None: support.FakeColorizer())


@pytest.fixture(scope="session")
def picture_fake():
    """``picture_fake(**kw)``: a FakeColorizer with the picture tests' settings (render size
    32 in multiples of 8, colours that leave the gamut, every batch's shape kept)."""
    return functools.partial(support.FakeColorizer, **support.PICTURE_FAKE)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved model folder: an untrained alpha network, name "test", render size 64; made
    once for the session (copy it before changing it). Skips without Keras."""
    pytest.importorskip("keras")
    from vidcolor.models import import_keras

    import_keras()  # the package no longer imports Keras itself; quietly, as load_model does
    from vidcolor.models import nets, store

    directory = tmp_path_factory.mktemp("models") / "tiny"
    store.save_model(nets.build("alpha"), directory,
                     {"arch": "alpha", "build": {}, "name": "test", "render_size": 64})
    return directory


# --- pictures --------------------------------------------------------------------------------


def _scene_picture(h=48, w=64, dtype=np.uint8, seed=0):
    """A colour picture with smooth shading and one strong vertical edge."""
    rng = np.random.default_rng(seed)
    L = np.tile(np.linspace(15, 85, w, dtype=np.float32), (h, 1))
    L[:, w // 2:] = 95 - L[:, w // 2:]
    L += rng.normal(0, 1, (h, w)).astype(np.float32)
    ab = np.zeros((h, w, 2), np.float32)
    ab[..., 0], ab[..., 1] = 20, -15
    return color.lab_to_rgb(np.clip(L, 0, 100), fit_gamut(np.clip(L, 0, 100), ab), dtype)


def _save_picture(path, rgb, alpha=None):
    """Write ``rgb`` (and ``alpha``) to ``path``: 16-bit PNG with OpenCV, 16-bit TIFF with
    tifffile, anything else with Pillow. Returns ``path``."""
    import cv2
    import tifffile
    from PIL import Image

    samples = rgb if alpha is None else np.dstack([rgb, alpha])
    if rgb.dtype == np.uint16:
        if path.suffix == ".png":
            order = [2, 1, 0] + ([3] if alpha is not None else [])
            cv2.imwrite(str(path), samples[..., order])
        else:
            tifffile.imwrite(path, samples, photometric="rgb",
                             extrasamples=["unassalpha"] if alpha is not None else None)
    else:
        Image.fromarray(samples).save(path)
    return path


@pytest.fixture(scope="session")
def scene_picture():
    """``scene_picture(h=48, w=64, dtype=np.uint8, seed=0)``: a colour picture with smooth
    shading and one strong vertical edge (in the gamut), RGB of ``dtype``."""
    return _scene_picture


@pytest.fixture(scope="session")
def save_picture():
    """``save_picture(path, rgb, alpha=None) -> path``: the picture as a file (16-bit PNG and
    TIFF too, with alpha when given)."""
    return _save_picture


# --- films -----------------------------------------------------------------------------------


def _run_video(src, dst, **kw):
    """``colorize_video(src, dst)`` with a FakeColorizer (or ``model=``), preset ultrafast,
    the other keywords those of :meth:`VideoOptions.from_fields` plus ``overwrite`` and
    ``resume``."""
    from vidcolor.video.pipeline import colorize_video

    kw.setdefault("preset", "ultrafast")
    model = kw.pop("model", None) or support.FakeColorizer()
    job = {k: kw.pop(k) for k in ("overwrite", "resume") if k in kw}
    return colorize_video(src, dst, model, VideoOptions.from_fields(**kw), **job)


@pytest.fixture(scope="session")
def run_video():
    """``run_video(src, dst, model=FakeColorizer(), overwrite=, resume=, **options)``: the
    film pipeline in this process, preset ultrafast unless told; its result."""
    return _run_video


@pytest.fixture
def video_cli(capsys):
    """``video_cli(*args) -> (exit code, stderr)`` of ``vidcolor video ARGS`` in this process
    (argparse's refusals still raise SystemExit)."""
    from vidcolor import cli

    def run(*args):
        code = cli.main(["video", *map(str, args)])
        return code, capsys.readouterr().err

    return run


# --- colour keyframes ------------------------------------------------------------------------


def _mean_ab(rgb, mask=None):
    """The mean a/b of an RGB picture (of its ``mask`` pixels)."""
    ab = color.rgb_to_lab(rgb)[1]
    return ab[mask].mean(0) if mask is not None else ab.reshape(-1, 2).mean(0)


def _paint_keyframe(rgb, ab, path, mask=None):
    """A keyframe: the frame's own lightness with a/b ``ab`` (where ``mask``, else the Flat
    model's :data:`support.MODEL_AB`), written to ``path``."""
    from vidcolor.imageio import write_image

    L = color.rgb_to_l(rgb)
    ab_img = np.broadcast_to(np.float32(ab), L.shape + (2,)).copy()
    if mask is not None:
        ab_img[~mask] = support.MODEL_AB
    write_image(path, color.lab_to_rgb(L, ab_img), mark="test keyframe", overwrite=True)
    return path


@pytest.fixture(scope="session")
def mean_ab():
    """``mean_ab(rgb, mask=None)``: the mean a/b of a picture (of its ``mask`` pixels)."""
    return _mean_ab


@pytest.fixture(scope="session")
def paint_keyframe():
    """``paint_keyframe(rgb, ab, path, mask=None) -> path``: a colour keyframe with the
    frame's lightness and a/b ``ab`` (``support.MODEL_AB`` outside ``mask``)."""
    return _paint_keyframe


# --- a real `vidcolor serve` (the serve tests; httpx is imported only when one starts) -------


class LiveServer:
    """``vidcolor.serve.app.serve`` in a subprocess on 127.0.0.1, with a slow fake model
    (:class:`support.SlowColorizer`) or the shipped one (``delay=None``)."""

    def __init__(self, data, delay: float | None = 0.0, **settings):
        self.data, self.delay, self.settings = data, delay, settings
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, timeout: float = 120) -> LiveServer:
        import httpx

        model = "None" if self.delay is None else f"SlowColorizer({self.delay})"
        code = ("from support import SlowColorizer\n"
                "from vidcolor.serve.app import serve\n"
                "from vidcolor.serve.config import ServeConfig\n"
                f"serve(ServeConfig({str(self.data)!r}, port={self.port}, **{self.settings!r}),"
                f" model={model})\n")
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join([str(support.REPO), str(support.TESTS)])}
        log = open(self.data.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                httpx.get(self.url + "/api/v1/info", headers=self.auth(), timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {self.log()}")

    def auth(self) -> dict:
        token = self.settings.get("token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def log(self) -> str:
        return (self.data.parent / f"server-{self.port}.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server():
    """``live_server(data, delay=0.0, **ServeConfig fields) -> LiveServer``: a real server
    started (``data`` a folder; the log beside it), killed at the end of the test."""
    servers = []

    def start(data, delay: float | None = 0.0, **settings) -> LiveServer:
        server = LiveServer(data, delay, **settings)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()
