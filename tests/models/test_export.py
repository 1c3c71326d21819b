"""`vidcolor export`: every format, exported once with open sizes, loaded back by its own
runtime at two input shapes matches Keras within 2 a/b units on a real picture; so does a
fixed-size export; the JSON beside each describes what was used."""

import json
from pathlib import Path

import numpy as np
import pytest

from support import EXAMPLE_PHOTO
from vidcolor.errors import VidcolorError

pytest.importorskip("keras")  # every format is converted from the Keras network
# Small: the point is the conversion, not the model at its render size. Two shapes (and two
# batch sizes) fed to the same open-size file; SIZE also for a fixed-size export.
SIZE = (64, 96)
SHAPES = ((64, 96), (128, 64))


@pytest.fixture(scope="module")
def model():
    from vidcolor.models.store import load_keras_model

    return load_keras_model()


def _real_L(shape) -> np.ndarray:
    """The example picture's lightness at ``shape`` and its mirror, (2, h, w, 1) in [0, 100]."""
    import cv2

    from vidcolor import color

    rgb = cv2.cvtColor(cv2.imread(str(EXAMPLE_PHOTO)), cv2.COLOR_BGR2RGB)
    L = color.rgb_to_l(cv2.resize(rgb, shape[::-1], interpolation=cv2.INTER_AREA))
    return np.stack([L, L[:, ::-1]])[..., None].astype(np.float32)


@pytest.fixture(scope="module")
def open_export(model, tmp_path_factory):
    """``(fmt, precision) -> (path, meta)``: each exported once with open sizes, then reused."""
    from vidcolor.export import export_model

    done = {}

    def get(fmt, precision="fp32"):
        if (fmt, precision) not in done:
            folder = tmp_path_factory.mktemp(f"{fmt}-{precision}")
            path = folder / RUNNERS[fmt][0]
            meta = json.loads(export_model(model, fmt, path, None, precision).read_text())
            assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
            done[fmt, precision] = path, meta
        return done[fmt, precision]

    return get


def _run_onnx(path, meta, L):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([meta["output"]["name"]], {meta["input"]["name"]: L})[0]


def _run_openvino(path, meta, L):
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(L)[compiled.output(meta["output"]["name"])]


def _run_tflite(path, meta, L):
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, L.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, L)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _run_savedmodel(path, meta, L):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # kept: its functions need its variables alive
    return loaded.serve(tf.constant(L)).numpy()


RUNNERS = {"onnx": ("m.onnx", _run_onnx), "openvino": ("m.xml", _run_openvino),
           "tflite": ("m.tflite", _run_tflite), "savedmodel": ("m", _run_savedmodel)}


def _skip_unless_installed(fmt, precision):
    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
        pytest.importorskip("onnxruntime")
        if precision == "fp16":
            pytest.importorskip("onnxconverter_common")


def _max_error(model, run, path, meta, L):
    """Max |a/b| between an exported file's output for L (N, h, w, 1) and the Keras model's."""
    from vidcolor.models.shapes import resize_ab

    s, scale = meta["output"]["stride"], meta["output"]["scale"]
    out = np.asarray(run(path, meta, L))
    assert out.shape == (len(L), L.shape[1] // s, L.shape[2] // s, 2)
    ab = resize_ab(out.astype(np.float32) * scale, L.shape[1:3])
    return np.abs(ab - model.predict_ab(L[..., 0])).max()


@pytest.mark.parametrize("fmt, precision",
                         [(fmt, "fp32") for fmt in RUNNERS] + [("savedmodel", "fp16")])
def test_open_size_export_matches_keras_at_two_shapes(fmt, precision, model, open_export):
    _skip_unless_installed(fmt, precision)
    path, meta = open_export(fmt, precision)
    assert meta["input"]["shape"] == [None, None, None, 1] and meta["input"]["multiple_of"] == 32
    assert meta["output"]["shape"] == [None, None, None, 2] and meta["output"]["stride"] == 4
    assert meta["model"] == model.name and meta["precision"] == precision
    run = RUNNERS[fmt][1]
    for shape, batch in zip(SHAPES, (2, 1)):
        assert _max_error(model, run, path, meta, _real_L(shape)[:batch]) < 2.0


def test_half_savedmodel_stores_float16_weights(open_export):
    import tensorflow as tf

    def size(folder):
        return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())

    half, full = open_export("savedmodel", "fp16")[0], open_export("savedmodel")[0]
    assert size(half) < 0.6 * size(full)
    loaded = tf.saved_model.load(str(half))
    ops = {op.type for f in loaded.serve.concrete_functions for op in f.graph.get_operations()}
    assert {"Cast", "Conv2D"} <= ops and not ops & {"VarHandleOp", "ReadVariableOp"}


def test_fixed_size_export_matches_keras(model, tmp_path):
    from vidcolor.export import export_model

    _skip_unless_installed("onnx", "fp16")
    path = tmp_path / "m.onnx"
    meta = json.loads(export_model(model, "onnx", path, SIZE, "fp16").read_text())
    assert meta["input"]["shape"] == [None, *SIZE, 1] and meta["precision"] == "fp16"
    assert meta["output"]["shape"] == [None, SIZE[0] // 4, SIZE[1] // 4, 2]
    assert _max_error(model, _run_onnx, path, meta, _real_L(SIZE)) < 2.0
    with pytest.raises(Exception, match="(?i)dimension|shape"):  # the size is fixed in the file
        _run_onnx(path, meta, _real_L(SHAPES[1]))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_export_refuses_bad_requests(model, tmp_path):
    from vidcolor.export import check_request, export_model, parse_size

    with pytest.raises(VidcolorError, match="multiples of 32"):
        parse_size("30x64")
    with pytest.raises(VidcolorError, match="HxW"):
        parse_size("big")
    with pytest.raises(VidcolorError, match="unknown precision"):
        check_request("savedmodel", tmp_path / "m", "int8", False)
    with pytest.raises(VidcolorError, match=r"ending in \.tflite"):
        check_request("tflite", tmp_path / "m.onnx", "fp32", False)
    with pytest.raises(VidcolorError, match="no such folder"):
        check_request("onnx", tmp_path / "nowhere" / "m.onnx", "fp32", False)
    (tmp_path / "m.xml.json").write_text("{}")
    with pytest.raises(VidcolorError, match="--overwrite"):
        export_model(model, "openvino", tmp_path / "m.xml", SIZE)
    assert (tmp_path / "m.xml.json").read_text() == "{}"  # untouched


def test_export_cli_errors_are_one_line(tmp_path, capsys):
    from vidcolor.cli import main

    assert main(["export", "--format", "onnx", "--size", "33x64", "-o",
                 str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("vidcolor: error:") and "\n" not in err
