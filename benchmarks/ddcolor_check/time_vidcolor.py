"""Frames a second of the exported DDColor-tiny through vidcolor's model (network plus its
pre/post-processing, one 854x480 frame's render a call), per runtime, median of 7."""
import time

import numpy as np

from vidcolor.colorize import render_shape
from vidcolor.models.runtimes import load_color_model

rng = np.random.default_rng(0)
for size in (256, 512):
    for runtime in ("openvino", "onnxruntime"):
        model = load_color_model(f"ddcolor-tiny-random-{size}.onnx", runtime, kind="ddcolor")
        L = rng.uniform(10, 90, (1, *render_shape(480, 854, size, model.multiple))).astype(np.float32)
        model.predict_ab(L)
        times = []
        for _ in range(7):
            t = time.perf_counter()
            model.predict_ab(L)
            times.append(time.perf_counter() - t)
        med = sorted(times)[3]
        print(f"{size} {runtime:11} render {L.shape[1]}x{L.shape[2]}: {med * 1000:.0f} ms a frame, "
              f"{1 / med:.2f} frames/s")
