"""The `vidcolor` command: argument parsing and reporting only; the work is in the library.

One module a command (``image``, ``video``, ``eval``, ``serve``, ``export``; ``handovers``
for ``train`` and ``bench``), each with its ``_add_*`` (its arguments) and ``_run_*`` (the
job); ``common`` holds what they share. This module builds the parser and runs a command.
"""

from __future__ import annotations

import argparse
import sys

from vidcolor._version import __version__
from vidcolor.cli.common import TqdmProgress, _TqdmLogHandler, _model_loader
from vidcolor.cli.eval import _add_eval
from vidcolor.cli.export import _add_export
from vidcolor.cli.handovers import HANDOVERS, _add_handovers, _hand_over
from vidcolor.cli.image import _add_image
from vidcolor.cli.serve import _add_serve
from vidcolor.cli.video import _add_video, video_options
from vidcolor.errors import VidcolorError
from vidcolor.log import attach_stderr_handler, one_line

# video_options and _model_loader are looked up here when a film job runs (see
# vidcolor.cli.video._package), so they may be replaced on this module.
__all__ = ["main", "build_parser", "TqdmProgress", "video_options", "HANDOVERS"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidcolor", description="Colorize black-and-white photographs and archival film."
    )
    parser.add_argument("--version", action="version", version=f"vidcolor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_image(sub)
    _add_video(sub)
    _add_eval(sub)
    _add_serve(sub)
    _add_export(sub)
    _add_handovers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in HANDOVERS:
        # Before argparse, which would swallow a leading option such as `train --help`.
        return _hand_over(argv[0], argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    attach_stderr_handler(_TqdmLogHandler())
    try:
        return int(args.run(args) or 0)
    except VidcolorError as e:
        print(f"vidcolor: error: {one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vidcolor: interrupted", file=sys.stderr)
        return 130
