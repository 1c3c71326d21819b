"""``vidcolor image``: colorize photos (files or folders) with :mod:`vidcolor.photos`."""

from __future__ import annotations

import sys
from pathlib import Path

from vidcolor.cli.common import (_add_model, TqdmProgress, _add_runtime, _model, _non_negative_int,
                                 _positive_int, _still_render_size_help)


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
    _add_model(p)
    p.add_argument("--render-size", type=_positive_int, metavar="N",
                   help=_still_render_size_help())
    p.add_argument("--tile", type=_non_negative_int, metavar="SIZE",
                   help="colorize large pictures in overlapping tiles of SIZE x SIZE working "
                   "pixels that share the whole picture's context; 0 never tiles (default: "
                   "automatic, tiles of the render size for pictures over twice its size)")
    p.add_argument("--tile-overlap", type=_non_negative_int, metavar="N",
                   help="minimum overlap of neighbouring tiles, in working pixels "
                   "(default: a quarter tile)")
    given = p.add_mutually_exclusive_group()
    given.add_argument("--hints", metavar="FILE.json|DIR",
                       help='colours to keep: JSON {"points": [{"x": 120, "y": 45, "radius": 2, '
                       '"color": "#a03020"}]}, x/y the column/row as displayed, radius r a '
                       '(2r+1)^2 square, the colour\'s a/b used; for folders a DIR of <name>.json '
                       "(a model trained with hints takes them as input; any other model's colours are "
                       "corrected by them, spread along the picture's edges)")
    given.add_argument("--hints-image", metavar="FILE.png|DIR",
                       help="colours to keep, painted: an RGBA image of the picture's size, every "
                       "pixel with alpha > 0 a hint of its colour; for folders a DIR of <name>.png")
    p.add_argument("--reference", action="append", default=[], metavar="PHOTO",
                   help="a colour photo of the same scene, people or place (not of the picture "
                   "itself): where parts of the picture look like parts of it, they take its "
                   "colours (matched by the network's features), elsewhere the model's; hints "
                   "win at their places; repeatable")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    _add_runtime(p)
    p.set_defaults(run=_run_image)


def image_options(args) -> "ImageOptions":
    """The :class:`~vidcolor.options.ImageOptions` of parsed ``vidcolor image`` arguments."""
    from vidcolor.options import ImageOptions, parse_reference

    return ImageOptions(render_size=args.render_size, tile=args.tile,
                        tile_overlap=args.tile_overlap,
                        references=tuple(parse_reference(r) for r in args.reference))


class _TqdmPerPicture(TqdmProgress):
    """A bar for one picture's tiles at a time: closed (and so erased) when its count is
    complete, so that the next picture's count from 0 gets a bar of its own."""

    def __call__(self, done: int, total: int | None) -> None:
        super().__call__(done, total)
        if total is not None and done >= total:
            self.close()


def _run_image(args) -> int:
    from vidcolor.colorize import ImageColorizer
    from vidcolor.photos import HintFiles, colorize_files, plan_outputs
    from vidcolor.references import check_references

    options = image_options(args)
    check_references(options.references)
    given = args.hints or args.hints_image
    hints = HintFiles(Path(given), image=bool(args.hints_image)) if given else None
    # Planned here as well, before the model loads (seconds): a wrong input is told at once,
    # and only a folder gets a bar over its pictures.
    jobs, folder_mode = plan_outputs(args.inputs, args.output)
    if hints is not None:
        hints.check(jobs, folder_mode)
    model = _model(args)
    tiles = _TqdmPerPicture(unit="tile")
    pictures = TqdmProgress(unit="image", leave=True) if folder_mode else None
    try:
        report = colorize_files(args.inputs, args.output, ImageColorizer(model, options, tiles),
                                overwrite=args.overwrite, progress=pictures, hints=hints)
    finally:
        for bar in (tiles, pictures):
            if bar is not None:
                bar.close()
    if report.failures and report.count > 1:
        print(f"vidcolor: {len(report.failures)} of {report.count} pictures failed",
              file=sys.stderr)
    return 1 if report.failures else 0
