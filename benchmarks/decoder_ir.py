"""Two model directories' OpenVINO decoders against each other on real photos: process CPU ms a
frame at bf16 and float32 (rounds interleaved), and how far apart their a/b are.

    python -m benchmarks.decoder_ir BEFORE_DIR AFTER_DIR [--photos 8] [--rounds 8]

Each directory holds an IR (``decoder.xml`` / ``.bin``, as :func:`vidcolor.models.ir.write`
writes it). Both decoders get the same inputs: CBSD68 photos resized to the render size
(192x352) in one batch, their features from BEFORE_DIR's backbone in float32. bf16 needs a CPU
with bf16 (AVX512_BF16 or AMX); elsewhere OpenVINO runs that row in float32 too. No Keras.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.quality import data_root
from vidcolor import color
from vidcolor.models import ir, shapes
from vidcolor.models.openvino_model import at_size
from vidcolor.models.ov_tools import import_openvino

PRECISIONS = ("bf16", "f32")


def photo_lightness(count: int, height: int, width: int) -> np.ndarray:
    """L (count, height, width) in [0, 100] of the first CBSD68 photos, resized (not cropped)."""
    import cv2

    folder = data_root() / "val" / "cbsd68"
    paths = sorted(folder.glob("*.png"))[:count]
    if not paths:
        raise SystemExit(f"no CBSD68 photos in {folder} (set VIDCOLOR_DATA to the data folder)")
    return np.stack([color.rgb_to_l(cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB),
                                               (width, height), interpolation=cv2.INTER_AREA))
                     for p in paths]).astype(np.float32)


def _config(precision: str) -> dict:
    return {"ENABLE_CPU_PINNING": False, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": precision}


def decoder_inputs(core, directory: Path, L: np.ndarray) -> list[np.ndarray]:
    """The decoder's inputs for L (N, h, w): x and the backbone's outputs (float32)."""
    x3 = shapes.backbone_input(L)
    backbone = core.compile_model(ir.read_part(core, directory, "backbone"), "CPU",
                                  _config("f32"))
    out = backbone(x3)
    return [np.ascontiguousarray(x3[..., :1]), *(np.asarray(out[o]) for o in backbone.outputs)]


def compiled_decoder(core, directory: Path, precision: str, height: int, width: int):
    """A directory's decoder compiled at one input size and precision."""
    model = at_size(core.read_model(directory / "decoder.xml"), "decoder", height, width)
    return core.compile_model(model, "CPU", _config(precision))


def cpu_ms_a_frame(networks: dict, inputs: list, rounds: int, calls: int = 3) -> dict:
    """Process CPU ms a frame of each network, ``rounds`` rounds, the networks interleaved."""
    frames, times = len(inputs[0]), {key: [] for key in networks}
    for _ in range(rounds):
        for key, network in networks.items():
            network(inputs)  # not timed: after the other network ran
            start = time.process_time()
            for _ in range(calls):
                network(inputs)
            times[key].append((time.process_time() - start) / (calls * frames) * 1000)
    return {key: {"median": round(statistics.median(v), 2), "min": round(min(v), 2),
                  "max": round(max(v), 2)} for key, v in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--photos", type=int, default=8, help="the batch (default 8)")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--width", type=int, default=352)
    args = p.parse_args(argv)
    ov = import_openvino()

    core = ov.Core()
    L = photo_lightness(args.photos, args.height, args.width)
    inputs = decoder_inputs(core, args.before, L)
    networks = {f"{name} {precision}": compiled_decoder(core, d, precision, args.height, args.width)
                for name, d in (("before", args.before), ("after", args.after))
                for precision in PRECISIONS}
    ab = {key: np.asarray(network(inputs)[0]) * 128.0 for key, network in networks.items()}
    result = {"cpu_ms_a_frame": cpu_ms_a_frame(networks, inputs, args.rounds)}
    for precision in PRECISIONS:
        d = np.abs(ab[f"after {precision}"] - ab[f"before {precision}"])
        result[f"ab_after_vs_before_{precision}"] = {"max": round(float(d.max()), 4),
                                                     "mean": round(float(d.mean()), 5)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
