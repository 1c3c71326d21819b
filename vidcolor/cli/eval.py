"""``vidcolor eval``: measure a model on a folder of colour photos with
:mod:`vidcolor.evaluate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidcolor.cli.common import (TqdmProgress, _add_runtime, _model, _non_negative_int,
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
    p.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
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
