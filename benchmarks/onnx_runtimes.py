"""OpenVINO against ONNX Runtime for a small ONNX colorizer (the tests' tiny network: two 3x3
convolutions), the network call alone, batch 8, rounds interleaved, median of 7.

    python -m benchmarks.onnx_runtimes
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import tiny_onnx_colorizer  # noqa: E402
from vidcolor.models.onnx_model import _OpenVinoRunner, _OrtRunner  # noqa: E402


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    for size in (64, 256, 512):
        path = tiny_onnx_colorizer(folder / f"net{size}.onnx", size=size)
        x = np.random.default_rng(0).uniform(0, 1, (8, 3, size, size)).astype(np.float32)
        runners = {"onnxruntime": _OrtRunner(path), "openvino": _OpenVinoRunner(path)}
        times = {name: [] for name in runners}
        for run in runners.values():
            run(x)
        for _ in range(7):
            for name, run in runners.items():
                start = time.perf_counter()
                run(x)
                times[name].append(time.perf_counter() - start)
        print(size, ", ".join(f"{name} {1000 * np.median(t):.1f} ms" for name, t in times.items()),
              "a batch of 8")


if __name__ == "__main__":
    main()
