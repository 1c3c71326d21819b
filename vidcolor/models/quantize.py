"""INT8 for the CPU runtime: post-training quantization of the converted network's parts with
NNCF (a build step, ``pip install nncf``, in no extra while no INT8 network ships; running
INT8 networks needs only OpenVINO).

:func:`quantize_parts` takes the float OpenVINO networks of a fusion model (``backbone``: x3
(N, h, w, 3) -> the backbone's maps and global vector; ``decoder``: (x (N, h, w, 1), *those
outputs) -> a/b / 128, see :func:`vidcolor.models.tracing.part`) and calibration lightness, and
gives INT8 networks with the same inputs, outputs and open sizes. The decoder is calibrated on
what the *float* backbone gives, so a decoder quantized alone sees in calibration exactly what
it sees at run time.

Which parts and which NNCF options are an :class:`Int8Plan`; :data:`PLANS` names the ones
``benchmarks/int8.py`` compares (the numbers are in ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vidcolor.errors import VidcolorError
from vidcolor.models.shapes import backbone_input

__all__ = ["Int8Plan", "PLANS", "backbone_input", "calibration_items", "edge_layers",
           "quantize_parts"]

PARTS = ("backbone", "decoder")
WEIGHTED_OPS = ("Convolution", "GroupConvolution", "MatMul")


@dataclass(frozen=True)
class Int8Plan:
    """What to quantize and how.

    Parameters
    ----------
    parts : tuple of str
        The parts made INT8 (``"backbone"``, ``"decoder"``); the others are returned as given.
    preset : {"performance", "mixed"}
        NNCF's preset: symmetric activations (performance) or asymmetric ones (mixed).
    keep_edges : bool
        Leave each quantized part's first and last weighted layer (convolution or matrix
        product) in float: the ones nearest the pixels and the read-out.
    fast_bias_correction : bool
        NNCF's fast bias correction (False: its slower full bias correction).
    """

    parts: tuple[str, ...] = PARTS
    preset: str = "performance"
    keep_edges: bool = False
    fast_bias_correction: bool = True

    def __post_init__(self):
        if not self.parts or set(self.parts) - set(PARTS):
            raise VidcolorError(f"INT8 parts must be among {', '.join(PARTS)}, got {self.parts}")
        if self.preset not in ("performance", "mixed"):
            raise VidcolorError(f"unknown NNCF preset {self.preset!r}; performance or mixed")


#: The variants compared, by name.
PLANS = {
    "int8-both": Int8Plan(),
    "int8-both-mixed": Int8Plan(preset="mixed"),
    "int8-both-edges-f32": Int8Plan(keep_edges=True),
    "int8-decoder": Int8Plan(parts=("decoder",)),
    "int8-decoder-edges-f32": Int8Plan(parts=("decoder",), keep_edges=True),
    # Added after the five above were measured (the decoder's INT8 cost colourfulness).
    "int8-backbone": Int8Plan(parts=("backbone",)),
}


def calibration_items(backbone, Ls: Sequence[np.ndarray]) -> dict[str, list[list[np.ndarray]]]:
    """Each part's inputs for each calibration picture, one picture a batch.

    Parameters
    ----------
    backbone : openvino.Model
        The float backbone (its outputs are the decoder's calibration inputs).
    Ls : sequence of ndarray, each (h, w) in [0, 100], h and w multiples of 32 (sizes may
        differ: the networks have open sizes)

    Returns
    -------
    dict
        ``{"backbone": [[x3]], "decoder": [[x, *features]]}``, one list of inputs a picture.
    """
    import openvino as ov

    compiled = ov.Core().compile_model(backbone, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    items: dict = {"backbone": [], "decoder": []}
    for L in Ls:
        x3 = backbone_input(np.asarray(L)[None])
        out = compiled(x3)
        feats = [np.asarray(out[o]) for o in compiled.outputs]
        items["backbone"].append([x3])
        items["decoder"].append([np.ascontiguousarray(x3[..., :1]), *feats])
    return items


def edge_layers(model) -> list[str]:
    """The names of a network's first and last weighted layers (in topological order)."""
    names = [op.get_friendly_name() for op in model.get_ordered_ops()
             if op.get_type_name() in WEIGHTED_OPS]
    return sorted({names[0], names[-1]}) if names else []


def _quantize_one(model, items: list, plan: Int8Plan):
    import nncf

    preset = {"performance": nncf.QuantizationPreset.PERFORMANCE,
              "mixed": nncf.QuantizationPreset.MIXED}[plan.preset]
    ignored = nncf.IgnoredScope(names=edge_layers(model)) if plan.keep_edges else None
    kwargs = {"ignored_scope": ignored} if ignored is not None else {}
    return nncf.quantize(model, nncf.Dataset(items), preset=preset,
                         target_device=nncf.TargetDevice.CPU, subset_size=len(items),
                         fast_bias_correction=plan.fast_bias_correction, **kwargs)


def quantize_parts(parts: dict, Ls: Sequence[np.ndarray], plan: Int8Plan = Int8Plan()) -> dict:
    """INT8 versions of a fusion network's parts, calibrated on ``Ls``.

    Parameters
    ----------
    parts : dict
        ``{"backbone": openvino.Model, "decoder": openvino.Model}``, float, open sizes.
    Ls : sequence of ndarray, each (h, w) in [0, 100], h and w multiples of 32
        Calibration lightness at render size (training photos; never validation ones).
    plan : Int8Plan

    Returns
    -------
    dict
        The same keys; the parts in ``plan.parts`` quantized, the others the given models.

    Raises
    ------
    VidcolorError
        No calibration pictures, parts other than backbone and decoder, or NNCF missing.
    """
    if set(parts) != set(PARTS):
        raise VidcolorError(f"INT8 needs a fusion model's {' and '.join(PARTS)}")
    if not len(Ls):
        raise VidcolorError("INT8 calibration needs at least one picture")
    try:
        import nncf  # noqa: F401
    except ImportError:
        raise VidcolorError("quantizing needs NNCF: pip install nncf") from None
    items = calibration_items(parts["backbone"], Ls)
    return {name: _quantize_one(model, items[name], plan) if name in plan.parts else model
            for name, model in parts.items()}
