"""The backbone in bf16 but for its sensitive layers: which layers run bf16, and the OpenVINO
network that keeps the others in float32.

OpenVINO's CPU plugin runs a whole network in bf16 when asked (``INFERENCE_PRECISION_HINT``), but
leaves a layer in its own precision when the layer carries the ``DisablePrecisionConversion``
runtime attribute (read from the IR; Python has no API that sets it, so :func:`keep_float32`
writes the network out as IR, adds the attribute and reads it back).

The backbone in bf16 everywhere moved a/b by up to 14 units; the most from its first layers
(the input rounded to bf16, the stem, the first depthwise convolution), but every layer adds
some (benchmarks/RESULTS.md "Runtimes", ``python -m benchmarks.backbone_bf16``).
:data:`BF16_CONVOLUTIONS` are the 1x1 convolutions of the later residual blocks that changed a/b
least for the time they save, as many as kept a/b within 2 units of float32, with the bf16
decoder, on CBSD68 and on archival film; every other layer (and the input) stays float32.
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

__all__ = ["BF16_CONVOLUTIONS", "layer_groups", "float32_layers", "keep_float32"]

# Indices among EfficientNet-Lite0's convolutions in the order the network runs them ->
# (output, input) channels of the 1x1 convolutions that run bf16: the expansions and
# projections of the two residual blocks at 112 channels, the expansions of the three at 192,
# and the head.
BF16_CONVOLUTIONS = {27: (672, 112), 29: (112, 672), 30: (672, 112), 32: (112, 672),
                     36: (1152, 192), 39: (1152, 192), 42: (1152, 192), 48: (1280, 320)}
LITE0_CONVOLUTIONS = 49
CONVOLUTIONS = ("Convolution", "GroupConvolution")
# The attribute's value: no conversion from any precision to a lower one (the CPU plugin asks
# whether conversion to f16 is disabled, for bf16 too).
KEEP = {"name": "DisablePrecisionConversion", "version": "0", "value": "dynamic:f16"}


def layer_groups(model) -> list[list]:
    """The network's operations grouped by convolution, in running order: each group a
    convolution, the bias, activation and residual sums after it, and the layout transposes
    just before it; the first group holds the transposes before the first convolution (the
    input's). Constants, conversions of weights, inputs and outputs belong to none."""
    groups, before = [[]], []
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind == "Transpose":
            before.append(op)
        elif kind in CONVOLUTIONS:
            if len(groups) == 1:
                groups[0], before = before, []
            groups.append([op, *before])
            before = []
        elif kind in ("Add", "Clamp", "ReduceMean") and len(groups) > 1:
            groups[-1].append(op)
    return groups


def float32_layers(model) -> set[str] | None:
    """Names of the backbone's operations that stay float32 (all but :data:`BF16_CONVOLUTIONS`'
    groups), or None when the network is not the EfficientNet-Lite0 these were measured on."""
    groups = layer_groups(model)
    convolutions = [group[0] for group in groups[1:]]
    if len(convolutions) != LITE0_CONVOLUTIONS:
        return None
    for index, channels in BF16_CONVOLUTIONS.items():
        shape = convolutions[index].input(1).get_partial_shape()
        if not shape.is_static or tuple(shape.to_shape())[:2] != channels:
            return None
    bf16 = {index + 1 for index in BF16_CONVOLUTIONS}
    return {op.get_friendly_name() for i, group in enumerate(groups) if i not in bf16
            for op in group}


def keep_float32(model, names: set[str]):
    """A copy of an OpenVINO model whose operations named in ``names`` keep float32 when the
    CPU plugin runs the rest in bf16 (``DisablePrecisionConversion`` on each, through IR)."""
    import numpy as np
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="vidcolor-mixed-") as folder:
        xml = Path(folder) / "model.xml"
        ov.save_model(model, xml, compress_to_fp16=False)
        tree = ET.parse(xml)
        weights = np.fromfile(xml.with_suffix(".bin"), np.uint8)
    marked = 0
    for layer in tree.getroot().iter("layer"):
        if layer.get("name") in names:
            rt_info = layer.find("rt_info")
            if rt_info is None:
                rt_info = ET.Element("rt_info")
                layer.insert(0, rt_info)
            ET.SubElement(rt_info, "attribute", KEEP)
            marked += 1
    if marked != len(names):
        raise ValueError(f"{len(names) - marked} of the layers to keep in float32 not found")
    return ov.Core().read_model(ET.tostring(tree.getroot(), encoding="unicode"),
                                ov.Tensor(weights))
