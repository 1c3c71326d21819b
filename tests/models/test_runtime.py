"""The OpenVINO runtime behind the ColorModel protocol, and --runtime's choice."""

import numpy as np
import pytest

from support import EXAMPLE_PHOTO
from vidcolor.errors import VidcolorError
from vidcolor.models.protocol import check_model

pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def keras_model():
    pytest.importorskip("keras")
    from vidcolor.models.store import load_keras_model

    return load_keras_model()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "vidcolor" / "openvino"


def _real_L(shape=(80, 112)):
    """The example picture's lightness at a shape that is not a multiple of 32 (padding)."""
    import cv2

    from vidcolor import color

    rgb = cv2.cvtColor(cv2.imread(str(EXAMPLE_PHOTO)), cv2.COLOR_BGR2RGB)
    return color.rgb_to_l(cv2.resize(rgb, shape[::-1], interpolation=cv2.INTER_AREA))[None]


def test_openvino_matches_keras_and_caches_on_disk(keras_model, cache):
    from vidcolor.models.openvino_model import OpenVinoColorizer

    model = check_model(OpenVinoColorizer(keras_model))
    for member in ("name", "render_size", "multiple", "uses_global_features", "identity"):
        assert getattr(model, member) == getattr(keras_model, member)
    assert model.uses_hints is False and model.precisions["backbone"] == "f32"
    L = _real_L().astype(np.float32)
    ab = model.predict_ab(L)
    assert ab.shape == L.shape + (2,) and ab.dtype == np.float32
    assert np.abs(ab - keras_model.predict_ab(L)).max() < 2.0
    g = model.global_features(L[:, ::-1])  # another picture's features, as tiles get them
    assert np.abs(model.predict_ab(L, g) - keras_model.predict_ab(L, g)).max() < 2.0
    other = _real_L((64, 150)).astype(np.float32)  # another render shape: no new conversion
    assert np.abs(model.predict_ab(other) - keras_model.predict_ab(other)).max() < 2.0
    assert {shape for _, shape in model._compiled} == {None, (96, 128), (64, 160)}
    assert len([p for p in cache.iterdir() if (p / "done").is_file()]) == 2  # backbone, decoder
    again = OpenVinoColorizer(keras_model)  # a second run reads the converted networks back
    assert np.array_equal(again.predict_ab(L), ab)


def test_match_features_of_both_runtimes(keras_model, cache):
    """The match features: on the stride-8 grid of the unpadded picture, unit-length, the
    same from both runtimes, and the same with the a/b in one call."""
    from vidcolor.models.openvino_model import OpenVinoColorizer

    model = OpenVinoColorizer(keras_model)
    L = _real_L().astype(np.float32)  # 80 x 112: padded to 96 x 128 inside
    for m in (keras_model, model):
        features = m.match_features(L)
        assert features.shape[:3] == (1, 10, 14) and features.dtype == np.float32
        assert np.allclose(np.linalg.norm(features, axis=-1), 1.0, atol=1e-4)
        ab, again = m.predict_ab_and_features(L)
        assert np.abs(ab - m.predict_ab(L)).max() < 0.05
        assert np.abs(again - features).max() < 1e-4
    assert np.abs(model.match_features(L) - keras_model.match_features(L)).max() < 0.01


def test_openvino_refuses_hints(keras_model, cache):
    from vidcolor.models.openvino_model import OpenVinoColorizer

    L = np.full((1, 32, 32), 50.0, np.float32)
    hints = (np.zeros((1, 32, 32, 2), np.float32), np.zeros((1, 32, 32, 1), np.float32))
    with pytest.raises(VidcolorError, match="no hints"):
        OpenVinoColorizer(keras_model, disk_cache=False).predict_ab(L, hints=hints)


def test_choose_runtime(monkeypatch):
    pytest.importorskip("keras")
    from vidcolor.models import openvino_model, runtimes

    monkeypatch.setattr(runtimes, "_gpu_present", lambda: False)
    assert runtimes.choose_runtime("auto") == "openvino"
    assert runtimes.choose_runtime("auto", hints=True) == "keras"
    assert runtimes.choose_runtime("keras") == "keras"
    with pytest.raises(VidcolorError, match="no hint input"):
        runtimes.choose_runtime("openvino", hints=True)
    with pytest.raises(VidcolorError, match="unknown runtime"):
        runtimes.choose_runtime("tpu")
    monkeypatch.setattr(runtimes, "_gpu_present", lambda: True)
    monkeypatch.setattr(runtimes, "_gpu_visible", lambda: True)
    assert runtimes.choose_runtime("auto") == "keras"
    monkeypatch.setattr(runtimes, "_gpu_present", lambda: False)
    monkeypatch.setattr(openvino_model, "available", lambda: False)
    assert runtimes.choose_runtime("auto") == "keras"
    with pytest.raises(VidcolorError, match=r"pip install openvino"):
        runtimes.choose_runtime("openvino")


def test_bf16_is_refused_where_the_cpu_has_none(keras_model):
    from vidcolor.models.openvino_model import OpenVinoColorizer, has_bf16

    if has_bf16():
        pytest.skip("this CPU has bf16")
    with pytest.raises(VidcolorError, match="bf16"):
        OpenVinoColorizer(keras_model, bf16=True)
    assert OpenVinoColorizer(keras_model).precisions["decoder"] == "f32"


def test_openvino_runs_a_whole_network_without_global_features(cache):
    """A tiny alpha network (one part, no backbone), not loaded from a folder: nothing on disk."""
    pytest.importorskip("keras")
    from vidcolor.models import nets
    from vidcolor.models.openvino_model import OpenVinoColorizer
    from vidcolor.models.store import Colorizer

    keras_model = Colorizer({"arch": "alpha", "name": "tiny"}, nets.build("alpha"))
    model = OpenVinoColorizer(keras_model)
    L = _real_L((40, 72)).astype(np.float32)
    assert model.global_features(L) is None and model.precisions == {"whole": "f32"}
    assert np.abs(model.predict_ab(L) - keras_model.predict_ab(L)).max() < 0.01
    assert not cache.exists()
