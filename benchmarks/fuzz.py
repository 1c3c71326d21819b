"""Fuzzing the ``vidcolor`` command: damaged, odd and hostile inputs, options and paths.

``python -m benchmarks.fuzz`` generates a seeded corpus (truncated, bit-flipped and random files
of every picture and video format vidcolor reads, odd sizes and bit depths, damaged metadata,
hostile names, odd options, non-regular and unreadable files, outputs that alias the input,
signals in the middle of a film job followed by ``--resume``), runs ``vidcolor`` on every case
and checks each outcome:

- exit 0: every output exists and is correct (readable, the input's size, bit depth, alpha and
  own lightness; films: every frame a packet-by-packet decoder recovers from the input, in
  order, with the input's lightness, audio kept);
- non-zero: one clear line ``vidcolor: error: ...`` (argparse's usage and one error line for
  exit 2; a folder job: one line per failed picture), and no output;
- always: the inputs byte for byte unchanged, no file left behind (``.NAME.*.part``,
  ``.NAME.vidcolor-work``, ``.STEM.partial.EXT``, anything else), no traceback, no hang, no
  stderr line that is not vidcolor's own (``vidcolor: ...``, argparse's usage, progress bars,
  the film's result line), no error message showing a Python object's repr.
- signals: SIGINT mid-film: exit 130, ``vidcolor: interrupted``, no output, the work folder
  kept; SIGKILL: no output; two SIGINTs: a clean exit (or death by that SIGINT, which the
  shell shows as 130 too); then ``--resume`` finishes with every frame, continues the
  interrupted run (its result line says so) and removes the work folder.

It ends with ``cases N, ok N, traceback N, hang N, leftover N, wrong N, crash N`` (each case
counted once, by its worst problem: crash, hang, traceback, leftover, wrong; "wrong" holds
wrong outputs and exits, modified inputs, silent losses and stderr noise), after a table per
kind and every case that is not OK with its problems and stderr; it exits 1 unless every case
is OK. ``tests/e2e/test_fuzz.py`` runs a fast subset of the same corpus, and checks with planted
failures (:func:`planted_cases`) that the harness sees each kind.

Most cases run in one long-lived runner process (``--runner``: vidcolor imported once, a fast
numpy model in place of the shipped one, each case's stderr captured at the file-descriptor
level, a per-case timeout enforced from here: a case that times out is a "hang" and the runner
is restarted; a runner killed by a signal is a "crash"). Cases that need a process of their own
run ``python -m benchmarks.fuzz --entry -- ARGS`` (the same numpy model, optionally slowed so
a signal lands mid-job), ``python -m vidcolor.cli`` with the shipped model, or the entry as
an unprivileged user (unreadable files: root reads everything, so as root the entry runs in
a user namespace where the locked files belong to an unmapped user).

Options: ``--seed N`` (corpus), ``--limit N`` (first N cases, kinds interleaved), ``--kind RE`` /
``--name RE`` (select), ``--keep DIR`` (keep the corpus and logs there), ``--quick`` (the test's
subset), ``--list``, ``--timeout S`` (per case), ``-v`` (print every case).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CATEGORIES = ("traceback", "hang", "leftover", "wrong", "crash")  # report order
_SEVERITY = ("crash", "hang", "traceback", "leftover", "wrong")  # which problem names a case
STRANGER = 12345  # owns the locked files: a user no namespace here maps
MEMORY_LIMIT = 6 << 30  # address space of the runner: huge allocations fail, not the machine

# =============================================================================================
# The model used by the fuzz runs: fast, deterministic, numpy only (no TensorFlow)
# =============================================================================================

try:
    from vidcolor.models.protocol import ColorModel as _ColorModelBase
except Exception:  # noqa: BLE001 - only the parent's checks need it not
    _ColorModelBase = object



def default_sigint() -> None:
    """In a child before it starts: SIGINT as a terminal's Ctrl-C delivers it. A harness
    started in the background (``cmd &`` in a script) ignores SIGINT, and an ignored signal
    stays ignored in its children, so the signal cases would test nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

class FuzzModel(_ColorModelBase):
    """A ColorModel: a/b a smooth function of L and of whole-picture features (so the tiled
    path that shares them is exercised too); ``slow`` seconds of sleep per call."""

    name = "fuzz"
    render_size = 64
    multiple = 16
    uses_global_features = True
    identity = {"fuzz-model": 1}

    def __init__(self, slow: float = 0.0):
        self.slow = slow

    def global_features(self, L):
        L = np.asarray(L, np.float32)
        return np.stack([L.mean(axis=(1, 2)), L.std(axis=(1, 2))], -1).astype(np.float32)

    def predict_ab(self, L, global_features=None):
        L = np.asarray(L, np.float32)
        if L.ndim != 3:
            raise ValueError(f"predict_ab: expected (N, h, w), got {L.shape}")
        if self.slow:
            time.sleep(self.slow)
        g = np.zeros((len(L), 2), np.float32) if global_features is None else \
            np.broadcast_to(np.asarray(global_features, np.float32), (len(L), 2))
        shift = (g[:, 0] / 10.0)[:, None, None]
        ab = np.stack([35 * np.sin(L / 15.0 + shift), 30 * np.cos(L / 21.0) - shift], -1)
        return ab.astype(np.float32)


def install_fake_model() -> None:
    """``vidcolor.models.store.load_model`` -> a :class:`FuzzModel`; a given ``--model DIR`` is
    still checked the way the real loader checks it (folder, config.json)."""
    from vidcolor.errors import VidcolorError
    from vidcolor.models import store

    real_read_config = store.read_config

    def load_model(directory=None, *args, **kwargs):
        if directory is not None:
            if not Path(directory).is_dir():
                raise VidcolorError(f"{directory}: no such model directory")
            real_read_config(directory)
        return FuzzModel(float(os.environ.get("VIDCOLOR_FUZZ_SLOW", "0") or 0))

    store.load_model = load_model


def _set_segment_frames(cli, frames: int | None) -> None:
    """Make ``vidcolor video`` cut its resumable segments every ``frames`` frames (the CLI has
    no option for it; tiny clips need small segments for --resume to mean anything)."""
    original = getattr(cli, "_fuzz_video_options", None) or cli.video_options
    cli._fuzz_video_options = original
    if frames is None:
        cli.video_options = original
    else:
        cli.video_options = lambda args: dataclasses.replace(original(args),
                                                             segment_frames=frames)


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass


def entry_main(argv: list[str]) -> int:
    """``--entry [--slow S] [--segment-frames N] -- ARGS``: ``vidcolor ARGS`` in this process
    with the fuzz model; the exit code is vidcolor's."""
    p = argparse.ArgumentParser(prog="fuzz --entry")
    p.add_argument("--slow", type=float, default=0.0)
    p.add_argument("--segment-frames", type=int)
    p.add_argument("args", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    _limit_memory()
    os.environ["VIDCOLOR_FUZZ_SLOW"] = str(ns.slow)
    install_fake_model()
    from vidcolor import cli

    _set_segment_frames(cli, ns.segment_frames)
    return cli.main(args)


# --- the runner: many cases in one process ---------------------------------------------------

def _run_one_in_process(req: dict, cli) -> dict:
    import warnings

    argv = req["argv"]
    out_fd = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err_fd = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    old_cwd = os.getcwd()
    os.environ["VIDCOLOR_FUZZ_SLOW"] = str(req.get("slow", 0.0))
    _set_segment_frames(cli, req.get("segment_frames"))
    filters_mutated = getattr(warnings, "_filters_mutated", None)
    if filters_mutated:  # each case sees Python's warnings as a fresh process would
        filters_mutated()
    before = set(threading.enumerate())
    rc, exc = None, None
    t0 = time.monotonic()
    try:
        os.chdir(req["cwd"])
        _inject(req.get("inject"))
        rc = cli.main(argv)
    except SystemExit as e:
        if e.code is None:
            rc = 0
        elif isinstance(e.code, int):
            rc = e.code
        else:
            print(e.code, file=sys.stderr)
            rc = 1
    except BaseException:  # noqa: BLE001 - exactly what the fuzzing looks for
        exc = traceback.format_exc()
        sys.stderr.write(exc)
    finally:
        seconds = time.monotonic() - t0
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        os.chdir(old_cwd)
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
    # Threads a job left running would keep a real process from exiting.
    deadline = time.monotonic() + 3.0
    left = []
    while True:
        left = [t for t in threading.enumerate()
                if t not in before and t.is_alive() and not t.daemon]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    daemons = [t.name for t in threading.enumerate() if t not in before and t.is_alive()
               and t.daemon]
    return {"rc": rc, "exception": exc, "seconds": seconds, "threads": [t.name for t in left],
            "daemon_threads": daemons}


def _inject(what: str | None) -> None:
    """Failures planted on purpose, to check that the harness sees each kind (tests only)."""
    if what == "hang":
        time.sleep(3600)
    elif what == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif what == "raise":
        raise RuntimeError("planted")
    elif what == "leftover":
        Path(".out.png.planted.part").write_bytes(b"")
    elif what == "noise":
        os.write(2, b"[h264 @ 0x55d0c0ffee00] planted decoder chatter\n")
    elif what == "modify":
        with open("in.png", "ab") as f:
            f.write(b"\0")


def runner_main() -> int:
    """``--runner``: read one JSON request a line on stdin, answer one JSON line each."""
    proto_in = os.fdopen(os.dup(0), "r")
    proto_out = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # a case reading stdin (/dev/stdin as input) must not eat requests
    os.dup2(devnull, 1)
    _limit_memory()
    install_fake_model()
    from vidcolor import cli
    import importlib

    for module in ("vidcolor.colorize", "vidcolor.photos", "vidcolor.video.pipeline"):
        importlib.import_module(module)  # once here, not inside a timed case

    proto_out.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in proto_in:
        req = json.loads(line)
        try:
            result = _run_one_in_process(req, cli)
        except BaseException:  # noqa: BLE001 - the harness itself failed
            result = {"rc": None, "exception": "harness: " + traceback.format_exc(),
                      "seconds": 0.0, "threads": [], "daemon_threads": []}
        proto_out.write(json.dumps(result) + "\n")
        if result["threads"]:
            proto_out.flush()
            os._exit(3)  # a fresh runner for the next case (those threads would block exit)
    return 0


# =============================================================================================
# Independent references: what a correct output must look like
# =============================================================================================

def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (D65) of gamma-encoded sRGB in [0, 1], shape (..., 3) -> (...)."""
    c = np.asarray(rgb, np.float64)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = lin @ np.array([0.2126, 0.7152, 0.0722])
    d = 6 / 29
    f = np.where(y > d ** 3, np.cbrt(y), y / (3 * d * d) + 4 / 29)
    return 116 * f - 16


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF/TIFF orientation 1..8 applied (others: as is)."""
    o = int(orientation)
    if o == 2:
        return a[:, ::-1]
    if o == 3:
        return a[::-1, ::-1]
    if o == 4:
        return a[::-1]
    if o == 5:
        return np.swapaxes(a, 0, 1)
    if o == 6:
        return np.rot90(a, -1)
    if o == 7:
        return np.swapaxes(a[::-1, ::-1], 0, 1)
    if o == 8:
        return np.rot90(a, 1)
    return a


@dataclass
class PictureRef:
    rgb: np.ndarray  # float (H, W, 3) in [0, 1]
    alpha: np.ndarray | None  # float (H, W) in [0, 1]
    bits: int
    how: str


def _ref_tiff(path: Path) -> PictureRef:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        tag = page.tags.get(274)
        orientation = int(tag.value) if tag is not None else 1
        photometric = int(page.photometric)
        extras = tuple(int(e) for e in page.extrasamples)
        planar = int(page.planarconfig)
        a = page.asarray()
    if photometric not in (0, 1, 2):
        raise ValueError(f"photometric {photometric}")
    if a.dtype.kind == "f":
        bits, a = 32, np.clip(a.astype(np.float64), 0, 1)
    elif a.dtype.kind == "u" and a.dtype.itemsize <= 2:
        bits = 8 * a.dtype.itemsize
        a = a.astype(np.float64) / np.iinfo(a.dtype).max
    else:
        raise ValueError(f"samples {a.dtype}")
    if planar == 2 and a.ndim == 3:
        a = np.moveaxis(a, 0, -1)
    if photometric == 0:
        a = 1 - a
    if a.ndim == 2:
        a = a[..., None]
    colour = 3 if photometric == 2 else 1
    rgb = a[..., :colour]
    rgb = np.repeat(rgb, 3, -1) if colour == 1 else rgb
    alpha = None
    if a.shape[-1] > colour and extras[:1] in ((1,), (2,)):
        alpha = a[..., colour]
        if extras[0] == 1:
            rgb = np.where(alpha[..., None] > 0, rgb / np.maximum(alpha[..., None], 1e-9), 0)
            rgb = np.clip(rgb, 0, 1)
    return PictureRef(orient(rgb, orientation), None if alpha is None else
                      orient(alpha, orientation), bits, "tifffile")


def _ref_pillow(path: Path) -> PictureRef:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.load()
        im = ImageOps.exif_transpose(im)
        mode = im.mode
        if mode.startswith("I;16") or mode == "I":
            a = np.clip(np.asarray(im).astype(np.float64), 0, 65535) / 65535
            return PictureRef(np.repeat(a[..., None], 3, -1), None, 16, "pillow")
        has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
        if has_alpha:
            a = np.asarray(im.convert("RGBA")).astype(np.float64) / 255
            return PictureRef(a[..., :3], a[..., 3], 8, "pillow")
        a = np.asarray(im.convert("RGB")).astype(np.float64) / 255
        return PictureRef(a, None, 8, "pillow")


def _ref_png16(path: Path) -> PictureRef:
    import cv2
    from PIL import Image

    a = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise ValueError("OpenCV cannot decode it")
    with Image.open(path) as im:
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    a = a.astype(np.float64) / (65535 if a.dtype == np.uint16 else 255)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] in (1, 2):
        rgb, alpha = np.repeat(a[..., :1], 3, -1), (a[..., 1] if a.shape[-1] == 2 else None)
    else:
        rgb, alpha = a[..., 2::-1], (a[..., 3] if a.shape[-1] == 4 else None)
    return PictureRef(orient(rgb, orientation), None if alpha is None else
                      orient(alpha, orientation), 16, "opencv")


def reference_picture(path: Path) -> PictureRef:
    """Decode a picture without vidcolor (tifffile, OpenCV for 16-bit PNG, else Pillow)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the decoders' complaints are vidcolor's to judge
        return _reference_picture(path)


def _reference_picture(path: Path) -> PictureRef:
    with open(path, "rb") as f:
        head = f.read(32)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        try:
            return _ref_tiff(path)
        except Exception:  # noqa: BLE001 - e.g. compressions tifffile needs imagecodecs for
            return _ref_pillow(path)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 25 and head[24] == 16:
        return _ref_png16(path)
    return _ref_pillow(path)


def _vidcolor_picture(path: Path) -> PictureRef:
    from vidcolor.imageio import read_image

    p = read_image(path)
    top = float(np.iinfo(p.rgb.dtype).max)
    return PictureRef(p.rgb / top, None if p.alpha is None else p.alpha / top, p.bits,
                      "vidcolor")


@dataclass
class VideoRef:
    frames: list  # L* arrays (H, W), in display order, inside the window
    times: list
    size: tuple[int, int]
    errors: int  # packets (or demuxing) that failed
    audio: bool
    clean_frames: int | None = None


def reference_video(path: Path, window: tuple[float, float | None] | None = None) -> VideoRef:
    """Every frame a packet-by-packet decoder recovers (a failing packet is skipped, a failing
    demuxer ends the stream), with L* of each; raises if the file does not open at all."""
    import av
    import av.error

    frames, times, errors = [], [], 0
    with av.open(os.fspath(path)) as c:
        if not c.streams.video:
            raise ValueError("no video stream")
        vs = c.streams.video[0]
        audio = any(s.type == "audio" for s in c.streams)
        tb = vs.time_base
        decoded = []

        def take(fs):
            for f in fs:
                t = float(f.pts * tb) if f.pts is not None else None
                decoded.append((t, lightness(f.to_ndarray(format="rgb24") / 255.0)
                                .astype(np.float32)))

        packets = c.demux(vs)
        while True:
            try:
                pkt = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError:
                errors += 1
                break
            try:
                take(vs.codec_context.decode(pkt))
            except av.error.FFmpegError:
                errors += 1
        try:
            take(vs.codec_context.decode(None))
        except av.error.FFmpegError:
            pass
        start = vs.start_time * tb if vs.start_time is not None else None
    known = [t for t, _ in decoded if t is not None]
    origin = float(start) if start is not None else (min(known) if known else 0.0)
    for t, L in decoded:
        if window is not None and t is not None:
            rel = t - origin
            if rel < window[0] - 1e-9 or (window[1] is not None and rel >= window[0] + window[1]
                                          - 1e-9):
                continue
        frames.append(L)
        times.append(t)
    size = frames[0].shape if frames else (0, 0)
    return VideoRef(frames, times, size, errors, audio)


# =============================================================================================
# The corpus
# =============================================================================================

@dataclass
class Case:
    """One fuzz case: files made by ``setup`` in an empty folder, then ``vidcolor ARGV`` run
    there (paths in ``argv`` are relative to it).

    ``pairs`` are (input, output, expectation) for the job's pictures or film: "ok" (must be
    written correctly), "error" (must fail cleanly) or "either"; ``expect`` is the whole
    command's ("usage": an argparse error). ``mutable`` names existing paths the job may
    replace (outputs with --overwrite)."""

    kind: str
    name: str
    argv: list
    setup: Callable | None = None
    expect: str = "either"
    pairs: list = field(default_factory=list)
    media: str = "image"  # image | video | none
    folder: bool = False
    mutable: tuple = ()
    window: tuple | None = None
    warn_on_damage: bool = False
    mode: str = "inproc"  # inproc | entry | real | unpriv | signal
    signals: tuple = ()  # signal mode: e.g. ("INT",), ("KILL",), ("INT", "INT")
    segment_frames: int | None = None
    slow: float = 0.0
    timeout: float | None = None
    quick: bool = False
    allow_new: tuple = ()  # regexes of new paths allowed to appear (besides outputs)
    gap: float = 0.05  # seconds between two signals
    damaged: bool = False  # a damaged input: its pixels are not compared (decoders differ)
    inject: str | None = None  # a failure planted in the runner (the harness's own tests)
    note: str = ""


class Assets:
    """Clean base files, made once per corpus and copied into the cases."""

    def __init__(self, root: Path, seed: int):
        self.root = root / "_assets"
        self.root.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self._cache: dict = {}

    def rng(self, *key) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(repr(key).encode())])

    def pattern(self, h: int, w: int, key="p") -> np.ndarray:
        """A smooth colour picture with some edges: uint8 (h, w, 3)."""
        rng = self.rng("pattern", h, w, key)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        s = max(h, w)
        ph, fr = rng.uniform(0, 6.3, 3), rng.uniform(1.0, 4.0, 3)
        rgb = np.stack([0.5 + 0.4 * np.sin(fr[c] * (xx + 0.7 * yy) / s * 6.3 + ph[c])
                        for c in range(3)], -1)
        y0, x0 = int(h * 0.3), int(w * 0.2)
        rgb[y0:y0 + max(1, h // 3), x0:x0 + max(1, w // 4)] = rng.uniform(0, 1, 3)
        rgb += rng.normal(0, 0.02, rgb.shape)
        return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)

    def picture(self, kind: str, size: tuple[int, int] = (48, 64), extra: dict | None = None
                ) -> bytes:
        key = ("picture", kind, size, repr(sorted((extra or {}).items())))
        if key not in self._cache:
            path = self.root / f"{kind}_{size[0]}x{size[1]}_{zlib.crc32(repr(key).encode())}"
            path = path.with_suffix(PICTURE_KINDS[kind])
            write_picture(kind, path, self.pattern(*size, key=kind), self.rng(*key),
                          **(extra or {}))
            self._cache[key] = path.read_bytes()
        return self._cache[key]

    def clip(self, kind: str) -> bytes:
        key = ("clip", kind)
        if key not in self._cache:
            path = self.root / (kind + CLIP_KINDS[kind][0])
            CLIP_KINDS[kind][1](path)
            self._cache[key] = path.read_bytes()
        return self._cache[key]


PICTURE_KINDS = {
    "jpg_rgb": ".jpg", "jpg_grey": ".jpeg", "jpg_cmyk": ".jpg", "jpg_prog": ".jpg",
    "png_rgb": ".png", "png_rgba": ".png", "png_grey": ".png", "png_la": ".png", "png_p": ".png",
    "png_p_trns": ".png", "png_1bit": ".png", "png16_grey": ".png", "png16_rgb": ".png",
    "png16_rgba": ".png", "tif_rgb": ".tif", "tif_grey": ".tif", "tif_lzw": ".tiff",
    "tif_cmyk": ".tif", "tif16_rgb": ".tif", "tif16_grey": ".tif", "tif16_ga": ".tif",
    "tif16_assoc": ".tif", "tif16_planar": ".tif", "tif16_miniswhite": ".tif",
    "tif_float": ".tif", "webp_lossy": ".webp", "webp_rgba": ".webp", "bmp24": ".bmp",
    "bmp8": ".bmp", "bmp1": ".bmp", "bmp32": ".bmp",
}


def _alpha_ramp(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.clip(40 + 215 * (xx + yy) / max(1, h + w - 2), 0, 255).astype(np.uint8)


def write_picture(kind: str, path: Path, rgb8: np.ndarray, rng, orientation: int | None = None
                  ) -> None:
    """Write one of :data:`PICTURE_KINDS`; ``orientation`` as an EXIF (or TIFF) tag."""
    import cv2
    import tifffile
    from PIL import Image

    h, w, _ = rgb8.shape
    im = Image.fromarray(rgb8, "RGB")
    rgb16 = rgb8.astype(np.uint16) * 257 + rng.integers(0, 200, rgb8.shape).astype(np.uint16)
    rgb16 = np.minimum(rgb16, 65535).astype(np.uint16)
    grey16 = (rgb16.astype(np.uint32).sum(-1) // 3).astype(np.uint16)
    alpha8 = _alpha_ramp(h, w)
    alpha16 = alpha8.astype(np.uint16) * 257
    kw = {}
    if orientation is not None and kind.split("_")[0] in ("jpg", "png", "webp"):
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    tiffinfo = {274: orientation} if orientation is not None else {}
    extratags = [(274, "H", 1, orientation, False)] if orientation is not None else []
    if kind == "jpg_rgb":
        im.save(path, "JPEG", quality=90, **kw)
    elif kind == "jpg_grey":
        im.convert("L").save(path, "JPEG", quality=90, **kw)
    elif kind == "jpg_cmyk":
        im.convert("CMYK").save(path, "JPEG", quality=90, **kw)
    elif kind == "jpg_prog":
        im.save(path, "JPEG", quality=85, progressive=True, **kw)
    elif kind == "png_rgb":
        im.save(path, "PNG", **kw)
    elif kind == "png_rgba":
        Image.fromarray(np.dstack([rgb8, alpha8]), "RGBA").save(path, "PNG", **kw)
    elif kind == "png_grey":
        im.convert("L").save(path, "PNG", **kw)
    elif kind == "png_la":
        Image.fromarray(np.dstack([np.asarray(im.convert("L")), alpha8]), "LA").save(path, "PNG")
    elif kind == "png_p":
        im.quantize(64).save(path, "PNG")
    elif kind == "png_p_trns":
        im.quantize(64).save(path, "PNG", transparency=0)
    elif kind == "png_1bit":
        im.convert("1").save(path, "PNG")
    elif kind == "png16_grey":
        cv2.imwrite(os.fspath(path), grey16)
    elif kind == "png16_rgb":
        cv2.imwrite(os.fspath(path), rgb16[..., ::-1].copy())
    elif kind == "png16_rgba":
        cv2.imwrite(os.fspath(path), np.dstack([rgb16[..., ::-1], alpha16]))
    elif kind == "tif_rgb":
        im.save(path, "TIFF", tiffinfo=tiffinfo)
    elif kind == "tif_grey":
        im.convert("L").save(path, "TIFF", tiffinfo=tiffinfo)
    elif kind == "tif_lzw":
        im.save(path, "TIFF", compression="tiff_lzw", tiffinfo=tiffinfo)
    elif kind == "tif_cmyk":
        im.convert("CMYK").save(path, "TIFF")
    elif kind == "tif16_rgb":
        tifffile.imwrite(path, rgb16, photometric="rgb", extratags=extratags)
    elif kind == "tif16_grey":
        tifffile.imwrite(path, grey16, photometric="minisblack", extratags=extratags)
    elif kind == "tif16_ga":
        tifffile.imwrite(path, np.dstack([grey16, alpha16]), photometric="minisblack",
                         extrasamples=["unassalpha"])
    elif kind == "tif16_assoc":
        pre = (rgb16.astype(np.uint32) * alpha16[..., None] // 65535).astype(np.uint16)
        tifffile.imwrite(path, np.dstack([pre, alpha16]), photometric="rgb",
                         extrasamples=["assocalpha"])
    elif kind == "tif16_planar":
        tifffile.imwrite(path, np.ascontiguousarray(np.moveaxis(rgb16, -1, 0)),
                         photometric="rgb", planarconfig="separate")
    elif kind == "tif16_miniswhite":
        tifffile.imwrite(path, 65535 - grey16, photometric="miniswhite")
    elif kind == "tif_float":
        tifffile.imwrite(path, rgb8.astype(np.float32) / 255, photometric="rgb")
    elif kind == "webp_lossy":
        im.save(path, "WEBP", quality=80, **kw)
    elif kind == "webp_rgba":
        Image.fromarray(np.dstack([rgb8, alpha8]), "RGBA").save(path, "WEBP", lossless=True)
    elif kind == "bmp24":
        im.save(path, "BMP")
    elif kind == "bmp8":
        im.quantize(200).save(path, "BMP")
    elif kind == "bmp1":
        im.convert("1").save(path, "BMP")
    elif kind == "bmp32":
        Image.fromarray(np.dstack([rgb8, alpha8]), "RGBA").save(path, "BMP")
    else:
        raise KeyError(kind)


# --- clips -----------------------------------------------------------------------------------

def _clip_builders():
    """tests/support.py, whose clip builders the tests share (imported by path)."""
    sys.path.insert(0, os.fspath(REPO / "tests"))
    try:
        import support
    finally:
        sys.path.pop(0)
    return support


def _make_clip(path, **kw):
    return _clip_builders().make_clip(path, **kw)


def _write_plain_clip(path: Path, codec: str, pix_fmt: str, size: tuple[int, int], n: int,
                      rate: int = 24, deep: bool = False) -> None:
    """A clip in a pixel format make_clip does not do (odd sizes, 10 bits)."""
    import av

    frame_image = _clip_builders().frame_image
    h, w = size
    with av.open(os.fspath(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        for i in range(n):
            rgb = frame_image(i, h, w)
            if deep:
                f = av.VideoFrame.from_ndarray(rgb.astype(np.uint16) * 257, format="rgb48le")
            else:
                f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f = f.reformat(format=pix_fmt)
            f.pts = i
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)


def _write_gif(path: Path) -> None:
    from PIL import Image

    frame_image = _clip_builders().frame_image
    frames = [Image.fromarray(frame_image(i)) for i in range(6)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)


def _write_audio_only(path: Path) -> None:
    _clip_builders().make_audio_only(path)


CLIP_KINDS = {
    "mp4_h264_aac": (".mp4", lambda p: _make_clip(p, n=12, audio=True)),
    "mov_h264_aac": (".mov", lambda p: _make_clip(p, n=12, audio=True)),
    "mkv_ffv1_subs": (".mkv", lambda p: _make_clip(p, n=12, codec="ffv1", audio=True,
                                                    subtitles=True, attachment=True)),
    "webm_vp9_opus": (".webm", lambda p: _make_clip(p, n=10, codec="libvpx-vp9", audio=True,
                                                     audio_codec="libopus")),
    "avi_mpeg4": (".avi", lambda p: _make_clip(p, n=12, codec="mpeg4")),
    "mp4_h264_24": (".mp4", lambda p: _make_clip(p, n=24, audio=True)),
    "mkv_h264_24": (".mkv", lambda p: _make_clip(p, n=24, audio=True, subtitles=True)),
    "mp4_vfr": (".mp4", lambda p: _make_clip(
        p, pts=[0, 3000, 9000, 10000, 30000, 33000, 36000, 45000], time_base=Fraction(1, 90000),
        rate=30)),
    "mp4_rot90": (".mp4", lambda p: _make_clip(p, n=8, rotation=90,
                                                sample_aspect_ratio=Fraction(4, 3))),
    "mp4_late": (".mp4", lambda p: _make_clip(p, pts=[4500 + 3750 * i for i in range(8)],
                                               time_base=Fraction(1, 90000), rate=24)),
    "mp4_cut": (".mp4", lambda p: _make_clip(p, n=16, cut_at=8)),
    "mp4_rot45": (".mp4", lambda p: _make_clip(p, n=6, rotation=45)),
    "mp4_rot270_sar": (".mp4", lambda p: _make_clip(p, n=6, rotation=270,
                                                     sample_aspect_ratio=Fraction(7, 3))),
    "mp4_1frame": (".mp4", lambda p: _make_clip(p, n=1)),
    "mp4_sig": (".mp4", lambda p: _make_clip(p, n=48, audio=True)),
    "mkv_sig": (".mkv", lambda p: _make_clip(p, n=40, codec="ffv1", audio=True,
                                              subtitles=True)),
    "mkv_ffv1_10bit": (".mkv", lambda p: _write_plain_clip(p, "ffv1", "yuv420p10le", (48, 64),
                                                           8, deep=True)),
    "mkv_ffv1_odd": (".mkv", lambda p: _write_plain_clip(p, "ffv1", "yuv444p", (17, 33), 6)),
    "mkv_ffv1_2x2": (".mkv", lambda p: _write_plain_clip(p, "ffv1", "yuv444p", (2, 2), 4)),
    "mkv_h264_444": (".mkv", lambda p: _write_plain_clip(p, "libx264", "yuv444p", (48, 64), 6)),
    "gif_anim": (".gif", _write_gif),
    "m4a_audio": (".m4a", _write_audio_only),
}


# --- damage ----------------------------------------------------------------------------------

def truncate(data: bytes, frac: float) -> bytes:
    return data[:max(1, min(len(data) - 1, int(len(data) * frac)))]


def bitflip(data: bytes, rng, n: int = 4) -> bytes:
    """Flip ``n`` random bits in the middle third (headers intact, payload damaged)."""
    b = bytearray(data)
    lo, hi = len(b) // 3, max(len(b) // 3 + 1, 2 * len(b) // 3)
    for pos in rng.integers(lo, hi, n):
        b[int(pos)] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def smash(data: bytes, rng, frac: float = 0.1) -> bytes:
    """Overwrite a run of bytes in the middle with random ones."""
    b = bytearray(data)
    n = max(1, int(len(b) * frac))
    start = len(b) // 2 - n // 2
    b[start:start + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return bytes(b)


def random_after_magic(data: bytes, rng, keep: int = 16) -> bytes:
    return data[:keep] + rng.integers(0, 256, max(0, len(data) - keep), dtype=np.uint8).tobytes()


def corrupt_packets(data: bytes, path: Path, rng, count: int) -> bytes:
    """Random bytes over the payload of ``count`` video packets in the middle of a clip (the
    container's structure stays intact, so demuxing goes on past them)."""
    import av

    path.write_bytes(data)
    with av.open(os.fspath(path)) as c:
        vs = c.streams.video[0]
        found = [(p.pos, p.size) for p in c.demux(vs) if p.size and p.pos is not None
                 and p.pos >= 0 and not p.is_keyframe]
    b = bytearray(data)
    if not found:
        return data
    middle = found[len(found) // 4: max(len(found) // 4 + 1, 3 * len(found) // 4)]
    picks = rng.choice(len(middle), size=min(count, len(middle)), replace=False)
    for k in sorted(int(i) for i in picks):
        pos, size = middle[k]
        a = pos + min(size - 1, 4)
        b[a:pos + size] = rng.integers(0, 256, pos + size - a, dtype=np.uint8).tobytes()
    return bytes(b)


def _jpeg_with_app1(jpeg: bytes, payload: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    seg = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + seg + jpeg[2:]


def damaged_exif(jpeg: bytes, how: str, rng) -> bytes:
    """A JPEG with a hand-made, broken EXIF segment."""
    if how == "garbage":
        payload = b"Exif\x00\x00" + rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    elif how == "bad_offset":
        payload = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 0x7FFFFF00)
    elif how == "loop":  # IFD0 whose next-IFD pointer is itself
        entry = struct.pack("<HHII", 0x0112, 3, 1, 6)
        payload = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) \
            + entry + struct.pack("<I", 8)
    elif how == "huge_count":
        entry = struct.pack("<HHII", 0x010F, 2, 0x7FFFFFFF, 26)
        payload = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) \
            + entry + struct.pack("<I", 0)
    elif how == "orientation_type":  # orientation stored as ASCII text
        entry = struct.pack("<HHI", 0x0112, 2, 4) + b"abc\x00"
        payload = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) \
            + entry + struct.pack("<I", 0)
    elif how == "truncated":
        entry = struct.pack("<HHII", 0x0112, 3, 1, 6)
        payload = (b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 5)
                   + entry)
    else:
        raise KeyError(how)
    return _jpeg_with_app1(jpeg, payload)


def _png_insert(png: bytes, kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    """A chunk inserted after IHDR (with a wrong CRC when ``crc`` is given)."""
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) if crc is None else crc)
    return png[:33] + chunk + png[33:]


def damaged_metadata(A: "Assets", how: str) -> bytes:
    """Pictures whose pixels are fine and whose metadata is not."""
    rng = A.rng("metadata", how)
    if how == "text-crc":
        return _png_insert(A.picture("png_rgb"), b"tEXt", b"Comment\0hello", crc=1234)
    if how == "exif-chunk":
        return _png_insert(A.picture("png_rgb"), b"eXIf",
                           b"MM\0*" + rng.integers(0, 256, 40, np.uint8).tobytes())
    if how == "trailing-garbage":
        return A.picture("png_rgb") + rng.integers(0, 256, 500, np.uint8).tobytes()
    if how == "icc-garbage":
        payload = b"ICC_PROFILE\0\x01\x01" + rng.integers(0, 256, 300, np.uint8).tobytes()
        jpeg = A.picture("jpg_rgb")
        return jpeg[:2] + b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]
    if how == "tiff-bits-12":  # BitsPerSample says 12 over 16-bit data
        data = bytearray(A.picture("tif16_grey"))
        import tifffile

        with tifffile.TiffFile(io.BytesIO(bytes(data))) as t:
            tag = t.pages[0].tags[258]
            offset = tag.valueoffset
        data[offset:offset + 2] = struct.pack("<H", 12)
        return bytes(data)
    raise KeyError(how)


def png_header(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    """A PNG claiming a size, with one tiny (invalid for that size) IDAT."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I",
                                                                        zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


# --- case builders ---------------------------------------------------------------------------

def _put(d: Path, name, data: bytes) -> Path:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def _setup_files(**files):
    """A setup that writes ``{relative name: bytes or callable(assets, d) -> bytes}``."""
    def setup(d: Path, A: Assets):
        for name, data in files.items():
            _put(d, name, data(A, d) if callable(data) else data)
    return setup


def _setup_list(items):
    def setup(d: Path, A: Assets):
        for name, data in items:
            _put(d, name, data(A, d) if callable(data) else data)
    return setup


def _pic(kind, size=(48, 64), **extra):
    return lambda A, d: A.picture(kind, size, extra or None)


def _clip(kind):
    return lambda A, d: A.clip(kind)


def _chain(*setups):
    def setup(d, A):
        for s in setups:
            s(d, A)
    return setup


def image_cases(A: Assets) -> list[Case]:
    cases: list[Case] = []

    def add(kind, name, argv, setup, expect="either", pairs=None, **kw):
        cases.append(Case(kind, name, list(argv), setup, expect, pairs or [], **kw))

    def single(kind, name, data, in_name, out_name="out.png", expect="ok", extra=(), **kw):
        add(kind, name, ["image", in_name, "-o", out_name, *extra],
            _setup_list([(in_name, data)]), expect, [(in_name, out_name, expect)], **kw)

    # Every picture kind, clean, to PNG; a few to their own format and across formats.
    quick_kinds = {"jpg_cmyk", "png16_rgba", "tif16_assoc"}
    for kind, ext in PICTURE_KINDS.items():
        exp = "either" if kind == "tif_float" else "ok"
        single("picture-clean", f"clean-{kind}", _pic(kind), "in" + ext, expect=exp,
               quick=kind in quick_kinds)
    for kind, out in [("jpg_rgb", "out.jpg"), ("webp_lossy", "out.webp"),
                      ("tif16_rgb", "out.tif"), ("tif16_ga", "out.tiff"),
                      ("png16_rgb", "out.jpg"), ("png16_rgba", "out.webp"),
                      ("png_rgba", "out.tif"), ("bmp24", "out.jpeg"), ("jpg_grey", "out.PNG"),
                      ("png16_grey", "out.tif"), ("webp_rgba", "out.png"),
                      ("tif16_planar", "out.png")]:
        single("picture-clean", f"convert-{kind}-to-{out}", _pic(kind), "in" + PICTURE_KINDS[kind],
               out)
    for kind, out in [("png_rgba", "out.jpg"), ("png_rgb", "out.bmp"), ("png_rgb", "out.gif"),
                      ("png_rgb", "out"), ("png_rgb", "out.jpe"), ("png_rgb", "out.txt"),
                      ("png_rgb", "out.png.")]:
        single("bad-output", f"output-{kind}-to-{out!r}", _pic(kind), "in.png", out,
               expect="error", quick=out in ("out.bmp", "out.jpg"))

    # Orientation, damaged metadata.
    for o in range(1, 9):
        single("orientation", f"exif-jpeg-orientation-{o}", _pic("jpg_rgb", orientation=o),
               "in.jpg", quick=o == 7)
    for kind in ("webp_lossy", "png_rgb", "tif_rgb", "tif16_rgb", "tif16_grey", "jpg_grey"):
        single("orientation", f"orientation-6-{kind}", _pic(kind, orientation=6),
               "in" + PICTURE_KINDS[kind], quick=kind == "tif16_rgb")
    for o in (0, 9, 255, 65535):
        single("orientation", f"exif-jpeg-orientation-invalid-{o}",
               _pic("jpg_rgb", orientation=o), "in.jpg", quick=o == 0)
    for how in ("garbage", "bad_offset", "loop", "huge_count", "orientation_type", "truncated"):
        single("exif-damage", f"exif-{how}",
               lambda A, d, how=how: damaged_exif(A.picture("jpg_rgb"), how, A.rng("exif", how)),
               "in.jpg", expect="either", quick=how in ("loop", "orientation_type"))
    for kind, o in (("tif16_rgb", 0), ("tif16_rgb", 9), ("tif_rgb", 9), ("png_rgb", 200)):
        single("exif-damage", f"orientation-{o}-{kind}", _pic(kind, orientation=o),
               "in" + PICTURE_KINDS[kind], expect="either")
    for how in ("text-crc", "exif-chunk", "trailing-garbage", "icc-garbage", "tiff-bits-12"):
        single("exif-damage", f"metadata-{how}",
               lambda A, d, how=how: damaged_metadata(A, how),
               "in" + {"icc-garbage": ".jpg", "tiff-bits-12": ".tif"}.get(how, ".png"),
               expect="either", quick=how == "exif-chunk")

    # Odd sizes and depths.
    for kind, size in [("png_rgb", (1, 1)), ("jpg_rgb", (1, 1)), ("tif16_rgb", (1, 1)),
                       ("webp_lossy", (1, 1)), ("bmp24", (1, 1)), ("png_rgba", (1, 9)),
                       ("png_grey", (9, 1)), ("png16_rgb", (2, 3)), ("jpg_rgb", (17, 31)),
                       ("png_grey", (3, 20000)), ("png_rgb", (20000, 3)), ("png_grey", (1, 65537)),
                       ("jpg_rgb", (300, 200)), ("png16_rgba", (150, 420)),
                       ("tif16_ga", (260, 130))]:
        exp = "ok"
        single("odd-size", f"size-{kind}-{size[0]}x{size[1]}", _pic(kind, size),
               "in" + PICTURE_KINDS[kind], expect=exp,
               quick=(kind, size) in (("tif16_rgb", (1, 1)), ("png_rgba", (1, 9)),
                                      ("jpg_rgb", (300, 200))))
    single("odd-size", "bomb-warning-12000x8000-grey", lambda A, d: png_header(12000, 8000),
           "in.png", expect="error")
    single("odd-size", "bomb-error-60000x60000", lambda A, d: png_header(60000, 60000, 16, 2),
           "in.png", expect="error")
    single("odd-size", "png-zero-width", lambda A, d: png_header(0, 10), "in.png", expect="error")

    # Damaged files of every kind.
    fracs = (0.05, 0.5, 0.95)
    for kind, ext in PICTURE_KINDS.items():
        for frac in fracs:
            single("picture-truncated", f"truncated-{kind}-{frac}",
                   lambda A, d, kind=kind, frac=frac: truncate(A.picture(kind), frac),
                   "in" + ext, expect="either", quick=frac == 0.5 and kind in ("png16_rgb",
                                                                               "jpg_prog", "bmp8"))
        single("picture-bitflip", f"bitflip-{kind}",
               lambda A, d, kind=kind: bitflip(A.picture(kind), A.rng("flip", kind), 6),
               "in" + ext, expect="either", quick=kind in ("tif16_planar", "webp_lossy"))
        single("picture-bitflip", f"smash-{kind}",
               lambda A, d, kind=kind: smash(A.picture(kind), A.rng("smash", kind)),
               "in" + ext, expect="either", quick=kind in ("tif_lzw",))
        single("picture-random", f"random-{kind}",
               lambda A, d, kind=kind: random_after_magic(A.picture(kind), A.rng("rand", kind)),
               "in" + ext, expect="either", quick=kind == "tif16_grey")
    for ext in sorted(set(PICTURE_KINDS.values())):
        single("picture-random", f"zero-bytes{ext}", b"", "in" + ext, expect="error",
               quick=ext == ".png")
        single("picture-random", f"noise{ext}",
               lambda A, d, ext=ext: A.rng("noise", ext).integers(0, 256, 3000, np.uint8).tobytes(),
               "in" + ext, expect="error")
    single("picture-random", "text-named-png", b"hello, I am not a picture\n" * 5, "in.png",
           expect="error", quick=True)
    single("picture-random", "jpeg-named-png", _pic("jpg_rgb"), "in.png", expect="ok")
    single("picture-random", "png-without-ending", _pic("png_rgb"), "in", expect="ok")

    # Non-regular and special files.
    def fifo(name):
        return lambda d, A: os.mkfifo(d / name)

    add("special-file", "fifo-named-png", ["image", "in.png", "-o", "out.png"], fifo("in.png"),
        "error", [("in.png", "out.png", "error")], timeout=20, quick=True)
    add("special-file", "folder-named-jpg-empty", ["image", "x.jpg", "-o", "out.png"],
        lambda d, A: (d / "x.jpg").mkdir(), "error", [("x.jpg", "out.png", "error")])
    add("special-file", "folder-named-jpg-with-picture", ["image", "x.jpg", "-o", "out.png"],
        _setup_files(**{"x.jpg/a.png": _pic("png_rgb")}), "either",
        [("x.jpg/a.png", "out.png/a.png", "either")], folder=True)
    for dev in ("/dev/null", "/dev/zero", "/dev/stdin"):
        add("special-file", f"input-{dev}", ["image", dev, "-o", "out.png"], None, "error",
            [(None, "out.png", "error")], timeout=20, quick=dev == "/dev/zero")
    add("special-file", "dangling-symlink", ["image", "in.png", "-o", "out.png"],
        lambda d, A: os.symlink("missing.png", d / "in.png"), "error",
        [("in.png", "out.png", "error")])
    add("special-file", "symlink-loop", ["image", "in.png", "-o", "out.png"],
        lambda d, A: os.symlink("in.png", d / "in.png"), "error", [("in.png", "out.png", "error")])
    add("special-file", "symlink-to-picture", ["image", "link.png", "-o", "out.png"],
        _chain(_setup_files(**{"real.png": _pic("png_rgb")}),
               lambda d, A: os.symlink("real.png", d / "link.png")), "ok",
        [("link.png", "out.png", "ok")])
    add("special-file", "missing-input", ["image", "nothing.png", "-o", "out.png"], None, "error",
        [(None, "out.png", "error")])
    add("special-file", "output-existing-fifo", ["image", "in.png", "-o", "out.png"],
        _chain(_setup_files(**{"in.png": _pic("png_rgb")}), fifo("out.png")), "error",
        [("in.png", None, "error")], timeout=20)
    add("special-file", "output-existing-fifo-overwrite",
        ["image", "in.png", "-o", "out.png", "--overwrite"],
        _chain(_setup_files(**{"in.png": _pic("png_rgb")}), fifo("out.png")), "either",
        [("in.png", "out.png", "either")], mutable=("out.png",), timeout=20)
    add("special-file", "output-under-a-file", ["image", "in.png", "-o", "in.png/out.png"],
        _setup_files(**{"in.png": _pic("png_rgb")}), "error", [("in.png", None, "error")])

    # Hostile names.
    names = ["with space.png", "ünïcødé-中文-🎨.png", "'quote\"s.png",
             "semi;colon & $HOME.png",
             "%s%d{}{0}.png", "tab\tname.png", "new\nline.png", "back\\slash.png",
             "*glob?[x].png", " leading space.png", "trailing space.png ", "UPPER.PNG",
             "double.jpg.png", os.fsdecode(b"invalid-\xff\xfe-utf8.png"), ".hidden.png",
             "a" * 240 + ".png", "é" * 121 + ".png"]
    for i, name in enumerate(names):
        plain = name.lower().endswith(".png") and len(os.fsencode(name)) < 200
        single("hostile-name", f"name-{i:02d}-{name[:20]!r}", _pic("png_rgb"), name,
               "out-" + name if plain else "out.png", expect="ok", quick=i == 13)
        if len(os.fsencode(name)) > 200:
            add("hostile-name", f"name-{i:02d}-long-to-folder", ["image", name, "-o", "out/"],
                _setup_list([(name, _pic("png_rgb"))]), "either", [(name, "out/" + name, "either")],
                folder=True, quick=i == len(names) - 1)
    add("hostile-name", "leading-dash-after-double-dash",
        ["image", "-o", "out.png", "--", "-dash.png"],
        _setup_files(**{"-dash.png": _pic("png_rgb")}),
        "ok", [("-dash.png", "out.png", "ok")])
    add("hostile-name", "leading-dash-dot-slash", ["image", "./-dash.png", "-o", "./-out.png"],
        _setup_files(**{"-dash.png": _pic("png_rgb")}), "ok", [("-dash.png", "-out.png", "ok")])
    add("hostile-name", "output-leading-dash-equals", ["image", "in.png", "--output=-out.png"],
        _setup_files(**{"in.png": _pic("png_rgb")}), "ok", [("in.png", "-out.png", "ok")])
    add("hostile-name", "newline-name-corrupt", ["image", "bad\nname.png", "-o", "out.png"],
        _setup_files(**{"bad\nname.png": b"garbage"}), "error",
        [("bad\nname.png", "out.png", "error")], quick=True)
    add("hostile-name", "folder-of-hostile-names", ["image", "in", "-o", "out"],
        _setup_list([("in/" + n, _pic("png_rgb")) for n in names[:8]]), "ok",
        [("in/" + n, "out/" + n, "ok") for n in names[:8]], folder=True)

    # Outputs that alias the input.
    src = _setup_files(**{"in.png": _pic("png_rgb")})
    for extra in ((), ("--overwrite",)):
        tag = "-overwrite" if extra else ""
        for out in ("in.png", "./in.png", "sub/../in.png", os.path.join("..", "CASE", "in.png")):
            add("alias", f"output-is-input{tag}-{out}", ["image", "in.png", "-o", out, *extra],
                _chain(src, lambda d, A: (d / "sub").mkdir()), "error", [("in.png", None, "error")],
                quick=out == "in.png" and bool(extra))
        add("alias", f"output-symlink-to-input{tag}", ["image", "in.png", "-o", "link.png", *extra],
            _chain(src, lambda d, A: os.symlink("in.png", d / "link.png")),
            "either" if extra else "error",
            [("in.png", "link.png", "either" if extra else "error")],
            mutable=("link.png",), quick=bool(extra))
        add("alias", f"output-hardlink-to-input{tag}",
            ["image", "in.png", "-o", "hard.png", *extra],
            _chain(src, lambda d, A: os.link(d / "in.png", d / "hard.png")),
            "either" if extra else "error",
            [("in.png", "hard.png", "either" if extra else "error")],
            mutable=("hard.png",))
        add("alias", f"output-folder-is-input-folder{tag}", ["image", "in", "-o", "in", *extra],
            _setup_files(**{"in/a.png": _pic("png_rgb"), "in/b.jpg": _pic("jpg_rgb"),
                            "in/c.bmp": _pic("bmp24")}), "either",
            [("in/a.png", None, "either"), ("in/b.jpg", None, "either"),
             ("in/c.bmp", "in/c.png", "either")], folder=True, quick=bool(extra))
        add("alias", f"output-folder-holds-input{tag}", ["image", "in/a.png", "-o", "in/", *extra],
            _setup_files(**{"in/a.png": _pic("png_rgb")}), "error", [("in/a.png", None, "error")],
            folder=True)
        add("alias", f"output-empty-string{tag}", ["image", "in.png", "-o", "", *extra], src,
            "either", [("in.png", None, "either")], folder=True)
        add("alias", f"output-dot{tag}", ["image", "in.png", "-o", ".", *extra], src, "either",
            [("in.png", None, "either")], folder=True)
    add("alias", "existing-output-kept", ["image", "in.png", "-o", "out.png"],
        _setup_files(**{"in.png": _pic("png_rgb"), "out.png": b"precious"}), "error",
        [("in.png", None, "error")])
    add("alias", "existing-output-overwritten", ["image", "in.png", "-o", "out.png", "--overwrite"],
        _setup_files(**{"in.png": _pic("png_rgb"), "out.png": b"old"}), "ok",
        [("in.png", "out.png", "ok")], mutable=("out.png",))
    add("alias", "output-inside-input-folder", ["image", "in", "-o", "in/out"],
        _setup_files(**{"in/a.png": _pic("png_rgb"), "in/sub/b.jpg": _pic("jpg_rgb")}), "ok",
        [("in/a.png", "in/out/a.png", "ok"), ("in/sub/b.jpg", "in/out/sub/b.jpg", "ok")],
        folder=True)
    add("alias", "same-input-twice", ["image", "in.png", "in.png", "-o", "out"], src, "either",
        [("in.png", "out/in.png", "either")], folder=True)

    # Folders.
    def mixed(d, A):
        _put(d, "in/a.png", A.picture("png_rgb"))
        _put(d, "in/b.jpg", A.picture("jpg_rgb"))
        _put(d, "in/sub/c.tif", A.picture("tif16_rgb"))
        _put(d, "in/sub/deeper/e.webp", A.picture("webp_rgba"))
        _put(d, "in/i.bmp", A.picture("bmp24"))
        _put(d, "in/bad.png", truncate(A.picture("png_rgb"), 0.5))
        _put(d, "in/notes.txt", b"not a picture")
        _put(d, "in/.hidden.png", A.picture("png_rgb"))
        _put(d, "in/.thumbs/t.png", A.picture("png_rgb"))
        (d / "in/dir.png").mkdir()
        os.mkfifo(d / "in/fifo.png")
        os.symlink("a.png", d / "in/link.png")
        os.symlink("missing.png", d / "in/dangling.png")
        os.symlink(".", d / "in/sub/loop")

    mixed_pairs = [("in/a.png", "out/a.png", "ok"), ("in/b.jpg", "out/b.jpg", "ok"),
                   ("in/sub/c.tif", "out/sub/c.tif", "ok"),
                   ("in/sub/deeper/e.webp", "out/sub/deeper/e.webp", "ok"),
                   ("in/i.bmp", "out/i.png", "ok"), ("in/bad.png", "out/bad.png", "error"),
                   ("in/link.png", "out/link.png", "either")]
    add("folder", "mixed-folder", ["image", "in", "-o", "out"], mixed, "error", mixed_pairs,
        folder=True, timeout=30, quick=True)
    add("folder", "all-good-folder", ["image", "in", "-o", "out/"],
        _setup_files(**{f"in/{k}{e}": _pic(k) for k, e in list(PICTURE_KINDS.items())[::4]
                        if k != "tif_float"}), "ok",
        [(f"in/{k}{e}", f"out/{k}{'.png' if e == '.bmp' else e}", "ok")
         for k, e in list(PICTURE_KINDS.items())[::4] if k != "tif_float"], folder=True)
    add("folder", "all-bad-folder", ["image", "in", "-o", "out"],
        _setup_files(**{"in/a.png": b"x", "in/b.jpg": b"", "in/c.tif": b"II*\x00garbage"}),
        "error", [("in/a.png", "out/a.png", "error"), ("in/b.jpg", "out/b.jpg", "error"),
                  ("in/c.tif", "out/c.tif", "error")], folder=True)
    add("folder", "empty-folder", ["image", "in", "-o", "out"], lambda d, A: (d / "in").mkdir(),
        "error", [], folder=True)
    add("folder", "name-clash-bmp-png", ["image", "in", "-o", "out"],
        _setup_files(**{"in/x.bmp": _pic("bmp24"), "in/x.png": _pic("png_rgb")}), "error",
        [("in/x.bmp", "out/x.png", "error")], folder=True, quick=True)
    add("folder", "several-inputs", ["image", "a.png", "d1", "d2", "-o", "out"],
        _setup_files(**{"a.png": _pic("png_rgb"), "d1/b.png": _pic("png_grey"),
                        "d2/c.jpg": _pic("jpg_grey")}), "ok",
        [("a.png", "out/a.png", "ok"), ("d1/b.png", "out/d1/b.png", "ok"),
         ("d2/c.jpg", "out/d2/c.jpg", "ok")], folder=True)
    add("folder", "existing-outputs-in-folder", ["image", "in", "-o", "out"],
        _setup_files(**{"in/a.png": _pic("png_rgb"), "in/b.png": _pic("png_grey"),
                        "out/a.png": b"precious"}), "error",
        [("in/a.png", None, "error"), ("in/b.png", "out/b.png", "ok")], folder=True)

    # Odd options.
    opt = _setup_files(**{"in.png": _pic("png_rgb", (200, 300))})
    for extra, exp in [(["--render-size", "0"], "usage"), (["--render-size", "-1"], "usage"),
                       (["--render-size", "abc"], "usage"), (["--render-size", "1"], "ok"),
                       (["--render-size", "17"], "ok"), (["--render-size", "100000"], "either"),
                       (["--render-size", "1e3"], "usage"), (["--tile", "-1"], "usage"),
                       (["--tile", "0"], "ok"), (["--tile", "1"], "either"),
                       (["--tile", "16"], "ok"),
                       (["--tile", "100000"], "ok"), (["--tile-overlap", "-3"], "usage"),
                       (["--tile", "32", "--tile-overlap", "32"], "either"),
                       (["--tile", "32", "--tile-overlap", "1000"], "either"),
                       (["--tile", "32", "--tile-overlap", "0"], "ok"),
                       (["--bogus"], "usage"), (["--model", "nowhere"], "error"),
                       (["--model", "in.png"], "error"), (["--model", "empty"], "error"),
                       (["--model", "badmodel"], "error"), (["--overwrite", "--overwrite"], "ok")]:
        def setup(d, A, extra=extra):
            opt(d, A)
            (d / "empty").mkdir()
            _put(d, "badmodel/config.json", b"{not json")
        add("image-options", "image-" + " ".join(extra),
            ["image", "in.png", "-o", "out.png", *extra],
            setup, exp, [("in.png", "out.png", "error" if exp == "usage" else exp)],
            quick=extra in (["--tile", "-1"], ["--render-size", "1"], ["--model", "badmodel"],
                            ["--tile", "32", "--tile-overlap", "32"]))
    add("image-options", "image-no-inputs", ["image", "-o", "out.png"], None, "usage")
    add("image-options", "image-no-output", ["image", "in.png"], opt, "usage",
        [("in.png", None, "error")])
    add("image-options", "no-command", [], None, "usage")
    add("image-options", "unknown-command", ["paint", "x"], None, "usage")
    add("image-options", "version", ["--version"], None, "ok", media="none")

    # Unreadable files and folders (see _lock).
    add("unreadable", "unreadable-input", ["image", "in.png", "-o", "out.png"],
        _chain(src, lambda d, A: _lock(d / "in.png", 0)), "error",
        [("in.png", "out.png", "error")], mode="unpriv", quick=True)
    add("unreadable", "unreadable-file-in-folder", ["image", "in", "-o", "out"],
        _chain(_setup_files(**{"in/a.png": _pic("png_rgb"), "in/b.png": _pic("png_grey")}),
               lambda d, A: _lock(d / "in/b.png", 0)), "error",
        [("in/a.png", "out/a.png", "ok"), ("in/b.png", "out/b.png", "error")], folder=True,
        mode="unpriv")
    add("unreadable", "unreadable-subfolder", ["image", "in", "-o", "out"],
        _chain(_setup_files(**{"in/a.png": _pic("png_rgb"), "in/sub/b.png": _pic("png_grey")}),
               lambda d, A: _lock(d / "in/sub", 0)), "either",
        [("in/a.png", "out/a.png", "either"), ("in/sub/b.png", "out/sub/b.png", "either")],
        folder=True, mode="unpriv")
    add("unreadable", "unwritable-output-folder", ["image", "in.png", "-o", "ro/out.png"],
        _chain(src, lambda d, A: (d / "ro").mkdir(), lambda d, A: _lock(d / "ro", 0o555)),
        "error", [("in.png", "ro/out.png", "error")], mode="unpriv")

    # eval.
    add("eval", "eval-missing-folder", ["eval", "nowhere"], None, "error", media="none")
    add("eval", "eval-empty-folder", ["eval", "in"], lambda d, A: (d / "in").mkdir(), "error",
        media="none")
    add("eval", "eval-damaged-pictures", ["eval", "in"],
        _setup_files(**{"in/a.png": b"junk", "in/b.jpg": truncate(A.picture("jpg_rgb"), 0.3),
                        "in/c.png": _pic("png_rgb")}), "either", media="none", quick=True)
    add("eval", "eval-limit-0", ["eval", "in", "--limit", "0"], None, "usage", media="none")

    # A picture interrupted, and the shipped model end to end.
    add("signal", "sigint-image-folder", ["image", "in", "-o", "out"],
        _setup_files(**{f"in/p{i}.png": _pic("png_rgb", (96, 128)) for i in range(8)}), "either",
        [(f"in/p{i}.png", f"out/p{i}.png", "either") for i in range(8)], folder=True,
        mode="signal", signals=("INT",), slow=0.15)
    add("real-model", "real-model-image", ["image", "in.jpg", "-o", "out.png"],
        _setup_files(**{"in.jpg": lambda A, d: (REPO / "vidcolor/examples/chelsea_grey.jpg")
                        .read_bytes()}), "ok", [("in.jpg", "out.png", "ok")], mode="real")
    return cases


def video_cases(A: Assets) -> list[Case]:
    cases: list[Case] = []

    def add(kind, name, argv, setup, expect="either", pairs=None, **kw):
        kw.setdefault("media", "video")
        cases.append(Case(kind, name, list(argv), setup, expect, pairs or [], **kw))

    def single(kind, name, data, in_name, out_name="out.mp4", expect="ok", extra=(), **kw):
        argv = ["video", in_name, "-o", out_name, "--preset", "ultrafast", *extra]
        if "--preset" in extra or "--codec" in extra or out_name.lower().endswith(".webm"):
            argv = ["video", in_name, "-o", out_name, *extra]
        add(kind, name, argv, _setup_list([(in_name, data)]), expect,
            [(in_name, out_name, "error" if expect == "usage" else expect)], **kw)

    # Every input kind to every container.
    bases = ["mp4_h264_aac", "mkv_ffv1_subs", "webm_vp9_opus", "avi_mpeg4", "mov_h264_aac"]
    for b in bases:
        for ext in (".mp4", ".mkv", ".mov", ".webm", ".avi"):
            single("video-container", f"{b}-to{ext}", _clip(b), "in" + CLIP_KINDS[b][0],
                   "out" + ext, quick=(b, ext) in (("mkv_ffv1_subs", ".mp4"),
                                                   ("mp4_h264_aac", ".mkv"),
                                                   ("webm_vp9_opus", ".avi")))
    for b, exp in [("mp4_vfr", "ok"), ("mp4_rot90", "ok"), ("mp4_late", "ok"), ("mp4_cut", "ok"),
                   ("mp4_rot45", "either"), ("mp4_rot270_sar", "ok"),
                   ("mp4_1frame", "ok"), ("mkv_ffv1_10bit", "ok"), ("mkv_ffv1_odd", "either"),
                   ("mkv_ffv1_2x2", "either"), ("mkv_h264_444", "ok"), ("gif_anim", "either"),
                   ("m4a_audio", "error")]:
        single("video-odd-input", f"input-{b}", _clip(b), "in" + CLIP_KINDS[b][0],
               "out.mkv" if b.startswith("mkv") else "out.mp4", expect=exp,
               quick=b in ("mp4_vfr", "mkv_ffv1_odd"))
    single("video-odd-input", "png-named-mp4", _pic("png_rgb"), "in.mp4", expect="either")
    single("video-odd-input", "jpeg-named-mkv", _pic("jpg_rgb"), "in.mkv", "out.mkv",
           expect="either")
    single("video-odd-input", "text-named-mp4", b"not a video\n" * 40, "in.mp4", expect="error",
           quick=True)

    # Damaged clips.
    for b in bases + ["mp4_h264_24"]:
        ext = CLIP_KINDS[b][0]
        for frac in (0.05, 0.3, 0.6, 0.9, 0.99):
            single("video-truncated", f"truncated-{b}-{frac}",
                   lambda A, d, b=b, frac=frac: truncate(A.clip(b), frac), "in" + ext,
                   "out.mkv", expect="either",
                   quick=(b, frac) in (("mkv_ffv1_subs", 0.6), ("mp4_h264_aac", 0.99)))
        for k in range(2):
            single("video-bitflip", f"bitflip-{b}-{k}",
                   lambda A, d, b=b, k=k: bitflip(A.clip(b), A.rng("vflip", b, k), 8),
                   "in" + ext, "out.mkv", expect="either", quick=(b, k) == ("webm_vp9_opus", 0))
        single("video-bitflip", f"smash-{b}",
               lambda A, d, b=b: smash(A.clip(b), A.rng("vsmash", b), 0.05), "in" + ext,
               "out.mkv", expect="either", quick=b == "avi_mpeg4")
        single("video-random", f"random-{b}",
               lambda A, d, b=b: random_after_magic(A.clip(b), A.rng("vrand", b), 32), "in" + ext,
               "out.mkv", expect="either")
    for ext in (".mp4", ".mkv", ".mov", ".webm", ".avi"):
        single("video-random", f"zero-bytes{ext}", b"", "in" + ext, expect="error",
               quick=ext == ".mov")
    # Corrupted packets in the middle: every frame a packet-by-packet decoder recovers.
    for b in ("mp4_h264_24", "mkv_h264_24"):
        for k, count in enumerate((1, 2, 4)):
            ext = CLIP_KINDS[b][0]
            single("video-corrupt-packets", f"corrupt-packets-{b}-{count}",
                   lambda A, d, b=b, k=k, count=count, ext=ext: corrupt_packets(
                       A.clip(b), d / ("scratch" + ext), A.rng("pkt", b, k), count),
                   "in" + ext, "out" + ext, expect="ok", warn_on_damage=True, quick=k == 1)

    # Containers and extensions.
    for out, exp in [("out.gif", "error"), ("out.txt", "error"), ("out", "error"),
                     ("out.MP4", "ok"), ("out.png", "error"), ("out.m4v", "either"),
                     ("out.ts", "either"), ("out.mp4.", "error"), (".mp4", "either")]:
        single("video-extension", f"output-{out!r}", _clip("mp4_h264_aac"), "in.mp4", out,
               expect=exp, quick=out in ("out.gif", "out.MP4"))

    # Odd options.
    for extra, exp in [
        (["--render-size", "0"], "usage"), (["--render-size", "-1"], "usage"),
        (["--render-size", "1"], "ok"), (["--render-size", "100000"], "either"),
        (["--render-size", "abc"], "usage"), (["--batch-size", "0"], "usage"),
        (["--batch-size", "1"], "ok"), (["--batch-size", "4096"], "either"),
        (["--batch-size", "abc"], "usage"), (["--start", "-1"], "usage"),
        (["--start", "1e300"], "error"), (["--start", "nan"], "usage"),
        (["--start", "inf"], "usage"), (["--start", "abc"], "usage"),
        (["--start", "0.1", "--duration", "0.2"], "ok"), (["--start", "00:00.25"], "ok"),
        (["--start", "0:00:00.1", "--duration", "0:0.1"], "ok"),
        (["--duration", "0.01"], "ok"), (["--start", "0.49", "--duration", "5"], "error"),
        (["--start", "99:59"], "error"), (["--duration", "0"], "error"),
        (["--duration", "abc"], "usage"), (["--duration", "-0"], "error"),
        (["--crf", "-5"], "error"), (["--crf", "abc"], "usage"), (["--crf", "0"], "ok"),
        (["--crf", "51"], "ok"), (["--crf", "52"], "either"), (["--crf", "1000"], "either"),
        (["--preset", "bogus"], "error"), (["--preset", ""], "error"),
        (["--preset", "placebo"], "ok"), (["--codec", "png"], "either"),
        (["--codec", "aac"], "error"), (["--codec", "bogus"], "error"), (["--codec", ""], "error"),
        (["--codec", "mpeg4"], "ok"), (["--codec", "libvpx-vp9"], "either"),
        (["--codec", "ffv1"], "either"), (["--codec", "h264_nvenc"], "error"),
        (["--codec", "libx264", "--preset", "bogus"], "error"),
        (["--codec", "mpeg4", "--crf", "10"], "either"),
        (["--stabilize-strength", "2"], "error"), (["--stabilize-strength", "nan"], "error"),
        (["--stabilize-strength", "-0.1"], "error"), (["--stabilize-strength", "inf"], "error"),
        (["--stabilize-strength", "abc"], "usage"), (["--stabilize-strength", "0"], "ok"),
        (["--stabilize-strength", "1"], "ok"), (["--no-stabilize"], "ok"),
        (["--quiet"], "ok"), (["--bogus"], "usage"), (["--model", "nowhere"], "error"),
        (["--model", "in.mp4"], "error"), (["--resume"], "ok"), (["--resume", "--overwrite"], "ok"),
    ]:
        window = None
        if "--start" in extra or "--duration" in extra:
            from vidcolor.options import parse_time

            try:
                s = parse_time(extra[extra.index("--start") + 1]) if "--start" in extra else 0.0
                du = (parse_time(extra[extra.index("--duration") + 1])
                      if "--duration" in extra else None)
                window = (s, du)
            except ValueError:
                window = None
        single("video-options", "video-" + " ".join(extra), _clip("mp4_h264_aac"), "in.mp4",
               expect=exp, extra=extra, window=window,
               quick=extra in (["--stabilize-strength", "nan"],
                               ["--start", "0.1", "--duration", "0.2"], ["--crf", "-5"]))
    single("video-options", "video-webm-crf-63", _clip("mp4_h264_aac"), "in.mp4", "out.webm",
           expect="ok", extra=("--crf", "63"))
    single("video-options", "video-libx264-in-webm", _clip("mp4_h264_aac"), "in.mp4", "out.webm",
           expect="error", extra=("--codec", "libx264"))
    add("video-options", "video-two-inputs", ["video", "a.mp4", "b.mp4", "-o", "out.mp4"],
        _setup_files(**{"a.mp4": _clip("mp4_h264_aac"), "b.mp4": _clip("mp4_h264_aac")}),
        "usage", [("a.mp4", "out.mp4", "error")])
    add("video-options", "video-no-output", ["video", "in.mp4"],
        _setup_files(**{"in.mp4": _clip("mp4_h264_aac")}), "usage", [("in.mp4", None, "error")])

    # Special and missing inputs.
    add("video-special", "fifo-input", ["video", "in.mp4", "-o", "out.mp4"],
        lambda d, A: os.mkfifo(d / "in.mp4"), "error", [("in.mp4", "out.mp4", "error")],
        timeout=20, quick=True)
    for dev in ("/dev/null", "/dev/zero"):
        add("video-special", f"video-input-{dev}", ["video", dev, "-o", "out.mp4"], None, "error",
            [(None, "out.mp4", "error")], timeout=30)
    add("video-special", "folder-named-mp4", ["video", "in.mp4", "-o", "out.mp4"],
        lambda d, A: (d / "in.mp4").mkdir(), "error", [(None, "out.mp4", "error")])
    add("video-special", "video-missing-input", ["video", "nothing.mp4", "-o", "out.mp4"], None,
        "error",
        [(None, "out.mp4", "error")])
    add("video-special", "video-dangling-symlink", ["video", "in.mp4", "-o", "out.mp4"],
        lambda d, A: os.symlink("gone.mp4", d / "in.mp4"), "error", [(None, "out.mp4", "error")])
    add("video-special", "output-is-folder", ["video", "in.mp4", "-o", "out.mp4", "--overwrite"],
        _chain(_setup_files(**{"in.mp4": _clip("mp4_h264_aac")}),
               lambda d, A: (d / "out.mp4").mkdir()),
        "error", [("in.mp4", None, "error")])
    add("video-special", "output-folder-missing", ["video", "in.mp4", "-o", "no/such/out.mp4"],
        _setup_files(**{"in.mp4": _clip("mp4_h264_aac")}), "either",
        [("in.mp4", "no/such/out.mp4", "either")])
    add("video-special", "video-existing-output-kept", ["video", "in.mp4", "-o", "out.mp4"],
        _setup_files(**{"in.mp4": _clip("mp4_h264_aac"), "out.mp4": b"precious"}), "error",
        [("in.mp4", None, "error")])
    add("video-special", "video-existing-output-overwritten",
        ["video", "in.mp4", "-o", "out.mp4", "--overwrite", "--preset", "ultrafast"],
        _setup_files(**{"in.mp4": _clip("mp4_h264_aac"), "out.mp4": b"old"}), "ok",
        [("in.mp4", "out.mp4", "ok")], mutable=("out.mp4",), quick=True)
    add("video-special", "resume-garbage-work-folder",
        ["video", "in.mp4", "-o", "out.mp4", "--resume", "--preset", "ultrafast"],
        _setup_files(**{"in.mp4": _clip("mp4_h264_aac"),
                        ".out.mp4.vidcolor-work/progress.json": b"{\"version\": 1, garbage"}),
        "either", [("in.mp4", "out.mp4", "either")], mutable=(".out.mp4.vidcolor-work",))
    add("video-special", "resume-other-job-work-folder",
        ["video", "in.mp4", "-o", "out.mp4", "--resume", "--preset", "ultrafast"],
        _setup_files(**{"in.mp4": _clip("mp4_h264_aac"),
                        ".out.mp4.vidcolor-work/progress.json":
                            json.dumps({"version": 1, "job": {"other": 1}, "segments": [],
                                        "frames": 0}).encode()}),
        "either", [("in.mp4", "out.mp4", "either")], mutable=(".out.mp4.vidcolor-work",))
    add("video-special", "resume-missing-segments",
        ["video", "in.mp4", "-o", "out.mp4", "--resume", "--preset", "ultrafast"],
        _setup_files(**{"in.mp4": _clip("mp4_h264_aac")}), "either",
        [("in.mp4", "out.mp4", "either")], mutable=(".out.mp4.vidcolor-work",),
        note="progress.json of this very job, its segment deleted (made by a first run)")

    # Hostile names.
    for i, name in enumerate(["with space.mp4", "ünï 中文 🎬.mkv", "new\nline.mp4",
                              os.fsdecode(b"bad-\xff-utf8.mp4"), "%s{}.mov", "a" * 245 + ".mp4"]):
        out = "out-" + name if len(name) < 100 else "b" * 245 + ".mkv"
        single("video-hostile-name", f"video-name-{i}", _clip("mp4_h264_aac"), name, out,
               expect="either" if len(name) > 100 else "ok", quick=i in (2, 5))
    add("video-hostile-name", "video-leading-dash",
        ["video", "--preset", "ultrafast", "--output=-out.mkv", "--", "-in.mp4"],
        _setup_files(**{"-in.mp4": _clip("mp4_h264_aac")}), "ok", [("-in.mp4", "-out.mkv", "ok")])

    # Outputs that alias the input.
    vsrc = _setup_files(**{"in.mp4": _clip("mp4_h264_aac")})
    for extra in ((), ("--overwrite",)):
        tag = "-overwrite" if extra else ""
        add("video-alias", f"video-output-is-input{tag}",
            ["video", "in.mp4", "-o", "in.mp4", *extra],
            vsrc, "error", [("in.mp4", None, "error")], quick=bool(extra))
        add("video-alias", f"video-output-dotted-input{tag}",
            ["video", "in.mp4", "-o", "sub/../in.mp4", *extra],
            _chain(vsrc, lambda d, A: (d / "sub").mkdir()), "error", [("in.mp4", None, "error")])
        add("video-alias", f"video-output-symlink-to-input{tag}",
            ["video", "in.mp4", "-o", "link.mp4", "--preset", "ultrafast", *extra],
            _chain(vsrc, lambda d, A: os.symlink("in.mp4", d / "link.mp4")),
            "either" if extra else "error",
            [("in.mp4", "link.mp4", "either" if extra else "error")],
            mutable=("link.mp4",), quick=bool(extra))
        add("video-alias", f"video-output-hardlink-to-input{tag}",
            ["video", "in.mp4", "-o", "hard.mp4", "--preset", "ultrafast", *extra],
            _chain(vsrc, lambda d, A: os.link(d / "in.mp4", d / "hard.mp4")),
            "either" if extra else "error",
            [("in.mp4", "hard.mp4", "either" if extra else "error")],
            mutable=("hard.mp4",))
    add("video-alias", "video-input-through-symlink", ["video", "link.mp4", "-o", "out.mp4",
                                                        "--preset", "ultrafast"],
        _chain(vsrc, lambda d, A: os.symlink("in.mp4", d / "link.mp4")), "ok",
        [("link.mp4", "out.mp4", "ok")])

    # Unreadable.
    add("unreadable", "unreadable-video", ["video", "in.mp4", "-o", "out.mp4"],
        _chain(vsrc, lambda d, A: _lock(d / "in.mp4", 0)), "error",
        [("in.mp4", "out.mp4", "error")], mode="unpriv")
    add("unreadable", "unwritable-video-folder", ["video", "in.mp4", "-o", "ro/out.mp4"],
        _chain(vsrc, lambda d, A: (d / "ro").mkdir(), lambda d, A: _lock(d / "ro", 0o555)),
        "error", [("in.mp4", "ro/out.mp4", "error")], mode="unpriv", quick=True)

    # Signals mid-job, then --resume.
    sig = ["video", "in.mp4", "-o", "out.mp4", "--preset", "ultrafast", "--batch-size", "2"]
    for sigs, gap, quick in ((("INT",), 0, True), (("KILL",), 0, False),
                             (("INT", "INT"), 0.01, False), (("INT", "INT"), 0.1, False),
                             (("INT", "INT"), 0.4, False)):
        add("signal", "signal-" + "-".join(sigs) + (f"-{gap}s-apart" if gap else "")
            + "-then-resume", sig,
            _setup_files(**{"in.mp4": _clip("mp4_sig")}), "ok", [("in.mp4", "out.mp4", "ok")],
            mode="signal", signals=sigs, gap=gap, segment_frames=4, slow=0.12, quick=quick)
    add("signal", "signal-INT-then-resume-mkv",
        ["video", "in.mkv", "-o", "out.mkv", "--preset", "ultrafast", "--batch-size", "2"],
        _setup_files(**{"in.mkv": _clip("mkv_sig")}), "ok", [("in.mkv", "out.mkv", "ok")],
        mode="signal", signals=("INT",), segment_frames=4, slow=0.12)
    add("real-model", "real-model-video",
        ["video", "in.mp4", "-o", "out.mkv", "--preset", "ultrafast", "--quiet"],
        _setup_files(**{"in.mp4": _clip("mp4_h264_aac")}), "ok", [("in.mp4", "out.mkv", "ok")],
        mode="real")
    return cases


def planted_cases() -> list[Case]:
    """One case per failure the harness must see, each with the verdict it must get."""
    src = _setup_files(**{"in.png": _pic("png_rgb")})
    argv = ["image", "in.png", "-o", "out.png"]
    out = []
    for inject, verdict in (("hang", "hang"), ("crash", "crash"), ("raise", "traceback"),
                            ("leftover", "leftover"), ("noise", "wrong"), ("modify", "wrong"),
                            (None, "ok")):
        out.append(Case("planted", f"planted-{inject}-{verdict}", argv, src, "ok",
                        [("in.png", "out.png", "ok")], inject=inject,
                        timeout=5 if inject == "hang" else None, note=verdict))
    out.append(Case("planted", "planted-wrong-expectation-wrong", argv + ["--tile", "-1"], src,
                    "ok", [("in.png", "out.png", "ok")], note="wrong"))
    out.append(Case("planted", "planted-silent-loss-wrong", ["image", "in", "-o", "out"],
                    _setup_files(**{"in/a.png": _pic("png_rgb")}), "either",
                    [("in/a.png", "out/a.png", "either"), ("in/b.png", "out/b.png", "either")],
                    folder=True, note="wrong"))
    return out


def build_cases(root: Path, seed: int = 0, quick: bool = False) -> tuple[list[Case], Assets]:
    """The corpus, in a stable order with kinds interleaved (so --limit samples every kind)."""
    A = Assets(root, seed)
    cases = image_cases(A) + video_cases(A)
    for c in cases:
        if re.search(r"truncated|bitflip|random|corrupt", c.kind):
            c.damaged = True
    names = Counter(c.name for c in cases)
    dup = [n for n, k in names.items() if k > 1]
    assert not dup, f"duplicate case names: {dup}"
    if quick:
        per_kind: Counter = Counter()
        chosen = []
        for c in cases:
            if c.quick and per_kind[c.kind] < 3:
                per_kind[c.kind] += 1
                chosen.append(c)
        cases = chosen
    by_kind: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        by_kind[c.kind].append(c)
    ordered = []
    while any(by_kind.values()):
        for kind in list(by_kind):
            if by_kind[kind]:
                ordered.append(by_kind[kind].pop(0))
    return ordered, A


# =============================================================================================
# Running and judging
# =============================================================================================

def snapshot(d: Path) -> dict:
    """Every path under ``d``: kind and content hash (regular files), target (links)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(d, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = os.fsdecode(p.relative_to(d))
            try:
                st = p.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            elif stat.S_ISREG(st.st_mode):
                try:
                    h = hashlib.sha1(p.read_bytes()).hexdigest()
                except OSError:
                    h = f"unreadable-{st.st_size}-{st.st_mtime_ns}"
                out[rel] = ("file", h, st.st_ino)
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode))
    return out


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ERROR = re.compile(r"^vidcolor(?: [a-z]+)?: error: \S")
_OWN = re.compile(r"^vidcolor(?: [a-z]+)?: ")
_RESULT = re.compile(r": \d+ frames( \([^)]*\))?, [\d.]+ frames/s(, .*)?$")
_BAR = re.compile(r"(\d+%\|)|(\[[\d:]+(<[\d:?]+)?, +[\d.?]+ ?(s/)?(frame|image|tile|it)s?(/s)?\]$)")
_UNCLEAR = re.compile(r"<[^<>]*(object at 0x|name=\d+|_io\.)[^<>]*>|Errno -?\d+\]")
_HIDDEN_TEMP = re.compile(r"(^|/)\.[^/]*(\.part|\.vidcolor-work|\.partial\.[^/]*)(/|$)")


@dataclass
class Outcome:
    case: Case
    verdict: str = "ok"
    problems: list = field(default_factory=list)  # (category, text)
    rc: object = None
    stderr: str = ""
    seconds: float = 0.0
    skipped: str | None = None

    def add(self, category: str, text: str) -> None:
        self.problems.append((category, text))

    def settle(self) -> "Outcome":
        cats = {c for c, _ in self.problems}
        self.verdict = next((c for c in _SEVERITY if c in cats), "ok")
        return self

    def details(self) -> str:
        lines = [f"[{self.verdict}] {self.case.kind} / {self.case.name}",
                 f"  argv: vidcolor {' '.join(_show(a) for a in self.case.argv)}"
                 f"  (mode {self.case.mode}, rc {self.rc}, {self.seconds:.1f} s)"]
        lines += [f"  {c}: {t}" for c, t in self.problems]
        err = self.stderr.rstrip("\n")
        if err:
            shown = err.splitlines()
            if len(shown) > 40:
                shown = shown[:20] + [f"... ({len(shown) - 40} lines) ..."] + shown[-20:]
            lines.append("  stderr:")
            lines += ["    | " + s for s in shown]
        return "\n".join(lines)


def _show(a: str) -> str:
    text = a if isinstance(a, str) else os.fsdecode(a)
    if text and re.fullmatch(r"[\w./:=+,@%-]+", text):
        return text
    return repr(text)


def analyse_stderr(text: str) -> dict:
    """Sort stderr's lines: vidcolor's own, errors, usage, progress bars, results, noise."""
    text = _ANSI.sub("", text)
    info = {"errors": [], "own": [], "usage": 0, "noise": [], "warnings": [], "results": [],
            "traceback": "Traceback (most recent call last)" in text
                         or "Exception in thread" in text or "Fatal Python error" in text}
    in_usage = in_traceback = False
    for raw in text.split("\n"):
        if raw.startswith(("Traceback (most recent call last)", "Exception in thread")):
            in_traceback = True  # counted as a traceback, not line by line as noise
            continue
        if in_traceback:
            if raw.startswith(" ") or not raw.strip():
                continue
            in_traceback = False
            if re.match(r"^[\w.]+(Error|Exception|Interrupt|Exit|Warning)\b", raw):
                continue
        for piece in raw.split("\r"):
            line = piece.rstrip()
            if not line.strip():
                continue
            if line.startswith("usage: "):
                in_usage = True
                info["usage"] += 1
                continue
            if in_usage and piece.startswith(" "):
                info["usage"] += 1
                continue
            in_usage = False
            if _ERROR.match(line):
                info["errors"].append(line)
                info["own"].append(line)
            elif _OWN.match(line):
                info["own"].append(line)
                if ": warning:" in line:
                    info["warnings"].append(line)
            elif _RESULT.search(line):
                info["results"].append(line)
            elif _BAR.search(line):
                pass
            else:
                info["noise"].append(line)
    return info


def _existing(d: Path, rel) -> bool:
    return rel is not None and os.path.lexists(d / rel)


def check_picture(out: Path, src: Path | None, o: Outcome, label: str) -> None:
    """An output picture against its input: readable, size, depth, alpha, lightness, mark."""
    try:
        got = reference_picture(out)
    except Exception as e:  # noqa: BLE001
        o.add("wrong", f"{label}: output unreadable ({type(e).__name__}: {e})")
        return
    ref = None
    if src is not None:
        try:
            ref = reference_picture(src)
        except Exception:  # noqa: BLE001 - then vidcolor's own reading of the input
            try:
                ref = _vidcolor_picture(src)
            except Exception as e:  # noqa: BLE001
                o.add("wrong", f"{label}: exit 0 for an input nothing can read ({e})")
                return
    try:
        from vidcolor.imageio import read_provenance

        if not (read_provenance(out) or "").startswith("colorized by vidcolor"):
            o.add("wrong", f"{label}: no provenance mark")
    except Exception as e:  # noqa: BLE001
        o.add("wrong", f"{label}: provenance unreadable ({e})")
    if ref is None:
        return
    if got.rgb.shape != ref.rgb.shape:
        o.add("wrong", f"{label}: size {got.rgb.shape[:2]}, input {ref.rgb.shape[:2]}")
        return
    ext = out.suffix.lower()
    lossless = ext in (".png", ".tif", ".tiff")
    if ref.bits == 16 and lossless and got.bits != 16:
        o.add("wrong", f"{label}: 16-bit input written as {got.bits}-bit")
    if ref.alpha is not None and ext != ".jpg" and ext != ".jpeg":
        if got.alpha is None:
            o.add("wrong", f"{label}: alpha channel lost")
        elif np.abs(got.alpha - ref.alpha).max() > 1.5 / 255:
            worst = np.abs(got.alpha - ref.alpha).max()
            o.add("wrong", f"{label}: alpha changed (max {worst:.3f})")
    if ref.alpha is None and got.alpha is not None and got.alpha.min() < 1:
        o.add("wrong", f"{label}: an alpha channel appeared")
    visible = np.ones(ref.rgb.shape[:2], bool) if ref.alpha is None else ref.alpha > 0.02
    if not visible.any():
        return
    dl = np.abs(lightness(got.rgb) - lightness(ref.rgb))[visible]
    mean_tol, p99_tol = (0.6, 3.0) if lossless else (2.5, 12.0)
    if dl.mean() > mean_tol or np.percentile(dl, 99) > p99_tol:
        o.add("wrong", f"{label}: lightness differs from the input's (mean |dL| {dl.mean():.2f}, "
                       f"99th percentile {np.percentile(dl, 99):.2f})")
    # Colour must have been added where colour can be (not at pure black or white).
    mid = visible & (np.abs(lightness(ref.rgb) - 50) < 40)
    chroma = np.abs(got.rgb - got.rgb.mean(-1, keepdims=True))[mid].mean() if mid.any() else 1
    if chroma < 1e-3 and mid.sum() > 16:
        o.add("wrong", f"{label}: no colour was added")


def check_video(out: Path, ref: VideoRef | None, o: Outcome, label: str, info: dict,
                case: Case) -> None:
    import av

    try:
        got = reference_video(out)
    except Exception as e:  # noqa: BLE001
        o.add("wrong", f"{label}: output unreadable ({type(e).__name__}: {e})")
        return
    if got.errors:
        o.add("wrong", f"{label}: the output itself has {got.errors} undecodable packets")
    try:
        with av.open(os.fspath(out)) as c:
            comment = " ".join(str(v) for k, v in c.metadata.items() if k.lower() == "comment")
        if "colorized by vidcolor" not in comment:
            o.add("wrong", f"{label}: no provenance mark in the container's metadata")
    except Exception as e:  # noqa: BLE001
        o.add("wrong", f"{label}: metadata unreadable ({e})")
    if ref is None:
        return
    # Relative times: muxers may shift a whole file (e.g. Matroska after an audio priming delay).
    # AVI stores no timestamps (decoders guess them): frames are matched in order there.
    no_pts = out.suffix.lower() == ".avi"
    pairs, missing, extra = _match_frames([None] * len(ref.times) if no_pts else ref.times,
                                          [None] * len(got.times) if no_pts else got.times,
                                          relative=True)
    if missing or extra or len(got.frames) != len(ref.frames):
        silent = "" if info["warnings"] else ", and no warning"
        o.add("wrong", f"{label}: {len(got.frames)} frames, the input has {len(ref.frames)} "
                       f"decodable{' in the window' if case.window else ''}"
                       f" (missing at {_times(missing)}, extra at {_times(extra)}){silent}")
    if got.frames and ref.frames and got.size != ref.size:
        o.add("wrong", f"{label}: frame size {got.size}, input {ref.size}")
    elif pairs and not case.damaged:  # damaged data decodes differently with other threading
        dl = [(float(np.abs(got.frames[j] - ref.frames[i]).mean()), ref.times[i])
              for i, j in pairs]
        worst = max(dl)
        tol = 4.0 if min(ref.size) >= 8 else 8.0
        if worst[0] > tol:
            o.add("wrong", f"{label}: the frame at {worst[1]} s differs in lightness from the "
                           f"input's (mean |dL| {worst[0]:.2f})")
    if ref.audio and not got.audio and case.window is None:
        o.add("wrong", f"{label}: the audio was lost")
    if case.warn_on_damage and ref.errors and not info["warnings"]:
        o.add("wrong", f"{label}: {ref.errors} damaged packets and no warning")


def _times(ts: list) -> str:
    if not ts:
        return "-"
    shown = ", ".join("?" if t is None else f"{t:.3f}" for t in ts[:6])
    return shown + (f" and {len(ts) - 6} more" if len(ts) > 6 else "")


def _match_frames(ref_times: list, got_times: list, relative: bool):
    """Pair the input's decodable frames with the output's by timestamp (index order when
    timestamps are missing): (pairs of indices, input times missing, output times extra)."""
    if any(t is None for t in ref_times + got_times):
        n = min(len(ref_times), len(got_times))
        return ([(i, i) for i in range(n)], ref_times[n:], got_times[n:])
    r = np.array(ref_times, float)
    g = np.array(got_times, float)
    if relative and len(r) and len(g):
        r, g = r - r[0], g - g[0]
    gaps = np.diff(np.sort(r)) if len(r) > 1 else np.array([0.04])
    tol = max(0.0015, 0.4 * float(gaps[gaps > 0].min()) if (gaps > 0).any() else 0.02)
    pairs, used = [], set()
    for i, t in enumerate(r):
        if len(g) == 0:
            break
        j = int(np.argmin(np.abs(g - t)))
        if abs(g[j] - t) <= tol and j not in used:
            pairs.append((i, j))
            used.add(j)
    matched = {i for i, _ in pairs}
    missing = [ref_times[i] for i in range(len(r)) if i not in matched]
    extra = [got_times[j] for j in range(len(g)) if j not in used]
    return pairs, missing, extra


def judge(case: Case, d: Path, before: dict, after: dict, rc, err: str, o: Outcome,
          exception: str | None = None, allow_new: tuple = (), interrupted: bool = False,
          killed: bool = False, refs: dict | None = None) -> None:
    """Everything the outcome of one run must satisfy (see the module's docstring)."""
    info = analyse_stderr(err)
    if exception is not None or info["traceback"]:
        last = (exception or "").strip().splitlines()[-1:] or ["a traceback on stderr"]
        o.add("traceback", f"an exception escaped: {last[0][:200]}")
    if info["noise"]:
        o.add("wrong", f"noise on stderr: {info['noise'][:3]!r}")
    usage = info["usage"] > 0
    n_err = len(info["errors"])
    for line in info["errors"]:
        if _UNCLEAR.search(line):
            o.add("wrong", f"unclear error message (a Python object's repr): {line[:200]!r}")
            break
    if killed or (rc is None and (exception is not None or info["traceback"])):
        pass
    elif interrupted and rc == -signal.SIGINT:
        pass  # killed by a second SIGINT: no message to expect
    elif interrupted:
        if rc != 130:
            o.add("wrong", f"exit {rc} after SIGINT (expected 130)")
        if not any(line.startswith("vidcolor: interrupted") for line in info["own"]):
            o.add("wrong", "no 'vidcolor: interrupted' line")
    elif rc == 2 and usage:
        if case.expect not in ("usage", "either", "error"):
            o.add("wrong", f"a usage error, expected {case.expect}")
        if n_err != 1:
            o.add("wrong", f"{n_err} error lines after the usage (expected 1)")
    elif rc == 0:
        if case.expect in ("error", "usage"):
            o.add("wrong", f"exit 0, expected {case.expect}")
        if n_err:
            o.add("wrong", "exit 0 with an error line")
    elif rc == 1:
        if case.expect == "usage":
            o.add("wrong", "exit 1, expected a usage error (exit 2)")
        if case.expect == "ok":
            o.add("wrong", "exit 1, expected success")
        if n_err == 0:
            o.add("wrong", "exit 1 without a 'vidcolor: error:' line")
        elif n_err > 1 and not case.folder:
            o.add("wrong", f"{n_err} error lines (expected one)")
        if usage:
            o.add("wrong", "a usage message with exit 1")
    else:
        o.add("wrong", f"exit code {rc}")
    if rc == 2 and not usage:
        o.add("wrong", "exit 2 without a usage message")

    # Outputs: written and correct, or not written at all.
    produced, expected_new = set(), set()
    produced_any = any(
        dst is not None and after.get(dst) is not None and after[dst][0] != "dir"
        and (dst not in before or after[dst] != before[dst]) for _, dst, _ in case.pairs)
    for src, dst, exp in case.pairs:
        if dst is None:
            continue
        existed = dst in before
        now = after.get(dst)
        made = now is not None and (not existed or now != before[dst]) and now[0] != "dir"
        if made:
            produced.add(dst)
            expected_new.add(dst)
            if exp == "error":
                o.add("wrong", f"{_show(dst)} was written, expected a failure")
            if killed or (interrupted and case.media == "video"):
                o.add("wrong", f"{_show(dst)} exists after an interrupted run")
            elif case.media == "image":
                check_picture(d / dst, d / src if src else None, o, _show(dst))
            elif case.media == "video":
                ref = (refs or {}).get(src)
                check_video(d / dst, ref, o, _show(dst), info, case)
        elif not interrupted and not killed:
            if exp == "ok":
                o.add("wrong", f"{_show(dst)} was not written")
            if rc == 0 and case.expect != "usage" and exp != "error" and case.media != "none":
                o.add("wrong", f"silent loss: exit 0 but no {_show(dst)}")
            refused = not produced_any and n_err == 1  # the whole job refused at planning
            if case.folder and rc == 1 and src and exp != "ok" and not refused:
                base = os.path.basename(src)
                if "\n" not in base and not any(base in e for e in info["errors"]):
                    o.add("wrong", f"the failure of {_show(src)} is not reported")

    # Nothing else changed: inputs intact, nothing left behind.
    if case.media == "video" and rc == 0 and not interrupted and not killed:
        for _, dst, _ in case.pairs:
            if dst is not None:
                work = Path(dst).with_name(f".{Path(dst).name}.vidcolor-work")
                if os.path.lexists(d / work):
                    o.add("leftover", f"the work folder {_show(os.fspath(work))} is still there")
    mutable = set(case.mutable)
    for rel, entry in before.items():
        if any(rel == m or rel.startswith(m + "/") for m in mutable):
            continue
        now = after.get(rel)
        if now is None:
            o.add("wrong", f"{_show(rel)} was deleted")
        elif now[:2] != entry[:2]:
            o.add("wrong", f"{_show(rel)} was modified" + (" (an input!)" if any(
                rel == s for s, _, _ in case.pairs) else ""))
    for rel in sorted(set(after) - set(before)):
        if rel in expected_new or any(p.startswith(rel + "/") for p in expected_new):
            continue
        if any(re.search(pat, rel) for pat in allow_new + case.allow_new):
            continue
        if any(rel == m or rel.startswith(m + "/") for m in mutable):
            continue
        what = "temporary file" if _HIDDEN_TEMP.search(rel) else "unexpected file"
        o.add("leftover", f"{what} left: {_show(rel)} ({after[rel][0]})")


class Runner:
    """The long-lived process that runs in-process cases."""

    def __init__(self, logs: Path, env: dict):
        self.logs, self.env, self.proc, self.buf = logs, env, None, b""
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        err = open(self.logs / f"runner-{self.starts}.err", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.fuzz", "--runner"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                     cwd=REPO, env=self.env)
        err.close()
        self.buf = b""
        line = self._readline(180)
        if line is None or "ready" not in json.loads(line):
            raise RuntimeError(f"the fuzz runner did not start; see {self.logs}")

    def _readline(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return ""
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def call(self, req: dict, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.start()
            return self.call(req, timeout)
        line = self._readline(timeout)
        if line is None:
            self.kill()
            return {"hang": True}
        if line == "":
            rc = self.proc.wait()
            self.proc = None
            return {"crash": rc}
        result = json.loads(line)
        if result.get("threads"):
            self.kill()
        return result

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except Exception:  # noqa: BLE001
                self.kill()
            self.proc = None


_USERNS = ["unshare", "--user", "--map-root-user"]


def _lock(path: Path, mode: int) -> None:
    """Make a file or folder unreadable/unwritable: its mode, and (as root) an owner that the
    unprivileged run's user namespace does not map, so that no capability overrides the mode."""
    if os.geteuid() == 0:
        os.lchown(path, STRANGER, STRANGER)
    os.chmod(path, mode)


def _can_run_unprivileged() -> bool:
    """Whether locked files are really locked for the runs that need it."""
    if os.geteuid() != 0:
        return True  # chmod 000 works on us already
    probe = Path(tempfile.mkdtemp(prefix="vidcolor-fuzz-probe-"))
    try:
        secret = probe / "secret"
        secret.write_bytes(b"x")
        _lock(secret, 0)
        r = subprocess.run(_USERNS + [sys.executable, "-c",
                                      f"open({os.fspath(secret)!r}).read()"],
                           capture_output=True, timeout=60)
        return r.returncode != 0 and b"PermissionError" in r.stderr
    except Exception:  # noqa: BLE001
        return False
    finally:
        _force_rmtree(probe)


class Harness:
    """Builds each case's folder, runs it, judges it."""

    def __init__(self, root: Path, assets: Assets, timeout: float = 60.0, keep: bool = False):
        self.root, self.assets, self.timeout, self.keep = root, assets, timeout, keep
        self.logs = root / "_logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [os.fspath(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
        self.env.pop("VIDCOLOR_FUZZ_SLOW", None)
        self.unpriv_env = dict(self.env)
        self.runner = Runner(self.logs, self.env)
        self.count = 0
        self._nobody = None

    def close(self) -> None:
        self.runner.close()

    def case_dir(self, case: Case) -> Path:
        self.count += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", case.name)[:80]
        d = self.root / f"{self.count:03d}-{safe}"
        if d.exists():
            _force_rmtree(d)
        d.mkdir(parents=True)
        return d

    def run(self, case: Case) -> Outcome:
        o = Outcome(case)
        if case.mode == "unpriv":
            if self._nobody is None:
                self._nobody = _can_run_unprivileged()
            if not self._nobody:
                o.skipped = "cannot run as an unprivileged user"
                return o
        d = self.case_dir(case)
        try:
            argv = [a.replace("CASE", d.name) if isinstance(a, str) and "CASE" in a else a
                    for a in case.argv]
            case = dataclasses.replace(case, argv=argv)
            o.case = case
            if case.setup is not None:
                case.setup(d, self.assets)
            if case.name == "resume-missing-segments":
                self._prepare_missing_segments(case, d)
            refs = self._video_refs(case, d)
            if case.mode == "signal":
                self._run_signal(case, d, o, refs)
            else:
                self._run_plain(case, d, o, refs)
        except Exception:  # noqa: BLE001 - the harness's own failure: shown, counted as wrong
            o.add("wrong", "fuzz harness error: " + traceback.format_exc(limit=6))
        finally:
            if not self.keep:
                _force_rmtree(d)
        return o.settle()

    def _video_refs(self, case: Case, d: Path) -> dict:
        refs = {}
        if case.media != "video":
            return refs
        for src, _, _ in case.pairs:
            if src is None or not os.path.lexists(d / src):
                continue
            p = d / src
            try:
                if not p.is_file():
                    continue
                refs[src] = reference_video(p, case.window)
            except Exception:  # noqa: BLE001 - not a video at all: vidcolor must refuse it
                refs[src] = None
        return refs

    def _req(self, case: Case, d: Path, argv: list, slow: float = 0.0) -> dict:
        tag = d.name
        return {"argv": argv, "cwd": os.fspath(d), "stderr": os.fspath(self.logs / f"{tag}.err"),
                "stdout": os.fspath(self.logs / f"{tag}.out"), "slow": slow,
                "segment_frames": case.segment_frames, "inject": case.inject}

    def _read_err(self, req: dict) -> str:
        try:
            return Path(req["stderr"]).read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def _run_inproc(self, case: Case, d: Path, argv: list, o: Outcome, timeout: float):
        req = self._req(case, d, argv)
        result = self.runner.call(req, timeout)
        err = self._read_err(req)
        if result.get("hang"):
            o.add("hang", f"no result after {timeout:.0f} s (runner killed)")
            return None, err, None
        if "crash" in result:
            code = result["crash"]
            how = f", signal {signal.Signals(-code).name}" if code is not None and code < 0 else ""
            o.add("crash", f"the runner died (exit {code}{how})")
            return None, err, None
        if result.get("threads"):
            o.add("hang", f"threads still running after the job: {result['threads']}")
        o.seconds += result.get("seconds", 0.0)
        return result["rc"], err, result.get("exception")

    def _cmd(self, case: Case, argv: list, slow: float = 0.0) -> list:
        if case.mode == "real":
            return [sys.executable, "-m", "vidcolor.cli", *argv]
        cmd = [sys.executable, "-m", "benchmarks.fuzz", "--entry", "--slow", str(slow)]
        if case.segment_frames:
            cmd += ["--segment-frames", str(case.segment_frames)]
        return cmd + ["--", *argv]

    def _popen(self, case: Case, d: Path, cmd: list, err_path: Path):
        userns = case.mode == "unpriv" and os.geteuid() == 0
        err = open(err_path, "wb")
        try:
            return subprocess.Popen(_USERNS + cmd if userns else cmd, cwd=d,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, env=self.unpriv_env if userns else self.env,
                                    start_new_session=True, preexec_fn=default_sigint)
        finally:
            err.close()

    def _run_proc(self, case: Case, d: Path, argv: list, o: Outcome, timeout: float):
        err_path = self.logs / f"{d.name}.err"
        t0 = time.monotonic()
        proc = self._popen(case, d, self._cmd(case, argv), err_path)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            o.add("hang", f"still running after {timeout:.0f} s (killed)")
            rc = None
        o.seconds += time.monotonic() - t0
        err = err_path.read_bytes().decode("utf-8", "replace")
        if rc is not None and rc < 0:
            o.add("crash", f"killed by signal {signal.Signals(-rc).name}")
            rc = None
        return rc, err, None

    def _run_plain(self, case: Case, d: Path, o: Outcome, refs: dict) -> None:
        timeout = case.timeout or (300.0 if case.mode == "real" else self.timeout)
        before = snapshot(d)
        if case.mode == "inproc":
            rc, err, exc = self._run_inproc(case, d, case.argv, o, timeout)
        else:
            rc, err, exc = self._run_proc(case, d, case.argv, o, timeout)
        _restore_modes(d)
        after = snapshot(d)
        o.rc, o.stderr = rc, err
        if rc is None and o.problems:
            judge_files_only(case, d, before, after, o)
            return
        judge(case, d, before, after, rc, err, o, exc, refs=refs)

    def _prepare_missing_segments(self, case: Case, d: Path) -> None:
        """A real interrupted job's work folder (a slowed run, interrupted), then its segment
        files deleted: --resume must refuse, or start over, cleanly."""
        work = d / ".out.mp4.vidcolor-work"
        argv = [a for a in case.argv if a != "--resume"]
        proc = self._popen(dataclasses.replace(case, mode="entry", segment_frames=2), d,
                           self._cmd(dataclasses.replace(case, segment_frames=2), argv, 0.3),
                           self.logs / f"{d.name}.prep.err")
        _wait_for_segments(work, proc, 60)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        for seg in work.glob("*.vseg"):
            seg.unlink()
        case.__dict__["segment_frames"] = 2

    def _run_signal(self, case: Case, d: Path, o: Outcome, refs: dict) -> None:
        """Start the job slowed down, signal it mid-job, check; then --resume and check."""
        out_rel = case.pairs[0][1] if case.pairs else None
        work_rel = f".{Path(out_rel).name}.vidcolor-work" if case.media == "video" else None
        before = snapshot(d)
        err_path = self.logs / f"{d.name}.err"
        t0 = time.monotonic()
        proc = self._popen(case, d, self._cmd(case, case.argv, case.slow), err_path)
        if case.media == "video":
            ready = _wait_for_segments(d / work_rel, proc, 90)
        else:
            ready = _wait_for_file(d / "out", ".png", proc, 90)
        if not ready:
            o.add("wrong", "the job ended (or never got going) before it could be interrupted")
        sigs = [getattr(signal, "SIG" + s) for s in case.signals]
        for k, s in enumerate(sigs):
            if proc.poll() is None:
                proc.send_signal(s)
            if k + 1 < len(sigs):
                time.sleep(case.gap)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            o.add("hang", "still running 60 s after the signal (killed)")
            rc = None
        o.seconds += time.monotonic() - t0
        err = err_path.read_bytes().decode("utf-8", "replace")
        o.rc, o.stderr = rc, "--- interrupted run ---\n" + err
        after = snapshot(d)
        killed = "KILL" in case.signals
        # Death by the very SIGINT sent (a second Ctrl-C) is what the shell shows as 130 too.
        sigint_death = rc == -signal.SIGINT and "INT" in case.signals
        expected_death = (killed and rc == -signal.SIGKILL) or sigint_death
        if rc is not None and rc < 0 and not expected_death:
            o.add("crash", f"killed by signal {signal.Signals(-rc).name} (expected a clean exit)")
        allow = (re.escape(work_rel) + r"(/|$)",) if work_rel else ()
        if killed:
            allow += (r"^\.[^/]*\.partial\.", r"(^|/)\.[^/]*\.part$")
        judge(case, d, before, after, rc, err, o, None, allow_new=allow,
              interrupted=not killed, killed=killed, refs=refs)
        if case.media != "video":
            return
        if not (d / work_rel).is_dir():
            o.add("wrong", "no work folder kept for --resume")
        # The resumed run (in the runner, the same model, not slowed).
        mid = snapshot(d)
        rc2, err2, exc2 = self._run_inproc(case, d, case.argv + ["--resume"], o,
                                           self.timeout * 2)
        final = snapshot(d)
        o.stderr += "--- resumed run ---\n" + err2
        if rc2 is None:
            return
        pre = {k: v for k, v in mid.items() if not k.startswith(work_rel) and
               not re.search(r"^\.[^/]*\.partial\.", k)}
        post = {k: v for k, v in final.items()}
        judge(dataclasses.replace(case, mutable=case.mutable + (work_rel,)), d, pre, post, rc2,
              err2, o, exc2, refs=refs)
        if os.path.lexists(d / work_rel):
            o.add("leftover", f"the work folder {work_rel} is still there after the resume")
        m = re.search(r"\((\d+) from the interrupted run\)", err2)
        if rc2 == 0 and not (m and int(m.group(1)) > 0):
            o.add("wrong", "the resumed run did not continue the interrupted one")
        o.rc = (rc, rc2)


def judge_files_only(case: Case, d: Path, before: dict, after: dict, o: Outcome) -> None:
    """After a hang or crash: still report modified inputs (leftovers are expected then)."""
    for rel, entry in before.items():
        if rel in case.mutable:
            continue
        now = after.get(rel)
        if now is None or now[:2] != entry[:2]:
            o.add("wrong", f"{_show(rel)} was modified or deleted")


def _wait_for_segments(work: Path, proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            data = json.loads((work / "progress.json").read_text())
            if len(data.get("segments", [])) >= 1:
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return False


def _wait_for_file(folder: Path, suffix: str, proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if folder.is_dir() and any(p.suffix == suffix and not p.name.startswith(".")
                                   for p in folder.iterdir()):
            return True
        time.sleep(0.05)
    return False


def _restore_modes(d: Path) -> None:
    """Give back read/write to what a case made unreadable (the checks must read it)."""
    for dirpath, dirnames, filenames in os.walk(d):
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o700)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p) and stat.S_ISREG(os.lstat(p).st_mode):
                os.chmod(p, os.stat(p).st_mode | 0o600)
    os.chmod(d, os.stat(d).st_mode | 0o700)


def _force_rmtree(d: Path) -> None:
    try:
        _restore_modes(d)
    except OSError:
        pass
    shutil.rmtree(d, ignore_errors=True)


# =============================================================================================
# Command line
# =============================================================================================

def summary_line(outcomes: list[Outcome]) -> str:
    run = [o for o in outcomes if o.skipped is None]
    counts = Counter(o.verdict for o in run)
    return (f"cases {len(run)}, ok {counts['ok']}, " +
            ", ".join(f"{c} {counts[c]}" for c in CATEGORIES))


def kind_table(outcomes: list[Outcome]) -> str:
    kinds: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        if o.skipped is None:
            kinds[o.case.kind]["cases"] += 1
            kinds[o.case.kind][o.verdict] += 1
        else:
            kinds[o.case.kind]["skipped"] += 1
    cols = ("cases", "ok") + CATEGORIES + ("skipped",)
    width = max([len(k) for k in kinds] + [4])
    lines = [f"{'kind':<{width}}  " + " ".join(f"{c:>9}" for c in cols)]
    for kind in sorted(kinds):
        lines.append(f"{kind:<{width}}  " + " ".join(f"{kinds[kind][c]:>9}" for c in cols))
    return "\n".join(lines)


def run_cases(cases: list[Case], root: Path, assets: Assets, timeout: float = 60.0,
              keep: bool = False, progress: Callable | None = None) -> list[Outcome]:
    harness = Harness(root, assets, timeout=timeout, keep=keep)
    outcomes = []
    try:
        for i, case in enumerate(cases, 1):
            o = harness.run(case)
            outcomes.append(o)
            if progress:
                progress(i, len(cases), o)
    finally:
        harness.close()
    return outcomes


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--runner"]:
        return runner_main()
    if argv[:1] == ["--entry"]:
        return entry_main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m benchmarks.fuzz",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="run only the first N cases (kinds interleaved)")
    p.add_argument("--kind", help="only kinds matching this regular expression")
    p.add_argument("--name", help="only case names matching this regular expression")
    p.add_argument("--keep", metavar="DIR", help="build the corpus in DIR and keep it")
    p.add_argument("--quick", action="store_true",
                   help="the fast subset tests/e2e/test_fuzz.py runs")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    p.add_argument("--list", action="store_true", help="list the cases, run nothing")
    p.add_argument("-v", "--verbose", action="store_true", help="a line per case")
    args = p.parse_args(argv)

    root = (Path(args.keep).resolve() if args.keep
            else Path(tempfile.mkdtemp(prefix="vidcolor-fuzz-")))
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # an unprivileged case must reach its folder
    try:
        cases, assets = build_cases(root, args.seed, quick=args.quick)
        if args.kind:
            cases = [c for c in cases if re.search(args.kind, c.kind)]
        if args.name:
            cases = [c for c in cases if re.search(args.name, c.name)]
        if args.limit is not None:
            cases = cases[:args.limit]
        if args.list:
            for c in cases:
                print(f"{c.kind:24} {c.name!r:60} {c.mode:7} vidcolor "
                      f"{' '.join(_show(a) for a in c.argv)}")
            print(f"{len(cases)} cases")
            return 0
        t0 = time.monotonic()

        def progress(i, n, o):
            if args.verbose or o.verdict != "ok":
                state = o.skipped and f"skipped ({o.skipped})" or o.verdict
                print(f"[{i}/{n}] {state:9} {o.case.kind} / {o.case.name} ({o.seconds:.1f} s)",
                      flush=True)
                if args.verbose and o.skipped is None:
                    said = analyse_stderr(o.stderr)
                    first = (said["errors"] or said["own"] or said["results"] or [""])[0]
                    print(f"           rc {o.rc}: {first[:160]}", flush=True)

        outcomes = run_cases(cases, root, assets, timeout=args.timeout, keep=bool(args.keep),
                             progress=progress)
        bad = [o for o in outcomes if o.skipped is None and o.verdict != "ok"]
        if bad:
            print("\n=== cases not OK ===")
            by_kind = defaultdict(list)
            for o in bad:
                by_kind[o.case.kind].append(o)
            for kind in sorted(by_kind):
                print(f"\n## {kind}")
                for o in by_kind[kind]:
                    print(o.details())
        skipped = [o for o in outcomes if o.skipped]
        print()
        print(kind_table(outcomes))
        if skipped:
            print(f"skipped {len(skipped)}: " + ", ".join(f"{o.case.name} ({o.skipped})"
                                                          for o in skipped))
        print(f"seed {args.seed}, {time.monotonic() - t0:.0f} s"
              + (f", corpus kept in {root}" if args.keep else ""))
        print(summary_line(outcomes))
        return 0 if not bad else 1
    finally:
        if not args.keep:
            _force_rmtree(root)


if __name__ == "__main__":
    sys.exit(main())
