"""TensorFlow graphs of a loaded network: what other runtimes and file formats are converted
from.

Every converter here (OpenVINO, tf2onnx, TFLite, SavedModel) starts from a ``tf.function``
traced with an open batch and, unless a height and width are given, open height and width too.
The decoder's bilinear upsampling, :class:`~vidcolor.models.resample.BilinearUp`, is traced as
TensorFlow's own resize with a size computed in the graph (:func:`bilinear_resize`): one op of
the same numbers at any size, which the converters turn into theirs (OpenVINO's Interpolate,
ONNX's Resize, TFLite's RESIZE_BILINEAR) instead of a dozen slices and sums. Heights and
widths fed to any of these graphs must be multiples of :data:`MULTIPLE`, given or not when
traced.

The graphs take what :class:`~vidcolor.models.nets.Nets` takes and give what it gives before
the final resize: a/b / 128 at ``1 / nets.stride`` of the input size, after the read-out
(:func:`~vidcolor.models.nets.decode_ab`). A hint model's hint input is fed zeros (no hints),
so every graph here is the automatic network.
"""

from __future__ import annotations

import functools

from vidcolor.models.shapes import MULTIPLE, check_shape, feature_stride

__all__ = ["MULTIPLE", "bilinear_resize", "check_shape", "input_spec", "input_specs", "part",
           "whole"]


def _check_open_or_fixed(height: int | None, width: int | None) -> None:
    """Both None (open), or a shape :func:`check_shape` takes."""
    if (height is None) != (width is None):
        raise ValueError("give both height and width, or neither")
    if height is not None:
        check_shape(height, width)


def _tf():
    import tensorflow as tf

    return tf


def _feature_specs(nets, height: int | None, width: int | None) -> list:
    """TensorSpecs of the backbone's outputs at an input of (height, width), None: open."""
    tf = _tf()
    specs = []
    for t in nets.backbone.outputs:
        if len(t.shape) == 2:  # the pooled global vector
            specs.append(tf.TensorSpec([None, t.shape[-1]], tf.float32))
            continue
        stride = feature_stride(len(specs))
        h, w = (None, None) if height is None else (height // stride, width // stride)
        specs.append(tf.TensorSpec([None, h, w, t.shape[-1]], tf.float32))
    return specs


def bilinear_resize(x, factor: int):
    """x (N, H, W, C) resized bilinearly to (N, factor H, factor W, C) by TensorFlow, H and W
    read in the graph (open sizes trace): half-pixel centres, edges clamped, no antialias, the
    numbers of :class:`~vidcolor.models.resample.BilinearUp`."""
    tf = _tf()
    resized = tf.image.resize(x, tf.shape(x)[1:3] * factor, method="bilinear")
    return tf.cast(resized, x.dtype)  # TensorFlow's bilinear resize gives float32


def _resizing_natively(fn):
    """``fn`` (a function of tensors that runs a network), its BilinearUp layers computed by
    :func:`bilinear_resize` whenever it is traced, by whichever converter traces it."""
    from vidcolor.models.resample import resizing_with

    @functools.wraps(fn)
    def run(*args):
        with resizing_with(bilinear_resize):
            return fn(*args)

    return run


def _zero_hints(nets, x):
    """The hint input of a hint model, all zero (no hints): ``[]`` for other models."""
    tf = _tf()
    if not nets.hints:
        return []
    shape = tf.concat([tf.shape(x)[:3], [3]], axis=0)
    return [tf.zeros(shape, tf.float32)]


def whole_function(nets):
    """The whole network with its read-out as a Python function of L (N, h, w, 1) in [0, 100]
    that returns a/b / 128 at ``1 / nets.stride`` of the size; trace it with :func:`whole`."""
    if nets.arch != "fusion":
        model = nets.model
        return _resizing_natively(lambda L: model(L, training=False))
    model = nets.readout(nets.model)

    def run(L):
        return model([L, *_zero_hints(nets, L)] if nets.hints else L, training=False)

    return _resizing_natively(run)


def input_spec(height: int | None = None, width: int | None = None):
    """The TensorSpec of L: (open batch, height, width, 1), float32, named ``L``; height and
    width None (the default): open."""
    tf = _tf()
    _check_open_or_fixed(height, width)
    return tf.TensorSpec([None, height, width, 1], tf.float32, name="L")


def whole(nets, height: int | None = None, width: int | None = None):
    """:func:`whole_function` traced at (height, width), None: open (see :func:`input_spec`).

    Returns
    -------
    tf.types.experimental.ConcreteFunction
        One input, ``L``; one output, shape (N, h / stride, w / stride, 2).
    """
    return _tf().function(whole_function(nets)).get_concrete_function(input_spec(height, width))


PARTS = {"fusion": ("backbone", "decoder"), "alpha": ("whole",), "beta": ("whole",)}


def part(nets, name: str, height: int | None = None, width: int | None = None):
    """One piece of the network, for runtimes that run the pieces at different precisions.

    Parameters
    ----------
    nets : vidcolor.models.nets.Nets
    name : str
        One of ``PARTS[nets.arch]``. Fusion: ``"backbone"``, x3 (N, h, w, 3) = L/50 - 1 in
        three channels -> the backbone's outputs (the last one the global vector);
        ``"decoder"``, (x (N, h, w, 1), *those outputs) -> a/b / 128 after the read-out.
        Other architectures: ``"whole"`` (see :func:`whole`).
    height, width : int, optional
        A fixed input size for the decoder and the whole network; None (the default): open.
        The backbone is always traced open.

    Returns
    -------
    tf.types.experimental.ConcreteFunction
    """
    tf = _tf()
    if name == "whole":
        return whole(nets, height, width)
    if name == "backbone":
        backbone = nets.backbone
        return tf.function(lambda x3: backbone(x3, training=False)).get_concrete_function(
            *input_specs(nets, name))
    decoder = nets.readout(nets.decoder)

    def run_decoder(x, *feats):
        return decoder([x, *_zero_hints(nets, x), *feats], training=False)

    return tf.function(_resizing_natively(run_decoder)).get_concrete_function(
        *input_specs(nets, name, height, width))


def input_specs(nets, name: str, height: int | None = None, width: int | None = None) -> list:
    """The TensorSpecs of the inputs of :func:`part` ``name``, in order, at an input size of
    (height, width) or, None, open: for fixing the size of a graph converted with open ones.
    """
    tf = _tf()
    if name == "whole":
        return [input_spec(height, width)]
    _check_open_or_fixed(height, width)
    if name == "backbone":
        return [tf.TensorSpec([None, height, width, 3], tf.float32, name="x3")]
    return [tf.TensorSpec([None, height, width, 1], tf.float32, name="x"),
            *_feature_specs(nets, height, width)]
