"""Which runtime runs the network: :func:`load_color_model`, the one place ``--runtime`` is
resolved to a :class:`~vidcolor.models.protocol.ColorModel`.

- ``openvino``: :class:`~vidcolor.models.openvino_model.OpenVinoColorizer` (CPU), running the
  model directory's OpenVINO IR; always installed, and needs no Keras.
- ``keras``: :class:`~vidcolor.models.store.Colorizer`, Keras on TensorFlow (the ``train`` or
  ``gpu`` extra); a GPU when there is one.
- ``auto``: Keras where an NVIDIA GPU is present and TensorFlow installed and sees it, or the
  model has a hint input; else OpenVINO. The GPU is looked for without importing TensorFlow
  first (its driver's files), so on a CPU-only machine ``auto`` never imports TensorFlow even
  where it is installed. On the CPUs measured OpenVINO was never slower than Keras: 0.75 x
  Keras's CPU time a batch in float32 on an AVX2 CPU without bf16 (this project's CI machine),
  0.55-0.65 x with the bf16 decoder on an AVX512_BF16 one (issue 20).
"""

from __future__ import annotations

import importlib.util
import os
import shutil

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.models.protocol import ColorModel

RUNTIMES = ("auto", "keras", "openvino", "onnxruntime")  # onnxruntime: ONNX files only
OPENVINO_HINT = "the OpenVINO runtime is not installed (a dependency of vidcolor): pip install openvino"


def _gpu_present() -> bool:
    """True when an NVIDIA GPU's driver is present and TensorFlow installed; imports nothing."""
    if importlib.util.find_spec("tensorflow") is None:
        return False
    return os.path.exists("/proc/driver/nvidia") or shutil.which("nvidia-smi") is not None


def _gpu_visible() -> bool:
    """True when TensorFlow sees a GPU (there Keras runs the network faster than any CPU).
    Imports TensorFlow: call it only where :func:`_gpu_present`."""
    from vidcolor.models import import_keras

    import_keras()  # TensorFlow's start-up chatter kept off the terminal
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def choose_runtime(runtime: str = "auto", hints: bool = False) -> str:
    """``"keras"`` or ``"openvino"`` for a ``--runtime`` value.

    Parameters
    ----------
    runtime : {"auto", "keras", "openvino"}
    hints : bool
        The model has a hint input (only the Keras runtime has it: the converted network
        takes L alone; a model without one takes hints by :mod:`vidcolor.propagate`).

    Raises
    ------
    VidcolorError
        An unknown runtime; one that is not installed (Keras: naming the ``train`` extra);
        OpenVINO asked for with hints.
    """
    from vidcolor.models import openvino_model, require_keras

    if runtime not in RUNTIMES:
        raise VidcolorError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    if runtime == "onnxruntime":
        raise OptionError("runtime", "{field} onnxruntime runs ONNX files (--model FILE.onnx); "
                          "vidcolor's own model runs on auto, keras or openvino")
    if runtime == "openvino":
        if not openvino_model.available():
            raise VidcolorError(OPENVINO_HINT)
        if hints:
            raise OptionError("runtime", "the OpenVINO runtime has no hint input for this "
                              "model; use {field} keras")
        return "openvino"
    if runtime == "keras":
        require_keras("--runtime keras")
        return "keras"
    if hints:
        require_keras("a model with a hint input")
        return "keras"
    # Cheapest test first: only a machine with a GPU driver pays TensorFlow's import.
    if _gpu_present() and _gpu_visible():
        return "keras"
    if not openvino_model.available():
        require_keras(OPENVINO_HINT + "; the Keras runtime")
        return "keras"
    return "openvino"


def load_color_model(directory=None, runtime: str = "auto", kind: str | None = None) -> ColorModel:
    """Load a model directory (default: the shipped model) or an ONNX file for a runtime.

    Parameters
    ----------
    directory : str or Path, optional
        A vidcolor model directory, or an ONNX colorizer (``FILE.onnx`` or a folder holding
        one, see :mod:`vidcolor.models.onnx_model`).
    runtime : {"auto", "keras", "openvino", "onnxruntime"}
        See the module docstring; an ONNX file runs on OpenVINO or ONNX Runtime (see
        :mod:`vidcolor.models.onnx_model`), never Keras.
    kind : {"ddcolor", "deoldify"}, optional
        An ONNX file's convention (``--model-kind``); refused for a vidcolor model.

    Returns
    -------
    ColorModel

    Raises
    ------
    VidcolorError
        See :func:`choose_runtime` and :func:`vidcolor.models.store.load_model`.
    """
    from vidcolor.models import onnx_model, store

    if directory is not None and onnx_model.is_onnx_model(directory):
        if runtime not in RUNTIMES:
            raise VidcolorError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
        return onnx_model.load_onnx_model(directory, runtime, kind)
    if kind is not None:
        raise OptionError("model_kind", "{field} is for ONNX files; {model} is a vidcolor model",
                          "--model-kind", model=directory or "the shipped model")
    if runtime == "auto":  # the one-argument call, which tests replace with a stand-in
        return store.load_model(directory)
    choose_runtime(runtime)  # a wrong or missing runtime is told before reading any file
    return store.load_model(directory, runtime)


def resolve_model(model=None) -> ColorModel:
    """The model a job runs, for jobs that check their inputs and options before they touch
    the model (``colorize_video``, ``evaluate_folder``), so that a wrong argument is still told
    before the load's seconds.

    Parameters
    ----------
    model : ColorModel or callable, optional
        A model; or a function of no arguments that returns one, called now (e.g.
        ``functools.cache(lambda: load_color_model(directory, runtime))`` to load once for
        several jobs); None: the shipped model.

    Returns
    -------
    ColorModel
    """
    from vidcolor.models import store

    if model is None:
        return store.load_model()
    if isinstance(model, ColorModel) or not callable(model):
        return model
    return model()
