"""A prepared GPU run: the 480p benchmark clip and a 1080p clip end to end, in GPU batches.

    bash benchmarks/gpu.sh prepare           (where PyPI is reached: wheels and the clip)
    bash benchmarks/gpu.sh run [--dry-run]   (on the machine with the GPU; see the script)
    python -m benchmarks.gpu [--dry-run] [--clip-480p PATH] [--clip-1080p PATH]
                             [--synthetic-size WxH] [--frames N] [--frames-1080p N]
                             [--batch-size N] [--runtime R] [--model DIR] [--out DIR]
    python -m benchmarks.gpu trim SRC DST --seconds S

For each clip :func:`benchmarks.throughput.run` times every stage alone and the whole
pipeline; this module adds what a GPU run asks of those figures: the network's frames/s, the
end-to-end frames/s, and which of the pipeline's threads (:mod:`vidcolor.video.stages`) bounds
it, each thread's rate taken from the stages measured alone:

- decode: PyAV decode + RGB (``decode_fps``; the thread's L conversion not counted);
- network: the model alone (``model_fps``), the GPU's part;
- temporal: the stabilization pass (``stabilize_fps``);
- finish: L-guided upsampling + Lab -> RGB (``finish_fps``) on the encode stage's threads;
- encode: the encoder, ``1 / (1/transcode - 1/decode)`` (transcode is decode then encode).

The 1080p clip is ``--clip-1080p`` or :func:`benchmarks.throughput.synthetic_frames` made
here. Without ``--dry-run`` the Keras backend must see a GPU (else exit status 2); with it any
device runs a few frames, to check every step. The last line printed is JSON; ``--out DIR``
also writes it (``gpu_report.json``) and the text (``gpu_report.txt``) there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.throughput import (_cpu_name, _size, _write_clip, format_table, run,
                                   synthetic_frames)
from vidcolor.atomic import write_bytes_atomic
from vidcolor.video.stages import _finish_threads

#: Frames of each clip, on the GPU and in a dry run (rounded down to whole batches).
FRAMES = {"480p": 288, "1080p": 192}
DRY_RUN_FRAMES = {"480p": 16, "1080p": 8}


# --- what bounds the pipeline ----------------------------------------------------------------

def thread_rates(results: dict, finish_threads: int) -> dict:
    """Frames/s each pipeline thread could reach alone, from :func:`benchmarks.throughput.run`'s
    stage figures.

    Parameters
    ----------
    results : dict
        With ``decode_fps``, ``transcode_fps``, ``model_fps``, ``stabilize_fps``, ``finish_fps``.
    finish_threads : int
        Threads sharing the finishing work (an upper bound: they may not scale).

    Returns
    -------
    dict
        ``{"decode", "network", "temporal", "finish", "encode"}`` in frames/s; ``encode`` is None
        where the transcode was not measurably slower than the decode alone.
    """
    encode_s = 1.0 / results["transcode_fps"] - 1.0 / results["decode_fps"]
    return {"decode": results["decode_fps"], "network": results["model_fps"],
            "temporal": results["stabilize_fps"],
            "finish": results["finish_fps"] * finish_threads,
            "encode": 1.0 / encode_s if encode_s > 0 else None}


def bounding_stage(rates: dict) -> str:
    """The name of the slowest thread in :func:`thread_rates` (the one that bounds the
    pipeline)."""
    return min((fps, name) for name, fps in rates.items() if fps is not None)[1]


def summarize(results: dict, finish_threads: int) -> dict:
    """The GPU run's figures for one clip: network and end-to-end frames/s, each thread's
    rate, the bounding thread and how close end to end comes to it."""
    rates = thread_rates(results, finish_threads)
    bound = bounding_stage(rates)
    return {"network_fps": results["model_fps"], "end_to_end_fps": results["end_to_end_fps"],
            "thread_fps": rates, "finish_threads": finish_threads, "bound": bound,
            "end_to_end_over_bound": results["end_to_end_fps"] / rates[bound]}


def measure(video: Path, frames: int, batch: int, model, render_size: int | None = None) -> dict:
    """:func:`benchmarks.throughput.run` on the first ``frames`` frames of ``video``, with its
    :func:`summarize` under ``"gpu"``."""
    results = run(video, frames, batch, model, render_size)
    results["gpu"] = summarize(results, _finish_threads())
    return results


def format_summary(name: str, r: dict) -> str:
    """One clip's GPU figures as text."""
    g = r["gpu"]
    rates = ", ".join(f"{k} {'-' if v is None else f'{v:.1f}'}" for k, v in g["thread_fps"].items())
    return (f"{name}: network {g['network_fps']:.1f} frames/s (batch {r['batch_size']}, render "
            f"{r['render_shape'][0]}x{r['render_shape'][1]}); end to end "
            f"{g['end_to_end_fps']:.1f} frames/s; bound: {g['bound']} ({rates}; finish threads "
            f"{g['finish_threads']}); end to end / bound "
            f"{g['end_to_end_over_bound']:.2f}")


# --- the device ------------------------------------------------------------------------------

def describe_backend() -> dict:
    """Keras's backend and the GPUs it sees, by name (after the model is loaded: Keras is
    imported by then, or absent where another runtime runs the network)."""
    try:
        import keras
    except ImportError:
        return {"keras_backend": None, "gpus": []}
    backend = keras.backend.backend()
    gpus: list[str] = []
    if backend == "jax":
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = [tf.config.experimental.get_device_details(d).get("device_name", d.name)
                for d in tf.config.list_physical_devices("GPU")]
    return {"keras_backend": backend, "gpus": gpus}


# --- the clips -------------------------------------------------------------------------------

def trim_clip(src: Path, dst: Path, seconds: float) -> int:
    """Copy the first ``seconds`` of ``src``'s video stream to ``dst``, packets as they are
    (no re-encoding): what travels to the GPU machine, where every MiB counts (the audio,
    which the benchmark does not time, stays behind).

    The cut is in decoding order (packets whose dts is under ``seconds``), so every kept
    frame's references are kept. Written to a temporary file, then renamed.

    Returns
    -------
    int
        Packets kept.
    """
    import av

    dst = Path(dst)
    tmp = dst.with_name(f".{dst.stem}.part{dst.suffix}")
    kept = 0
    try:
        with av.open(os.fspath(src)) as inp, av.open(os.fspath(tmp), "w") as out:
            chosen = inp.streams.video[:1]
            streams = {s.index: out.add_stream_from_template(s) for s in chosen}
            for packet in inp.demux(chosen):
                if packet.dts is None or packet.dts * packet.time_base >= seconds:
                    continue
                kept += 1
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return kept


def _clips(args, tmp: Path, frames: dict) -> dict:
    """``{"480p": path, "1080p": path}``: the given clips, or a synthetic 1080p one made in
    ``tmp``."""
    clips = {"480p": args.clip_480p, "1080p": args.clip_1080p}
    if clips["1080p"] is None:
        clips["1080p"] = tmp / "synthetic_1080p.mp4"
        _write_clip(clips["1080p"], synthetic_frames(frames["1080p"], *args.synthetic_size))
    return clips


# --- main ------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true",
                   help="any device, few frames: check every step (no GPU needed)")
    p.add_argument("--clip-480p", type=Path, required=True, help="the 480p benchmark clip")
    p.add_argument("--clip-1080p", type=Path, help="a 1080p clip (default: synthetic)")
    p.add_argument("--synthetic-size", type=_size, default=(1920, 1080), metavar="WxH",
                   help="the synthetic clip's size (default 1920x1080)")
    p.add_argument("--frames", type=int, help="480p frames (default 288; dry run 16)")
    p.add_argument("--frames-1080p", type=int, help="1080p frames (default 192; dry run 8)")
    p.add_argument("--batch-size", type=int,
                   help="frames per model call (default: the pipeline's on this device)")
    p.add_argument("--runtime", default="keras", help="what runs the network (default keras)")
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.add_argument("--render-size", type=int, help="network resolution (default: the model's)")
    p.add_argument("--out", type=Path, help="also write gpu_report.txt and .json here")
    return p


def _trim_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu trim")
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--seconds", type=float, required=True)
    args = p.parse_args(argv)
    kept = trim_clip(args.src, args.dst, args.seconds)
    print(f"{args.dst}: {kept} video packets, {args.dst.stat().st_size / 2**20:.2f} MiB")
    return 0


def _frame_counts(args, batch: int) -> dict:
    """Frames of each clip, in whole batches: a last, shorter one would compile the network
    anew (XLA on a GPU: seconds) inside the timed loop of throughput's model stage."""
    frames = dict(DRY_RUN_FRAMES if args.dry_run else FRAMES)
    frames["480p"] = args.frames or frames["480p"]
    frames["1080p"] = args.frames_1080p or frames["1080p"]
    return {name: max(batch, n - n % batch) for name, n in frames.items()}


def _header(report: dict) -> str:
    device = report["device"]
    return (f"{'DRY RUN, ' if report['dry_run'] else ''}keras backend "
            f"{device['keras_backend']}, GPUs {device['gpus'] or 'none'}, runtime "
            f"{report['runtime']}, {report['cpus']} CPUs ({report['cpu']}), {report['date']}")


def _write_reports(out: Path, lines: list[str], report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / "gpu_report.txt", ("\n".join(lines) + "\n").encode(), True)
    write_bytes_atomic(out / "gpu_report.json", json.dumps(report).encode(), True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["trim"]:
        return _trim_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    for path in (args.clip_480p, args.clip_1080p):  # told before the model's load
        if path is not None and not path.is_file():
            parser.error(f"{path}: no such clip")
    from vidcolor.models.runtimes import load_color_model
    from vidcolor.video.frames import default_batch_size

    started = time.time()
    model = load_color_model(args.model, args.runtime)
    device = describe_backend()
    if not args.dry_run and not device["gpus"]:
        print(f"no GPU visible to Keras (backend {device['keras_backend']}); "
              "--dry-run runs on the CPU", file=sys.stderr)
        return 2
    report = {"dry_run": args.dry_run, "device": device, "runtime": type(model).__name__,
              "default_batch_size": default_batch_size(), "cpu": _cpu_name(),
              "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "vidcolor_from": os.fspath(Path(sys.modules["vidcolor"].__file__).parent),
              "clips": {}}
    batch = args.batch_size or report["default_batch_size"]
    frames = _frame_counts(args, batch)
    lines = [_header(report)]
    print(lines[0], flush=True)
    with tempfile.TemporaryDirectory(prefix="vidcolor-gpu-") as tmp:
        for name, video in _clips(args, Path(tmp), frames).items():
            r = report["clips"][name] = measure(video, frames[name], batch, model,
                                                args.render_size)
            lines += [format_table(r), format_summary(name, r)]
            print("\n".join(lines[-2:]), flush=True)
    report["seconds"] = time.time() - started
    print(json.dumps(report))
    if args.out:
        _write_reports(args.out, lines, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
