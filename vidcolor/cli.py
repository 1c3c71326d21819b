"""The `vidcolor` command: argument parsing and reporting only; the work is in the library."""

from __future__ import annotations

import argparse
import os
import sys

from vidcolor import __version__
from vidcolor.errors import VidcolorError


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


# --- image ---------------------------------------------------------------------------------

def _add_image(sub) -> None:
    p = sub.add_parser(
        "image", help="colorize photos (files or folders)",
        description="Colorize pictures. Only the lightness of each input is used; the output "
        "keeps its size, bit depth, alpha channel and lightness, and carries a provenance mark.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="picture files (JPEG, PNG, TIFF, WebP, BMP) or folders of them")
    p.add_argument("-o", "--output", required=True,
                   help="output file for one input file; otherwise a folder, where input "
                   "folders keep their relative names")
    p.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    p.add_argument("--render-size", type=_positive_int, metavar="N",
                   help="network resolution, about N x N pixels (default: the model's)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(run=_run_image)


def _run_image(args) -> int:
    from vidcolor.colorize import colorize_files

    return colorize_files(
        args.inputs, args.output, model_dir=args.model, render_size=args.render_size,
        overwrite=args.overwrite,
    )


# --- video ---------------------------------------------------------------------------------

def _add_video(sub) -> None:
    p = sub.add_parser("video", help="colorize a video, keeping its audio, subtitles and timing")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.set_defaults(run=_run_video)


def _run_video(args) -> int:
    print("vidcolor video: not implemented yet", file=sys.stderr)
    return 2


# --- eval ----------------------------------------------------------------------------------

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
                   help="network resolution (default: the model's)")
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="measure only the first N colour pictures")
    p.set_defaults(run=_run_eval)


def _run_eval(args) -> int:
    from vidcolor.evaluate import evaluate_folder, format_table, summary_json

    result = evaluate_folder(
        args.folder, model_dir=args.model, render_size=args.render_size, limit=args.limit,
        sheet=args.sheet,
    )
    for skipped in result["skipped"]:
        print(f"vidcolor: skipped {skipped['name']} ({skipped['why']})", file=sys.stderr)
    print(format_table(result))
    if args.sheet:
        print(f"contact sheet: {args.sheet}")
    print(summary_json(result))
    return 0


# --- train ---------------------------------------------------------------------------------

def _add_train(sub) -> None:
    p = sub.add_parser(
        "train", help="train a model on folders of colour photos (see `vidcolor train --help`)",
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    # Training lives in the separate `training` package, which the runtime never imports:
    # hand the whole command line over to it.
    argv = [sys.executable, "-m", "training.train", *args.rest]
    os.execv(sys.executable, argv)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidcolor", description="Colorize black-and-white photographs and archival film."
    )
    parser.add_argument("--version", action="version", version=f"vidcolor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_image(sub)
    _add_video(sub)
    _add_train(sub)
    _add_eval(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except VidcolorError as e:
        print(f"vidcolor: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vidcolor: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
