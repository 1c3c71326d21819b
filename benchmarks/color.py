"""Speed and agreement of vidcolor.color against scikit-image on a 1920x1080 frame.

    python -m benchmarks.color [--repeats 5]

Prints a line per direction and, last, JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from skimage import color as skcolor

from vidcolor import color


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    rgb = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    L, ab = color.rgb_to_lab(rgb)
    lab = skcolor.rgb2lab(rgb)
    result = {
        "rgb_to_lab_ms": 1000 * best_time(lambda: color.rgb_to_lab(rgb), args.repeats),
        "skimage_rgb2lab_ms": 1000 * best_time(lambda: skcolor.rgb2lab(rgb), args.repeats),
        "lab_to_rgb_ms": 1000 * best_time(lambda: color.lab_to_rgb(L, ab), args.repeats),
        "skimage_lab2rgb_ms": 1000 * best_time(lambda: skcolor.lab2rgb(lab), args.repeats),
        "max_lab_difference": float(np.abs(np.dstack([L, ab]) - lab).max()),
    }
    result["speedup_forward"] = result["skimage_rgb2lab_ms"] / result["rgb_to_lab_ms"]
    result["speedup_inverse"] = result["skimage_lab2rgb_ms"] / result["lab_to_rgb_ms"]
    result = {k: round(v, 3) for k, v in result.items()}
    print(f"rgb->lab {result['rgb_to_lab_ms']:.1f} ms (scikit-image {result['skimage_rgb2lab_ms']:.1f} ms, "
          f"{result['speedup_forward']:.1f}x)")
    print(f"lab->rgb {result['lab_to_rgb_ms']:.1f} ms (scikit-image {result['skimage_lab2rgb_ms']:.1f} ms, "
          f"{result['speedup_inverse']:.1f}x)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
