"""The article's three networks, in Keras 3 (layers and ops only, so any backend runs them).

Every network takes lightness L, shape (N, h, w, 1) in [0, 100], with h and w multiples of 32,
and predicts a/b divided by 128 (tanh). Inside, L is seen as L/50 - 1, which is also the ImageNet
backbone's (x - 127) / 128 for a grey image of value x = 2.55 L, to within 0.5%.

- :func:`alpha`: ~10 conv layers that memorize one image.
- :func:`beta`: an encoder-decoder that generalizes.
- :func:`fusion`: a conv encoder on L plus a frozen ImageNet classifier; the classifier's global
  vector is tiled over the bottleneck and fused by a 1x1 conv (Baldassarre et al., "Deep
  Koalarization"); with EfficientNet-Lite0 the decoder also takes the backbone's stride-4/8/16
  feature maps as U-Net skips. Besides a/b it predicts logits over quantized a/b bins, trained
  by classification, read out by annealed mean (Zhang et al. 2016) and mixed with the regression.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers, ops

from vidcolor.models.resample import BilinearUp
from vidcolor.models.shapes import resize_ab  # noqa: F401 - where training finds it too

ARCHS = ("alpha", "beta", "fusion")


def _conv(x, filters, stride=1, kernel=3, name=None):
    return layers.Conv2D(filters, kernel, strides=stride, padding="same", activation="relu", name=name)(x)


def _conv_bn(x, filters, name, kernel=3):
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=name + "_bn")(x)
    return layers.ReLU(name=name + "_relu")(x)


def _lightness_input():
    L = keras.Input((None, None, 1), name="L")
    x = layers.Rescaling(1.0 / 50.0, offset=-1.0, name="normalize")(L)
    return L, x


def alpha() -> keras.Model:
    """The article's alpha: one image, memorized."""
    L, x = _lightness_input()
    x = _conv(x, 8, stride=2, name="conv1")
    x = _conv(x, 8, name="conv2")
    x = _conv(x, 16, name="conv3")
    x = _conv(x, 16, stride=2, name="conv4")
    x = _conv(x, 32, name="conv5")
    x = _conv(x, 32, stride=2, name="conv6")
    x = layers.UpSampling2D()(x)
    x = _conv(x, 32, name="conv7")
    x = layers.UpSampling2D()(x)
    x = _conv(x, 16, name="conv8")
    x = layers.UpSampling2D()(x)
    ab = layers.Conv2D(2, 3, padding="same", activation="tanh", name="ab")(x)
    return keras.Model(L, ab, name="alpha")


def beta() -> keras.Model:
    """The article's beta: stride-2 encoder (64-512 filters), upsampling decoder."""
    L, x = _lightness_input()
    x = _conv(x, 64, name="conv1")
    x = _conv(x, 64, stride=2, name="conv2")
    x = _conv(x, 128, name="conv3")
    x = _conv(x, 128, stride=2, name="conv4")
    x = _conv(x, 256, name="conv5")
    x = _conv(x, 256, stride=2, name="conv6")
    x = _conv(x, 512, name="conv7")
    x = _conv(x, 256, name="conv8")
    x = _conv(x, 128, name="conv9")
    x = layers.UpSampling2D()(x)
    x = _conv(x, 64, name="conv10")
    x = layers.UpSampling2D()(x)
    x = _conv(x, 32, name="conv11")
    x = layers.Conv2D(2, 3, padding="same", activation="tanh", name="ab_conv")(x)
    ab = layers.UpSampling2D(name="ab")(x)
    return keras.Model(L, ab, name="beta")


# Where the hint branch joins the own encoder: its stride-4, 8, 16 and 32 feature maps.
HINT_JOINS = (("enc2", 4, 64), ("enc3", 8, 128), ("enc4", 16, 256), ("enc5", 32, 256))


def _hint_conv(h, filters, name, kernel=3, stride=1, zero=False):
    """A bias-free conv of the hint branch (ReLU, or linear and zero-initialised if ``zero``)."""
    return layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                         activation=None if zero else "relu",
                         kernel_initializer="zeros" if zero else "glorot_uniform", name=name)(h)


def hint_branch(hints, joins=HINT_JOINS) -> tuple[dict, keras.KerasTensor]:
    """Features of user hints for the fusion network (Zhang et al. 2017's hint input).

    A strided conv pyramid on the hints; each level is added to the own encoder's map of its
    stride (so the decoder sees hints as it sees L), and all levels, upsampled to stride 4 and
    summed, form ``spread``: hints carried up to 64 pixels, which the heads take directly (a
    hint's colour reaches the output without going through layers trained for L alone).

    No layer has a bias, so all-zero hints (no hint anywhere) give all-zero features whatever
    the weights: a hint model without hints is exactly the network it was made from. The last
    layer of each join starts at zero, so before training that holds with hints too.

    Parameters
    ----------
    hints : KerasTensor, shape (N, h, w, 3)
        Hint a/b / 128 (0 where there is no hint) and the mask (1 where there is), at the
        network's input resolution.
    joins : tuple of (name, stride, channels)

    Returns
    -------
    joins : dict
        Encoder layer name -> tensor of that layer's shape, to be added to its output.
    spread : KerasTensor, shape (N, h/4, w/4, 64)
    """
    out, levels, h, stride = {}, {}, hints, 1
    for name, join_stride, channels in joins:
        while stride < join_stride:
            stride *= 2
            h = _hint_conv(h, min(128, 8 * stride), f"hint_s{stride}", stride=2)
        levels[stride] = h
        out[name] = _hint_conv(h, channels, f"hint_to_{name}", kernel=1, zero=True)
    parts = [_hint_conv(levels[4], 32, "hint_spread4", kernel=1)]
    for s in (8, 16, 32):
        up = _hint_conv(levels[s], 32, f"hint_spread{s}", kernel=1)
        parts.append(BilinearUp(s // 4, name=f"hint_up{s}")(up))
    spread = _hint_conv(layers.Add(name="hint_spread")(parts), 64, "hint_mix")
    return out, spread


def _heads(x, n_bins: int, spread=None):
    """The a/b regression (tanh) and class logits on the last decoder map; with ``spread``
    (hint features at the same stride) each head also gets a zero-initialised share of it."""
    if spread is None:
        ab = layers.Conv2D(2, 1, activation="tanh", name="ab", dtype="float32")(x)
        return ab, layers.Conv2D(n_bins, 1, name="logits", dtype="float32")(x)
    ab = layers.Conv2D(2, 1, name="ab", dtype="float32")(x)
    ab = layers.Add(name="ab_hinted")([ab, _hint_conv(spread, 2, "hint_to_ab", kernel=1, zero=True)])
    logits = layers.Conv2D(n_bins, 1, name="logits", dtype="float32")(x)
    logits = layers.Add(name="logits_hinted")(
        [logits, _hint_conv(spread, n_bins, "hint_to_logits", kernel=1, zero=True)])
    return layers.Activation("tanh", name="ab_tanh", dtype="float32")(ab), logits


def fusion_decoder(backbone_outputs, n_bins: int, width: int = 64, hints: bool = False) -> keras.Model:
    """The trainable part of the fusion network: own encoder, fusion layer, decoder, heads.

    Parameters
    ----------
    backbone_outputs : list of KerasTensor
        Symbolic outputs of the backbone, ``[f4, f8, f16, f32, g]`` (Lite0) or ``[g]``.
    n_bins : int
        Number of quantized a/b classes of the classification head.
    width : int
        Channels of the finest decoder stage; coarser stages have 2x, 4x.
    hints : bool
        Also take hints (see :func:`hint_branch`) as a second input, after x.

    Returns
    -------
    keras.Model
        Inputs ``[x, (hints,) *backbone features]`` with x = L/50 - 1 of shape (N, h, w, 1); outputs
        ``[ab, logits]`` at stride 4: (N, h/4, w/4, 2) in [-1, 1] and (N, h/4, w/4, n_bins).
    """
    x_in = keras.Input((None, None, 1), name="x")
    hints_in = [keras.Input((None, None, 3), name="hints")] if hints else []
    feats = [keras.Input(t.shape[1:], name=f"feat{i}") for i, t in enumerate(backbone_outputs)]
    g = feats[-1]
    joins, spread = hint_branch(hints_in[0]) if hints else ({}, None)

    def enc(x, filters, name):
        x = _conv(x, filters, stride=2, name=name)
        return layers.Add(name=f"{name}_hinted")([x, joins[name]]) if name in joins else x

    # Own encoder on L: fine detail the classifier's features may have lost.
    e = enc(x_in, 32, "enc1")
    e4 = enc(e, 64, "enc2")
    e8 = enc(e4, 128, "enc3")
    bottleneck = enc(e8, 256, "enc4")
    bottleneck = enc(bottleneck, 256, "enc5")
    skips = {}
    if len(feats) == 5:
        f4, f8, f16, f32 = feats[:4]
        skips = {16: f16, 8: f8, 4: f4}
        bottleneck = layers.Concatenate(name="enc_with_backbone")([bottleneck, f32])

    # Fusion: the global vector, repeated over the bottleneck grid, mixed in by a 1x1 conv.
    g = layers.Dense(256, activation="relu", name="global_proj")(g)
    g = layers.Reshape((1, 1, 256))(g)
    tiled = g * ops.ones_like(bottleneck[..., :1])
    x = layers.Concatenate(name="fuse_concat")([bottleneck, tiled])
    x = _conv_bn(x, 256, "fusion", kernel=1)

    for stride, filters in ((16, 4 * width), (8, 2 * width), (4, width)):
        x = BilinearUp(2, name=f"up{stride}")(x)
        parts = [x, skips[stride]] if stride in skips else [x]
        if stride == 8:
            parts.append(e8)
        if stride == 4:
            parts.append(e4)
        x = layers.Concatenate(name=f"skip{stride}")(parts) if len(parts) > 1 else x
        x = _conv_bn(x, filters, f"dec{stride}a")
        x = _conv_bn(x, filters, f"dec{stride}b")
    ab, logits = _heads(x, n_bins, spread)
    return keras.Model([x_in, *hints_in, *feats], [ab, logits], name="fusion_decoder")


@dataclass
class Nets:
    """A network and the pieces inference needs.

    ``model`` maps L (N, h, w, 1) to its outputs (ab, or [ab, logits] for fusion). For fusion,
    ``backbone`` and ``decoder`` are also reachable alone, so that tiles can share a whole-image
    global vector; ``bins`` are the a/b centres of the classification head (n_bins, 2).
    With ``hints`` (fusion only), ``model`` and ``decoder`` take hints (N, h, w, 3) as their
    second input (see :func:`hint_branch`).
    """

    arch: str
    model: keras.Model
    backbone: keras.Model | None = None
    decoder: keras.Model | None = None
    bins: np.ndarray | None = None
    decode: dict = field(default_factory=lambda: {"temperature": 0.38, "mix": 0.0, "gain": 1.0})
    stride: int = 1
    hints: bool = False
    _readouts: dict = field(default_factory=dict, repr=False)  # (model, decode) -> model
    # One call at a time: Keras's predict_on_batch is not documented as thread-safe, and the
    # server's workers share one network.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # Inference goes through predict_on_batch: the backend's compiled function (a TensorFlow
    # graph, jax.jit), not layer-by-layer eager calls. On TensorFlow that measured 2.5x the frames
    # per second, and the compiled call releases the GIL, so the video pipeline's other
    # threads run meanwhile. After two input shapes TensorFlow's function generalizes to open
    # sizes (every layer traces with them), so a third shape is not traced again.

    def _predict(self, model, inputs):
        with self._lock:
            return model.predict_on_batch(inputs)

    def readout(self, model: keras.Model) -> keras.Model:
        """``model`` (fusion: the whole network or the decoder) followed by :func:`decode_ab`
        with the current read-out, as one network: the read-out then runs inside the compiled
        function. As eager ops after it, it took a quarter of a video frame's inference time."""
        key = (id(model), tuple(sorted(self.decode.items())))
        with self._lock:
            if key not in self._readouts:
                bins, decode = self.bins, dict(self.decode)
                ab = layers.Lambda(lambda heads: decode_ab(heads[0], heads[1], bins, **decode),
                                   name="read_out")(list(model.outputs))
                self._readouts[key] = keras.Model(model.inputs, ab, name=f"{model.name}_read_out")
            return self._readouts[key]

    def _backbone_features(self, L: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """x = L/50 - 1 and the backbone's outputs for L (N, h, w, 1)."""
        x = (np.asarray(L, np.float32) / 50.0 - 1.0).astype(np.float32)
        return x, list(self._predict(self.backbone, np.concatenate([x, x, x], axis=-1)))

    def global_features(self, L: np.ndarray) -> np.ndarray:
        return np.asarray(self._backbone_features(L)[1][-1])

    def _hint_planes(self, L: np.ndarray, hints) -> list[np.ndarray]:
        """The network's hint input for L (N, h, w, 1): ``[]`` for a model without one, else
        a/b / 128 and mask, (N, h, w, 3); all zero (no hints) when ``hints`` is None."""
        if not self.hints:
            return []
        if hints is None:
            return [np.zeros(L.shape[:3] + (3,), np.float32)]
        ab, mask = (np.asarray(h, np.float32) for h in hints)
        return [np.concatenate([ab * mask / 128.0, mask], axis=-1).astype(np.float32)]

    def _fusion_inputs(self, L: np.ndarray, global_features: np.ndarray | None, hints=None):
        """The fusion network to run on L (N, h, w, 1), and its inputs: the whole network, or
        the decoder with a given global vector in place of L's own."""
        L = np.asarray(L, np.float32)
        planes = self._hint_planes(L, hints)
        if global_features is None:
            return self.model, [L, *planes] if planes else L
        x, feats = self._backbone_features(L)
        g = np.asarray(global_features, np.float32)
        feats[-1] = np.broadcast_to(g, (L.shape[0], g.shape[-1])).copy()
        return self.decoder, [x, *planes, *feats]

    def predict_ab_and_backbone(self, L: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Fusion only: :meth:`predict_ab` of L (N, h, w, 1) (no hints, its own global
        vector) and the backbone's outputs, the backbone run once for both."""
        L = np.asarray(L, np.float32)
        x, feats = self._backbone_features(L)
        inputs = [x, *self._hint_planes(L, None), *feats]
        ab = np.asarray(self._predict(self.readout(self.decoder), inputs), np.float32) * 128.0
        return resize_ab(ab, L.shape[1:3]), feats

    def predict_heads(self, L: np.ndarray, global_features: np.ndarray | None = None, hints=None):
        """Fusion only: the raw heads, (ab / 128 at stride 4, logits), for L (N, h, w, 1)."""
        ab_reg, logits = self._predict(*self._fusion_inputs(L, global_features, hints))
        return np.asarray(ab_reg), np.asarray(logits)

    def predict_ab(self, L: np.ndarray, global_features: np.ndarray | None = None,
                   hints=None) -> np.ndarray:
        """a/b in [-128, 128] at the input's size, shape (N, h, w, 2), for L (N, h, w, 1).

        ``hints``, for a model built with hints: (a/b (N, h, w, 2) in Lab units, mask
        (N, h, w, 1) in {0, 1}) at L's size; None is no hint anywhere.
        """
        if self.arch != "fusion":
            ab = self._predict(self.model, np.asarray(L, np.float32))
        else:
            model, inputs = self._fusion_inputs(L, global_features, hints)
            ab = self._predict(self.readout(model), inputs)
        ab = np.asarray(ab, np.float32) * 128.0
        return resize_ab(ab, L.shape[1:3])


def decode_ab(ab_reg, logits, bins, temperature: float = 0.38, mix: float = 0.0, gain: float = 1.0):
    """Read a/b out of both heads: gain * ((1 - mix) * regression + mix * annealed mean of the classes).

    Parameters
    ----------
    ab_reg : tensor, shape (N, h, w, 2), in [-1, 1]
    logits : tensor, shape (N, h, w, Q)
    bins : ndarray, shape (Q, 2), a/b centres in Lab units
    temperature : float
        Annealed-mean temperature: 1 is the mean, towards 0 the mode (more vivid).
    mix : float in [0, 1]
    gain : float
        Chroma gain: regression towards the mean makes predictions timid, and a gain chosen on
        held-out photos undoes part of that.

    Returns
    -------
    tensor, shape (N, h, w, 2), a/b / 128
    """
    if mix <= 0.0:
        return gain * ab_reg
    # The annealed mean as exp, then one 1x1 convolution giving both the weighted sum of the
    # bins' a/b and the sum of the weights (the softmax's denominator), then one division:
    # the same numbers as softmax and einsum, but OpenVINO keeps every step in its channel
    # layout instead of transposing the logits (benchmarks/RESULTS.md, "Runtimes").
    z = ops.cast(logits, "float32") * (1.0 / temperature)
    e = ops.exp(z - ops.max(z, axis=-1, keepdims=True))
    bins = np.asarray(bins, np.float32)
    kernel = np.concatenate([bins * (gain * mix / 128.0), np.ones((len(bins), 1), np.float32)], 1)
    sums = ops.conv(e, ops.convert_to_tensor(kernel[None, None]), padding="valid")
    return gain * (1.0 - mix) * ab_reg + sums[..., :2] / sums[..., 2:]


def build(arch: str, backbone: str = "efficientnet_lite0", n_bins: int = 0, width: int = 64,
          bins: list | None = None, tune_from: int | None = None, hints: bool = False) -> Nets:
    """Build a network by name.

    Parameters
    ----------
    arch : {"alpha", "beta", "fusion"}
    backbone : str
        Fusion only: see :data:`vidcolor.models.backbones.BACKBONES`.
    n_bins : int
        Fusion only: size of the classification head (0 uses len(bins) or the default grid).
    width : int
        Fusion only: channels of the finest decoder stage.
    bins : list of [a, b], optional
        Fusion only: centres of the a/b classes.
    tune_from : int, optional
        Fusion with Lite0 only: train the backbone from this block on (and its head conv);
        None keeps it frozen. See :func:`vidcolor.models.backbones.tune_lite0`.
    hints : bool
        Fusion only: also take user hints (a/b and mask) as a second input, through a branch
        that contributes nothing without hints (:func:`hint_branch`).
    """
    if arch == "alpha":
        return Nets("alpha", alpha())
    if arch == "beta":
        return Nets("beta", beta())
    if arch != "fusion":
        from vidcolor.errors import VidcolorError

        raise VidcolorError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHS)}")
    from vidcolor.models.backbones import build_backbone, tune_lite0

    bins_array = np.asarray(bins if bins is not None else ab_grid(), np.float32).reshape(-1, 2)
    bb = build_backbone(backbone)
    if tune_from is not None:
        tune_lite0(bb, tune_from)
    decoder = fusion_decoder(bb.outputs, len(bins_array), width, hints)
    L, x = _lightness_input()
    hints_in = [keras.Input((None, None, 3), name="hints")] if hints else []
    rgb = layers.Concatenate(name="grey_rgb")([x, x, x])
    feats = bb(rgb, training=False)
    outputs = decoder([x, *hints_in, *feats])
    model = keras.Model([L, *hints_in] if hints else L, outputs, name="fusion")
    return Nets("fusion", model, backbone=bb, decoder=decoder, bins=bins_array, stride=4, hints=hints)


def ab_grid(step: float = 10.0, limit: float = 110.0) -> np.ndarray:
    """Centres of the a/b quantization grid that are reachable in sRGB at some lightness.

    Returns
    -------
    ndarray of float32, shape (Q, 2)
    """
    from vidcolor import color

    centres = np.arange(-limit, limit + 1e-3, step, dtype=np.float32)
    a, b = np.meshgrid(centres, centres, indexing="ij")
    grid = np.stack([a.ravel(), b.ravel()], -1)
    L = np.linspace(5, 95, 19, dtype=np.float32)
    Lg = np.repeat(L[:, None], len(grid), 1)
    abg = np.broadcast_to(grid, Lg.shape + (2,))
    rgb = color.lab_to_rgb(Lg, abg, np.uint16)
    back_L, back_ab = color.rgb_to_lab(rgb)
    in_gamut = (np.abs(back_ab - abg).max(-1) < step / 2).any(0)
    return grid[in_gamut]


def _own_variables(nets: Nets) -> list:
    if nets.decoder is None:
        return list(nets.model.weights)
    return list(nets.decoder.weights) + list(nets.backbone.trainable_weights)


def own_weights(nets: Nets) -> dict[str, np.ndarray]:
    """Every weight to store: all but the frozen part of the backbone's (which has its own source)."""
    return {v.path: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in _own_variables(nets)}


def set_own_weights(nets: Nets, weights: dict[str, np.ndarray]) -> None:
    """Assign stored weights (see :func:`own_weights`) to the network's variables.

    Raises
    ------
    VidcolorError
        Weights that do not fit: missing or extra names, other shapes, or not numbers; checked
        for all of them before any is assigned.
    """
    from vidcolor.errors import VidcolorError

    variables = {v.path: v for v in _own_variables(nets)}
    missing = sorted(set(variables) - set(weights))
    extra = sorted(set(weights) - set(variables))
    if missing or extra:
        raise VidcolorError(f"weights do not match the network (missing {missing[:3]}, extra {extra[:3]})")
    for path, variable in variables.items():
        value = np.asarray(weights[path])
        if value.dtype.kind not in "fiu" or value.shape != tuple(variable.shape):
            raise VidcolorError(f"weights do not match the network ({path}: {value.dtype} "
                                f"{value.shape}, the network's is {tuple(variable.shape)})")
    for path, variable in variables.items():
        variable.assign(np.asarray(weights[path], dtype=variable.dtype))


def train_hints_only(nets: Nets) -> None:
    """Freeze everything but the hint branch: the network without hints then stays exactly the
    one it was made from (the branch has no biases), so fine-tuning for hints cannot cost the
    automatic result anything."""
    for layer in nets.decoder.layers:
        layer.trainable = layer.name.startswith("hint_")


def set_decoding(nets: Nets, decode: dict | None) -> None:
    from vidcolor.models.ir import read_out

    if decode:
        nets.decode = read_out(decode)
