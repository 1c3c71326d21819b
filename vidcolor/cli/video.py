"""``vidcolor video``: colorize films (files or folders), in this process or on a Ray cluster,
or with --export-keyframes write the frames to colour by hand."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidcolor.cli.common import _add_model, TqdmProgress, _add_runtime, _model, _positive_int
from vidcolor.errors import VidcolorError
from vidcolor.log import one_line


def _package():
    """The ``vidcolor.cli`` package. ``video_options`` and ``_model_loader`` are looked up
    there when a job runs, so that a replacement set on ``vidcolor.cli`` (by the tests or
    ``benchmarks/fuzz.py``) is the one used."""
    from vidcolor import cli

    return cli


# --- arguments -------------------------------------------------------------------------------

def _add_keyframe_args(p) -> None:
    """The colour keyframe options of ``vidcolor video``."""
    p.add_argument("--keyframe", action="append", default=[], metavar="FILE[@TIME|@#N]",
                   help="a colour version of the frame at TIME (seconds or [HH:]MM:SS[.ms], "
                   "the nearest frame) or of frame number N (@#120: an image sequence's own "
                   "numbering, a video's frames counted from 0), made by hand: its colours "
                   "follow the motion through that frame's shot, forwards and backwards; TIME may be left out when "
                   "FILE is named by it (as --export-keyframes names them); repeatable; one "
                   "input film (with --cluster, a keyframe's shot is one chunk)")
    p.add_argument("--reference", action="append", default=[], metavar="PHOTO[@TIME]",
                   help="a colour photo of the same scenes, people or places (a publicity "
                   "still, the location in colour): where frames look like parts of it, they "
                   "take its colours (matched by the network's features), elsewhere the "
                   "model's; from TIME on (seconds or [HH:]MM:SS[.ms]) or over the whole film; "
                   "a keyframe wins in its shot; repeatable")
    p.add_argument("--export-keyframes", metavar="DIR",
                   help="instead of colorizing, write the first frame of each shot of the "
                   "input, and each frame the last one's colour no longer reaches half of, "
                   "into DIR as a grey PNG named by its time (00-01-23.456.png), to colour "
                   "by hand and hand back with --keyframe")
    p.add_argument("--every", type=float, metavar="N",
                   help="with --export-keyframes, also a frame every N seconds within a shot")
    p.add_argument("--colour-from", metavar="COPY",
                   help="a colour copy of the same film (any size and codec, e.g. a worn "
                   "low-resolution print): its colour, aligned frame by frame, on the input's "
                   "own lightness; where the copy lacks frames or is damaged, the colour "
                   "carried from its neighbours, then the model's; black bars on either "
                   "are left out; keyframes win in their shots; one input film, not with "
                   "--cluster")
    p.add_argument("--colour-offset", type=int, metavar="FRAMES",
                   help="the copy is FRAMES frames late (negative: early) against the input "
                   "(default 0); a drift of a few frames more is followed, and an offset up "
                   "to 3 minutes off, or an edit of another cut of the film, is found")


def _add_sequence_args(p) -> None:
    """The image sequence and timecode options of ``vidcolor video``."""
    p.add_argument("--sequence", choices=("dpx", "tiff", "exr", "png"),
                   help="write the frames as image files of this format into the output "
                   "folder, numbered as the input's (a video's from 0), at the input's bit "
                   "depth where the format has it")
    p.add_argument("--fps", metavar="RATE",
                   help="frame rate of an image sequence input (24, 23.976, 24000/1001), "
                   "over its DPX/EXR headers' (default: the headers', else 24)")
    p.add_argument("--timecode", metavar="HH:MM:SS:FF",
                   help="timecode of the input's first frame (HH:MM:SS;FF drop-frame at "
                   "29.97), over its own; the output starts at its first coloured frame's")
    p.add_argument("--allow-gaps", action="store_true",
                   help="colour an image sequence with missing frame numbers (the timing "
                   "keeps the gaps)")


def _add_interlace_args(p) -> None:
    from vidcolor.options import DEINTERLACE_CHOICES, INTERLACED_CHOICES

    p.add_argument("--interlaced", choices=INTERLACED_CHOICES, default="auto",
                   help="an interlaced input's field order: found from the stream and frames "
                   "(auto, the default), top field first (tff), bottom field first (bff), or "
                   "none (no: colour whole frames)")
    p.add_argument("--deinterlace", nargs="?", const="frame", choices=DEINTERLACE_CHOICES,
                   help="write an interlaced input as progressive frames (bwdif), one per "
                   "frame (frame, the default) or one per field (field: twice the frame "
                   "rate); without it, the fields are coloured one by one and kept")


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
                   help="video files or folders of them; or one image sequence (DPX, TIFF, "
                   "OpenEXR, PNG, JPEG): a folder of numbered frames, a pattern such as "
                   "scan_%%06d.dpx, or its first frame scan_000100.dpx")
    p.add_argument("-o", "--output",
                   help="output file for one input file; otherwise a folder, where input "
                   "folders keep their relative names (films whose container vidcolor does "
                   "not write become .mkv); or frames: a pattern such as out/frame_%%06d.dpx "
                   "(.dpx .tif .exr .png), or a folder with --sequence; needed unless "
                   "--export-keyframes")
    _add_model(p)
    p.add_argument("--render-size", type=_positive_int,
                   help=f"network resolution, at most {MAX_RENDER_SIZE} (default: the model's)")
    _add_keyframe_args(p)
    _add_interlace_args(p)
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
    p.add_argument("--codec", help="video encoder (default libx264; libvpx-vp9 for .webm); "
                   "prores (ProRes 422 HQ, 10-bit, .mov/.mkv), dnxhr (DNxHR, .mov), ffv1 "
                   "(lossless 4:4:4 at the source's depth, .mkv) or any FFmpeg encoder name")
    p.add_argument("--crf", type=int, help="encoder quality (default 18 for libx264)")
    p.add_argument("--preset",
                   help="encoder speed preset (default veryfast; medium, slow: higher quality, slower)")
    p.add_argument("--profile", help="ProRes: proxy, lt, standard, hq (default), 4444, "
                   "4444xq; DNxHR: dnxhr_lb, dnxhr_sq, dnxhr_hq, dnxhr_hqx, dnxhr_444 (default "
                   "dnxhr_hqx for a source of more than 8 bits, else dnxhr_hq)")
    _add_sequence_args(p)
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
    from vidcolor.options import ColourCopy, VideoOptions, parse_keyframe, parse_reference

    return VideoOptions.from_fields(
        render_size=args.render_size, batch_size=args.batch_size, stabilize=args.stabilize,
        stabilize_strength=args.stabilize_strength, start=args.start, duration=args.duration,
        codec=args.codec, crf=args.crf, preset=args.preset, profile=args.profile,
        keyframes=(parse_keyframe(k) for k in args.keyframe), fps=args.fps,
        timecode=args.timecode, allow_gaps=args.allow_gaps, sequence=args.sequence,
        interlaced=args.interlaced, deinterlace=args.deinterlace,
        references=tuple(parse_reference(r) for r in args.reference),
        colour_from=None if args.colour_from is None else
        ColourCopy(args.colour_from, args.colour_offset or 0))


# --- --export-keyframes ----------------------------------------------------------------------

def _run_export_keyframes(args) -> int:
    from vidcolor.options import Window
    from vidcolor.video.shots import ExportRequest, export_keyframes

    if args.output is not None or args.keyframe or args.reference or args.cluster \
            or len(args.inputs) > 1:
        raise VidcolorError("--export-keyframes only writes the frames of one input film: "
                            "leave out -o, --keyframe, --reference and --cluster")
    request = ExportRequest(args.inputs[0], args.export_keyframes, every=args.every,
                            window=Window(args.start, args.duration),
                            render_size=args.render_size, overwrite=args.overwrite,
                            fps=args.fps, allow_gaps=args.allow_gaps)
    bar = None if args.quiet else TqdmProgress(unit="frame", desc="looking for shots",
                                               disable=False)
    try:
        report = export_keyframes(request, bar)
    finally:
        if bar is not None:
            bar.close()
    print(f"{one_line(report.folder)}: {len(report.files)} frames to colour ({report.shots} "
          f"shots in {report.frames} frames)", file=sys.stderr)
    return 0


# --- the request -------------------------------------------------------------------------------

def _check_video_request(args) -> None:
    """Usage errors argparse cannot see: the output, and what goes with what."""
    if args.output is None:  # as argparse's own for a missing argument
        args.video_parser.error("the following arguments are required: -o/--output (or "
                                "--export-keyframes DIR)")
    if args.every is not None:
        args.video_parser.error("--every goes with --export-keyframes")
    if args.keyframe and not _is_single_film(args):
        raise VidcolorError("--keyframe colours one input film")
    if args.cluster:  # before Ray starts; the cluster's plan asks the same
        from vidcolor.video.cluster import cluster_refusal

        refusal = cluster_refusal(args.colour_from is not None,
                                  bool(args.sequence or _sequence_input(args)
                                       or "%" in args.output))
        if refusal is not None:
            raise refusal
    if args.colour_from is not None and not _is_single_film(args):
        raise VidcolorError("--colour-from colours one input film")
    if args.colour_from is None and args.colour_offset is not None:
        raise VidcolorError("--colour-offset goes with --colour-from")


def _sequence_input(args) -> bool:
    from vidcolor.video.sequence_files import is_sequence_path

    return len(args.inputs) == 1 and is_sequence_path(args.inputs[0])


def _is_folder(path: str) -> bool:
    """Whether a path is a folder; one that cannot be looked at is not (the job says why)."""
    try:
        return Path(path).is_dir()
    except OSError:
        return False


def _is_single_film(args) -> bool:
    """One input file (or image sequence) and an output that is not a folder (or is the
    folder of --sequence frames): the one-film job."""
    output = args.output
    if len(args.inputs) != 1:
        return False
    if args.sequence:
        return True
    return ((_sequence_input(args) or not _is_folder(args.inputs[0]))
            and not _is_folder(output) and not output.endswith(("/", "\\")))


def _film_line(result, stabilize: bool) -> str:
    """The line that reports one finished film."""
    done = f" ({result.resumed_frames} from the interrupted run)" if result.resumed_frames else ""
    cuts = f", {result.cuts} shots" if stabilize else ""
    n_lost = result.lost_frames
    lost = f", {n_lost} undecodable frame{'s' * (n_lost != 1)} left out" if n_lost else ""
    return (f"{one_line(result.output)}: {result.frames} frames{done}, {result.fps:.1f} "
            f"frames/s{cuts}{lost}")


# --- film job dispatch: in this process or on Ray --------------------------------------------

class _FilmJobs:
    """Runs ``vidcolor video`` jobs one film at a time, and only chooses where the frames are
    coloured: in this process (the model loaded once, when the first job needs it) or on a Ray
    cluster (:class:`~vidcolor.video.cluster.ClusterSession`, started once the first film has
    passed every check that needs no model)."""

    def __init__(self, args, options):
        self.args, self.options = args, options
        self.model = None if args.cluster else _model(args, deferred=True)
        self.session = None

    def __call__(self, src: Path, dst: Path, progress=None):
        if self.model is not None:
            from vidcolor.video import pipeline

            return pipeline.colorize_video(src, dst, self.model, self.options,
                                           overwrite=self.args.overwrite,
                                           resume=self.args.resume, progress=progress)
        from vidcolor.video.cluster import ClusterSession
        from vidcolor.video.job import FilmJob

        if self.session is None:  # a film that fails its checks starts no cluster
            FilmJob(src, dst, self.options, overwrite=self.args.overwrite).check()
            self.session = ClusterSession(self.args.cluster, _package()._model_loader(self.args))
        return self.session.colorize_video(src, dst, self.options, overwrite=self.args.overwrite,
                                           resume=self.args.resume, progress=progress)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def _run_video(args) -> int:
    from vidcolor.video.films import colorize_films, plan_films

    if args.export_keyframes is not None:
        return _run_export_keyframes(args)
    _check_video_request(args)
    if args.cluster:
        from vidcolor.video.cluster import import_ray, parse_cluster

        parse_cluster(args.cluster)
        import_ray()
    options = _package().video_options(args)
    single = _is_single_film(args)
    jobs = [(Path(args.inputs[0]), Path(args.output))] if single else \
        plan_films(args.inputs, args.output, options.encoder.codec)[0]
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
