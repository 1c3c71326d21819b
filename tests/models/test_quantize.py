"""INT8 quantization of the OpenVINO parts (vidcolor.models.quantize), on a tiny two-part
network built in OpenVINO itself: the same inputs and outputs as a fusion model's parts
(backbone: x3 -> a map and a global vector; decoder: x, map, vector -> a/b / 128)."""

import numpy as np
import pytest

from vidcolor.errors import VidcolorError

ov = pytest.importorskip("openvino")
pytest.importorskip("nncf")

# The tiny network's INT8 a/b differs from its float a/b by at most this, and on average by
# at most MEAN_AB_ERROR, in Lab units (outputs span about +-90; seen: 2.7 and 0.55).
MAX_AB_ERROR = 4.0
MEAN_AB_ERROR = 1.0


def _conv(x, cin: int, cout: int, seed: int, k: int = 3):
    """A convolution (NCHW) with fixed random weights and a bias."""
    from openvino import opset13 as ops

    rng = np.random.default_rng(seed)
    w = (rng.normal(0, 1, (cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
    y = ops.convolution(x, ops.constant(w), [1, 1], [k // 2] * 2, [k // 2] * 2, [1, 1])
    return ops.add(y, ops.constant(rng.normal(0, 0.1, (1, cout, 1, 1)).astype(np.float32)))


def tiny_parts() -> dict:
    """A backbone and decoder with a fusion model's inputs and outputs (NHWC, open sizes)."""
    from openvino import opset13 as ops

    x3 = ops.parameter([-1, -1, -1, 3], np.float32, name="x3")
    h = ops.relu(_conv(ops.transpose(x3, ops.constant([0, 3, 1, 2])), 3, 8, seed=1))
    h = ops.relu(_conv(h, 8, 8, seed=2))
    fmap = ops.transpose(h, ops.constant([0, 2, 3, 1]))
    vector = ops.reduce_mean(h, ops.constant([2, 3]), keep_dims=False)
    backbone = ov.Model([fmap, vector], [x3], "backbone")

    x = ops.parameter([-1, -1, -1, 1], np.float32, name="x")
    f = ops.parameter([-1, -1, -1, 8], np.float32, name="f")
    g = ops.parameter([-1, 8], np.float32, name="g")
    joined = ops.concat([x, f], axis=3)
    y = ops.relu(_conv(ops.transpose(joined, ops.constant([0, 3, 1, 2])), 9, 8, seed=3))
    y = ops.add(y, ops.unsqueeze(ops.unsqueeze(g, ops.constant(2)), ops.constant(3)))
    y = ops.tanh(_conv(y, 8, 2, seed=4))
    decoder = ov.Model([ops.transpose(y, ops.constant([0, 2, 3, 1]))], [x, f, g], "decoder")
    return {"backbone": backbone, "decoder": decoder}


def _lightness(n: int, seed: int, shape=(64, 96)) -> list[np.ndarray]:
    """Smooth random lightness pictures, (h, w) in [0, 100]."""
    import cv2

    rng = np.random.default_rng(seed)
    return [cv2.resize(rng.uniform(0, 100, (8, 12)).astype(np.float32), shape[::-1],
                       interpolation=cv2.INTER_CUBIC).clip(0, 100) for _ in range(n)]


def _ab(parts: dict, L: np.ndarray) -> np.ndarray:
    """a/b (Lab units) of the two parts run in float32 on L (N, h, w)."""
    from vidcolor.models.quantize import backbone_input

    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    backbone = core.compile_model(parts["backbone"], "CPU", config)
    decoder = core.compile_model(parts["decoder"], "CPU", config)
    x3 = backbone_input(L)
    out = backbone(x3)
    feats = [out[o] for o in backbone.outputs]
    return np.asarray(decoder([np.ascontiguousarray(x3[..., :1]), *feats])[0]) * 128.0


def _fake_quantized(model) -> int:
    return sum(op.get_type_name() == "FakeQuantize" for op in model.get_ordered_ops())


def test_int8_parts_stay_near_float_and_keep_open_sizes():
    from vidcolor.models.quantize import Int8Plan, quantize_parts

    parts = tiny_parts()
    int8 = quantize_parts(parts, _lightness(16, seed=0), Int8Plan())
    assert _fake_quantized(int8["backbone"]) > 0 and _fake_quantized(int8["decoder"]) > 0
    for shape in ((64, 96), (32, 160)):  # a size not seen in calibration too
        L = np.stack(_lightness(2, seed=1, shape=shape))
        ref, got = _ab(parts, L), _ab(int8, L)
        assert got.shape == ref.shape == (2, *shape, 2)
        assert np.abs(got - ref).max() <= MAX_AB_ERROR
        assert np.abs(got - ref).mean() <= MEAN_AB_ERROR
        assert np.abs(got - ref).max() > 0  # it did change: not the float network


def test_decoder_only_plan_leaves_the_backbone_float():
    from vidcolor.models.quantize import Int8Plan, quantize_parts

    parts = tiny_parts()
    int8 = quantize_parts(parts, _lightness(8, seed=0), Int8Plan(parts=("decoder",),
                                                                 keep_edges=True))
    assert int8["backbone"] is parts["backbone"]
    assert _fake_quantized(int8["decoder"]) > 0


def test_edge_layers_are_the_first_and_last_convolutions():
    from vidcolor.models.quantize import edge_layers

    decoder = tiny_parts()["decoder"]
    convs = [op.get_friendly_name() for op in decoder.get_ordered_ops()
             if op.get_type_name() == "Convolution"]
    assert len(convs) == 2 and edge_layers(decoder) == sorted(convs)


@pytest.mark.parametrize("bad", [dict(parts=()), dict(parts=("whole",)),
                                 dict(preset="fast")])
def test_bad_plans_are_refused(bad):
    from vidcolor.models.quantize import Int8Plan

    with pytest.raises(VidcolorError):
        Int8Plan(**bad)


def test_no_calibration_pictures_is_refused():
    from vidcolor.models.quantize import quantize_parts

    with pytest.raises(VidcolorError, match="at least one picture"):
        quantize_parts(tiny_parts(), [])


def test_calibration_photos_leave_out_the_held_out_ones(tmp_path):
    from training.quantize_model import calibration_photos, listed_paths

    folder = tmp_path / "train"
    folder.mkdir()
    names = [f"p{i}.png" for i in range(6)]
    for name in names:
        (folder / name).write_bytes(b"")  # chosen by name; nothing is read
    held = tmp_path / "held.txt"
    held.write_text(f"{folder / 'p1.png'}\n{folder / 'p4.png'}\n")
    assert listed_paths(held) == {(folder / n).resolve() for n in ("p1.png", "p4.png")}
    chosen = calibration_photos(folder, 4, seed=0, exclude=held)
    assert [p.name for p in chosen] == ["p0.png", "p2.png", "p3.png", "p5.png"]
    assert calibration_photos(folder, 2, seed=3, exclude=held) == \
        calibration_photos(folder, 2, seed=3, exclude=held)
    with pytest.raises(VidcolorError, match="4 photos outside"):
        calibration_photos(folder, 5, exclude=held)
    # Validation photos: neither held out nor calibration ones.
    others = calibration_photos(folder, 2, seed=1, exclude=held, also_skip=chosen[:2])
    assert [p.name for p in others] == ["p3.png", "p5.png"]


def test_the_openvino_runtime_runs_given_networks_under_their_variant():
    from types import SimpleNamespace

    from vidcolor.models.openvino_model import OpenVinoColorizer

    stand_in = SimpleNamespace(name="m", render_size=256, multiple=32, uses_global_features=True,
                               identity={"weights": "w"}, nets=SimpleNamespace(arch="fusion"),
                               arch="fusion")
    parts = tiny_parts()
    runtime = OpenVinoColorizer(stand_in, networks=parts, variant="int8-backbone")
    assert runtime.identity == {"weights": "w", "openvino_variant": "int8-backbone"}
    assert runtime._model("backbone") is parts["backbone"]  # not converted from Keras
    assert OpenVinoColorizer(stand_in).identity == {"weights": "w"}
    with pytest.raises(ValueError, match="together"):
        OpenVinoColorizer(stand_in, networks=parts)


def test_accuracy_control_holds_the_validation_colourfulness():
    from vidcolor.models.quantize import Int8Plan, quantize_parts, validation_colourfulness

    parts = tiny_parts()
    checks = _lightness(4, seed=2)
    plan = Int8Plan(max_colourfulness_drop=0.5, max_reverts=4)
    int8 = quantize_parts(parts, _lightness(8, seed=0), plan, checks)
    assert _fake_quantized(int8["backbone"]) + _fake_quantized(int8["decoder"]) > 0
    before, after = validation_colourfulness(parts, checks), validation_colourfulness(int8, checks)
    assert before > 1.0  # the tiny network's pictures have colour to lose
    assert before - after <= 2 * plan.max_colourfulness_drop + 1e-6


def test_accuracy_control_without_validation_pictures_is_refused():
    from vidcolor.models.quantize import Int8Plan, quantize_parts

    with pytest.raises(VidcolorError, match="validation pictures"):
        quantize_parts(tiny_parts(), _lightness(2, seed=0), Int8Plan(max_colourfulness_drop=0.1))
