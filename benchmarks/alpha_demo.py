"""The article's alpha demo: memorize one photo, then colour its grey version.

    python -m benchmarks.alpha_demo [--steps 3000] [--image ../shared/data/seed/woman.jpg] [--out DIR]

Trains with ``vidcolor train --arch alpha`` (resuming if DIR holds a run) and prints the PSNR of
the colorized grey image against the original, and the grey baseline's; last line JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2

DATA = Path(os.environ.get("VIDCOLOR_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--image", default=str(DATA / "seed" / "woman.jpg"))
    p.add_argument("--out", help="model directory (default: a temporary one)")
    args = p.parse_args(argv)

    from training import train
    from vidcolor.evaluate import score_image
    from vidcolor.models.store import load_model

    out = Path(args.out or tempfile.mkdtemp(prefix="alpha_demo_"))
    resume = ["--resume"] if (out / "checkpoint" / "state.json").is_file() else []
    code = train.main([args.image, "--arch", "alpha", "--steps", str(args.steps), "--out", str(out), *resume])
    if code:
        return code
    truth = cv2.cvtColor(cv2.imread(args.image), cv2.COLOR_BGR2RGB)
    numbers, _, _ = score_image(truth, load_model(out))
    result = {"steps": args.steps, "psnr": round(numbers["psnr"], 2), "grey_psnr": round(numbers["grey_psnr"], 2)}
    print(f"alpha after {args.steps} steps: {result['psnr']:.2f} dB (grey {result['grey_psnr']:.2f} dB)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
