"""Float against INT8 on the OpenVINO runtime: quality, temporal stability and the network's
speed, one table.

    python -m benchmarks.int8 VARIANT_DIR [VARIANT_DIR ...] [--model DIR] [--rounds 6]
                              [--frames 60] [--no-temporal] [--no-quality]

Each VARIANT_DIR is a folder ``python -m training.quantize_model`` wrote (INT8 IR of the
model's backbone and decoder; the folder's name is the variant's). The float model is the
default OpenVINO runtime (backbone float32, decoder bf16 where the CPU has it, else float32).
For the float model and each variant:

- quality: ``vidcolor eval`` on CBSD68 (``$VIDCOLOR_DATA/val/cbsd68``) and on the held-out
  photos (``$VIDCOLOR_DATA/train`` with ``benchmarks/holdout_untuned.txt``): PSNR and
  colourfulness (:func:`vidcolor.evaluate.evaluate_folder`, the same code as the command);
- temporal: :mod:`benchmarks.temporal` without timing on bbb_480p from 10 s and
  broken_audio_tail from 2 s (``--frames`` frames): warp, a/b warp and CDC ratios, PSNR
  change and colourfulness ratio of the stabilizer;
- speed: the network alone (``predict_ab``) on a batch of 8 frames of bbb_480p at their
  render shape (192x352 at render size 256), every model warmed up, then ``--rounds`` rounds
  alternating the models (float, variant 1, variant 2, ..., float, ...) so that other work on
  the machine slows all alike; median wall and CPU milliseconds a batch, and the ratio to
  float's; |a/b variant - float| on that batch.

The rule, fixed before any variant was measured: a variant passes when its PSNR is at least
float's - 0.1 dB and its colourfulness within 0.5 of float's on CBSD68 and on the held-out
photos, every temporal bar that float meets it meets too (warp ratio <= 0.5, CDC ratio <= 0.7,
PSNR change >= -0.2 dB, colourfulness ratio >= 0.9, each clip), and its network is at least
1.4x float's speed (median wall time a batch). The one to ship is the fastest variant that
passes; none passing, float stays. The last line is JSON with every number.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.quality import data_root
from vidcolor.models.ov_tools import import_openvino

REPO = Path(__file__).resolve().parents[1]
HOLDOUT = REPO / "benchmarks" / "holdout_untuned.txt"
CLIPS = (("bbb_480p_30s_5.1.mp4", 10.0), ("broken_audio_tail.mp4", 2.0))
SPEED_CLIP, SPEED_START, BATCH = "bbb_480p_30s_5.1.mp4", 10.0, 8
QUALITY_BARS = {"psnr": 0.1, "colourfulness": 0.5}  # drop allowed / |difference| allowed
TEMPORAL_BARS = {"warp_ratio": (0.5, "max"), "cdc_ratio": (0.7, "max"),
                 "psnr_change": (-0.2, "min"), "colourfulness_ratio": (0.9, "min")}
SPEEDUP_BAR = 1.4


def load_models(model_dir, variant_dirs: list[Path]) -> dict:
    """``{"float": OpenVinoColorizer, variant name: OpenVinoColorizer with its IR}``."""
    ov = import_openvino()

    from vidcolor.models.openvino_model import OpenVinoColorizer
    from vidcolor.models.store import load_model

    float_model = load_model(model_dir, "openvino")
    models = {"float": float_model}
    core = ov.Core()
    for folder in variant_dirs:
        networks = {part: core.read_model(folder / f"{part}.xml") for part in ("backbone", "decoder")}
        models[folder.name] = OpenVinoColorizer(float_model.source, networks=networks,
                                              variant=folder.name)
    return models


def quality(model) -> dict:
    """PSNR and colourfulness of ``vidcolor eval`` on CBSD68 and the held-out photos."""
    from vidcolor.evaluate import evaluate_folder

    holdout = [REPO / line for line in HOLDOUT.read_text().split()]
    sets = {"cbsd68": evaluate_folder(data_root() / "val" / "cbsd68", model),
            "holdout": evaluate_folder(data_root() / "train", model, only=holdout)}
    return {name: {"psnr": r["overall"]["psnr"], "colourfulness": r["overall"]["colourfulness"],
                   "count": r["overall"]["count"]} for name, r in sets.items()}


def temporal_clips(frames: int) -> dict:
    """Each clip's ground-truth frames and flows, read once for every model."""
    from benchmarks.temporal import gt_flows, read_frames

    clips = {}
    for name, start in CLIPS:
        _, gt = read_frames(data_root() / "video" / name, start, frames)
        clips[name] = (gt, gt_flows(gt))
    return clips


def temporal(model, clips: dict) -> dict:
    """The stabilizer's ratios (default strength) with this model, each clip."""
    from benchmarks.temporal import metrics, predict_all, run_variant
    from vidcolor.video.stabilize import DEFAULT_STRENGTH

    out = {}
    for name, (gt, flows) in clips.items():
        predicted = predict_all(model, gt, None, BATCH)
        base = metrics(run_variant(predicted, None), gt, flows)
        m = metrics(run_variant(predicted, DEFAULT_STRENGTH), gt, flows)
        out[name] = {"warp_ratio": m["warp_error"] / base["warp_error"],
                     "warp_ab_ratio": m["warp_error_ab"] / base["warp_error_ab"],
                     "cdc_ratio": m["cdc"] / base["cdc"],
                     "psnr_change": m["psnr"] - base["psnr"], "psnr": m["psnr"],
                     "colourfulness_ratio": m["colourfulness"] / base["colourfulness"]}
    return out


def speed_batch(model) -> np.ndarray:
    """L (8, 192, 352) of the speed clip's frames at their render shape, in [0, 100]."""
    from benchmarks.temporal import read_frames
    from vidcolor.video.frames import FrameColorizer

    _, frames = read_frames(data_root() / "video" / SPEED_CLIP, SPEED_START, BATCH)
    core = FrameColorizer(model)
    return np.stack([core.prepare(f).L_small for f in frames])


def speed(models: dict, L: np.ndarray, rounds: int, calls: int = 3) -> dict:
    """Median wall and CPU ms a batch of each model, rounds alternating the models; and
    the max and mean |a/b - float's| on the batch."""
    outputs = {name: m.predict_ab(L) for name, m in models.items()}  # warm-up (compiles)
    wall: dict = {name: [] for name in models}
    cpu: dict = {name: [] for name in models}
    for _ in range(rounds):
        for name, m in models.items():
            w, c = time.perf_counter(), time.process_time()
            for _ in range(calls):
                m.predict_ab(L)
            wall[name].append((time.perf_counter() - w) * 1000 / calls)
            cpu[name].append((time.process_time() - c) * 1000 / calls)
    out = {}
    for name in models:
        diff = np.abs(outputs[name] - outputs["float"])
        out[name] = {"wall_ms": statistics.median(wall[name]),
                     "cpu_ms": statistics.median(cpu[name]),
                     "max_ab": float(diff.max()), "mean_ab": float(diff.mean())}
    for name in models:
        for key in ("wall", "cpu"):
            out[name][f"{key}_speedup"] = out["float"][f"{key}_ms"] / out[name][f"{key}_ms"]
    return out


def failures(row: dict, base: dict) -> list[str]:
    """The bars a variant's row misses against the float row (see the module docstring)."""
    missed = [f"{part} not measured" for part in ("quality", "temporal") if part not in row]
    for name, q in row.get("quality", {}).items():
        f = base["quality"][name]
        if q["psnr"] < f["psnr"] - QUALITY_BARS["psnr"]:
            missed.append(f"{name} PSNR")
        if abs(q["colourfulness"] - f["colourfulness"]) > QUALITY_BARS["colourfulness"]:
            missed.append(f"{name} colourfulness")
    for clip, t in row.get("temporal", {}).items():
        for key, (bar, kind) in TEMPORAL_BARS.items():
            def met(v):
                return v <= bar if kind == "max" else v >= bar
            if met(base["temporal"][clip][key]) and not met(t[key]):
                missed.append(f"{clip} {key}")
    if row["speed"]["wall_speedup"] < SPEEDUP_BAR:
        missed.append("speed")
    return missed


def print_table(rows: dict) -> None:
    print(f"{'model':<24} {'CBSD68 dB':>9} {'colourf.':>8} {'held dB':>8} {'colourf.':>8} "
          f"{'ms/batch':>8} {'x float':>7} {'CPU x':>6} {'max|dab|':>8}  temporal (warp, a/b, "
          "CDC, dPSNR, colourf. each clip)")
    for name, r in rows.items():
        q, s = r.get("quality"), r["speed"]
        cells = (f"{q['cbsd68']['psnr']:>9.4f} {q['cbsd68']['colourfulness']:>8.4f} "
                 f"{q['holdout']['psnr']:>8.4f} {q['holdout']['colourfulness']:>8.4f}"
                 if q else f"{'-':>9} {'-':>8} {'-':>8} {'-':>8}")
        temp = "; ".join(f"{t['warp_ratio']:.2f} {t['warp_ab_ratio']:.2f} {t['cdc_ratio']:.2f} "
                         f"{t['psnr_change']:+.2f} {t['colourfulness_ratio']:.2f}"
                         for t in r.get("temporal", {}).values())
        print(f"{name:<24} {cells} {s['wall_ms']:>8.1f} {s['wall_speedup']:>7.2f} "
              f"{s['cpu_speedup']:>6.2f} {s['max_ab']:>8.2f}  {temp}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.int8", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variants", type=Path, nargs="+", help="folders of INT8 networks")
    p.add_argument("--model", type=Path, help="model directory (default: the shipped model)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--no-quality", action="store_true")
    p.add_argument("--no-temporal", action="store_true")
    args = p.parse_args(argv)
    for folder in args.variants:
        if not (folder / "backbone.xml").is_file() or not (folder / "decoder.xml").is_file():
            print(f"error: {folder}: no backbone.xml and decoder.xml", file=sys.stderr)
            return 1
    models = load_models(args.model, args.variants)
    timing = speed(models, speed_batch(models["float"]), args.rounds)
    rows = {name: {"speed": timing[name]} for name in models}
    for name, t in timing.items():  # told at once: the rest takes minutes a model
        print(f"speed {name}: {t['wall_ms']:.1f} ms a batch, x{t['wall_speedup']:.2f} wall, "
              f"x{t['cpu_speedup']:.2f} CPU, max |a/b - float| {t['max_ab']:.2f}",
              file=sys.stderr, flush=True)
    clips = None if args.no_temporal else temporal_clips(args.frames)
    for name, model in models.items():
        if not args.no_quality:
            rows[name]["quality"] = quality(model)
        if clips is not None:
            rows[name]["temporal"] = temporal(model, clips)
    for name in list(models)[1:]:
        rows[name]["missed"] = failures(rows[name], rows["float"])
    passing = [n for n in list(models)[1:] if not rows[n]["missed"]]
    chosen = max(passing, key=lambda n: rows[n]["speed"]["wall_speedup"], default="float")
    if args.no_quality or args.no_temporal:
        chosen = None  # the rule needs every bar measured
    print_table(rows)
    for name in list(models)[1:]:
        print(f"{name}: {'passes' if not rows[name]['missed'] else 'misses ' + ', '.join(rows[name]['missed'])}")
    print(f"chosen: {chosen}")
    print(json.dumps({"rows": rows, "chosen": chosen, "rounds": args.rounds,
                      "frames": args.frames, "batch": BATCH,
                      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
