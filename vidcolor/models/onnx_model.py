"""Other colorization networks as vidcolor models: :class:`OnnxColorizer`, an ONNX file run by
OpenVINO (CPU) or ONNX Runtime (CUDA where it has it, else CPU), fed and read by its
:class:`~vidcolor.models.onnx_convention.Convention` (DDColor's or DeOldify's, or a sidecar's).

The network maps lightness to chroma as its own pipeline does, and by default its picture is
resized to and from its square as there too (:attr:`OnnxColorizer.resampler`); everything
around it (views aside, see :attr:`OnnxColorizer.test_time_views`) is vidcolor's:
stabilization, cuts, keyframes, references, hints spread over its colours.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color
from vidcolor.errors import OptionError, VidcolorError, first_line
from vidcolor.models import file_sha256
from vidcolor.models.onnx_convention import Convention, check_against, convention, read_sidecar
from vidcolor.models.onnx_resize import NetworkResize, _nearest_rows, _pil, _pil_rgb
from vidcolor.models.ov_tools import import_openvino
from vidcolor.models.protocol import ColorModel

__all__ = ["OnnxColorizer", "load_onnx_model", "is_onnx_model", "onnx_file"]

ORT_HINT = 'running ONNX files needs onnxruntime or openvino: pip install "vidcolor[fast]"'
DEFAULT_OPEN_RENDER = 256  # an open-size network's render without a sidecar's render_size


def onnx_file(path) -> Path | None:
    """The ONNX file a --model value names: the file itself, or the one ``.onnx`` file of a
    folder without ``config.json``; None when it names no ONNX model."""
    path = Path(path)
    if path.suffix.lower() == ".onnx" and not path.is_dir():
        return path
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(path.glob("*.onnx"))
        if len(found) > 1:
            raise VidcolorError(f"{path}: holds {len(found)} .onnx files; name one of them")
        return found[0] if found else None
    return None


def is_onnx_model(path) -> bool:
    """True when a --model value names an ONNX file (or a folder holding one)."""
    return path is not None and onnx_file(path) is not None


class _OrtRunner:
    """One ONNX Runtime session: the first input's and output's shapes, and a call."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        options = ort.SessionOptions()
        options.log_severity_level = 3  # its warnings are not the user's
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        inp, out = self.session.get_inputs(), self.session.get_outputs()
        if len(inp) != 1:
            raise ValueError(f"the network has {len(inp)} inputs; a colorizer takes one")
        self.input_name = inp[0].name
        self.in_shape, self.out_shape = tuple(inp[0].shape), tuple(out[0].shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x})[0]


class _OpenVinoRunner:
    """The same file read and compiled by OpenVINO (CPU)."""

    def __init__(self, path: Path):
        ov = import_openvino()

        from vidcolor.models.openvino_model import COMPILE_CONFIG

        core = ov.Core()
        model = core.read_model(str(path))
        if len(model.inputs) != 1:
            raise ValueError(f"the network has {len(model.inputs)} inputs; a colorizer takes one")

        def dims(port):
            return tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())

        self.in_shape, self.out_shape = dims(model.inputs[0]), dims(model.outputs[0])
        self.compiled = core.compile_model(model, "CPU", {**COMPILE_CONFIG,
                                                          "INFERENCE_PRECISION_HINT": "f32"})

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.compiled(x)[0])


def _runner(path: Path, runtime: str):
    """The runner of ``runtime`` for a file, or a one-line error (a missing package, a file
    that is not ONNX)."""
    if runtime == "keras":
        raise OptionError("runtime", "an ONNX file is run by openvino or onnxruntime, not keras; "
                          "use {field} auto")
    make = {"openvino": _OpenVinoRunner, "onnxruntime": _OrtRunner}.get(runtime) or _auto_runner()
    package = "openvino" if make is _OpenVinoRunner else "onnxruntime"
    if not _importable(package):
        raise VidcolorError(ORT_HINT if runtime == "auto" else
                            f'--runtime {runtime} needs {package}: pip install "vidcolor[fast]"')
    _check_onnx(path)
    try:
        return make(path)
    except Exception as e:  # noqa: BLE001 - each runtime raises its own kinds on a bad file
        reason = first_line(e)
        raise VidcolorError(f"{path}: not a usable ONNX colorization network "
                            f"({reason[:200]})") from None


def _check_onnx(path: Path) -> None:
    """A one-line error unless ``path`` parses as an ONNX model with a graph (OpenVINO would
    try its other formats' readers on it first, noisily)."""
    try:
        import onnx
    except ImportError:  # the runtime's own reading decides
        return
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as e:  # noqa: BLE001 - protobuf raises several kinds on foreign bytes
        reason = first_line(e)
        raise VidcolorError(f"{path}: not an ONNX file ({reason[:200]})") from None
    if not graph.node or not graph.input or not graph.output:
        raise VidcolorError(f"{path}: not an ONNX file (no network graph in it)")


def _auto_runner():
    """ONNX Runtime where it has a GPU (CUDA), else OpenVINO (on the CPU it was as fast or
    faster for small networks, benchmarks/RESULTS.md "Other networks"), else ONNX Runtime."""
    if _importable("onnxruntime"):
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            return _OrtRunner
    return _OpenVinoRunner if _importable("openvino") else _OrtRunner


def _importable(package: str) -> bool:
    try:
        __import__(package)
    except ImportError:
        return False
    return True


def load_onnx_model(path, runtime: str = "auto", kind: str | None = None) -> "OnnxColorizer":
    """Load an ONNX colorizer: the file (or the folder holding it), its sidecar and preset.

    Parameters
    ----------
    path : str or Path
        ``FILE.onnx``, or a folder holding one ``.onnx`` file; the sidecar is ``FILE.onnx.json``.
    runtime : {"auto", "openvino", "onnxruntime"}
        auto: ONNX Runtime with a GPU, else OpenVINO, else ONNX Runtime; "keras" is refused.
    kind : {"ddcolor", "deoldify"}, optional
        The preset (``--model-kind``); else the sidecar's ``kind``, else the sidecar alone.

    Raises
    ------
    VidcolorError
        A missing or unreadable file, no kind and no sidecar, a file that is not ONNX or not a
        colorizer (input rank, channels), a sidecar that contradicts the file.
    """
    file = onnx_file(path)
    if file is None or not file.is_file():
        raise VidcolorError(f"{path}: no such ONNX file")
    sidecar_path = file.with_name(file.name + ".json")
    sidecar = read_sidecar(sidecar_path)
    conv = convention(kind, sidecar, where=str(sidecar_path if sidecar is not None else file))
    runner = _runner(file, runtime)
    conv = check_against(conv, runner.in_shape, runner.out_shape, str(file))
    return OnnxColorizer(file, conv, runner, file_sha256(file))


class OnnxColorizer(ColorModel):
    """An ONNX network as a :class:`~vidcolor.models.protocol.ColorModel`.

    A fixed-size network sees every render stretched to its square (as its own pipeline
    stretches the picture) and its output is brought back to the render's size; an open-size
    one sees the render itself, padded to its multiple. No global features, no hint input:
    hints and keyframes correct its colours through :mod:`vidcolor.propagate`; references and
    keyframes find their matches with the shipped network's features
    (:meth:`match_features`).

    Attributes
    ----------
    test_time_views : bool
        False: a still is predicted once, as the network's own pipeline does (vidcolor's
        mirrored and rescaled views are for its own network).
    fixed_size : int or None
        The square side of a fixed-size network: its stills are never tiled (a tile would be
        stretched to the same square without the rest of the picture).
    resampler : NetworkResize or None
        The network's own resizing (``"upsample": "plain"``, the default for a fixed size):
        the pipelines render at its square, made from full resolution as its own pipeline
        does, and bring its chroma back by its own output resize; None: vidcolor's render
        and L-guided upsampling (``"guided"``).
    """

    uses_global_features = False
    uses_hints = False
    test_time_views = False

    def __init__(self, path: Path, conv: Convention, runner, sha256: str):
        self.path, self.convention, self.runner, self.sha256 = Path(path), conv, runner, sha256
        label = conv.name or self.path.stem
        self.name = f"{label} (ONNX, sha256 {sha256})"
        self.fixed_size = conv.size
        self.render_size = conv.render_size or conv.size or DEFAULT_OPEN_RENDER
        self.multiple = 16 if conv.size else conv.multiple
        batch = runner.in_shape[0]
        self.batch = batch if isinstance(batch, int) and batch > 0 else None
        self._lock = threading.Lock()  # one inference at a time per session
        self._match_model, self._matcher_lock = None, threading.Lock()
        plain = (conv.upsample or ("plain" if conv.size else "guided")) == "plain"
        self.resampler = NetworkResize(conv.size, conv.resize_in, conv.resize_out) \
            if plain else None

    def match_features(self, L: np.ndarray) -> np.ndarray | None:
        """See :meth:`ColorModel.match_features`: those of vidcolor's shipped network (loaded
        on first use, by its usual runtime). Correspondence only needs features that agree
        between a picture and its references or keyframes, not the colouring network's own.

        Parameters
        ----------
        L : ndarray of float32, shape (N, h, w), in [0, 100]

        Returns
        -------
        ndarray of float32, shape (N, ceil(h/8), ceil(w/8), C), or None
        """
        return self._matcher().match_features(L)

    def _matcher(self):
        """The shipped model, loaded once (seconds) by the public loader."""
        with self._matcher_lock:
            if self._match_model is None:
                from vidcolor.models.runtimes import load_color_model

                self._match_model = load_color_model()
            return self._match_model

    @property
    def identity(self) -> dict:
        """The file's path, size and content hash: other weights, other frames."""
        return {"path": str(self.path.resolve()), "size": self.path.stat().st_size,
                "sha256": self.sha256, "convention": repr(self.convention)}

    def predict_ab(self, L: np.ndarray, global_features=None, hints=None) -> np.ndarray:
        """See :meth:`ColorModel.predict_ab` (``hints`` are refused: no hint input).

        Parameters
        ----------
        L : ndarray of float32, shape (N, h, w), in [0, 100]

        Returns
        -------
        ab : ndarray of float32, shape (N, h, w, 2)
        """
        if hints is not None:
            raise ValueError(f"model {self.name!r} takes no hints")
        L = np.asarray(L, np.float32)
        if L.ndim != 3:
            raise ValueError(f"expected L of shape (N, h, w), got {L.shape}")
        h, w = L.shape[1:]
        x = np.stack([self._network_input(frame) for frame in L])
        y = self._run(x)
        return np.stack([self._ab(out, (h, w), frame) for out, frame in zip(y, L)]
                        ).astype(np.float32)

    def _network_input(self, L: np.ndarray) -> np.ndarray:
        """One render's network input (S, S, 3) or padded (h', w', 3), before normalization."""
        c = self.convention
        if c.size is None:
            m = c.multiple
            ph, pw = (-L.shape[0]) % m, (-L.shape[1]) % m
            if ph or pw:
                mode = "reflect" if (L.shape[0] > ph and L.shape[1] > pw) else "edge"
                L = np.pad(L, ((0, ph), (0, pw)), mode=mode)
        grey = color.grey_rgb_float(L)
        if c.resize_in == "pil-bilinear":
            return _pil_grey(grey, c.size)
        if c.size is not None and grey.shape[:2] != (c.size, c.size):
            grey = cv2.resize(grey, (c.size, c.size), interpolation=cv2.INTER_LINEAR)
        # DDColor takes the L of the (resized) picture and makes it grey again: OpenCV's
        # round trip moves it by up to half a level, which its network was trained with.
        return color.grey_rgb_float(color.float_rgb_to_lab(grey)[..., 0])

    def _run(self, x: np.ndarray) -> np.ndarray:
        """The network on a batch (N, S, S, 3) in [0, 1]: (N, S, S, C) out, in its units."""
        c = self.convention
        x = ((x - np.float32(c.mean)) / np.float32(c.std)).astype(np.float32)
        if c.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        step = self.batch or len(x)
        outs = []
        with self._lock:
            for i in range(0, len(x), step):
                chunk = x[i:i + step]
                if len(chunk) < step:  # a fixed batch: the last one filled with copies
                    chunk = np.concatenate([chunk, np.repeat(chunk[-1:], step - len(chunk), 0)])
                outs.append(np.asarray(self.runner(np.ascontiguousarray(chunk)))[:len(x) - i])
        y = np.concatenate(outs).astype(np.float32)
        return y.transpose(0, 2, 3, 1) if c.layout == "NCHW" else y

    def _ab(self, out: np.ndarray, shape: tuple[int, int], L: np.ndarray) -> np.ndarray:
        """One network output (S, S, C) as a/b (h, w, 2) in Lab units, for the render ``L``."""
        c = self.convention
        if c.size is None:  # open size: the padding cut off
            out = out[:shape[0], :shape[1]]
        if c.output == "ab":
            return _resize(out * np.float32(c.scale), shape, c.resize_out)
        rgb = np.clip(out * np.float32(c.out_std) + np.float32(c.out_mean), 0.0, 1.0)
        if c.resize_out == "pil-bilinear":
            # DeOldify: 8 bits (truncated, as its image2np(...).astype(uint8)), then Pillow.
            rgb8 = (rgb * 255.0).astype(np.uint8)
            if self.resampler is not None and rgb8.shape[:2] == shape:
                self.resampler.remember(L, rgb8)  # stretched back at the end, as DeOldify
            rgb = _pil_rgb(rgb8, shape).astype(np.float32) / np.float32(255.0)
        else:
            rgb = _resize(rgb, shape, c.resize_out)
        return color.float_rgb_to_lab(rgb)[..., 1:]


def _resize(x: np.ndarray, shape: tuple[int, int], how: str) -> np.ndarray:
    """``x`` (h, w, C) at ``shape``: nearest (PyTorch's F.interpolate default: the source
    pixel floor(i * in / out)) or OpenCV's bilinear."""
    h, w = shape
    if x.shape[:2] == (h, w):
        return np.ascontiguousarray(x)
    if how == "nearest":
        return _nearest_rows(x, h, w, slice(0, h))
    return cv2.resize(np.ascontiguousarray(x), (w, h), interpolation=cv2.INTER_LINEAR)


def _pil_grey(grey: np.ndarray, size: int | None) -> np.ndarray:
    """DeOldify's input: the grey as 8 bits, stretched to ``size`` by Pillow's bilinear
    (which averages when shrinking), back in [0, 1]."""
    g8 = np.rint(np.clip(grey[..., 0], 0.0, 1.0) * 255.0).astype(np.uint8)
    if size is not None:
        g8 = _pil(g8, (size, size))
    g = g8.astype(np.float32) / np.float32(255.0)
    return np.repeat(g[..., None], 3, axis=-1)
