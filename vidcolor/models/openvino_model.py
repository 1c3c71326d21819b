"""The OpenVINO runtime: :class:`OpenVinoColorizer`, the network run by OpenVINO on the CPU.

Its two parts (backbone and decoder; one part for the small networks), batch, height and width
open, come from one of two places:

- a model directory's OpenVINO IR (:mod:`vidcolor.models.ir`; the shipped model has it): read
  as they are, with no Keras anywhere;
- a loaded Keras model (:class:`~vidcolor.models.store.Colorizer`; a directory without a
  current IR): each part converted once, a few seconds each, kept in memory and, for a model
  loaded from a directory, on disk under the user's cache folder
  (``$XDG_CACHE_HOME/vidcolor/openvino``), keyed by the weights' identity, the read-out, the
  precisions and the OpenVINO version, so a second run does not pay the conversion.

The decoder is compiled per render shape with that shape fixed (under a second; a decoder
compiled with open sizes ran a little slower), the backbone once for every shape.

Precision is set per part on purpose: OpenVINO picks bf16 by itself on CPUs that have it, and
then the backbone's error reached 14.8 a/b units (issue 20's probe). The backbone always runs in
float32; the fusion decoder in bf16 only where the CPU has it (max error 1.4 a/b units there,
within the 2 units the tests check), else float32 (within 0.001 units here).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from vidcolor._version import __version__
from vidcolor.errors import OptionError, VidcolorError, first_line
from vidcolor.log import logger
from vidcolor.models import ir, shapes
from vidcolor.models.ov_tools import import_openvino
from vidcolor.models.protocol import ColorModel

__all__ = ["OpenVinoColorizer", "at_size", "available", "cache_folder", "has_bf16"]

# Thread settings, measured on the shared 2-core AVX2 machine (batch 8 at 192x352, CPU ms per
# batch, interleaved with Keras at 780): pinning 586 / no pinning 587, wall 720 vs 667 ms.
# Pinning buys nothing and ties OpenVINO's threads to cores the pipeline's decode, stabilize and
# encode threads also need, so it is off; one request runs at a time (the pipeline's colorize
# thread), so the latency hint (all cores for that request).
COMPILE_CONFIG = {"ENABLE_CPU_PINNING": False, "PERFORMANCE_HINT": "LATENCY"}
CACHE_FORMAT = 3  # 3: upsampling as Interpolate; 2: one conversion with open sizes per part


def available() -> bool:
    """True when OpenVINO can be imported (a dependency of vidcolor)."""
    try:
        import_openvino()
    except ImportError:
        return False
    return True


def _core():
    ov = import_openvino()

    return ov.Core()


def has_bf16(core=None) -> bool:
    """True when OpenVINO's CPU plugin can run bf16 on this CPU (AVX512_BF16 or AMX)."""
    return "BF16" in (core or _core()).get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def cache_folder() -> Path:
    """Where converted networks are kept: ``$XDG_CACHE_HOME/vidcolor/openvino`` (default
    ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vidcolor" / "openvino"


class OpenVinoColorizer(ColorModel):
    """A model run by OpenVINO: the same name, render size, multiple, global features and
    identity as its Keras network, and outputs within 2 a/b units of it.

    Parameters
    ----------
    model : vidcolor.models.store.ModelFiles or vidcolor.models.store.Colorizer
        A model directory with a current IR (read when first run), or a loaded Keras model
        (converted when first run).
    bf16 : bool, optional
        Run the fusion decoder in bf16; default: where the CPU has it. False forces float32
        everywhere (as on a CPU without bf16); True on a CPU without it is an error.
    disk_cache : bool
        Keep networks converted from Keras in :func:`cache_folder` (only for models loaded
        from a directory, whose identity names their weights), and the parts compiled for this
        CPU in OpenVINO's own cache beside them.
    networks : dict, optional
        Networks to run instead of converting the Keras model's: part name -> openvino.Model
        with open sizes (e.g. INT8 ones from :mod:`vidcolor.models.quantize`); not cached.
    variant : str, optional
        What ``networks`` are (e.g. ``"int8-decoder"``), added to :attr:`identity` since they
        give other frames; required with ``networks``.

    Notes
    -----
    Hints are refused: the converted networks have no hint input (``uses_hints`` is False).
    """

    uses_hints = False

    def __init__(self, model, bf16: bool | None = None, disk_cache: bool = True,
                 networks: dict | None = None, variant: str | None = None):
        if (networks is None) != (variant is None):
            raise ValueError("give networks and variant together")
        self.source = model
        self.keras = model if hasattr(model, "nets") else None  # None: the IR files
        self.name = model.name
        self.render_size = model.render_size
        self.multiple = model.multiple
        self.uses_global_features = model.uses_global_features
        self._core = _core()
        capable = has_bf16(self._core)
        if bf16 and not capable:
            raise VidcolorError("this CPU has no bf16 support for OpenVINO")
        decoder = "bf16" if (capable if bf16 is None else bf16) else "f32"
        self.precisions = ({"backbone": "f32", "decoder": decoder}
                           if model.arch == "fusion" else {"whole": "f32"})
        self.disk_cache = disk_cache
        self._converted: dict = dict(networks or {})  # part -> ov.Model, open sizes
        self.variant = variant
        self._compiled: dict = {}  # (part, (h, w) or None) -> CompiledModel
        self._lock = threading.Lock()  # one conversion or inference at a time per model

    @property
    def identity(self) -> dict | None:
        """The model's identity: its weights file's, whichever runtime runs them (and the
        networks' variant, if given: they give other frames)."""
        identity = self.source.identity
        if identity is None or self.variant is None:
            return identity
        return {**identity, "openvino_variant": self.variant}

    def pad(self, L: np.ndarray) -> tuple[np.ndarray, int, int]:
        """``L`` (N, h, w) padded as every runtime of this network pads it
        (:func:`vidcolor.models.shapes.pad`), with the original h and w."""
        return shapes.pad(L, self.multiple)

    def _cache_dir(self, part: str) -> Path | None:
        """The disk cache's folder for one part converted from Keras, or None when not cached
        on disk."""
        identity = self.identity
        if self.keras is None or identity is None or not self.disk_cache:
            return None
        ov = import_openvino()

        what = {"format": CACHE_FORMAT, "identity": identity, "part": part,
                "decode": self.keras.nets.decode, "precision": self.precisions[part],
                "openvino": ov.get_version(), "vidcolor": __version__}
        return cache_folder() / hashlib.sha256(json.dumps(what, sort_keys=True).encode()
                                               ).hexdigest()[:24]

    def _network(self, part: str, shape: tuple[int, int]):
        """One compiled part for one padded shape (the backbone: for every shape)."""
        shape = None if part == "backbone" else tuple(shape)
        if (part, shape) not in self._compiled:
            model = self._model(part)
            if shape is not None:
                model = at_size(model, part, *shape)
            self._compiled[part, shape] = self._compile(model, self.precisions[part])
        return self._compiled[part, shape]

    def _compile(self, model, precision: str):
        """``model`` compiled for this CPU, through OpenVINO's compiled cache where there is one."""
        config = {**COMPILE_CONFIG, "INFERENCE_PRECISION_HINT": precision}
        cache = _compiled_cache(self.disk_cache and self.identity is not None)
        try:
            return self._core.compile_model(model, "CPU", {**config, **cache})
        except RuntimeError as e:
            if not cache:
                raise
            # e.g. a blob another process is still writing: compile without the cache
            logger.debug("OpenVINO's compiled cache not used (%s)", first_line(e))
            return self._core.compile_model(model, "CPU", config)

    def _model(self, part: str):
        """One part, open sizes: from memory, the model's IR, the disk cache, or converted now
        (and then stored in the cache)."""
        if part in self._converted:
            return self._converted[part]
        if self.keras is None:
            path = ir.part_path(self.source.directory, part)
            try:
                model = ir.read_part(self._core, self.source.directory, part)
            except RuntimeError as e:  # e.g. an IR of a newer OpenVINO than this one
                reason = first_line(e)
                raise VidcolorError(f"{path}: OpenVINO cannot read it ({reason[:200]})") from None
        else:
            folder = self._cache_dir(part)
            if folder is not None and (folder / "done").is_file():
                model = self._core.read_model(folder / "model.xml")
            else:
                model = self._convert(part)
                if folder is not None:
                    _store(model, folder)
        self._converted[part] = model
        return model

    def _convert(self, part: str):
        ov = import_openvino()

        from vidcolor.models import tracing

        # Conversion takes seconds (tracing the Keras graph), so it is announced.
        logger.info("note: converting the model's %s for OpenVINO (once)", part)
        t = time.perf_counter()
        model = ov.convert_model(tracing.part(self.keras.nets, part))
        logger.debug("OpenVINO conversion of the %s took %.1f s", part, time.perf_counter() - t)
        return model

    def _run(self, Lp: np.ndarray, global_features: np.ndarray | None,
             keep: list | None = None) -> np.ndarray:
        """a/b / 128 at the network's stride for padded L (N, h, w); the backbone's outputs
        appended to ``keep`` if given."""
        shape = Lp.shape[1:3]
        if "whole" in self.precisions:
            return np.asarray(self._network("whole", shape)(Lp[..., None])[0])
        x3 = shapes.backbone_input(Lp)  # what the Keras network feeds its parts
        feats = self._features(x3)
        if keep is not None:
            keep.extend(feats)
        if global_features is not None:
            g = np.asarray(global_features, np.float32)
            feats[-1] = np.ascontiguousarray(np.broadcast_to(g, (x3.shape[0], g.shape[-1])))
        x = np.ascontiguousarray(x3[..., :1])
        return np.asarray(self._network("decoder", shape)([x, *feats])[0])

    def _features(self, x3: np.ndarray) -> list[np.ndarray]:
        """The backbone's outputs for its input (:func:`vidcolor.models.shapes.backbone_input`)."""
        backbone = self._network("backbone", x3.shape[1:3])
        out = backbone(x3)
        return [np.asarray(out[o]) for o in backbone.outputs]

    def global_features(self, L: np.ndarray) -> np.ndarray | None:
        """See :meth:`ColorModel.global_features`: the backbone's global vector."""
        if not self.uses_global_features:
            return None
        Lp, _, _ = self.pad(np.asarray(L, np.float32))
        with self._lock:
            return self._features(shapes.backbone_input(Lp))[-1].copy()

    def match_features(self, L: np.ndarray) -> np.ndarray | None:
        """See :meth:`ColorModel.match_features`: as the Keras model's, from this runtime's
        backbone."""
        if "whole" in self.precisions:
            return None
        from vidcolor.models.store import match_grid

        Lp, h, w = self.pad(np.asarray(L, np.float32))
        with self._lock:
            feats = self._features(shapes.backbone_input(Lp))
        return match_grid(feats, (h, w))

    def predict_ab_and_features(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """See :meth:`ColorModel.predict_ab_and_features`: the backbone runs once for both."""
        from vidcolor.models.store import match_grid

        Lp, h, w = self.pad(np.asarray(L, np.float32))
        feats: list = []
        with self._lock:
            ab = self._run(Lp, None, feats)
        ab = shapes.resize_ab(ab.astype(np.float32) * 128.0, Lp.shape[1:3])
        return np.ascontiguousarray(ab[:, :h, :w]), match_grid(feats, (h, w))

    def predict_ab(self, L: np.ndarray, global_features: np.ndarray | None = None,
                   hints=None) -> np.ndarray:
        """See :meth:`ColorModel.predict_ab`; ``hints`` are refused (no hint input)."""
        if hints is not None:
            raise OptionError("runtime", "the OpenVINO runtime takes no hints; use {field} keras")
        L = np.asarray(L, np.float32)
        if L.ndim != 3:
            raise ValueError(f"expected L of shape (N, h, w), got {L.shape}")
        Lp, h, w = self.pad(L)
        with self._lock:
            ab = self._run(Lp, global_features)
        ab = shapes.resize_ab(ab.astype(np.float32) * 128.0, Lp.shape[1:3])
        return np.ascontiguousarray(ab[:, :h, :w])


def at_size(model, part: str, height: int, width: int):
    """A copy of one part (an ``openvino.Model`` with open sizes) with its inputs fixed at an
    input size, batch open (:func:`vidcolor.models.shapes.part_input_shapes`)."""
    model = model.clone()
    inputs = [(len(i.get_partial_shape()), i.get_partial_shape()[-1].get_length())
              for i in model.inputs]
    model.reshape(dict(enumerate(shapes.part_input_shapes(part, inputs, height, width))))
    return model


def _compiled_cache(enabled: bool) -> dict:
    """OpenVINO's own cache of compiled networks (``CACHE_DIR``, under :func:`cache_folder`):
    a later run loads a part compiled for this CPU instead of compiling it again, which is
    most of a short job's start-up beside the imports. Empty (no cache) when disabled or when
    the folder cannot be made."""
    if not enabled:
        return {}
    folder = cache_folder() / "compiled"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return {}
    return {"CACHE_DIR": str(folder)} if os.access(folder, os.W_OK) else {}


def _store(model, folder: Path) -> None:
    """Write a converted network to ``folder`` as OpenVINO IR, all or nothing: written into a
    temporary sibling and renamed, with a ``done`` mark, so a reader never sees half of it and
    a failure to write only costs the next run its conversion."""
    ov = import_openvino()

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            # Float32 weights: compress_to_fp16 (the default) would change the outputs.
            ov.save_model(model, tmp / "model.xml", compress_to_fp16=False)
            (tmp / "done").write_text("")
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:  # a read-only or full cache is not the user's job's failure
        logger.debug("OpenVINO cache not written (%s)", e)
