"""Keras against OpenVINO in one run, interleaved: model-only and end-to-end frames/s on the
same frames, and how far OpenVINO's a/b is from Keras's.

Used by ``python -m benchmarks.throughput VIDEO --compare-runtimes``. Rounds alternate the
runtimes (keras, openvino, keras, openvino, ...) so that a machine shared with other work
slows both alike; each figure is the best round's.
"""

from __future__ import annotations

import numpy as np

from benchmarks.temporal import time_end_to_end
from vidcolor.video.frames import FrameColorizer
from vidcolor.video.probe import probe
from vidcolor.video.stabilize import DEFAULT_STRENGTH

RUNTIME_NAMES = ("keras", "openvino")


def compare(video, n: int, batch: int, keras_model, render_size: int | None,
            rounds: int = 2) -> dict:
    """Measure both runtimes on the first ``n`` frames of ``video``.

    Returns
    -------
    dict
        ``{runtime: {"model_fps", "model_cpu_ms", "end_to_end_fps"}}``, ``"accuracy"``
        (max and mean |a/b OpenVINO - a/b Keras| over every frame's render-size output, Lab
        units), ``"speedup"`` (OpenVINO over Keras, both figures) and the set-up.
    """
    from benchmarks.throughput import time_decode, time_model
    from vidcolor.models.openvino_model import OpenVinoColorizer, has_bf16

    info = probe(video)
    _, frames = time_decode(info, n)
    n = len(frames)
    models = {"keras": keras_model, "openvino": OpenVinoColorizer(keras_model)}
    cores = {name: FrameColorizer(m, render_size) for name, m in models.items()}
    out: dict = {name: {"model_fps": 0.0, "model_cpu_ms": float("inf"), "end_to_end_fps": 0.0}
                 for name in RUNTIME_NAMES}
    outputs = {}
    for _ in range(rounds):
        for name in RUNTIME_NAMES:
            (fps, cpu_ms), _, predicted = time_model(cores[name], frames, batch)
            outputs[name] = np.stack([ab for _, _, ab in predicted])
            e2e = time_end_to_end(video, models[name], 0.0, info, n, render_size,
                                  DEFAULT_STRENGTH, batch)
            best = out[name]
            best.update(model_fps=max(best["model_fps"], fps),
                        model_cpu_ms=min(best["model_cpu_ms"], cpu_ms),
                        end_to_end_fps=max(best["end_to_end_fps"], e2e))
    diff = np.abs(outputs["openvino"] - outputs["keras"])
    out["accuracy"] = {"max_ab": float(diff.max()), "mean_ab": float(diff.mean())}
    out["speedup"] = {k: out["openvino"][k] / out["keras"][k]
                      for k in ("model_fps", "end_to_end_fps")}
    shape = cores["keras"].render_shape(*frames[0].shape[:2])
    out.update(frames=n, rounds=rounds, batch_size=batch, render_shape=list(shape),
               size=[info.width, info.height], precisions=models["openvino"].precisions,
               bf16=has_bf16())
    return out


def format_comparison(r: dict) -> str:
    """The comparison as a table (best of the interleaved rounds)."""
    lines = [f"{r['size'][0]}x{r['size'][1]}, {r['frames']} frames, batch {r['batch_size']}, "
             f"render {r['render_shape'][0]}x{r['render_shape'][1]}, best of {r['rounds']} "
             f"interleaved rounds; OpenVINO precisions {r['precisions']}, CPU bf16: {r['bf16']}",
             f"{'runtime':<10} {'model fps':>10} {'model CPU ms/frame':>19} {'end-to-end fps':>15}"]
    lines += [f"{name:<10} {r[name]['model_fps']:>10.2f} {r[name]['model_cpu_ms']:>19.1f} "
              f"{r[name]['end_to_end_fps']:>15.2f}" for name in RUNTIME_NAMES]
    s, a = r["speedup"], r["accuracy"]
    lines.append(f"openvino / keras: model {s['model_fps']:.2f}x, end to end "
                 f"{s['end_to_end_fps']:.2f}x (bar 1.25x: "
                 f"{'ok' if s['end_to_end_fps'] >= 1.25 else 'FAIL'}); |a/b openvino - keras| "
                 f"max {a['max_ab']:.4f}, mean {a['mean_ab']:.4f} (bar max 2: "
                 f"{'ok' if a['max_ab'] <= 2 else 'FAIL'})")
    return "\n".join(lines)
