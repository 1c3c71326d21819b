"""Quantize a fusion model's OpenVINO networks to INT8 (NNCF), calibrated on training photos.

    python -m training.quantize_model OUT --data ../shared/data/train
        [--model DIR] [--plan NAME] [--count 300] [--seed 0]
        [--exclude benchmarks/holdout_untuned.txt] [--render-size 256] [--overwrite]

Writes the folder OUT: ``backbone.xml/.bin`` and ``decoder.xml/.bin`` (OpenVINO IR, open
sizes; a part the plan leaves in float is written in float32) and ``int8.json`` (the plan,
the model's identity, the calibration photos). Calibration photos: ``--count`` photos drawn
(``--seed``) from ``--data``, none of those ``--exclude`` lists (the held-out photos), each
photo's lightness at its render shape, as ``vidcolor image`` renders it. Never the
validation set. A plan with accuracy control (``int8-both-ac``) also needs
``--validation-count`` other photos of ``--data`` (drawn with ``--seed`` + 1, none listed or
used for calibration); their mean colourfulness with the float and the INT8 networks goes into
``int8.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from vidcolor.atomic import _UMASK
from vidcolor.errors import VidcolorError
from vidcolor.models.ov_tools import import_openvino
from vidcolor.models.shapes import MULTIPLE

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EXCLUDE = REPO / "benchmarks" / "holdout_untuned.txt"


def listed_paths(list_file: Path) -> set[Path]:
    """The resolved paths a list names, one a line (relative ones: to the repository)."""
    lines = Path(list_file).read_text(encoding="utf-8").split()
    return {(REPO / line).resolve() for line in lines}


def calibration_photos(folder: Path, count: int, seed: int = 0,
                       exclude: Path | None = DEFAULT_EXCLUDE, also_skip=()) -> list[Path]:
    """``count`` photos of ``folder`` drawn at random (``seed``), none that ``exclude`` lists
    nor any of ``also_skip``; sorted by path."""
    from vidcolor.picture_files import find_pictures

    skip = listed_paths(exclude) if exclude is not None else set()
    skip |= {Path(p).resolve() for p in also_skip}
    pool = [p for p in find_pictures(folder) if p.resolve() not in skip]
    if len(pool) < count:
        raise VidcolorError(f"{folder}: {len(pool)} photos outside the excluded list, "
                            f"{count} asked for")
    chosen = np.random.default_rng(seed).choice(len(pool), count, replace=False)
    return sorted(pool[i] for i in chosen)


def render_lightness(path: Path, render_size: int, multiple: int = MULTIPLE) -> np.ndarray:
    """A photo's lightness at its render shape, (h, w) in [0, 100], multiples of 32."""
    from vidcolor import color
    from vidcolor.colorize import render_shape, resize_l
    from vidcolor.imageio import read_image

    L = color.rgb_to_l(read_image(path).rgb)
    return resize_l(L, render_shape(*L.shape, render_size, multiple))


def float_parts(model_dir: Path | None) -> tuple[dict, dict | None]:
    """The float OpenVINO networks of a model directory (default: the shipped model) and
    its identity."""
    from vidcolor.models.store import load_model

    runtime = load_model(model_dir, "openvino")
    if "whole" in runtime.precisions:
        raise VidcolorError("INT8 is for fusion models (a backbone and a decoder)")
    return {part: runtime._model(part) for part in ("backbone", "decoder")}, runtime.identity


def write_networks(parts: dict, out: Path, info: dict, overwrite: bool = False) -> None:
    """Write the networks as IR into the folder ``out``, all at once (a temporary sibling
    renamed when complete); an existing ``out`` only with ``overwrite``."""
    ov = import_openvino()

    if out.exists() and not overwrite:
        raise VidcolorError(f"{out} exists; use --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp's folder is private; the model is not
    try:
        for name, model in parts.items():
            # Float32 for parts kept in float: compress_to_fp16 would change their outputs.
            ov.save_model(model, tmp / f"{name}.xml", compress_to_fp16=False)
        (tmp / "int8.json").write_text(json.dumps(info, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def validation_info(parts: dict, quantized: dict, photos: list[Path], Ls: list) -> dict:
    """The validation photos and their mean colourfulness, float and INT8 networks."""
    from vidcolor.models.quantize import validation_colourfulness

    return {"photos": [os.path.relpath(p, REPO) for p in photos],
            "colourfulness_float": validation_colourfulness(parts, Ls),
            "colourfulness_int8": validation_colourfulness(quantized, Ls)}


def main(argv: list[str] | None = None) -> int:
    from vidcolor.models.quantize import PLANS, quantize_parts

    p = argparse.ArgumentParser(prog="python -m training.quantize_model", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="folder for the INT8 networks")
    p.add_argument("--data", type=Path, required=True, help="training photos (never validation)")
    p.add_argument("--model", type=Path, help="model directory (default: the shipped model)")
    p.add_argument("--plan", choices=sorted(PLANS), default="int8-both")
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--exclude", type=Path, default=DEFAULT_EXCLUDE,
                   help="photos never used for calibration (default: the held-out list)")
    p.add_argument("--validation-count", type=int, default=60,
                   help="photos for accuracy control (plans that use it)")
    p.add_argument("--render-size", type=int, default=256)
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)
    try:
        if args.out.exists() and not args.overwrite:
            raise VidcolorError(f"{args.out} exists; use --overwrite to replace it")
        photos = calibration_photos(args.data, args.count, args.seed, args.exclude)
        Ls = [render_lightness(path, args.render_size) for path in photos]
        parts, identity = float_parts(args.model)
        plan = PLANS[args.plan]
        checks, check_Ls = [], []
        if plan.max_colourfulness_drop is not None:
            checks = calibration_photos(args.data, args.validation_count, args.seed + 1,
                                        args.exclude, photos)
            check_Ls = [render_lightness(path, args.render_size) for path in checks]
        quantized = quantize_parts(parts, Ls, plan, check_Ls)
        info = {"plan": args.plan, "identity": identity, "render_size": args.render_size,
                "seed": args.seed, "photos": [os.path.relpath(p, REPO) for p in photos]}
        if checks:
            info["validation"] = validation_info(parts, quantized, checks, check_Ls)
        write_networks(quantized, args.out, info, args.overwrite)
    except VidcolorError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.plan}, calibrated on {len(Ls)} photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
