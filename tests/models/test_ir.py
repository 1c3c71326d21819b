"""The shipped model's OpenVINO IR: current with its weights, run without Keras (colouring
never imports TensorFlow), the same a/b as the Keras network, and rewritten by save_model;
a model without a usable IR is converted where Keras is installed and refused in one line
where it is not."""

import json
import shutil

import numpy as np
import pytest

from support import DATA, EXAMPLE_PHOTO, packages_loaded_by
from vidcolor.errors import VidcolorError
from vidcolor.models import ir, store

# Largest |a/b IR - a/b Keras| (Lab units) the shipped IR may give, float32 inference: its
# weights are stored as float16 (benchmarks/RESULTS.md "Install and start-up": 1.34 at most
# over 10 pictures, 0.065 on average).
MAX_AB_DRIFT = 1.5


def _lightness(rgb, side=224):
    """L (1, h, w) of an RGB picture at about side² pixels, sizes not multiples of 32."""
    import cv2

    from vidcolor import color

    h, w = rgb.shape[:2]
    scale = side / np.sqrt(h * w)
    size = (int(w * scale) | 1, int(h * scale) | 1)
    return color.rgb_to_l(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))[None]


def _pictures():
    """The example photo, two CBSD68 photos and two frames of the 480p clip (those where the
    data folder is present), as L."""
    import cv2

    paths = [EXAMPLE_PHOTO, *sorted((DATA / "val" / "cbsd68").glob("*.png"))[:2]]
    out = [_lightness(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in paths]
    clip = DATA / "video" / "bbb_480p_30s_5.1.mp4"
    if clip.is_file():
        import av

        with av.open(str(clip)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in (40, 200):
                    out.append(_lightness(frame.to_ndarray(format="rgb24")))
                if i >= 200:
                    break
    return out


@pytest.fixture(scope="module")
def keras_model():
    pytest.importorskip("keras")
    return store.load_keras_model()


@pytest.fixture
def model_copy(tmp_path):
    """A copy of the shipped model's folder."""
    folder = tmp_path / "model"
    shutil.copytree(store.DEFAULT_MODEL_DIR, folder)
    return folder


def test_the_shipped_ir_is_current_with_the_weights_and_read_out():
    config = store.read_config(store.DEFAULT_MODEL_DIR)
    assert ir.problem(store.DEFAULT_MODEL_DIR, config) is None


def test_colouring_a_photo_never_imports_tensorflow(tmp_path):
    """`vidcolor image` on the shipped model, in a fresh process, even where TensorFlow is
    installed (this CPU has no GPU driver, or auto would rightly pick Keras)."""
    from vidcolor.models import runtimes

    if runtimes._gpu_present():
        pytest.skip("a GPU is present: auto runs Keras here")
    out = tmp_path / "out.png"
    loaded = packages_loaded_by(
        f"from vidcolor.cli import main; assert main(['image', {str(EXAMPLE_PHOTO)!r}, "
        f"'-o', {str(out)!r}]) == 0", {"tensorflow", "keras", "jax", "torch"})
    assert loaded == [] and out.is_file()


def test_the_shipped_model_loads_as_its_ir():
    from vidcolor.models.openvino_model import OpenVinoColorizer

    model = store.load_model()
    assert isinstance(model, OpenVinoColorizer) and model.keras is None
    assert model.name == "vidcolor-fusion-lite0" and model.render_size == 256
    assert model.identity == store.weights_identity(store.DEFAULT_MODEL_DIR)
    L = _pictures()[0]
    features = model.match_features(L)
    assert features.shape[:3] == (1, -(-L.shape[1] // 8), -(-L.shape[2] // 8))
    ab = model.predict_ab(L)
    assert ab.shape == L.shape + (2,) and np.abs(ab).max() > 5  # a colour photo's colours
    own = model.global_features(L)
    assert own.shape == (1, 1280)
    assert np.abs(model.predict_ab(L, own) - ab).max() < 0.05  # its own: the same a/b
    other = model.global_features(np.full_like(L, 20.0))
    assert np.abs(model.predict_ab(L, other) - ab).max() > 1.0  # another's: other a/b


def test_compiled_parts_are_cached_for_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    L = _pictures()[0]
    ab = store.load_model().predict_ab(L)
    compiled = tmp_path / "vidcolor" / "openvino" / "compiled"
    blobs = sorted(p.name for p in compiled.iterdir())
    assert len(blobs) >= 2  # the backbone and the decoder at L's shape
    assert np.array_equal(store.load_model().predict_ab(L), ab)  # read back: the same a/b
    assert sorted(p.name for p in compiled.iterdir()) == blobs
    for blob in compiled.iterdir():  # cut short, as by a run that stopped while writing it
        blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 3])
    assert np.array_equal(store.load_model().predict_ab(L), ab)


def test_the_ir_gives_the_keras_networks_a_b(keras_model):
    from vidcolor.models.openvino_model import OpenVinoColorizer

    model = OpenVinoColorizer(store.ModelFiles(store.read_config(store.DEFAULT_MODEL_DIR),
                                               store.DEFAULT_MODEL_DIR), bf16=False)
    worst = 0.0
    for L in _pictures():
        ab = model.predict_ab(L)
        assert ab.shape == L.shape + (2,)
        worst = max(worst, float(np.abs(ab - keras_model.predict_ab(L)).max()))
        ab_f, features = model.predict_ab_and_features(L)
        assert np.abs(ab_f - ab).max() < 0.05
        assert np.abs(features - keras_model.match_features(L)).max() < 0.05
    assert 0.0 < worst < MAX_AB_DRIFT


def test_the_decoder_converts_its_upsampling_to_interpolate_of_the_same_numbers(keras_model):
    """The decoder as the IR is converted: each of its three bilinear upsamplings is one
    OpenVINO Interpolate, and in float32 it gives the Keras decoder's a/b (slices and sums)
    to float rounding on a real picture."""
    import collections

    import openvino as ov

    from vidcolor.models import shapes, tracing

    nets = keras_model.nets
    converted = ov.convert_model(tracing.part(nets, "decoder"))
    ops = collections.Counter(op.get_type_name() for op in converted.get_ordered_ops())
    assert ops["Interpolate"] == 3
    L = _pictures()[0][:, :96, :128]
    x3 = shapes.backbone_input(L)
    feats = [np.asarray(f) for f in nets.backbone(x3, training=False)]
    inputs = [np.ascontiguousarray(x3[..., :1]), *feats]
    want = np.asarray(nets.readout(nets.decoder)(inputs, training=False))
    compiled = ov.Core().compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = np.asarray(compiled(inputs)[0])
    assert got.shape == want.shape == (1, 24, 32, 2)
    assert np.abs(got - want).max() * 128 < 0.01  # Lab units


def test_the_shipped_ir_is_the_one_its_weights_make(keras_model, tmp_path):
    """The IR exported again from weights.npz gives the shipped IR's a/b, to float rounding:
    the files never drift from the weights."""
    from vidcolor.models.openvino_model import OpenVinoColorizer

    for name in ("config.json", "weights.npz"):
        shutil.copy(store.DEFAULT_MODEL_DIR / name, tmp_path / name)
    ir.write(keras_model.nets, tmp_path, keras_model.config)
    # The backbone's ImageNet weights are its package's, so they are not stored again.
    assert (tmp_path / "backbone.rest.bin").stat().st_size < 1000
    assert not (tmp_path / "backbone.bin").exists()
    again, shipped = (OpenVinoColorizer(store.ModelFiles(store.read_config(d), d), bf16=False)
                      for d in (tmp_path, store.DEFAULT_MODEL_DIR))
    L = _pictures()[0]
    assert np.abs(again.predict_ab(L) - shipped.predict_ab(L)).max() < 1e-3
    assert json.loads((tmp_path / ir.MANIFEST).read_text())["weights_sha256"] == json.loads(
        (store.DEFAULT_MODEL_DIR / ir.MANIFEST).read_text())["weights_sha256"]


@pytest.mark.parametrize("change", ["read-out", "no IR", "weights", "damaged IR",
                                    "damaged backbone"])
def test_a_model_without_a_current_ir_needs_keras_in_one_line(model_copy, monkeypatch, change):
    import vidcolor.models as models

    config = json.loads((model_copy / "config.json").read_text())
    if change == "read-out":
        config["decode"]["gain"] = 1.0
        (model_copy / "config.json").write_text(json.dumps(config))
    elif change == "no IR":
        (model_copy / ir.MANIFEST).unlink()
    else:
        name = {"weights": "weights.npz", "damaged IR": "decoder.bin"}.get(change,
                                                                           "backbone.rest.bin")
        with open(model_copy / name, "r+b") as f:
            f.seek(min(1000, f.seek(0, 2) - 3))
            f.write(b"\1\2\3")
    assert ir.problem(model_copy, config) is not None
    monkeypatch.setattr(models, "keras_available", lambda: False)
    with pytest.raises(VidcolorError, match=r'converting it needs Keras.*"vidcolor\[train\]"') as e:
        store.load_model(model_copy)
    assert "\n" not in str(e.value) and str(model_copy) in str(e.value)


def test_a_model_with_an_old_read_out_is_converted_from_keras(keras_model, model_copy):
    """Not its stale IR: the Keras network with the new read-out (converted when first run,
    which tests/models/test_runtime.py checks against Keras)."""
    config = json.loads((model_copy / "config.json").read_text())
    config["decode"]["gain"] = 1.0
    (model_copy / "config.json").write_text(json.dumps(config))
    model = store.load_model(model_copy, "openvino")
    assert model.keras is not None and model.keras.nets.decode["gain"] == 1.0
    assert model.identity == store.weights_identity(model_copy)


def test_save_model_writes_a_current_ir_that_loads_without_keras(tmp_path):
    pytest.importorskip("keras")  # building the network needs it
    from vidcolor.models import nets
    from vidcolor.models.openvino_model import OpenVinoColorizer

    config = {"arch": "beta", "build": {}, "name": "tiny", "render_size": 64}
    network = nets.build("beta")
    store.save_model(network, tmp_path, config)
    assert ir.problem(tmp_path, store.read_config(tmp_path)) is None
    model = store.load_model(tmp_path)
    assert isinstance(model, OpenVinoColorizer) and model.keras is None
    L = _lightness(np.full((70, 90, 3), 90, np.uint8))
    keras_ab = store.Colorizer(config, network).predict_ab(L)
    assert np.abs(model.predict_ab(L) - keras_ab).max() < 0.5


def test_keras_runtimes_without_keras_are_one_line_errors(monkeypatch, capsys, tmp_path):
    import vidcolor.models as models
    from vidcolor import cli
    from vidcolor.models import runtimes

    monkeypatch.setattr(models, "keras_available", lambda: False)
    with pytest.raises(VidcolorError, match=r'--runtime keras needs Keras.*vidcolor\[train\]'):
        runtimes.choose_runtime("keras")
    with pytest.raises(VidcolorError, match=r"hint input needs Keras"):
        runtimes.choose_runtime("auto", hints=True)
    for argv in (["image", EXAMPLE_PHOTO, "-o", tmp_path / "x.png", "--runtime", "keras"],
                 ["export", "--format", "onnx", "-o", tmp_path / "m.onnx"],
                 ["train", "folder", "--out", tmp_path / "m"]):
        assert cli.main([str(a) for a in argv]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and 'pip install "vidcolor[train]"' in err, err
    assert not (tmp_path / "x.png").exists()


def test_auto_looks_for_a_gpu_driver_before_tensorflow(monkeypatch):
    from vidcolor.models import runtimes

    def no_import():
        raise AssertionError("TensorFlow imported without a GPU driver")

    monkeypatch.setattr(runtimes, "_gpu_present", lambda: False)
    monkeypatch.setattr(runtimes, "_gpu_visible", no_import)
    assert runtimes.choose_runtime("auto") == "openvino"
    monkeypatch.setattr(runtimes, "_gpu_present", lambda: True)
    monkeypatch.setattr(runtimes, "_gpu_visible", lambda: False)
    assert runtimes.choose_runtime("auto") == "openvino"
    monkeypatch.setattr(runtimes, "_gpu_visible", lambda: True)
    assert runtimes.choose_runtime("auto") == "keras"


def test_loading_a_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(VidcolorError, match="not a vidcolor model directory"):
        store.load_model(tmp_path)


def test_importing_the_models_package_loads_no_keras():
    """The jobs, the CLI and the version import ``vidcolor.models`` (the protocol, the store's
    paths) before any model is asked for: Keras and TensorFlow come only with a network."""
    assert packages_loaded_by("import vidcolor._version, vidcolor.models, "
                              "vidcolor.models.store, vidcolor.models.runtimes",
                              {"keras", "tensorflow"}) == []
