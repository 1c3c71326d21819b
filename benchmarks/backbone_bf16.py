"""The backbone in float32, bf16 and mixed (bf16 but for chosen layers kept float32) on a CPU
with bf16: a/b error against float32 and CPU time, on a model's IR (default: the shipped one).

    python -m benchmarks.backbone_bf16 errors SOURCE [--shape HxW] [--bf16 27,29,...] [--model DIR]
    python -m benchmarks.backbone_bf16 layers SOURCE [--limit 16] [--model DIR]
    python -m benchmarks.backbone_bf16 speed [--rounds 10] [--threads N] [--bf16 27,29,...]

SOURCE is a folder of photos (each at its render shape for render size 256) or a clip (every
second frame of the first 480, at ``--shape`` or its render shape). ``errors``: each backbone
output's largest and mean |bf16 - float32|, then |a/b - a/b of float32 throughout| (max, mean,
pictures over 2 units) for each backbone (float32, bf16, mixed) with the decoder in float32 and
in bf16. ``layers``: that a/b error with one convolution's group (:func:`layer_groups`) in bf16
and the rest float32, for each group (``--limit``: the first N pictures of the commonest
shape).
``speed``: CPU ms a frame of each backbone, batch 8 at 192x352, rounds alternating them (median
and lowest); ``--profile`` adds each convolution's CPU time (OpenVINO's counters).

The mixed backbone runs bf16 only in the convolutions ``--bf16`` names (indices in running
order; default :data:`BF16_CONVOLUTIONS`, 1x1 convolutions that moved a/b least for the time
they save). OpenVINO's CPU plugin leaves a layer in float32 under a bf16 hint when it carries
the ``DisablePrecisionConversion`` runtime attribute, which only the IR reader sets
(:func:`keep_float32`). benchmarks/RESULTS.md "Runtimes" has the numbers and why the runtime
keeps its backbone float32.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from vidcolor.models import ir, shapes, store
from vidcolor.models.openvino_model import at_size
from vidcolor.models.ov_tools import import_openvino

CONFIG = {"ENABLE_CPU_PINNING": False, "PERFORMANCE_HINT": "LATENCY"}
OUTPUTS = ("f4", "f8", "f16", "f32", "g")
# The 1x1 convolutions (indices in running order) that moved a/b least for the time they save
# (``layers`` and ``speed --profile``): expansions and projections of the two residual blocks at
# 112 channels, expansions of the three at 192, and the head.
BF16_CONVOLUTIONS = (27, 29, 30, 32, 36, 39, 42, 48)
CONVOLUTIONS = ("Convolution", "GroupConvolution")
# The attribute's value: no conversion from any precision to a lower one (the CPU plugin asks
# whether conversion to f16 is disabled, for bf16 too).
KEEP = {"name": "DisablePrecisionConversion", "version": "0", "value": "dynamic:f16"}
BATCH = 8


def lightness(source: Path, shape=None, frames: int = 240) -> dict:
    """L in [0, 100] of a folder's photos or a clip's frames (every second one, ``frames`` of
    them at most), by shape: {(h, w): (N, h, w) float32}."""
    from vidcolor import color, imageio
    from vidcolor.colorize import render_shape, resize_l

    def rgbs():
        if source.is_dir():
            for path in imageio.find_pictures(source):
                yield imageio.read_image(path).rgb
            return
        import av

        with av.open(str(source)) as clip:
            for i, frame in enumerate(clip.decode(video=0)):
                if i >= 2 * frames:
                    return
                if i % 2 == 0:
                    yield frame.to_ndarray(format="rgb24")

    groups: dict = {}
    for rgb in rgbs():
        L = color.rgb_to_l(rgb)
        size = shape or render_shape(*L.shape, 256)
        groups.setdefault(size, []).append(resize_l(L, size))
    return {size: np.stack(ls).astype(np.float32) for size, ls in groups.items()}


def layer_groups(model) -> list[list]:
    """The network's operations grouped by convolution, in running order: each group a
    convolution, the bias, activation and residual sums after it, and the layout transposes
    just before it; the first group holds the transposes before the first convolution (the
    input's). Constants, conversions of weights, inputs and outputs belong to none."""
    groups, before = [[]], []
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind == "Transpose":
            before.append(op)
        elif kind in CONVOLUTIONS:
            if len(groups) == 1:
                groups[0], before = before, []
            groups.append([op, *before])
            before = []
        elif kind in ("Add", "Clamp", "ReduceMean") and len(groups) > 1:
            groups[-1].append(op)
    return groups


def keep_float32(model, names: set[str]):
    """A copy of an OpenVINO model whose operations named in ``names`` keep float32 when the
    CPU plugin runs the rest in bf16 (``DisablePrecisionConversion`` on each, through IR)."""
    ov = import_openvino()

    with tempfile.TemporaryDirectory(prefix="vidcolor-mixed-") as folder:
        xml = Path(folder) / "model.xml"
        ov.save_model(model, xml, compress_to_fp16=False)
        tree = ET.parse(xml)
        weights = np.fromfile(xml.with_suffix(".bin"), np.uint8)
    marked = 0
    for layer in tree.getroot().iter("layer"):
        if layer.get("name") in names:
            rt_info = layer.find("rt_info")
            if rt_info is None:
                rt_info = ET.Element("rt_info")
                layer.insert(0, rt_info)
            ET.SubElement(rt_info, "attribute", KEEP)
            marked += 1
    if marked != len(names):
        raise ValueError(f"{len(names) - marked} of the layers to keep in float32 not found")
    return ov.Core().read_model(ET.tostring(tree.getroot(), encoding="unicode"),
                                ov.Tensor(weights))


def compiled(core, model, precision: str, shape=None, threads=None, profile=False):
    """A part compiled for the CPU (the decoder at a fixed shape)."""
    if shape is not None:
        model = at_size(model, "decoder", *shape)
    config = {**CONFIG, "INFERENCE_PRECISION_HINT": precision, "PERF_COUNT": profile}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    return core.compile_model(model, "CPU", config)


def backbones(core, folder: Path, keep_f32: dict, threads=None, profile=False) -> dict:
    """name -> compiled backbone: float32, bf16, and one bf16 but for each set in keep_f32."""
    model = ir.read_part(core, folder, "backbone")
    out = {"f32": compiled(core, model, "f32", None, threads, profile),
           "bf16": compiled(core, model, "bf16", None, threads, profile)}
    for name, names in keep_f32.items():
        out[name] = compiled(core, keep_float32(model, names), "bf16", None, threads, profile)
    return out


def features(backbone, x3: np.ndarray) -> list:
    out = backbone(x3)
    return [np.asarray(out[o]).copy() for o in backbone.outputs]


def a_b(decoder, x3: np.ndarray, feats: list) -> np.ndarray:
    return np.asarray(decoder([np.ascontiguousarray(x3[..., :1]), *feats])[0]) * 128.0


def float32_names(model, bf16_indices) -> set:
    """The layers that stay float32 when the convolutions ``bf16_indices`` (running order) run
    bf16: all but those convolutions' groups (the input's transpose included)."""
    bf16 = {i + 1 for i in bf16_indices}
    return {op.get_friendly_name() for i, group in enumerate(layer_groups(model))
            if i not in bf16 for op in group}


def batches(groups: dict):
    """(shape, x3 batch) over every group, BATCH pictures at a time."""
    for size, L in groups.items():
        x3 = shapes.backbone_input(L)
        for i in range(0, len(L), BATCH):
            yield size, x3[i:i + BATCH]


def ab_errors(core, folder: Path, groups: dict, models: dict) -> dict:
    """name -> (precision of the decoder -> |a/b - float32 a/b| (pictures, pixels))."""
    dec = core.read_model(folder / "decoder.xml")
    decoders = {size: {p: compiled(core, dec, p, size) for p in ("f32", "bf16")} for size in groups}
    errors: dict = {name: {"f32": [], "bf16": []} for name in models}
    for size, x3 in batches(groups):
        reference = a_b(decoders[size]["f32"], x3, features(models["f32"], x3))
        for name, backbone in models.items():
            feats = features(backbone, x3)
            for p in ("f32", "bf16"):
                d = np.abs(a_b(decoders[size][p], x3, feats) - reference)
                errors[name][p].append(d.reshape(len(x3), -1))
    return {name: {p: np.concatenate(v) for p, v in by.items()} for name, by in errors.items()}


def summary(d: np.ndarray) -> str:
    return (f"max {d.max():.3f} mean {d.mean():.4f} over 2: {(d.max(1) > 2).sum()} "
            f"of {len(d)}")


def run_errors(core, folder: Path, groups: dict, bf16_indices) -> None:
    model = ir.read_part(core, folder, "backbone")
    models = backbones(core, folder, {"mixed": float32_names(model, bf16_indices)})
    worst = {o: [0.0, 0.0, 0] for o in OUTPUTS}
    for _, x3 in batches(groups):
        for o, f, b in zip(OUTPUTS, features(models["f32"], x3), features(models["bf16"], x3)):
            d = np.abs(f - b)
            worst[o] = [max(worst[o][0], d.max()), worst[o][1] + d.mean() * len(x3),
                        worst[o][2] + len(x3)]
    for o, (top, total, n) in worst.items():
        print(f"backbone output {o}: |bf16 - f32| max {top:.3f} mean {total / n:.4f}")
    for name, by in ab_errors(core, folder, groups, models).items():
        print(f"a/b, backbone {name}: " + " | ".join(
            f"decoder {p}: {summary(d)}" for p, d in by.items()))


def run_layers(core, folder: Path, groups: dict) -> None:
    model = ir.read_part(core, folder, "backbone")
    parts = layer_groups(model)
    every = {op.get_friendly_name() for group in parts for op in group}
    for i, group in enumerate(parts):
        names = every - {op.get_friendly_name() for op in group}
        models = backbones(core, folder, {"one": names})
        d = ab_errors(core, folder, groups, models)["one"]["f32"]
        label = "input" if i == 0 else f"{i - 1:2d} {group[0].get_friendly_name()}"
        print(f"{label}: a/b {summary(d)}", flush=True)


def run_speed(core, folder: Path, rounds: int, threads, bf16_indices, profile: bool) -> None:
    model = ir.read_part(core, folder, "backbone")
    keep = {"mixed": float32_names(model, bf16_indices)}
    models = backbones(core, folder, keep, threads, profile)
    x3 = np.random.default_rng(0).uniform(-1, 1, (BATCH, 192, 352, 3)).astype(np.float32)
    times: dict = {name: [] for name in models}
    for backbone in models.values():
        backbone(x3)
    for _ in range(rounds):
        for name, backbone in models.items():
            start = time.process_time()
            for _ in range(3):
                backbone(x3)
            times[name].append((time.process_time() - start) / 3 / BATCH * 1000)
    print(f"load average {os.getloadavg()[0]:.1f}; batch {BATCH} at 192x352, CPU ms a frame")
    for name, v in times.items():
        print(f"backbone {name}: median {np.median(v):.1f} lowest {min(v):.1f}")
    if profile:
        print_profile(model, models, x3)


def print_profile(model, models: dict, x3: np.ndarray) -> None:
    """Each convolution's CPU ms a frame (its fused bias, activation and sum included)."""
    rows = {}
    for name in ("f32", "bf16"):
        request = models[name].create_infer_request()
        request.infer([x3])
        rows[name] = {p.node_name: p.cpu_time.total_seconds() * 1000 / BATCH
                      for p in request.profiling_info}
    for i, group in enumerate(layer_groups(model)[1:]):
        conv = group[0].get_friendly_name()
        print(f"{i:2d} {conv}: f32 {rows['f32'].get(conv, 0):.3f} "
              f"bf16 {rows['bf16'].get(conv, 0):.3f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["errors", "layers", "speed"])
    p.add_argument("source", nargs="?", type=Path)
    p.add_argument("--model", type=Path, default=store.DEFAULT_MODEL_DIR,
                   help="a model directory with OpenVINO IR (default: the shipped model)")
    p.add_argument("--shape", help="HxW for a clip's frames (default: its render shape)")
    p.add_argument("--limit", type=int, help="only the first N pictures of the commonest shape")
    p.add_argument("--bf16", help="the mixed backbone's bf16 convolutions, e.g. 27,29")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--threads", type=int)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    ov = import_openvino()

    from vidcolor.models.openvino_model import has_bf16

    core = ov.Core()
    if not has_bf16(core):
        print("this CPU has no bf16", file=sys.stderr)
        return 2
    indices = ([int(i) for i in args.bf16.split(",")] if args.bf16
               else list(BF16_CONVOLUTIONS))
    if args.command == "speed":
        run_speed(core, args.model, args.rounds, args.threads, indices, args.profile)
        return 0
    if args.source is None:
        p.error(f"{args.command} needs SOURCE")
    shape = tuple(int(v) for v in args.shape.split("x")) if args.shape else None
    groups = lightness(args.source, shape)
    if args.limit:
        most = max(groups, key=lambda size: len(groups[size]))
        groups = {most: groups[most][: args.limit]}
    if args.command == "errors":
        run_errors(core, args.model, groups, indices)
    else:
        run_layers(core, args.model, groups)
    return 0


if __name__ == "__main__":
    sys.exit(main())
