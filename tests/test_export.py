"""`vidcolor export`: every format loaded back by its own runtime matches Keras within 2 a/b
units on a real picture, and the JSON beside it describes what was used."""

import json
from pathlib import Path

import numpy as np
import pytest

from vidcolor.errors import VidcolorError

pytest.importorskip("openvino")
EXAMPLE = Path(__file__).resolve().parent.parent / "vidcolor" / "examples" / "chelsea_grey.jpg"
SIZE = (64, 96)  # small: the point is the conversion, not the model at its render size


@pytest.fixture(scope="module")
def model():
    from vidcolor.models.store import load_model

    return load_model()


@pytest.fixture(scope="module")
def L():
    """Two real lightness images at SIZE, (2, h, w, 1): the picture and its mirror."""
    import cv2

    from vidcolor import color

    rgb = cv2.cvtColor(cv2.imread(str(EXAMPLE)), cv2.COLOR_BGR2RGB)
    L = color.rgb_to_l(cv2.resize(rgb, SIZE[::-1], interpolation=cv2.INTER_AREA))
    return np.stack([L, L[:, ::-1]])[..., None].astype(np.float32)


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


@pytest.mark.parametrize("fmt, precision", [(fmt, "fp32") for fmt in RUNNERS] + [("onnx", "fp16")])
def test_export_matches_keras(fmt, precision, model, L, tmp_path):
    from vidcolor.export import export_model

    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
        pytest.importorskip("onnxruntime")
    if precision == "fp16":
        pytest.importorskip("onnxconverter_common")
    name, run = RUNNERS[fmt]
    meta_path = export_model(model, fmt, tmp_path / name, SIZE, precision)
    meta = json.loads(meta_path.read_text())
    assert meta["input"]["shape"] == [None, *SIZE, 1] and meta["model"] == model.name
    assert meta["precision"] == precision
    s, scale = meta["output"]["stride"], meta["output"]["scale"]
    out = np.asarray(run(tmp_path / name, meta, L))
    assert out.shape == (2, SIZE[0] // s, SIZE[1] // s, 2)
    from vidcolor.models.nets import resize_ab

    ab = resize_ab(out.astype(np.float32) * scale, SIZE)
    keras_ab = model.predict_ab(L[..., 0])
    assert np.abs(ab - keras_ab).max() < 2.0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_export_refuses_bad_requests(model, tmp_path):
    from vidcolor.export import check_request, export_model, parse_size

    with pytest.raises(VidcolorError, match="multiples of 32"):
        parse_size("30x64")
    with pytest.raises(VidcolorError, match="HxW"):
        parse_size("big")
    with pytest.raises(VidcolorError, match="fp16"):
        check_request("savedmodel", tmp_path / "m", "fp16", False)
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
