"""`vidcolor export`: the loaded network as a self-contained file for other runtimes, with a
JSON beside it that says how to call it.

Formats, and what each is for:

- ``onnx`` (``.onnx``): ONNX Runtime, in C++, C#, Java or a web page (onnxruntime-web);
- ``openvino`` (``.xml`` + ``.bin``): OpenVINO on Intel CPUs, GPUs and NPUs;
- ``tflite`` (``.tflite``): phones and small boards (TensorFlow Lite / LiteRT);
- ``savedmodel`` (a folder): TensorFlow Serving and ``tf.saved_model.load``.

Every file maps L (N, H, W, 1), CIE L* in [0, 100], to a/b / 128 at 1/stride of H x W (the
network's read-out included): multiply by 128 and resize to H x W for a*, b*. The height and
width are fixed per file (the decoder's bilinear upsampling does not trace with open ones); the
batch is open. Files are written under a temporary name and renamed, and never replace an
existing output unless asked to.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from vidcolor import __version__
from vidcolor.errors import VidcolorError

FORMATS = {"onnx": ".onnx", "openvino": ".xml", "tflite": ".tflite", "savedmodel": ""}
PRECISIONS = ("fp32", "fp16")
HALF_FORMATS = ("onnx", "openvino", "tflite")  # where fp16 weights keep outputs within 2 a/b
ONNX_OPSET = 17


def parse_size(text: str) -> tuple[int, int]:
    """``"HxW"`` -> (height, width), multiples of 32; a one-line error otherwise."""
    from vidcolor.models.tracing import check_shape

    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise VidcolorError(f"--size: expected HxW (e.g. 256x448), got {text!r}") from None
    check_shape(height, width)
    return height, width


def sidecar(path: str | os.PathLike) -> Path:
    """The JSON that describes an exported file: its name + ``.json`` (``model.onnx.json``), so
    exports of several formats can share a folder and a stem."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def check_request(fmt: str, path: Path, precision: str, overwrite: bool) -> None:
    """Every problem with an export's arguments, as a one-line error, before any work."""
    if fmt not in FORMATS:
        raise VidcolorError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if precision not in PRECISIONS:
        raise VidcolorError(f"unknown precision {precision!r}; choose from fp32, fp16")
    if precision == "fp16" and fmt not in HALF_FORMATS:
        raise VidcolorError(f"--precision fp16 is offered for {' and '.join(HALF_FORMATS)}, "
                            f"not {fmt}")
    suffix = FORMATS[fmt]
    if suffix and path.suffix.lower() != suffix:
        raise VidcolorError(f"{path}: a {fmt} export needs a name ending in {suffix}")
    if not path.parent.is_dir():
        raise VidcolorError(f"{path.parent}: no such folder")
    targets = [path, sidecar(path)] + ([path.with_suffix(".bin")] if fmt == "openvino" else [])
    existing = [t for t in targets if os.path.lexists(t)]
    if existing and not overwrite:
        raise VidcolorError(f"{existing[0]} exists (use --overwrite to replace it)")
    if any(t.is_dir() for t in targets if t != path) or (suffix and path.is_dir()):
        raise VidcolorError(f"{path}: a folder is in the way")
    if not suffix and os.path.lexists(path) and not path.is_dir():
        raise VidcolorError(f"{path}: a savedmodel export is a folder, and this is a file")


def describe(model, fmt: str, size: tuple[int, int], precision: str, names=None) -> dict:
    """The JSON written beside an export: input and output conventions, versions, model."""
    h, w = size
    s = model.nets.stride
    names = names or {}
    return {
        "vidcolor": __version__, "model": model.name, "format": fmt, "precision": precision,
        "input": {"name": names.get("input", "L"), "shape": [None, h, w, 1], "dtype": "float32",
                  "meaning": "CIE L* (D65) of the picture resized to this height and width, "
                  "in [0, 100]; batch size open"},
        "output": {"name": names.get("output"), "shape": [None, h // s, w // s, 2],
                   "dtype": "float32", "stride": s, "scale": 128,
                   "meaning": "CIE a*, b* divided by 128, in [-1, 1], at 1/stride of the input "
                   "size, after the read-out: multiply by 128, resize to the input size and "
                   "join with L for the colour picture"},
        "render_size": model.render_size,
    }


def export_model(model, fmt: str, output: str | os.PathLike, size: tuple[int, int] | None = None,
                 precision: str = "fp32", overwrite: bool = False) -> Path:
    """Write a loaded model as ``fmt`` at ``output``, and its JSON beside it.

    Parameters
    ----------
    model : vidcolor.models.store.Colorizer
    fmt : {"onnx", "openvino", "tflite", "savedmodel"}
    output : path
        Ending in .onnx, .xml or .tflite for those formats; a folder name for savedmodel.
    size : (height, width), optional
        Multiples of 32 (default: the model's render size, square).
    precision : {"fp32", "fp16"}
        fp16 (half the file) for onnx, openvino and tflite (inputs and outputs stay float32).
    overwrite : bool

    Returns
    -------
    Path
        The JSON written beside the file (see :func:`describe`).

    Raises
    ------
    VidcolorError
        Bad arguments (see :func:`check_request`), before anything is written.
    """
    from vidcolor.models import tracing

    output = Path(output)
    check_request(fmt, output, precision, overwrite)
    size = size or (model.render_size - model.render_size % 32,) * 2
    tracing.check_shape(*size)
    with tempfile.TemporaryDirectory(prefix=".vidcolor-export-", dir=output.parent) as tmp:
        staged = Path(tmp) / ("model" + FORMATS[fmt])
        names = _WRITERS[fmt](model.nets, size, precision, staged)
        meta = Path(tmp) / "model.json"
        meta.write_text(json.dumps(describe(model, fmt, size, precision, names), indent=2) + "\n")
        if fmt == "openvino":  # the weights before the graph that names them
            os.replace(staged.with_suffix(".bin"), output.with_suffix(".bin"))
        _replace(staged, output)
        os.replace(meta, sidecar(output))
    return sidecar(output)


def _replace(staged: Path, output: Path) -> None:
    """Rename a staged file or folder onto ``output`` (a folder: the old one moved aside first,
    since a rename cannot replace a non-empty folder)."""
    if staged.is_dir() and output.is_dir():
        old = output.with_name(f".{output.name}.old")
        os.replace(output, old)
        os.replace(staged, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, output)


def _write_savedmodel(nets, size, precision, path: Path) -> dict:
    import keras

    from vidcolor.models import tracing

    archive = keras.export.ExportArchive()
    archive.track(nets.model)
    archive.add_endpoint("serve", tracing.whole_function(nets), [tracing.input_spec(*size)])
    archive.write_out(os.fspath(path), verbose=False)
    return {"input": "L", "output": "output_0"}


def _write_tflite(nets, size, precision, path: Path) -> dict:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:  # TFLite converts SavedModels
        _write_savedmodel(nets, size, precision, Path(tmp) / "saved")
        converter = tf.lite.TFLiteConverter.from_saved_model(os.fspath(Path(tmp) / "saved"))
        if precision == "fp16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        path.write_bytes(converter.convert())
    return {"input": "serving_default_L:0", "output": "StatefulPartitionedCall:0"}


def _write_onnx(nets, size, precision, path: Path) -> dict:
    import onnx
    import tensorflow as tf
    import tf2onnx

    from vidcolor.models import tracing

    fn = tf.function(tracing.whole_function(nets))
    tf2onnx.convert.from_function(fn, input_signature=[tracing.input_spec(*size)],
                                  opset=ONNX_OPSET, output_path=os.fspath(path))
    exported = onnx.load(os.fspath(path))
    if precision == "fp16":
        import warnings

        from onnxconverter_common import float16

        with warnings.catch_warnings():  # its notes on weights clipped to float16's range
            warnings.simplefilter("ignore")
            # float32 in and out: callers feed and read the same tensors at either precision.
            exported = float16.convert_float_to_float16(exported, keep_io_types=True)
        onnx.save(exported, os.fspath(path))
    return {"input": exported.graph.input[0].name, "output": exported.graph.output[0].name}


def _write_openvino(nets, size, precision, path: Path) -> dict:
    import openvino as ov

    from vidcolor.models import tracing

    model = ov.convert_model(tracing.whole(nets, *size))
    ov.save_model(model, path, compress_to_fp16=precision == "fp16")
    return {"input": model.inputs[0].get_any_name(), "output": model.outputs[0].get_any_name()}


_WRITERS = {"onnx": _write_onnx, "openvino": _write_openvino, "tflite": _write_tflite,
            "savedmodel": _write_savedmodel}
