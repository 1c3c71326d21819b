"""A model directory's OpenVINO IR: the network's parts as OpenVINO files beside the Keras
weights, so that colouring needs neither Keras nor TensorFlow.

Files, next to ``config.json`` and ``weights.npz``:

- ``backbone.xml`` / ``.bin`` and ``decoder.xml`` / ``.bin`` for a fusion model (``whole.xml``
  / ``.bin`` for the others): each part as :func:`vidcolor.models.tracing.part` traces it,
  batch, height and width open, the read-out included;
- ``openvino.json``: what the IR was made from (the SHA-256 of ``weights.npz`` and of the
  build arguments, the architecture and the read-out, ``decode``) and the SHA-256 of each IR
  file (a damaged file is found before OpenVINO reads it).

A backbone whose only weights are the ImageNet ones of its package keeps ``backbone.rest.bin``
(the ``.bin`` without them, :mod:`vidcolor.models.backbone_ir`) in place of ``backbone.bin``;
the ``.bin`` is made again from it and the package when read, and its SHA-256 checked as a
stored one's.

The IR is *current* when ``openvino.json`` names the weights, build and read-out the
directory's ``config.json`` and ``weights.npz`` hold now; a directory whose IR is missing or not
current (a model trained before the IR existed, a read-out calibrated since) is converted from
Keras at load time instead. :func:`write` needs Keras; everything else here does not.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

from vidcolor.errors import VidcolorError
from vidcolor.log import logger
from vidcolor.models import file_sha256
from vidcolor.models.ov_tools import import_openvino

__all__ = ["PARTS", "MANIFEST", "part_path", "part_weights", "problem", "read_out", "read_part",
           "write"]

PARTS = {"fusion": ("backbone", "decoder"), "alpha": ("whole",), "beta": ("whole",)}
MANIFEST = "openvino.json"
FORMAT = 1
# Weights stored as float16 in the IR; the runtime computes in float32 from them (see
# benchmarks/RESULTS.md "Install and start-up" for what this changes in a/b).
COMPRESS_TO_FP16 = True
#: A part's ``.bin`` without the ImageNet weights that its package holds.
REST_SUFFIX = ".rest.bin"


def read_out(decode: dict | None) -> dict:
    """The read-out settings of a config's ``decode`` (missing ones at their defaults), as
    :func:`vidcolor.models.nets.decode_ab` takes them."""
    decode = decode or {}
    return {"temperature": float(decode.get("temperature", 0.38)),
            "mix": float(decode.get("mix", 0.0)), "gain": float(decode.get("gain", 1.0))}


def part_path(directory: str | Path, part: str) -> Path:
    """The ``.xml`` of one part (its weights are the ``.bin`` beside it)."""
    return Path(directory) / f"{part}.xml"



def part_weights(directory: str | Path, part: str) -> bytes:
    """One part's ``.bin``: the file, or made again from its ``.rest.bin`` and the ImageNet
    package (:func:`vidcolor.models.backbone_ir.with_imagenet`).

    Raises
    ------
    OSError
        A file missing or unreadable.
    VidcolorError
        The ImageNet package not installed.
    """
    xml = part_path(directory, part)
    rest = _rest_file(directory, part)
    if rest is None:
        return xml.with_suffix(".bin").read_bytes()
    return _made_again(str(xml), str(rest), xml.stat().st_mtime_ns, rest.stat().st_mtime_ns)


def _rest_file(directory: str | Path, part: str) -> Path | None:
    """The part's ``.rest.bin`` where it has one (its ``.bin`` is then made, not stored)."""
    rest = part_path(directory, part).with_suffix(REST_SUFFIX)
    return rest if rest.is_file() else None


@functools.lru_cache(maxsize=1)
def _made_again(xml: str, rest: str, *mtimes) -> bytes:
    """The whole ``.bin`` of ``xml``; cached, as a load checks it before OpenVINO reads it."""
    from vidcolor.models import backbone_ir

    return backbone_ir.with_imagenet(Path(xml).read_bytes(), Path(rest).read_bytes(),
                                     backbone_ir.lite0_state())


def read_part(core, directory: str | Path, part: str):
    """One part as an OpenVINO model, read by ``core`` (an ``openvino.Core``)."""
    import numpy as np
    ov = import_openvino()

    xml = part_path(directory, part)
    if _rest_file(directory, part) is None:
        return core.read_model(xml)
    weights = np.frombuffer(part_weights(directory, part), np.uint8)
    return core.read_model(xml.read_bytes(), ov.Tensor(weights))


def _made_from(directory: Path, config: dict) -> dict:
    """What an IR of this directory must have been made from."""
    build = json.dumps(config.get("build") or {}, sort_keys=True).encode()
    return {"format": FORMAT, "arch": config["arch"],
            "build_sha256": hashlib.sha256(build).hexdigest(),
            "decode": read_out(config.get("decode")),
            "weights_sha256": file_sha256(directory / "weights.npz")}


def problem(directory: str | Path, config: dict) -> str | None:
    """Why the directory's IR cannot be used, in a few words, or None when it is current."""
    directory = Path(directory)
    parts = PARTS.get(config["arch"])
    if parts is None:
        return f"no OpenVINO form for architecture {config['arch']!r}"
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        return "it has no OpenVINO IR"
    except (OSError, ValueError):
        return f"its {MANIFEST} is unreadable"
    if not isinstance(manifest, dict):
        return f"its {MANIFEST} is unreadable"
    missing = [p.name for p in _files(directory, parts) if not p.is_file()]
    if missing:
        return f"its OpenVINO IR lacks {missing[0]}"
    try:
        made_from = _made_from(directory, config)
        files = _file_digests(directory, parts)
    except OSError:
        return "its weights or OpenVINO IR are unreadable"
    except VidcolorError as e:
        return f"its backbone's ImageNet weights: {e}"
    if {k: manifest.get(k) for k in made_from} != made_from:
        return "its OpenVINO IR was made from other weights or another read-out"
    if manifest.get("files") != files:
        return "its OpenVINO IR files are damaged (not the ones written)"
    return None


def _files(directory: Path, parts):
    """The IR files of ``parts``: each part's ``.xml``, then its ``.rest.bin`` or ``.bin``."""
    for part in parts:
        xml = part_path(directory, part)
        yield from (xml, _rest_file(directory, part) or xml.with_suffix(".bin"))


def _file_digests(directory: Path, parts) -> dict:
    """SHA-256 of each IR file of ``parts``, by name (a ``.bin`` as :func:`part_weights`)."""
    digests = {}
    for part in parts:
        xml = part_path(directory, part)
        digests[xml.name] = file_sha256(xml)
        digests[xml.with_suffix(".bin").name] = hashlib.sha256(
            part_weights(directory, part)).hexdigest()
    return digests


def _store_without_imagenet(xml: Path) -> bool:
    """Write ``xml``'s ``.rest.bin`` beside it where its ``.bin`` holds the ImageNet package's
    weights exactly; whether it did (not where the package is not installed)."""
    from vidcolor.models import backbone_ir

    try:
        state = backbone_ir.lite0_state()
    except VidcolorError:
        return False
    rest = backbone_ir.without_imagenet(xml.read_bytes(), xml.with_suffix(".bin").read_bytes(),
                                        state)
    if rest is not None:
        xml.with_suffix(REST_SUFFIX).write_bytes(rest)
    return rest is not None


def write(nets, directory: str | Path, config: dict, fp16: bool = COMPRESS_TO_FP16) -> None:
    """Convert the network's parts and write them, then ``openvino.json``, into ``directory``
    (beside its ``weights.npz``, which must be written already); each file replaced
    atomically. Needs Keras (the parts are traced) and OpenVINO.

    Parameters
    ----------
    nets : vidcolor.models.nets.Nets
        With the read-out of ``config["decode"]`` set.
    directory : str or Path
    config : dict
        The model's config (``arch``, ``build``, ``decode``).
    fp16 : bool
        Store the weights as float16 (the runtime still computes in float32 from them).
    """
    ov = import_openvino()

    from vidcolor.models import tracing

    directory = Path(directory)
    decode, nets.decode = nets.decode, read_out(config.get("decode"))  # what the manifest says
    try:
        models = {part: ov.convert_model(tracing.part(nets, part)) for part in PARTS[config["arch"]]}
    finally:
        nets.decode = decode
    for part, model in models.items():
        with tempfile.TemporaryDirectory(prefix=".ir.", dir=directory) as tmp:
            staged = Path(tmp) / f"{part}.xml"
            ov.save_model(model, staged, compress_to_fp16=fp16)
            weights = ".bin"
            if part == "backbone" and _store_without_imagenet(staged):
                weights = REST_SUFFIX
            # The weights first: an .xml is never read beside an older .bin of another graph
            # that it could still parse (the manifest, written last, says which is current).
            for suffix in (weights, ".xml"):
                os.chmod(staged.with_suffix(suffix), 0o644)
                os.replace(staged.with_suffix(suffix), part_path(directory, part).with_suffix(suffix))
            other = REST_SUFFIX if weights == ".bin" else ".bin"
            part_path(directory, part).with_suffix(other).unlink(missing_ok=True)
    manifest = json.dumps({**_made_from(directory, config), "openvino": ov.get_version(),
                           "files": _file_digests(directory, models)}, indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(manifest)
    os.chmod(tmp, 0o644)
    os.replace(tmp, directory / MANIFEST)
    logger.debug("OpenVINO IR written to %s", directory)
