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

A plan with ``max_colourfulness_drop`` quantizes each part with NNCF's accuracy control: layers
whose INT8 costs most are put back in float until the mean colourfulness of validation
pictures (training photos, never a benchmark's) falls by at most that much against the same
pipeline with this part in float. The backbone goes first (decoder float), then the decoder
(behind the INT8 backbone), so the two drops add up to at most twice the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vidcolor.errors import VidcolorError
from vidcolor.models.ov_tools import import_openvino, no_usage_reports
from vidcolor.models.shapes import backbone_input

__all__ = ["Int8Plan", "PLANS", "backbone_input", "calibration_items", "edge_layers",
           "quantize_parts",
           "validation_colourfulness"]

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
    max_colourfulness_drop : float or None
        With a value, NNCF's accuracy control on validation pictures (see the module
        docstring): the drop allowed to each part, in colourfulness units.
    max_reverts : int
        Accuracy control: at most this many rounds of putting layers back in float a part.
    """

    parts: tuple[str, ...] = PARTS
    preset: str = "performance"
    keep_edges: bool = False
    fast_bias_correction: bool = True
    max_colourfulness_drop: float | None = None
    max_reverts: int = 20

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
    # Issue 30: accuracy control against the colourfulness the plans above lose. The rule,
    # fixed before it met CBSD68 or the held-out photos: it is measured by benchmarks/int8.py
    # (whose bars decide) only if its validation colourfulness (int8.json) falls by <= 0.3.
    "int8-both-ac": Int8Plan(max_colourfulness_drop=0.15),
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
    ov = import_openvino()

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


def _quantize_one(model, items: list, plan: Int8Plan, validation=None):
    """One part in INT8; ``validation``: ``(items, score)`` for accuracy control, ``score``
    mapping (compiled part, validation items) to (mean, per-picture colourfulness)."""
    import nncf

    preset = {"performance": nncf.QuantizationPreset.PERFORMANCE,
              "mixed": nncf.QuantizationPreset.MIXED}[plan.preset]
    ignored = nncf.IgnoredScope(names=edge_layers(model)) if plan.keep_edges else None
    kwargs = {"ignored_scope": ignored} if ignored is not None else {}
    kwargs.update(preset=preset, target_device=nncf.TargetDevice.CPU, subset_size=len(items),
                  fast_bias_correction=plan.fast_bias_correction)
    if plan.max_colourfulness_drop is None:
        return nncf.quantize(model, nncf.Dataset(items), **kwargs)
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    val_items, score = validation
    restorer = AdvancedAccuracyRestorerParameters(max_num_iterations=plan.max_reverts,
                                                  num_ranking_workers=1)
    return nncf.quantize_with_accuracy_control(
        model, nncf.Dataset(items), nncf.Dataset(val_items), score,
        max_drop=plan.max_colourfulness_drop, drop_type=nncf.DropType.ABSOLUTE,
        advanced_accuracy_restorer_parameters=restorer, **kwargs)


def picture_colourfulness(ab: np.ndarray, L: np.ndarray) -> float:
    """Colourfulness of the RGB picture of a network's a/b on its lightness.

    Parameters
    ----------
    ab : ndarray, shape (1, h', w', 2), a/b / 128 at the network's stride
    L : ndarray, shape (h, w), in [0, 100]
    """
    from vidcolor.color import lab_to_rgb
    from vidcolor.metrics import colourfulness
    from vidcolor.models.shapes import resize_ab

    ab = resize_ab(np.asarray(ab, np.float32) * 128.0, L.shape)[0]
    return colourfulness(lab_to_rgb(L, ab))


def _scorer(decoder=None):
    """NNCF's validation function: a compiled backbone (with ``decoder``, compiled) or a
    compiled decoder (without) -> (mean colourfulness, each picture's)."""
    def score(compiled, items):
        values = []
        for inputs, L in items:
            out = compiled(inputs)
            outs = [np.asarray(out[o]) for o in compiled.outputs]
            if decoder is not None:
                outs = [np.asarray(decoder([np.ascontiguousarray(inputs[0][..., :1]), *outs])[0])]
            values.append(picture_colourfulness(outs[0], L))
        return float(np.mean(values)), values
    return score


def validation_colourfulness(parts: dict, Ls: Sequence[np.ndarray]) -> float:
    """Mean colourfulness of the two parts' pictures for lightness ``Ls`` (each (h, w) in
    [0, 100], multiples of 32): what accuracy control holds."""
    val = calibration_items(parts["backbone"], Ls)["backbone"]
    return _scorer(_compiled_f32(parts["decoder"]))(_compiled_f32(parts["backbone"]),
                                                    list(zip(val, Ls)))[0]


def _compiled_f32(model):
    ov = import_openvino()

    return ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def quantize_parts(parts: dict, Ls: Sequence[np.ndarray], plan: Int8Plan = Int8Plan(),
                   validation: Sequence[np.ndarray] = ()) -> dict:
    """INT8 versions of a fusion network's parts, calibrated on ``Ls``.

    Parameters
    ----------
    parts : dict
        ``{"backbone": openvino.Model, "decoder": openvino.Model}``, float, open sizes.
    Ls : sequence of ndarray, each (h, w) in [0, 100], h and w multiples of 32
        Calibration lightness at render size (training photos; never validation ones).
    plan : Int8Plan
    validation : sequence of ndarray, each (h, w) in [0, 100], h and w multiples of 32
        Lightness of the validation pictures for a plan with accuracy control (other
        training photos than ``Ls``; never a benchmark's).

    Returns
    -------
    dict
        The same keys; the parts in ``plan.parts`` quantized, the others the given models.

    Raises
    ------
    VidcolorError
        No calibration pictures, parts other than backbone and decoder, NNCF missing, or
        accuracy control without validation pictures.
    """
    if set(parts) != set(PARTS):
        raise VidcolorError(f"INT8 needs a fusion model's {' and '.join(PARTS)}")
    if not len(Ls):
        raise VidcolorError("INT8 calibration needs at least one picture")
    no_usage_reports()  # NNCF reports too, from its import on
    try:
        import nncf  # noqa: F401
    except ImportError:
        raise VidcolorError("quantizing needs NNCF: pip install nncf") from None
    items = calibration_items(parts["backbone"], Ls)
    if plan.max_colourfulness_drop is None:
        return {name: _quantize_one(model, items[name], plan) if name in plan.parts else model
                for name, model in parts.items()}
    if not validation:
        raise VidcolorError("accuracy control needs validation pictures")
    out = dict(parts)
    if "backbone" in plan.parts:
        val = calibration_items(parts["backbone"], validation)["backbone"]
        out["backbone"] = _quantize_one(parts["backbone"], items["backbone"], plan,
                                        (list(zip(val, validation)),
                                         _scorer(_compiled_f32(parts["decoder"]))))
    if "decoder" in plan.parts:
        val = calibration_items(out["backbone"], validation)["decoder"]
        out["decoder"] = _quantize_one(parts["decoder"], items["decoder"], plan,
                                       (list(zip(val, validation)), _scorer()))
    return out
