"""What an ONNX colorization network expects and gives: :class:`Convention`, from a preset
(``--model-kind ddcolor|deoldify``) and a JSON sidecar, checked against the file's own shapes.

The sidecar is ``FILE.onnx.json`` beside the file (or beside the one ``.onnx`` file of a model
folder); every field is optional and overrides the preset's::

    {"name": "ddcolor-tiny", "kind": "ddcolor", "render_size": 512, "upsample": "plain",
     "input": {"layout": "NCHW", "mean": [0, 0, 0], "std": [1, 1, 1], "size": 512,
               "multiple": 32, "resize": "linear"},
     "output": {"kind": "ab", "scale": 1.0, "resize": "nearest"}}

- ``input``: the network sees the RGB of the grey picture (a = b = 0) in [0, 1], then
  ``(x - mean) / std``; ``layout`` NCHW or NHWC; ``size``: the square side of a fixed-size
  network (else read from the file; null for an open size, padded to ``multiple``);
  ``resize``: how the picture is brought to that size (``linear``: OpenCV's bilinear of the
  float RGB, as DDColor; ``pil-bilinear``: Pillow's of the 8-bit grey, as DeOldify).
- ``output``: ``ab`` (a/b in Lab units times ``1 / scale``) or ``rgb`` (an sRGB picture,
  normalized with ``mean``/``std``, whose Lab chroma is taken); ``resize``: how it is brought
  back to the picture's size (``nearest``, ``linear``, ``pil-bilinear``).
- ``upsample``: ``plain`` (the default for a fixed size): the network sees the picture resized
  straight from full resolution and its chroma goes back by ``output.resize``, exactly as its
  own pipeline (:mod:`vidcolor.models.onnx_resize`); ``guided`` (the default for an open size):
  vidcolor's render and its upsampling guided by the picture's lightness.

Nothing here imports a runtime: the file's shapes come in as plain tuples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from vidcolor.errors import VidcolorError

__all__ = ["Convention", "PRESETS", "KINDS", "read_sidecar", "convention", "check_against"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZES_IN = ("linear", "pil-bilinear")
RESIZES_OUT = ("nearest", "linear", "pil-bilinear")
UPSAMPLES = ("plain", "guided")


@dataclass(frozen=True)
class Convention:
    """How to feed one network and read its output (see the module docstring)."""

    layout: str = "NCHW"
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)
    size: int | None = None  # None: the file's own (fixed) size, or open when it has none
    multiple: int = 32
    resize_in: str = "linear"
    output: str = "ab"
    scale: float = 1.0  # ab = network output * scale
    out_mean: tuple = (0.0, 0.0, 0.0)
    out_std: tuple = (1.0, 1.0, 1.0)
    resize_out: str = "linear"
    render_size: int | None = None
    name: str | None = None
    upsample: str | None = None  # None: plain for a fixed size, guided for an open one


# DDColor (github.com/piddnad/DDColor, ddcolor/pipeline.py, scripts/export_onnx.py): the float
# BGR picture resized (cv2.resize, bilinear) to the export's square, its L alone turned back to
# RGB (cv2 Lab), NCHW in [0, 1] (the network normalizes inside); out: a/b in Lab units at that
# square, brought back with F.interpolate's default (nearest) and joined with the original L.
# DeOldify (github.com/jantic/DeOldify, deoldify/filters.py): the picture stretched to a
# render_factor * 16 square (Pillow, bilinear), made grey ('LA' then 'RGB'), /255, ImageNet
# normalized; out: an RGB picture, denormalized, * 255 to 8 bits, stretched back (Pillow,
# bilinear), whose chroma is taken (DeOldify joins in YUV; vidcolor keeps Lab L, see README).
PRESETS = {
    "ddcolor": Convention(resize_in="linear", output="ab", resize_out="nearest"),
    "deoldify": Convention(mean=IMAGENET_MEAN, std=IMAGENET_STD, resize_in="pil-bilinear",
                           output="rgb", out_mean=IMAGENET_MEAN, out_std=IMAGENET_STD,
                           resize_out="pil-bilinear"),
}
KINDS = tuple(PRESETS)


def read_sidecar(path: Path) -> dict | None:
    """The sidecar JSON at ``path``, or None when there is none.

    Raises
    ------
    VidcolorError
        Unreadable, not JSON, or not a JSON object (one line naming the file).
    """
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise VidcolorError(f"{path}: unreadable sidecar ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise VidcolorError(f"{path}: the sidecar must be a JSON object")
    return data


_INPUT_FIELDS = {"layout": "layout", "mean": "mean", "std": "std", "size": "size",
                 "multiple": "multiple", "resize": "resize_in"}
_OUTPUT_FIELDS = {"kind": "output", "scale": "scale", "mean": "out_mean", "std": "out_std",
                  "resize": "resize_out"}


def _fields(section, mapping: dict, where: str) -> dict:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise VidcolorError(f"{where} must be a JSON object")
    unknown = sorted(set(section) - set(mapping))
    if unknown:
        raise VidcolorError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(mapping)})")
    return {mapping[k]: tuple(v) if isinstance(v, list) else v for k, v in section.items()}


def convention(kind: str | None, sidecar: dict | None, where: str = "sidecar") -> Convention:
    """The convention of a network: the preset of ``kind`` (or the sidecar's ``kind``), with
    the sidecar's fields over it.

    Raises
    ------
    VidcolorError
        An unknown kind, neither a kind nor a sidecar, unknown or ill-typed fields.
    """
    sidecar = dict(sidecar or {})
    if "vidcolor" in sidecar and "format" in sidecar:  # `vidcolor export`'s description
        raise VidcolorError(f"{where}: this file is vidcolor's own network exported for other "
                            "programs; give vidcolor its model directory instead")
    top = {"name", "kind", "render_size", "upsample", "input", "output"}
    unknown = sorted(set(sidecar) - top)
    if unknown:
        raise VidcolorError(f"{where}: unknown field {unknown[0]!r} "
                            f"(known: {', '.join(sorted(top))})")
    kind = kind or sidecar.get("kind")
    if kind is not None and kind not in PRESETS:
        raise VidcolorError(f"unknown model kind {kind!r}; choose from {', '.join(KINDS)}")
    if kind is None and not sidecar:
        raise VidcolorError(f"{where}: an ONNX file needs --model-kind ({'|'.join(KINDS)}) or a "
                            f"sidecar {Path(where).name}.json describing its input and output")
    fields = {**_fields(sidecar.get("input"), _INPUT_FIELDS, f"{where}: 'input'"),
              **_fields(sidecar.get("output"), _OUTPUT_FIELDS, f"{where}: 'output'"),
              "name": sidecar.get("name"), "render_size": sidecar.get("render_size"),
              "upsample": sidecar.get("upsample")}
    conv = replace(PRESETS.get(kind, Convention()), **fields)
    problem = _problem(conv)
    if problem:
        raise VidcolorError(f"{where}: {problem}")
    return conv


def _problem(c: Convention) -> str | None:
    """What is wrong with a convention's values, or None."""
    def positive(v):
        return v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0)

    checks = [
        (c.layout in ("NCHW", "NHWC"), "'layout' must be NCHW or NHWC"),
        (c.output in ("ab", "rgb"), "output 'kind' must be ab or rgb"),
        (c.upsample in (None,) + UPSAMPLES, f"'upsample' must be {' or '.join(UPSAMPLES)}"),
        (c.resize_in in RESIZES_IN, f"input 'resize' must be one of {', '.join(RESIZES_IN)}"),
        (c.resize_out in RESIZES_OUT, f"output 'resize' must be one of {', '.join(RESIZES_OUT)}"),
        (positive(c.size) and positive(c.multiple) and positive(c.render_size),
         "'size', 'multiple' and 'render_size' must be positive whole numbers"),
        (all(_numbers(v, 3) for v in (c.mean, c.std, c.out_mean, c.out_std))
         and min(c.std + c.out_std) > 0, "'mean' and 'std' must be 3 numbers (std > 0)"),
        (isinstance(c.scale, (int, float)) and not isinstance(c.scale, bool) and c.scale > 0,
         "output 'scale' must be a positive number"),
        (c.name is None or isinstance(c.name, str), "'name' must be a string"),
    ]
    return next((why for ok, why in checks if not ok), None)


def _numbers(v, n: int) -> bool:
    return (isinstance(v, tuple) and len(v) == n
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v))


def _dim(d) -> int | None:
    """A graph dimension: its size, or None when it is open (a name or unknown)."""
    return d if isinstance(d, int) and d > 0 else None


def check_against(conv: Convention, in_shape: tuple, out_shape: tuple,
                  where: str) -> Convention:
    """The convention completed with the file's shapes, or a one-line error where the file
    and the convention disagree.

    Parameters
    ----------
    in_shape, out_shape : tuple
        The graph's first input and output shapes (ints, or names/None for open dimensions).

    Returns
    -------
    Convention
        With ``size`` set to the file's fixed square side (None for open sizes).
    """
    if len(in_shape) != 4:
        raise VidcolorError(f"{where}: the input has rank {len(in_shape)}; a colorization "
                            "network takes a batch of pictures (rank 4)")
    if len(out_shape) != 4:
        raise VidcolorError(f"{where}: the output has rank {len(out_shape)}; expected a batch "
                            "of pictures (rank 4)")
    nchw = conv.layout == "NCHW"
    channels = _dim(in_shape[1] if nchw else in_shape[3])
    if channels != 3:
        raise VidcolorError(f"{where}: the input is {_spell(in_shape)}, not 3 channels in "
                            f"{conv.layout} layout (check the sidecar's 'layout')")
    out_channels = _dim(out_shape[1] if nchw else out_shape[3])
    if out_channels not in (2, 3):
        raise VidcolorError(f"{where}: the output is {_spell(out_shape)}; expected 2 (a/b) or 3 "
                            f"(RGB) channels in {conv.layout} layout")
    expected = 2 if conv.output == "ab" else 3
    if out_channels != expected:
        raise VidcolorError(f"{where}: the output has {out_channels} channels but the "
                            f"convention says {conv.output} ({expected})")
    h, w = (in_shape[2], in_shape[3]) if nchw else (in_shape[1], in_shape[2])
    h, w = _dim(h), _dim(w)
    if (h is None) != (w is None) or (h is not None and h != w):
        raise VidcolorError(f"{where}: the input is {_spell(in_shape)}; a fixed size must be "
                            "square, an open one open in both sides")
    if conv.size is not None and h is not None and conv.size != h:
        raise VidcolorError(f"{where}: the sidecar says size {conv.size} but the file takes "
                            f"{_spell(in_shape)}")
    return replace(conv, size=h if h is not None else conv.size)


def _spell(shape) -> str:
    return "x".join(str(d) if _dim(d) else "?" for d in shape)
