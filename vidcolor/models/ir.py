"""A model directory's OpenVINO IR: the network's parts as OpenVINO files beside the Keras
weights, so that colouring needs neither Keras nor TensorFlow.

Files, next to ``config.json`` and ``weights.npz``:

- ``backbone.xml`` / ``.bin`` and ``decoder.xml`` / ``.bin`` for a fusion model (``whole.xml``
  / ``.bin`` for the others): each part as :func:`vidcolor.models.tracing.part` traces it,
  batch, height and width open, the read-out included;
- ``openvino.json``: what the IR was made from (the SHA-256 of ``weights.npz`` and of the
  build arguments, the architecture and the read-out, ``decode``) and the SHA-256 of each IR
  file (a damaged file is found before OpenVINO reads it).

The IR is *current* when ``openvino.json`` names the weights, build and read-out the
directory's ``config.json`` and ``weights.npz`` hold now; a directory whose IR is missing or not
current (a model trained before the IR existed, a read-out calibrated since) is converted from
Keras at load time instead. :func:`write` needs Keras; everything else here does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from vidcolor.log import logger
from vidcolor.models import file_sha256

__all__ = ["PARTS", "MANIFEST", "problem", "read_out", "write", "part_path"]

PARTS = {"fusion": ("backbone", "decoder"), "alpha": ("whole",), "beta": ("whole",)}
MANIFEST = "openvino.json"
FORMAT = 1
# Weights stored as float16 in the IR; the runtime computes in float32 from them (see
# benchmarks/RESULTS.md "Install and start-up" for what this changes in a/b).
COMPRESS_TO_FP16 = True


def read_out(decode: dict | None) -> dict:
    """The read-out settings of a config's ``decode`` (missing ones at their defaults), as
    :func:`vidcolor.models.nets.decode_ab` takes them."""
    decode = decode or {}
    return {"temperature": float(decode.get("temperature", 0.38)),
            "mix": float(decode.get("mix", 0.0)), "gain": float(decode.get("gain", 1.0))}


def part_path(directory: str | Path, part: str) -> Path:
    """The ``.xml`` of one part (its weights are the ``.bin`` beside it)."""
    return Path(directory) / f"{part}.xml"



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
    if {k: manifest.get(k) for k in made_from} != made_from:
        return "its OpenVINO IR was made from other weights or another read-out"
    if manifest.get("files") != files:
        return "its OpenVINO IR files are damaged (not the ones written)"
    return None


def _files(directory: Path, parts):
    """The IR files of ``parts``: each part's ``.xml``, then its ``.bin``."""
    for part in parts:
        xml = part_path(directory, part)
        yield from (xml, xml.with_suffix(".bin"))


def _file_digests(directory: Path, parts) -> dict:
    """SHA-256 of each IR file of ``parts``, by name."""
    return {p.name: file_sha256(p) for p in _files(directory, parts)}


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
    import openvino as ov

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
            # The weights first: an .xml is never read beside an older .bin of another graph
            # that it could still parse (the manifest, written last, says which is current).
            for suffix in (".bin", ".xml"):
                os.chmod(staged.with_suffix(suffix), 0o644)
                os.replace(staged.with_suffix(suffix), part_path(directory, part).with_suffix(suffix))
    manifest = json.dumps({**_made_from(directory, config), "openvino": ov.get_version(),
                           "files": _file_digests(directory, models)}, indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(manifest)
    os.chmod(tmp, 0o644)
    os.replace(tmp, directory / MANIFEST)
    logger.debug("OpenVINO IR written to %s", directory)
