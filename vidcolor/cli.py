"""The `vidcolor` command: argument parsing and reporting only; the work is in the library."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vidcolor._version import __version__
from vidcolor.errors import VidcolorError
from vidcolor.log import StderrHandler, attach_stderr_handler, one_line


# --- reporting: progress bars and the library's log lines -----------------------------------

class TqdmProgress:
    """A :class:`vidcolor.progress.Progress` shown as a tqdm bar (frames or pictures done,
    rate, ETA), on terminals only so logs and pipes stay clean; made on the first report."""

    def __init__(self, unit: str, desc: str | None = None, leave: bool = False,
                 disable: bool | None = None):
        self.kwargs = dict(unit=unit, desc=desc, leave=leave, disable=disable, file=sys.stderr,
                           dynamic_ncols=True)
        self.bar = None

    def __call__(self, done: int, total: int | None) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, initial=done, **self.kwargs)
        elif total != self.bar.total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _TqdmLogHandler(StderrHandler):
    """The library's notes and warnings, written above any progress bar instead of into it."""

    def emit(self, record) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


# --- runtime ---------------------------------------------------------------------------------

def _add_runtime(p) -> None:
    """The --runtime option of the commands that run the network."""
    p.add_argument("--runtime", choices=("auto", "keras", "openvino"), default="auto",
                   help="what runs the network: keras (TensorFlow, a GPU when there is one), "
                   "openvino (CPU, needs the fast extra), auto (default: openvino when "
                   "installed, no GPU is seen and the model has no hint input, else keras)")


def _model(args, deferred: bool = False):
    """The ColorModel of parsed arguments: --model DIR run by --runtime; with ``deferred``,
    loaded only when the job first uses it (after its own checks of inputs and options)."""
    import functools

    from vidcolor.models.runtimes import load_color_model

    if deferred:  # see vidcolor.models.runtimes.resolve_model; loaded once for every job
        return functools.cache(functools.partial(load_color_model, args.model, args.runtime))
    return load_color_model(args.model, args.runtime)


# --- image ---------------------------------------------------------------------------------

def _still_render_size_help() -> str:
    """The --render-size help of the picture commands (image, eval), with its bound."""
    from vidcolor.options import MAX_RENDER_SIZE

    return (f"network resolution, about N x N pixels, at most {MAX_RENDER_SIZE} (default: the "
            "model's); memory grows with N^2: a picture's six views measured 1.6 GB at 2048 "
            "besides the model's 0.7 GB (one network pass: 0.06 GB at 512, 0.18 at 1024, 0.64 "
            "at 2048)")


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
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    _add_runtime(p)
    p.set_defaults(run=_run_image)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def image_options(args) -> "ImageOptions":
    """The :class:`~vidcolor.options.ImageOptions` of parsed ``vidcolor image`` arguments."""
    from vidcolor.options import ImageOptions

    return ImageOptions(render_size=args.render_size, tile=args.tile,
                        tile_overlap=args.tile_overlap)


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

    options = image_options(args)
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


# --- video ---------------------------------------------------------------------------------

def _add_keyframe_args(p) -> None:
    """The colour keyframe options of ``vidcolor video``."""
    p.add_argument("--keyframe", action="append", default=[], metavar="FILE[@TIME]",
                   help="a colour version of the frame at TIME (seconds or [HH:]MM:SS[.ms], "
                   "the nearest frame), made by hand: its colours follow the motion through "
                   "that frame's shot, forwards and backwards; TIME may be left out when "
                   "FILE is named by it (as --export-keyframes names them); repeatable; one "
                   "input film (with --cluster, a keyframe's shot is one chunk)")
    p.add_argument("--export-keyframes", metavar="DIR",
                   help="instead of colorizing, write the first frame of each shot of the "
                   "input, and each frame the last one's colour no longer reaches half of, "
                   "into DIR as a grey PNG named by its time (00-01-23.456.png), to colour "
                   "by hand and hand back with --keyframe")
    p.add_argument("--every", type=float, metavar="N",
                   help="with --export-keyframes, also a frame every N seconds within a shot")


def _add_video(sub) -> None:
    from vidcolor.options import (DEFAULT_STRENGTH, MAX_BATCH_PIXELS, MAX_RENDER_SIZE,
                                  max_batch_size, parse_time)

    def time_arg(text: str) -> float:
        try:
            return parse_time(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    p = sub.add_parser(
        "video", help="colorize a video, keeping its audio, subtitles and timing",
        description="Colorize a video. Every frame keeps its timestamp; audio, subtitles, "
        "attachments, chapters and rotation are kept where the output container allows. "
        "The container comes from the output's extension (.mp4 .mkv .mov .webm .avi).")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="video files or folders of them")
    p.add_argument("-o", "--output",
                   help="output file for one input file; otherwise a folder, where input "
                   "folders keep their relative names (films whose container vidcolor does "
                   "not write become .mkv); needed unless --export-keyframes")
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.add_argument("--render-size", type=_positive_int,
                   help=f"network resolution, at most {MAX_RENDER_SIZE} (default: the model's)")
    _add_keyframe_args(p)
    p.add_argument("--batch-size", type=_positive_int,
                   help="frames per model call (default: 32 on a GPU, 8 on a CPU), bounded "
                   "so a run fits a 24 GB machine: one call takes about 160 bytes a render "
                   f"pixel, so batch size x render size^2 is at most {MAX_BATCH_PIXELS} "
                   f"({max_batch_size(256)} frames at render size 256, {max_batch_size(512)} "
                   "at 512: 5.7 GB), and a batch's frames at most 4 GiB (128 frames at 4K)")
    p.add_argument("--no-stabilize", dest="stabilize", action="store_false",
                   help="colorize every frame on its own (no temporal stabilization)")
    p.add_argument("--stabilize-strength", type=float, default=DEFAULT_STRENGTH, metavar="S",
                   help=f"0..1, how much colour follows the motion (default {DEFAULT_STRENGTH})")
    p.add_argument("--start", type=time_arg, default=0.0, metavar="T",
                   help="start at T (seconds or [HH:]MM:SS[.ms])")
    p.add_argument("--duration", type=time_arg, metavar="T", help="colorize only T of video")
    p.add_argument("--codec", help="video encoder (default libx264; libvpx-vp9 for .webm)")
    p.add_argument("--crf", type=int, help="encoder quality (default 18 for libx264)")
    p.add_argument("--preset",
                   help="encoder speed preset (default veryfast; medium, slow: higher quality, slower)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run of the same command")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--cluster", metavar="local[:N]|ADDRESS",
                   help="colorize each film in chunks on Ray (needs the cluster extra): local:N "
                   "starts N worker processes on this machine (local: one per core), an "
                   "address (auto, ray://head:10001) joins a running cluster; the input is "
                   "sent to the workers through Ray's object store, so it must fit in it")
    _add_runtime(p)
    p.set_defaults(run=_run_video, video_parser=p)


def video_options(args) -> "VideoOptions":
    """The :class:`~vidcolor.options.VideoOptions` of parsed ``vidcolor video`` arguments."""
    from vidcolor.options import EncoderOptions, VideoOptions, Window

    from vidcolor.options import parse_keyframe

    return VideoOptions(
        render_size=args.render_size, batch_size=args.batch_size, stabilize=args.stabilize,
        stabilize_strength=args.stabilize_strength, window=Window(args.start, args.duration),
        encoder=EncoderOptions(args.codec, args.crf, args.preset),
        keyframes=tuple(parse_keyframe(k) for k in args.keyframe))


def _run_export_keyframes(args) -> int:
    from vidcolor.options import Window
    from vidcolor.video.shots import export_keyframes

    if args.output is not None or args.keyframe or args.cluster or len(args.inputs) > 1:
        raise VidcolorError("--export-keyframes only writes the frames of one input film: "
                            "leave out -o, --keyframe and --cluster")
    bar = None if args.quiet else TqdmProgress(unit="frame", desc="looking for shots",
                                               disable=False)
    try:
        report = export_keyframes(args.inputs[0], args.export_keyframes, args.every,
                                  Window(args.start, args.duration), args.render_size,
                                  args.overwrite, bar)
    finally:
        if bar is not None:
            bar.close()
    print(f"{one_line(report.folder)}: {len(report.files)} frames to colour ({report.shots} "
          f"shots in {report.frames} frames)", file=sys.stderr)
    return 0


def _check_video_request(args) -> None:
    """Usage errors argparse cannot see: the output, and what goes with what."""
    if args.output is None:  # as argparse's own for a missing argument
        args.video_parser.error("the following arguments are required: -o/--output (or "
                                "--export-keyframes DIR)")
    if args.every is not None:
        args.video_parser.error("--every goes with --export-keyframes")
    if args.keyframe and not _is_single_film(args):
        raise VidcolorError("--keyframe colours one input film")


def _model_loader(args):
    """A picklable function that loads the model of parsed arguments (sent to cluster
    workers, each of which calls it once)."""
    import functools

    from vidcolor.models.runtimes import load_color_model

    return functools.partial(load_color_model, args.model, args.runtime)


def _is_folder(path: str) -> bool:
    """Whether a path is a folder; one that cannot be looked at is not (the job says why)."""
    try:
        return Path(path).is_dir()
    except OSError:
        return False


def _is_single_film(args) -> bool:
    """One input file and an output that is not a folder: today's one-film job."""
    output = args.output
    return (len(args.inputs) == 1 and not _is_folder(args.inputs[0])
            and not _is_folder(output) and not output.endswith(("/", "\\")))


class _FilmJobs:
    """Runs ``vidcolor video`` jobs one film at a time: in this process (the model loaded once,
    when the first job needs it) or on a Ray cluster (:class:`~vidcolor.video.cluster.
    ClusterSession`, started on the first job)."""

    def __init__(self, args, options):
        self.args, self.options = args, options
        self.model = None if args.cluster else _model(args, deferred=True)
        self.session = None

    def __call__(self, src: Path, dst: Path, progress=None):
        job = dict(options=self.options, overwrite=self.args.overwrite,
                   resume=self.args.resume, progress=progress)
        if self.model is not None:
            from vidcolor.video.pipeline import colorize_video

            return colorize_video(src, dst, model=self.model, **job)
        from vidcolor.video.cluster import ClusterSession
        from vidcolor.video.pipeline import check_job

        if self.session is None:  # every check that needs no model, before the cluster starts
            check_job(src, dst, self.options, self.args.overwrite)
            self.session = ClusterSession(self.args.cluster, _model_loader(self.args))
        return self.session.colorize_video(src, dst, **job)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def _film_line(result, stabilize: bool) -> str:
    """The line that reports one finished film."""
    done = f" ({result.resumed_frames} from the interrupted run)" if result.resumed_frames else ""
    cuts = f", {result.cuts} shots" if stabilize else ""
    n_lost = result.lost_frames
    lost = f", {n_lost} undecodable frame{'s' * (n_lost != 1)} left out" if n_lost else ""
    return (f"{one_line(result.output)}: {result.frames} frames{done}, {result.fps:.1f} "
            f"frames/s{cuts}{lost}")


def _run_video(args) -> int:
    from vidcolor.video.films import colorize_films, plan_films

    if args.export_keyframes is not None:
        return _run_export_keyframes(args)
    _check_video_request(args)
    if args.cluster:
        from vidcolor.video.cluster import import_ray, parse_cluster

        parse_cluster(args.cluster)
        import_ray()
    options = video_options(args)
    single = _is_single_film(args)
    jobs = [(Path(args.inputs[0]), Path(args.output))] if single else \
        plan_films(args.inputs, args.output)[0]
    runner = _FilmJobs(args, options)
    try:
        if single:
            result = _run_film(runner, *jobs[0], args.quiet, "colorizing")
            print(_film_line(result, options.stabilize), file=sys.stderr)
            return 0
        report = colorize_films(
            jobs, lambda src, dst: _run_film(runner, src, dst, args.quiet, one_line(src.name)),
            done=lambda result: print(_film_line(result, options.stabilize), file=sys.stderr))
    finally:
        runner.close()
    failed = f", {len(report.failures)} failed" if report.failures else ""
    print(f"vidcolor: {len(report.results)} of {report.count} films done ({report.frames} "
          f"frames){failed}", file=sys.stderr)
    return 1 if report.failures else 0


def _run_film(runner: _FilmJobs, src: Path, dst: Path, quiet: bool, desc: str):
    """One film's job, with its own progress bar."""
    bar = None if quiet else TqdmProgress(unit="frame", desc=desc, disable=False)
    try:
        return runner(src, dst, bar)
    finally:
        if bar is not None:
            bar.close()


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
    from vidcolor.evaluate import evaluate_folder, format_hints_table, format_table, summary_json

    only = _only_names(args.only)
    bar = TqdmProgress(unit="image", leave=True)
    try:
        result = evaluate_folder(args.folder, model=_model(args, deferred=True),
                                 render_size=args.render_size,
                                 limit=args.limit, sheet=args.sheet, progress=bar,
                                 hint_counts=args.hints, seed=args.seed, only=only)
    finally:
        bar.close()
    for skipped in result["skipped"]:
        print(one_line(f"vidcolor: skipped {skipped['name']} ({skipped['why']})"), file=sys.stderr)
    print(format_table(result))
    if args.hints:
        print(f"simulated hints (seed {args.seed}):")
        print(format_hints_table(result))
    if args.sheet:
        print(f"contact sheet: {args.sheet}")
    print(summary_json(result))
    return 0


# --- serve ---------------------------------------------------------------------------------

def _add_serve(sub) -> None:
    p = sub.add_parser(
        "serve", help="a web page and a REST API for colorizing (needs the serve extra)",
        description="Serve a web page (drop a photo or a film) and a REST API under /api/v1 "
        "(documented at /docs). One model is loaded once; jobs, their options and results are "
        "kept under --data, so finished results survive a restart and interrupted films "
        "continue. Needs the serve extra: pip install \"vidcolor[serve]\".")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; any "
                   "other address needs --token)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--data", default="vidcolor-data", metavar="DIR",
                   help="folder for the jobs database and files (default ./vidcolor-data)")
    p.add_argument("--token", default=os.environ.get("VIDCOLOR_TOKEN"),
                   help="bearer token every API call must carry (default: $VIDCOLOR_TOKEN, "
                   "which keeps it out of the process list)")
    p.add_argument("--max-upload", default="2GB", metavar="SIZE",
                   help="largest upload, like 500MB, 2GB or a number of bytes (default 2GB)")
    p.add_argument("--workers", type=_positive_int, default=2, metavar="N",
                   help="pictures or films colorized at once (default 2)")
    p.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    _add_runtime(p)
    p.set_defaults(run=_run_serve)


def _run_serve(args) -> int:
    from vidcolor.serve import EXTRA_HINT, missing_extra
    from vidcolor.serve.config import ServeConfig, parse_size

    if missing_extra():
        raise VidcolorError(EXTRA_HINT)
    config = ServeConfig(args.data, host=args.host, port=args.port, token=args.token or None,
                         max_upload=parse_size(args.max_upload), workers=args.workers)
    from vidcolor.serve.app import serve

    model = _model(args)  # before listening: a bad model is told at once
    hint = " (open it with #token=TOKEN at the end)" if config.token else ""
    print(f"vidcolor: serving {config.url}{hint}; data in {config.data}; Ctrl-C stops",
          file=sys.stderr)
    serve(config, model)
    return 0


# --- export ----------------------------------------------------------------------------------

_EXPORT_DESCRIPTION = (
    "Write the network (read-out included) as a self-contained file for another runtime, and "
    "PATH.json beside it with the input and output conventions: L in [0, 100] of shape "
    "(N, H, W, 1), H and W multiples of 32 -> a/b / 128 at 1/4 of H x W; one file for every "
    "size unless --size fixes it. onnx: ONNX Runtime (C++, web); openvino: Intel "
    "CPUs, GPUs, NPUs; tflite: phones; savedmodel: TensorFlow Serving.")


def _add_export(sub) -> None:
    from vidcolor.export import FORMATS

    p = sub.add_parser("export", description=_EXPORT_DESCRIPTION,
                       help="write the model as an ONNX, OpenVINO, TFLite or SavedModel file")
    p.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    p.add_argument("--format", required=True, choices=tuple(FORMATS))
    p.add_argument("--size", metavar="HxW",
                   help="input height x width, multiples of 32, fixed in the file (default: "
                   "open, any multiples of 32)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="weights' precision (fp16: half the file; inputs and outputs stay "
                   "float32; default fp32)")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="the file (.onnx, .xml, .tflite) or, for savedmodel, the folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from vidcolor.export import check_request, export_model, parse_size
    from vidcolor.models import store

    size = parse_size(args.size) if args.size else None
    # Checked before the model loads (seconds): a wrong argument is told at once.
    check_request(args.format, Path(args.output), args.precision, args.overwrite)
    meta = export_model(store.load_model(args.model), args.format, args.output, size,
                        args.precision, args.overwrite)
    print(f"{one_line(args.output)}: {args.format} export, described in {one_line(meta)}",
          file=sys.stderr)
    return 0


# --- train, bench ----------------------------------------------------------------------------

# Commands whose code lives outside the runtime (which never imports it): the whole command line
# is handed over to that module's own parser.
HANDOVERS = {
    "train": ("training.train", "train a model on folders of colour photos (see `vidcolor train --help`)"),
    "bench": ("benchmarks.throughput", "measure video throughput stage by stage (see `vidcolor bench --help`)"),
}


def _add_handovers(sub) -> None:
    for name, (_module, help_text) in HANDOVERS.items():
        sub.add_parser(name, help=help_text, add_help=False)


def _hand_over(command: str, rest: list[str]) -> int:
    module = HANDOVERS[command][0]
    os.execv(sys.executable, [sys.executable, "-m", module, *rest])
    return 0  # not reached


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


if __name__ == "__main__":
    sys.exit(main())
