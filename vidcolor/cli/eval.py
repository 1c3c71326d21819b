"""``vidcolor eval``: measure a model on a folder of colour photos with
:mod:`vidcolor.evaluate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidcolor.cli.common import (_add_model, TqdmProgress, _add_runtime, _model, _non_negative_int,
                                 _positive_int, _still_render_size_help)
from vidcolor.errors import VidcolorError
from vidcolor.log import one_line


def _add_eval(sub) -> None:
    p = sub.add_parser(
        "eval", help="measure a model on a folder of colour photos",
        description="Turn each colour picture of FOLDER to grey, colorize it, and print the mean "
        "PSNR (8-bit RGB), colourfulness, |delta colourfulness| against the originals and the "
        "grey baseline's PSNR, per set (subfolder); the last line is JSON.",
    )
    p.add_argument("folder", metavar="FOLDER")
    _add_model(p, several=True)
    p.add_argument("--sheet", metavar="FILE", help="write a contact sheet PNG (grey | ours | truth)")
    p.add_argument("--render-size", type=_positive_int, metavar="N",
                   help=_still_render_size_help())
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="measure only the first N colour pictures")
    p.add_argument("--hints", type=_hint_counts, metavar="N[,N...]",
                   help="also measure with N hints per photo sampled from its true colours "
                   "(random places, squares of radius 0-4, each the patch's mean colour), next "
                   "to the automatic result shifted by them globally and locally; several "
                   "counts, e.g. 0,1,10,50,100, give a curve")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="seed of the sampled hints (default 0)")
    p.add_argument("--only", metavar="LIST",
                   help="measure only the pictures of FOLDER that a text file lists, one path a "
                   "line (e.g. a training run's holdout.txt)")
    _add_runtime(p)
    p.set_defaults(run=_run_eval)


def _hint_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 0:
        raise argparse.ArgumentTypeError(f"expected N or N,N,... (whole numbers >= 0), got {text!r}")
    return counts


def _only_names(path: str | None) -> list[str] | None:
    """The paths a list holds (one a line), or None without a list."""
    if path is None:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise VidcolorError(f"{path}: cannot read the list ({getattr(e, 'strerror', None) or e})") from None
    return [line.strip() for line in lines if line.strip()]


def _run_eval(args) -> int:
    from vidcolor.evaluate import (EvalRequest, evaluate, format_hints_table, format_table,
                                   summary_json)

    request = EvalRequest(args.folder, render_size=args.render_size, limit=args.limit,
                          sheet=args.sheet, hint_counts=args.hints, seed=args.seed,
                          only=_only_names(args.only))
    models = args.model or [None]
    if len(models) > 1:
        return _run_side_by_side(args, request, models)
    args.model = models[0]
    bar = TqdmProgress(unit="image", leave=True)
    try:
        report = evaluate(request, model=_model(args, deferred=True), progress=bar)
    finally:
        bar.close()
    for path, why in report.skipped:
        print(one_line(f"vidcolor: skipped {path} ({why})"), file=sys.stderr)
    result = report.to_dict()
    print(format_table(result))
    if request.hint_counts:
        print(f"simulated hints (seed {request.seed}):")
        print(format_hints_table(result))
    if args.sheet:
        print(f"contact sheet: {args.sheet}")  # as given, not as a Path would spell it
    print(summary_json(result))
    return 0


SHIPPED = "shipped"  # --model's name for the shipped model, side by side with others


def _run_side_by_side(args, request, models: list) -> int:
    """Several models on the same pictures: one row each (PSNR, colourfulness, seconds a
    picture: the whole measurement's wall time, reading and scoring included, after the
    model has loaded), then the rows as JSON."""
    import json
    import time

    from vidcolor.evaluate import evaluate
    from vidcolor.models.onnx_model import is_onnx_model

    if request.sheet or request.hint_counts:
        raise VidcolorError("--sheet and --hints measure one model; give one --model with them")

    loaded = []  # every model loaded before any is measured: a bad one is told at once
    for path in models:
        if path == SHIPPED and not Path(path).exists():
            path = None
        kind = args.model_kind if is_onnx_model(path) else None  # the kind is an ONNX file's
        loaded.append((path, _model(argparse.Namespace(**{**vars(args), "model": path,
                                                          "model_kind": kind}))))
    rows = []
    for path, model in loaded:
        bar = TqdmProgress(unit="image", leave=False)
        start = time.perf_counter()
        try:
            report = evaluate(request, model=model, progress=bar)
        finally:
            bar.close()
        overall = report.to_dict()["overall"]
        seconds = (time.perf_counter() - start) / max(1, overall["count"])
        rows.append({"model": path or SHIPPED, "name": model.name, **overall,
                     "seconds_per_picture": seconds})
    print(f"{'model':<32} {'PSNR':>7} {'colourf.':>8} {'|d col|':>7} {'s/pic':>7}")
    for r in rows:
        print(f"{str(r['model'])[-32:]:<32} {r['psnr']:>7.2f} {r['colourfulness']:>8.2f} "
              f"{r['delta_colourfulness']:>7.2f} {r['seconds_per_picture']:>7.3f}")
    print(f"grey baseline PSNR {rows[0]['grey_psnr']:.2f} dB over {rows[0]['count']} pictures")
    print(json.dumps({"models": rows}))
    return 0
