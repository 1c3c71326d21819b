"""`vidcolor export`: the loaded network as a self-contained file for other runtimes, with a
JSON beside it that says how to call it.

Formats, and what each is for:

- ``onnx`` (``.onnx``): ONNX Runtime, in C++, C#, Java or a web page (onnxruntime-web);
- ``openvino`` (``.xml`` + ``.bin``): OpenVINO on Intel CPUs, GPUs and NPUs;
- ``tflite`` (``.tflite``): phones and small boards (TensorFlow Lite / LiteRT);
- ``savedmodel`` (a folder): TensorFlow Serving and ``tf.saved_model.load``.

Every file maps L (N, H, W, 1), CIE L* in [0, 100], to a/b / 128 at 1/stride of H x W (the
network's read-out included): multiply by 128 and resize to H x W for a*, b*. By default the
batch, height and width are all open, one file for every size; H and W must be multiples of 32
(the network's total stride; pad the picture first). ``size`` fixes height and width instead.
Files are written under a temporary name and renamed, and never replace an existing output
unless asked to.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from vidcolor._version import __version__
from vidcolor.errors import OptionError, VidcolorError
from vidcolor.models.ov_tools import import_openvino

FORMATS = {"onnx": ".onnx", "openvino": ".xml", "tflite": ".tflite", "savedmodel": ""}
PRECISIONS = ("fp32", "fp16")
ONNX_OPSET = 17


def parse_size(text: str) -> tuple[int, int]:
    """``"HxW"`` -> (height, width), multiples of 32; a one-line error otherwise."""
    from vidcolor.models.shapes import check_shape

    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise OptionError("size", "{field}: expected HxW (e.g. 256x448), got {text!r}",
                          text=text) from None
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
    suffix = FORMATS[fmt]
    if suffix and path.suffix.lower() != suffix:
        raise VidcolorError(f"{path}: a {fmt} export needs a name ending in {suffix}")
    if not path.parent.is_dir():
        raise VidcolorError(f"{path.parent}: no such folder")
    targets = [path, sidecar(path)] + ([path.with_suffix(".bin")] if fmt == "openvino" else [])
    existing = [t for t in targets if os.path.lexists(t)]
    if existing and not overwrite:
        raise OptionError("overwrite", "{path} exists (use {field} to replace it)",
                          path=existing[0])
    if any(t.is_dir() for t in targets if t != path) or (suffix and path.is_dir()):
        raise VidcolorError(f"{path}: a folder is in the way")
    if not suffix and os.path.lexists(path) and not path.is_dir():
        raise VidcolorError(f"{path}: a savedmodel export is a folder, and this is a file")


def describe(model, fmt: str, size: tuple[int, int] | None, precision: str,
             names=None) -> dict:
    """The JSON written beside an export: input and output conventions, versions, model.
    ``size`` None: open height and width (``null`` in the shapes)."""
    s, multiple = model.nets.stride, model.multiple
    h, w = size or (None, None)
    out_h, out_w = (None, None) if size is None else (h // s, w // s)
    names = names or {}
    where = ("of the picture resized to this height and width" if size else
             f"of the picture, its height and width padded or resized to multiples of {multiple}")
    return {
        "vidcolor": __version__, "model": model.name, "format": fmt, "precision": precision,
        "input": {"name": names.get("input", "L"), "shape": [None, h, w, 1], "dtype": "float32",
                  "multiple_of": multiple,
                  "meaning": f"CIE L* (D65) {where}, in [0, 100]; batch size open"},
        "output": {"name": names.get("output"), "shape": [None, out_h, out_w, 2],
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
        A fixed input size, multiples of 32; None (the default): open height and width.
    precision : {"fp32", "fp16"}
        fp16: weights stored in float16, half the file (inputs and outputs stay float32).
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
    if size is not None:
        tracing.check_shape(*size)
    with tempfile.TemporaryDirectory(prefix=".vidcolor-export-", dir=output.parent) as tmp:
        staged = Path(tmp) / ("model" + FORMATS[fmt])
        # The writers take (height, width) or, open, (None, None).
        names = _WRITERS[fmt](model.nets, size or (None, None), precision, staged)
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
    if precision == "fp16":
        return _write_half_savedmodel(nets, size, path)
    import keras

    from vidcolor.models import tracing

    # Not archive.track(nets.model): the endpoint's variables are kept anyway, and tracking the
    # model as well stored every weight twice (twice the folder).
    archive = keras.export.ExportArchive()
    archive.add_endpoint("serve", tracing.whole_function(nets), [tracing.input_spec(*size)])
    archive.write_out(os.fspath(path), verbose=False)
    return {"input": "L", "output": "output_0"}


def _half_weights(graph_def):
    """A frozen GraphDef with every float32 constant of two or more dimensions (convolution
    kernels, dense matrices: nearly all the numbers) stored as float16 and cast back to float32
    where it is read, so the graph computes in float32 with those weights rounded to float16.
    Vectors and scalars (biases, batch-norm statistics, the read-out's constants) stay float32:
    halving them too saves little and made the largest a/b error on real photos about three
    times larger (benchmarks/RESULTS.md).

    Each rewritten ``Const`` keeps its name as a ``Cast`` (its readers are unchanged) of a new
    float16 ``Const`` named ``<name>/half``.
    """
    import numpy as np
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    for node in list(out.node):
        if node.op != "Const" or node.attr["dtype"].type != tf.float32.as_datatype_enum:
            continue
        value = tf.make_ndarray(node.attr["value"].tensor)
        if value.ndim < 2:
            continue
        half = out.node.add(name=f"{node.name}/half", op="Const")
        half.attr["dtype"].type = tf.float16.as_datatype_enum
        half.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value.astype(np.float16)))
        half.device = node.device
        node.op = "Cast"
        node.ClearField("attr")
        node.input.append(half.name)
        node.attr["SrcT"].type = tf.float16.as_datatype_enum
        node.attr["DstT"].type = tf.float32.as_datatype_enum
        node.attr["Truncate"].b = False
    return out


def _write_half_savedmodel(nets, size, path: Path) -> dict:
    """A SavedModel of the whole network with float16 weights, computing in float32: the
    traced graph frozen (variables as constants), its weights rewritten by
    :func:`_half_weights`, and imported into a ``tf.function`` that the SavedModel serves."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    from vidcolor.models import tracing

    frozen = convert_variables_to_constants_v2(tracing.whole(nets, *size))
    graph_def = _half_weights(frozen.graph.as_graph_def())
    input_name = frozen.inputs[0].name
    output_name = frozen.outputs[0].name

    def serve(L):
        return tf.graph_util.import_graph_def(graph_def, input_map={input_name: L},
                                              return_elements=[output_name], name="")[0]

    module = tf.Module()
    module.serve = tf.function(serve, input_signature=[tracing.input_spec(*size)])
    tf.saved_model.save(module, os.fspath(path), signatures={"serving_default": module.serve})
    return {"input": "L", "output": "output_0"}


def _write_tflite(nets, size, precision, path: Path) -> dict:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:  # TFLite converts SavedModels
        _write_savedmodel(nets, size, "fp32", Path(tmp) / "saved")
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
    ov = import_openvino()

    from vidcolor.models import tracing

    model = ov.convert_model(tracing.whole(nets, *size))
    ov.save_model(model, path, compress_to_fp16=precision == "fp16")
    return {"input": model.inputs[0].get_any_name(), "output": model.outputs[0].get_any_name()}


_WRITERS = {"onnx": _write_onnx, "openvino": _write_openvino, "tflite": _write_tflite,
            "savedmodel": _write_savedmodel}
