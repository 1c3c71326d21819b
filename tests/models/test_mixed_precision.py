"""The backbone's mixed precision (vidcolor.models.mixed_precision): which layers stay float32,
the marks OpenVINO's CPU plugin reads, and the OpenVINO runtime using it only where the CPU has
bf16, within 2 a/b units of float32."""

from types import SimpleNamespace

import numpy as np
import pytest

from support import DATA, EXAMPLE_PHOTO
from vidcolor.models import store

ov = pytest.importorskip("openvino")

KEEP = "DisablePrecisionConversion_0"


def _shipped_backbone():
    return ov.Core().read_model(store.DEFAULT_MODEL_DIR / "backbone.xml")


def _needs_bf16():
    from vidcolor.models.openvino_model import has_bf16

    if not has_bf16():
        pytest.skip("this CPU has no bf16")


def _runtime_precisions(compiled) -> dict:
    """Convolution runtime precision -> count, in a compiled network."""
    counts: dict = {}
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        if info["layerType"].astype(str) == "Convolution":
            precision = info["runtimePrecision"].astype(str)
            counts[precision] = counts.get(precision, 0) + 1
    return counts


def test_all_but_the_chosen_convolutions_and_the_input_stay_float32():
    from vidcolor.models import mixed_precision as mp

    model = _shipped_backbone()
    names = mp.float32_layers(model)
    groups = mp.layer_groups(model)
    convolutions = [group[0].get_friendly_name() for group in groups[1:]]
    bf16 = {convolutions[i] for i in mp.BF16_CONVOLUTIONS}
    assert len(convolutions) == mp.LITE0_CONVOLUTIONS and len(bf16) == 8
    assert not bf16 & names and set(convolutions) - bf16 <= names
    assert {op.get_friendly_name() for op in groups[0]} <= names  # the input's transpose
    marked = mp.keep_float32(model, names)
    assert {op.get_friendly_name() for op in marked.get_ops() if KEEP in op.get_rt_info()} == names
    with pytest.raises(ValueError, match="not found"):
        mp.keep_float32(model, {"no such layer"})


def test_the_cpu_plugin_runs_only_the_chosen_convolutions_in_bf16():
    _needs_bf16()
    from vidcolor.models import mixed_precision as mp

    model = _shipped_backbone()
    config = {"INFERENCE_PRECISION_HINT": "bf16"}
    marked = ov.Core().compile_model(mp.keep_float32(model, mp.float32_layers(model)), "CPU",
                                     config)
    assert _runtime_precisions(marked).get("bf16") == len(mp.BF16_CONVOLUTIONS)
    assert _runtime_precisions(ov.Core().compile_model(model, "CPU", config))["bf16"] == 49


def _tiny_backbone():
    """A backbone with a fusion model's outputs that is not EfficientNet-Lite0."""
    from openvino import opset13 as ops

    x3 = ops.parameter([-1, -1, -1, 3], np.float32, name="x3")
    w = np.random.default_rng(0).normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)
    h = ops.relu(ops.convolution(ops.transpose(x3, ops.constant([0, 3, 1, 2])), ops.constant(w),
                                 [1, 1], [1, 1], [1, 1], [1, 1]))
    vector = ops.reduce_mean(h, ops.constant([2, 3]), keep_dims=False)
    return ov.Model([ops.transpose(h, ops.constant([0, 2, 3, 1])), vector], [x3], "backbone")


def test_another_backbone_runs_float32():
    from vidcolor.models import mixed_precision as mp
    from vidcolor.models.openvino_model import OpenVinoColorizer

    assert mp.float32_layers(_tiny_backbone()) is None
    stand_in = SimpleNamespace(name="m", render_size=256, multiple=32, uses_global_features=True,
                               identity=None, nets=SimpleNamespace(arch="fusion"), arch="fusion")
    runtime = OpenVinoColorizer(stand_in, disk_cache=False)
    runtime._converted["backbone"] = _tiny_backbone()  # as if converted from Keras
    L = np.full((1, 64, 96), 40.0, np.float32)
    g = runtime.global_features(L)
    assert g.shape == (1, 8) and runtime.precisions["backbone"] == "f32"
    given = OpenVinoColorizer(stand_in, networks={"backbone": _tiny_backbone()}, variant="v")
    assert given.precisions["backbone"] == "f32"  # given networks run as given


def _photos():
    """The example photo and two CBSD68 photos (where the data folder is), L (1, h, w)."""
    import cv2

    from vidcolor import color

    paths = [EXAMPLE_PHOTO, *sorted((DATA / "val" / "cbsd68").glob("*.png"))[:2]]
    return [color.rgb_to_l(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))[None]
            .astype(np.float32) for p in paths]


def test_the_runtime_runs_the_backbone_mixed_where_the_cpu_has_bf16():
    from vidcolor.models.openvino_model import MIXED, OpenVinoColorizer, has_bf16

    files = store.ModelFiles(store.read_config(store.DEFAULT_MODEL_DIR), store.DEFAULT_MODEL_DIR)
    model, exact = OpenVinoColorizer(files), OpenVinoColorizer(files, bf16=False)
    assert exact.precisions == {"backbone": "f32", "decoder": "f32"}
    if not has_bf16():
        assert model.precisions == exact.precisions
        return
    assert model.precisions == {"backbone": MIXED, "decoder": "bf16"}
    for L in _photos():
        L = np.ascontiguousarray(L[:, :200, :300])  # render-size pictures, padded inside
        assert np.abs(model.predict_ab(L) - exact.predict_ab(L)).max() < 2.0
    assert _runtime_precisions(model._compiled["backbone", None]).get("bf16") == 8
