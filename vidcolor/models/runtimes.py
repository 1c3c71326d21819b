"""Which runtime runs the network: :func:`load_color_model`, the one place ``--runtime`` is
resolved to a :class:`~vidcolor.models.protocol.ColorModel`.

- ``keras``: :class:`~vidcolor.models.store.Colorizer` (TensorFlow; a GPU when there is one).
- ``openvino``: :class:`~vidcolor.models.openvino_model.OpenVinoColorizer` (CPU; the ``fast``
  extra).
- ``auto``: OpenVINO when it is installed, no GPU is visible to TensorFlow and the model has no
  hint input, else Keras. On the CPUs measured it was never slower: in float32 it took 0.75 x
  Keras's CPU time a batch on an AVX2 CPU without bf16 (this project's CI machine), and
  with the bf16 decoder 0.55-0.65 x on an AVX512_BF16 one (issue 20).
"""

from __future__ import annotations

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.models.protocol import ColorModel

RUNTIMES = ("auto", "keras", "openvino", "onnxruntime")  # onnxruntime: ONNX files only
FAST_HINT = 'the OpenVINO runtime needs the fast extra: pip install "vidcolor[fast]"'


def _gpu_visible() -> bool:
    """True when TensorFlow sees a GPU (there Keras runs the network faster than any CPU)."""
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
        An unknown runtime; OpenVINO asked for but not installed, or asked for with hints.
    """
    from vidcolor.models import openvino_model

    if runtime not in RUNTIMES:
        raise VidcolorError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    if runtime == "onnxruntime":
        raise OptionError("runtime", "{field} onnxruntime runs ONNX files (--model FILE.onnx); "
                          "vidcolor's own model runs on auto, keras or openvino")
    if runtime == "openvino":
        if not openvino_model.available():
            raise VidcolorError(FAST_HINT)
        if hints:
            raise OptionError("runtime", "the OpenVINO runtime has no hint input for this "
                              "model; use {field} keras")
        return "openvino"
    # Cheapest test first: looking for a GPU imports TensorFlow.
    if runtime == "keras" or hints or not openvino_model.available() or _gpu_visible():
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
    if runtime != "auto":  # a wrong runtime is told before the load (seconds)
        choose_runtime(runtime)
    model = store.load_model(directory)
    # Only the Keras network can be converted (not a test's stand-in); and only then is the
    # choice made, since looking for a GPU needs TensorFlow, which the load has just imported.
    if not isinstance(model, store.Colorizer) or choose_runtime(runtime, model.uses_hints) == "keras":
        return model
    from vidcolor.models.openvino_model import OpenVinoColorizer

    return OpenVinoColorizer(model)


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
