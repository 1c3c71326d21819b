"""What the tests share that must be importable as a plain module (not a test file: pytest
collects nothing here).

Tests take these through the fixtures of ``conftest.py`` wherever they can; a name is imported
from here only where it is needed at import time or outside pytest:

- the synthetic clip builders (``make_clip`` and friends): ``benchmarks/fuzz.py`` builds its
  corpus with them;
- the fake model, :class:`FakeColorizer`, and the two kinds of it that several files use
  (:class:`Flat`, :class:`SlowColorizer`): test files subclass them at module level, Ray
  workers unpickle them by reference and ``vidcolor serve`` subprocesses import them (with
  this folder on ``PYTHONPATH``);
- constants a module-level subclass, a skip mark or a test's arguments need (:data:`DATA`,
  :data:`REPO`, :data:`EXAMPLE_PHOTO`, :data:`MODEL_AB`, :data:`KEY_AB`).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vidcolor.models.protocol import ColorModel

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
#: The project's data (read-only; tests that need it skip without it): seed pictures, the
#: training and validation sets, real clips.
DATA = Path(os.environ.get("VIDCOLOR_DATA", REPO.parent / "shared" / "data"))
#: The grey photo shipped with vidcolor.
EXAMPLE_PHOTO = REPO / "vidcolor" / "examples" / "chelsea_grey.jpg"

# --- synthetic clips: colour bars and moving shapes, a cut, an audio tone, VFR timestamps,
# rotation, subtitles and attachments, made with PyAV (no data files) ----------------------


def packages_loaded_by(statement: str, packages: set[str]) -> list[str]:
    """Which of ``packages`` (top-level names) a fresh Python has loaded after running
    ``statement`` (an import, say), sorted; run from the repository's root."""
    code = (f"import sys; {statement}; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(packages)!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip())


def frame_image(i: int, h: int = 48, w: int = 64, cut_at: int | None = None) -> np.ndarray:
    """A colour test frame: bars with a bright square moving right; after `cut_at` a
    different, darker scene (a scene cut). uint8 (h, w, 3)."""
    img = np.zeros((h, w, 3), np.uint8)
    if cut_at is not None and i >= cut_at:
        yy, xx = np.mgrid[0:h, 0:w]
        img[...] = (20 + 40 * ((xx // 8 + yy // 8) % 2))[..., None].astype(np.uint8)
        img[..., 2] += 30
        return img
    bars = np.array([[200, 200, 200], [200, 200, 20], [20, 200, 200], [20, 200, 20],
                     [200, 20, 200], [200, 20, 20], [20, 20, 200], [30, 30, 30]], np.uint8)
    img[:] = bars[(np.arange(w) * len(bars)) // w][None]
    x0 = (3 * i) % max(w - 12, 1)
    img[h // 3:h // 3 + 12, x0:x0 + 12] = (250, 240, 230)
    return img


def make_clip(path: Path, n: int = 12, size: tuple[int, int] = (48, 64), rate: int = 24,
              pts: list[int] | None = None, time_base: Fraction | None = None,
              audio: bool = False, audio_codec: str = "aac", rotation: float | None = None,
              subtitles: bool = False, attachment: bool = False, cut_at: int | None = None,
              codec: str = "libx264", sample_aspect_ratio: Fraction | None = None) -> Path:
    """Write a small clip.

    Parameters
    ----------
    pts : list of int, optional
        Explicit (e.g. variable-rate) timestamps in `time_base`; default regular at `rate`.
    audio : bool
        A 440 Hz tone as long as the video.
    subtitles, attachment : bool
        An ASS subtitle track with one event per 4 frames / a font-like attachment (mkv only).
    """
    path = Path(path)
    h, w = size
    out = av.open(os.fspath(path), "w")
    vs = out.add_stream(codec, rate=rate, options={"preset": "ultrafast"} if codec == "libx264"
                        else {})
    vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
    tb = time_base or Fraction(1, rate * 100)
    vs.time_base = tb
    vs.codec_context.time_base = tb
    if sample_aspect_ratio is not None:
        vs.codec_context.sample_aspect_ratio = sample_aspect_ratio
    if rotation is not None:
        vs.set_display_rotation(rotation)
    if pts is None:
        step = int(round(1 / (rate * tb)))
        pts = [i * step for i in range(n)]
    n = len(pts)
    seconds = float(pts[-1] * tb) + 1 / rate
    aus = None
    if audio:
        aus = out.add_stream(audio_codec, rate=48000 if audio_codec == "libopus" else 44100)
        aus.layout = "stereo"
    sub = None
    if subtitles:
        sub = out.add_stream("ass")
        sub.codec_context.subtitle_header = (
            b"[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, "
            b"Fontsize\nStyle: Default,Arial,20\n\n[Events]\nFormat: Layer, Start, End, "
            b"Style, Text\n")
    if attachment:
        out.add_attachment("font.ttf", "application/x-truetype-font", b"FAKEFONT" * 100)
    packets = []
    for i, p in enumerate(pts):
        frame = av.VideoFrame.from_ndarray(frame_image(i, h, w, cut_at), format="rgb24")
        frame.pts, frame.time_base = p, tb
        packets += vs.encode(frame)
    packets += vs.encode(None)
    if aus is not None:
        sr = aus.codec_context.sample_rate
        t = np.arange(int(seconds * sr)) / sr
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        chunk = 1024
        for k in range(0, len(tone), chunk):
            data = np.stack([tone[k:k + chunk]] * 2)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="fltp",
                                            layout="stereo")
            af.sample_rate, af.pts, af.time_base = sr, k, Fraction(1, sr)
            packets += aus.encode(af)
        packets += aus.encode(None)
    if sub is not None:
        for k, p in enumerate(pts[::4]):
            pkt = av.Packet(f"{k},0,Default,,0,0,0,,line {k}".encode())
            pkt.stream = sub
            pkt.time_base = tb
            pkt.pts = pkt.dts = p
            pkt.duration = int(round(0.1 / tb))
            packets.append(pkt)
    packets.sort(key=lambda q: float(q.dts * q.time_base) if q.dts is not None else -1)
    for q in packets:
        out.mux(q)
    out.close()
    return path


def write_x264(path: Path, frames: list[np.ndarray], fmt: str = "rgb24",
               pix_fmt: str = "yuv444p", rate: int = 24, crf: int | None = None) -> Path:
    """An x264 clip (ultrafast) of ``frames``, given in PyAV format ``fmt``, stored as
    ``pix_fmt``, one frame a tick of 1/``rate`` s."""
    options = {"preset": "ultrafast"} | ({} if crf is None else {"crf": str(crf)})
    with av.open(os.fspath(path), "w") as out:
        s = out.add_stream("libx264", rate=rate, options=options)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = pix_fmt
        for i, image in enumerate(frames):
            f = av.VideoFrame.from_ndarray(image, format=fmt)
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def write_tagged(path: Path, frames: list[np.ndarray], codec: str = "ffv1",
                 pix_fmt: str = "yuv444p10le", matrix: str = "ITU709", color_range: int = 1,
                 tags: tuple[int, int, int] = (1, 1, 1), rate: int = 24,
                 options: dict | None = None) -> Path:
    """A clip of RGB ``frames`` (uint8 or uint16, H x W x 3), converted to ``pix_fmt`` with
    ``matrix`` (PyAV Colorspace name) and ``color_range`` (1 limited, 2 full), its stream
    tagged with that range and ``tags`` = (colorspace, primaries, transfer) AVCOL values."""
    fmt = "rgb48le" if frames[0].dtype == np.uint16 else "rgb24"
    with av.open(os.fspath(path), "w") as out:
        s = out.add_stream(codec, rate=rate, options=options or {})
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = pix_fmt
        cc = s.codec_context
        cc.color_range = color_range
        cc.colorspace, cc.color_primaries, cc.color_trc = tags
        for i, image in enumerate(frames):
            f = av.VideoFrame.from_ndarray(image, format=fmt).reformat(
                format=pix_fmt, dst_colorspace=matrix, dst_color_range=color_range)
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def interlaced_scene(k: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A grey picture at field time ``k``: a static bar, and a bright square with a dark
    centre moving right 5 pixels a field. uint8 (h, w, 3)."""
    img = np.full((h, w), 90, np.uint8)
    img[:, w - 28:w - 18] = 200
    x0 = 4 + (5 * k) % (w - 40)
    img[30:70, x0:x0 + 24] = 230
    img[40:60, x0 + 6:x0 + 18] = 30
    return np.repeat(img[..., None], 3, -1)


def woven_frames(n: int, order: str) -> list[np.ndarray]:
    """``n`` interlaced frames of :func:`interlaced_scene`, each field from its own moment,
    the first in time from field time 2i, in ``order`` ("tt" or "bb")."""
    from vidcolor.video.fields import split_fields, weave

    return [weave(split_fields(interlaced_scene(2 * i), order)[0],
                  split_fields(interlaced_scene(2 * i + 1), order)[1], order)
            for i in range(n)]


def write_interlaced(path: Path, frames: list[np.ndarray], order: str | None,
                     codec: str = "libx264", rate: int = 25) -> Path:
    """Frames encoded interlaced with ``order`` (x264: interlaced coding; both x264 and
    other encoders: the stream's field order tag), or progressive and untagged (None);
    x264 lossless."""
    options = {"preset": "ultrafast", "crf": "0"} if codec == "libx264" else {}
    if order is not None and codec == "libx264":
        options |= {"flags": "+ildct+ilme", "x264-params": f"{order[0]}ff=1"}
    with av.open(os.fspath(path), "w") as out:
        s = out.add_stream(codec, rate=rate, options=options)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        if order is not None:
            s.codec_context.field_order = {"tt": 2, "bb": 3}[order]
        for i, image in enumerate(frames):
            f = av.VideoFrame.from_ndarray(image, format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def read_fields(path: Path) -> tuple[list[float], list[np.ndarray], list[bool], int]:
    """A file's frame times (seconds), RGB frames (interlaced ones converted field by
    field), interlaced flags and its stream's field order (FFmpeg's AVFieldOrder)."""
    from vidcolor.video.fields import rgb_by_field

    with av.open(os.fspath(path)) as c:
        vs = c.streams.video[0]
        frames = list(c.decode(vs))
        return ([float(f.time) for f in frames],
                [rgb_by_field(f) if f.interlaced_frame else f.to_ndarray(format="rgb24")
                 for f in frames],
                [f.interlaced_frame for f in frames], vs.codec_context.field_order)


def make_audio_only(path: Path) -> Path:
    """An MP4 holding a short silent AAC stream and no video."""
    with av.open(os.fspath(path), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=44100)
        for k in range(10):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                            layout="mono")
            af.sample_rate, af.pts = 44100, k * 1024
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    return path


def read_video(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Decoded frame times (seconds) and RGB frames of a file's first video stream."""
    with av.open(os.fspath(path)) as c:
        vs = c.streams.video[0]
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(vs)]
    return [t for t, _ in frames], [f for _, f in frames]


def stream_summary(path: Path) -> dict:
    """Types, codecs and packet counts of a file's streams, plus container metadata."""
    with av.open(os.fspath(path)) as c:
        counts: dict[int, int] = {}
        for p in c.demux():
            if p.size:
                counts[p.stream.index] = counts.get(p.stream.index, 0) + 1
        return {
            "types": [s.type for s in c.streams],
            "codecs": [s.codec_context.name if s.codec_context else None for s in c.streams],
            "packets": counts,
            "metadata": {k.lower(): v for k, v in c.metadata.items()},
            "attachments": [s.metadata.get("filename") for s in c.streams
                            if s.type == "attachment"],
        }


# --- the fake model ------------------------------------------------------------------------


class FakeColorizer(ColorModel):
    """The tests' ColorModel: a/b a deterministic function of L, in numpy (no TensorFlow).

    As constructed with no arguments it is the film tests' model (render size 64, multiples
    of 16, moderate "wave" colours, each batch's shape checked); the picture tests' settings
    are :data:`PICTURE_FAKE` (the ``picture_fake`` fixture makes one).

    Parameters
    ----------
    noise : float
        A per-frame colour flicker of this standard deviation (a/b units), seeded by the
        frame's content: the same on every run (and resumed run), different frame to frame.
    interrupt_after : int, optional
        Raise KeyboardInterrupt (a Ctrl-C) once more than this many frames were asked for.
    chroma : {"wave", "ramp"}
        ``"wave"``: a = 40 sin(L / 15), b = 30 cos(L / 20). ``"ramp"``: a = 1.5 (L - 50),
        b = 1.2 (60 - L), strong enough to leave the sRGB gamut at the extremes.
    render_size, multiple : int, optional
        Instead of the class's (64 and 16).
    check_shapes : bool
        Assert that every batch is (N, h, w) with h and w multiples of :attr:`multiple`.
    record_shapes : bool
        Keep every batch's shape, in order, in :attr:`shapes`.

    Attributes
    ----------
    calls, frames : int
        How many batches, and frames in all, it was asked for.
    shapes : list of tuple
        Every batch's shape, with ``record_shapes``.
    """

    name = "fake"
    render_size = 64
    multiple = 16

    def __init__(self, noise: float = 0.0, interrupt_after: int | None = None, *,
                 chroma: str = "wave", render_size: int | None = None,
                 multiple: int | None = None, check_shapes: bool = True,
                 record_shapes: bool = False):
        if chroma not in ("wave", "ramp"):
            raise ValueError(f"unknown chroma {chroma!r}")
        if render_size is not None:
            self.render_size = render_size
        if multiple is not None:
            self.multiple = multiple
        self.calls = 0
        self.frames = 0
        self.noise = noise
        self.interrupt_after = interrupt_after
        self.chroma = chroma
        self.check_shapes = check_shapes
        self.record_shapes = record_shapes
        if record_shapes:
            self.shapes = []

    def predict_ab(self, L, global_features=None):
        L = np.asarray(L, np.float32)
        if self.check_shapes:
            m = self.multiple
            assert L.ndim == 3 and L.shape[1] % m == 0 and L.shape[2] % m == 0
        if self.record_shapes:
            self.shapes.append(L.shape)
        self.calls += 1
        self.frames += len(L)
        if self.interrupt_after is not None and self.frames > self.interrupt_after:
            raise KeyboardInterrupt
        if self.chroma == "ramp":
            ab = np.stack([(L - 50) * 1.5, (60 - L) * 1.2], axis=-1)
        else:
            ab = np.stack([40 * np.sin(L / 15.0), 30 * np.cos(L / 20.0)], -1)
        if self.noise:
            # Per-frame colour flicker, seeded by the frame's content: reproducible across
            # runs (and resumed runs) yet different from frame to frame.
            for i, Li in enumerate(L):
                rng = np.random.default_rng(int(Li.astype(np.float64).sum() * 16) % 2**32)
                ab[i] += rng.normal(0, self.noise, 2)
        return ab.astype(np.float32)


    def match_features(self, L):
        """Cheap deterministic features for correspondence: per stride-8 cell its mean
        lightness, contrast and gradient, and the mean lightness around it."""
        import cv2

        from vidcolor.correspond import grid_shape, on_grid

        L = np.asarray(L, np.float32)
        grid = grid_shape(L.shape[1:])
        out = []
        for Li in L:
            mean = on_grid(Li, grid)
            std = np.sqrt(np.maximum(on_grid(Li * Li, grid) - mean * mean, 0.0))
            gy, gx = np.gradient(Li)
            around = cv2.blur(mean, (3, 3), borderType=cv2.BORDER_REFLECT)
            out.append(np.stack([(mean - 50) / 25, std / 10, on_grid(gx, grid) / 5,
                                 on_grid(gy, grid) / 5, (around - 50) / 25,
                                 np.full(grid, 0.5, np.float32)], -1))
        out = np.stack(out).astype(np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-6)


#: The picture tests' FakeColorizer: render size 32 in multiples of 8, "ramp" colours that
#: leave the gamut, any batch shape accepted, every batch's shape kept.
PICTURE_FAKE = dict(chroma="ramp", render_size=32, multiple=8, check_shapes=False,
                    record_shapes=True)


class MatchingFake(FakeColorizer):
    """A FakeColorizer with match features (for reference photos and correspondence): each
    stride-8 cell's mean lightness coded by Gaussian bumps 5 L apart, so cells of the same
    lightness match and cells 20 L apart do not."""

    def match_features(self, L):
        L = np.asarray(L, np.float32)
        grid = (-(-L.shape[1] // 8), -(-L.shape[2] // 8))
        cells = np.stack([cv2.resize(x, grid[::-1], interpolation=cv2.INTER_AREA) for x in L])
        centres = np.arange(0.0, 101.0, 5.0, dtype=np.float32)
        return np.exp(-0.5 * ((cells[..., None] - centres) / 4.0) ** 2).astype(np.float32)


class SlowColorizer(FakeColorizer):
    """The fake model taking ``delay`` seconds a frame (jobs last a while), or failing every
    batch (``fail``). ``vidcolor serve`` subprocesses build one by name."""

    def __init__(self, delay: float = 0.0, fail: bool = False):
        super().__init__()
        self.delay, self.fail = delay, fail

    def predict_ab(self, L):
        if self.fail:
            raise RuntimeError("a bug in the model")
        time.sleep(self.delay * len(L))
        return super().predict_ab(L)


# --- colour keyframes: a model whose colour is one constant --------------------------------

MODEL_AB = (-20.0, -30.0)  # what the Flat model says everywhere: blue-green
KEY_AB = (45.0, 35.0)      # what the keyframes say: orange-red


class Flat(FakeColorizer):
    """The model's colour is the same everywhere, so any other colour came from a keyframe."""

    def predict_ab(self, L):
        super().predict_ab(L)  # counts frames, interrupts when asked
        return np.broadcast_to(np.float32(MODEL_AB), np.shape(L) + (2,)).copy()


def write_sequence(folder: Path, frames: list[np.ndarray], codec: str = "png",
                   pix_fmt: str = "rgb24", first: int = 0, numbers: list[int] | None = None,
                   rate=None, timecode: str | None = None, digits: int = 6,
                   prefix: str = "scan_", options: dict | None = None) -> Path:
    """Write RGB frames (uint8 or uint16 (H, W, 3); float32 linear light for EXR) as an image
    sequence ``folder/PREFIX%0Nd.EXT`` numbered from ``first`` (or ``numbers``), encoded by
    FFmpeg's ``codec`` at ``pix_fmt``; DPX and EXR headers get ``rate`` and the first frame's
    ``timecode`` (counting on). Returns the printf pattern's path."""
    from fractions import Fraction

    from vidcolor.timecode import parse_timecode
    from vidcolor.video.image_headers import dpx_with_timing, exr_with_timing

    ext = {"mjpeg": "jpg", "tiff": "tif"}.get(codec, codec)
    folder.mkdir(parents=True, exist_ok=True)
    numbers = numbers or list(range(first, first + len(frames)))
    tc = None if timecode is None else parse_timecode(timecode, rate or 24)
    for i, (n, rgb) in enumerate(zip(numbers, frames)):
        ctx = av.CodecContext.create(codec, "w")
        ctx.height, ctx.width = rgb.shape[:2]
        ctx.pix_fmt, ctx.time_base = pix_fmt, Fraction(1, 24)
        ctx.options = dict(options or {})
        src = {np.uint8: "rgb24", np.uint16: "rgb48le", np.float32: "gbrpf32le"}[rgb.dtype.type]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=src)
        frame = frame.reformat(format=pix_fmt) if pix_fmt != src else frame
        data = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
        label = None if tc is None else (tc + i).bcd()
        if codec == "dpx" and (rate or label is not None):
            data = dpx_with_timing(data, rate, label)
        if codec == "exr" and (rate or label is not None):
            data = exr_with_timing(data, rate, label)
        (folder / f"{prefix}{n:0{digits}d}.{ext}").write_bytes(data)
    return folder / f"{prefix}%0{digits}d.{ext}"


# --- another project's network as an ONNX file ------------------------------------------------

def tiny_onnx_colorizer(path, out_channels=2, size=64, batch="N", in_channels=3, rank=4,
                        gain=25.0, seed=0):
    """A tiny ONNX colorization network (another project's convention, NCHW) written to
    ``path``: conv 3x3 (3->6) -> tanh -> conv 3x3 (6->C) -> tanh -> * gain, fixed random
    weights from ``seed``; ``rank`` 3 makes a wrong one. Returns ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.6, (6, in_channels, 3, 3)).astype(np.float32)
    w2 = rng.normal(0, 0.4, (out_channels, 6, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.3, 6).astype(np.float32)
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(w2, "w2"),
             numpy_helper.from_array(np.float32([gain]), "gain")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h1"], pads=[1, 1, 1, 1]),
             helper.make_node("Tanh", ["h1"], ["t1"]),
             helper.make_node("Conv", ["t1", "w2"], ["h2"], pads=[1, 1, 1, 1]),
             helper.make_node("Tanh", ["h2"], ["t2"]),
             helper.make_node("Mul", ["t2", "gain"], ["y"])]
    dims = [batch, in_channels, size, size][:rank] if rank == 4 else [batch, in_channels, size]
    if rank != 4:  # a rank-3 input: one Unsqueeze in front so the graph is still valid
        inits.append(numpy_helper.from_array(np.int64([0]), "axes"))
        nodes.insert(0, helper.make_node("Unsqueeze", ["x0", "axes"], ["x"]))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x0" if rank != 4 else "x",
                                                      TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, out_channels, size, size])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
