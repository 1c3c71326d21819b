"""Choose how a fusion model's two heads are read out, on images it never trained on.

    python -m training.calibrate MODEL_DIR [--images FILE_OR_DIR] [--limit N] [--write]

The network is run once per image and view (see ``vidcolor.colorize.predict_views``); every
(mix, temperature, gain) read-out then goes through the same path as ``vidcolor image``
(views, upsampling, gamut fit).
Chosen: the highest mean PSNR among read-outs whose mean colourfulness reaches ``--vivid``
times the ground truth's (a colour photo that is right but faded is not what users want);
if none does, the most colourful within 0.3 dB of the best PSNR. The held-out images default
to MODEL_DIR/holdout.txt, written by ``vidcolor train``; never the validation set.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from vidcolor.models.protocol import ColorModel

MIXES = (0.0, 0.25, 0.375, 0.5, 0.8)
TEMPERATURES = (0.38, 0.7, 1.0)
# Colourfulness grows about linearly with the gain: fine steps let the rule meet its target.
GAINS = tuple(float(g) for g in np.round(np.arange(1.0, 1.301, 0.025), 3))
# 224 scored lower in every calibration so far; the views include 7/8 of 256.
RENDER_SIZES = (256,)


class _ReadOut(ColorModel):
    """A :class:`~vidcolor.models.protocol.ColorModel` that reads a fusion network's heads out
    with ``decode``; the heads are computed once per input shape, so each further read-out of a
    photo costs no network run. Make one per photo and render size (the shape alone names the
    input only within those). Views are whole renders: no tiles, so no shared features."""

    name = "calibration read-out"

    def __init__(self, nets, render_size: int):
        self.nets, self.render_size, self.multiple = nets, render_size, 32
        self.heads: dict = {}
        self.decode: dict = {}

    def predict_ab(self, L, global_features=None):
        from vidcolor.models.nets import decode_ab, resize_ab

        if L.shape not in self.heads:
            self.heads[L.shape] = self.nets.predict_heads(L[..., None])
        ab = decode_ab(*self.heads[L.shape], self.nets.bins, **self.decode)
        return resize_ab(np.asarray(ab, np.float32) * 128.0, L.shape[1:])


def _read_list(source: Path) -> list[Path]:
    if source.is_dir():
        from training.data import find_images

        return find_images([source])
    return [Path(line) for line in source.read_text().split() if line]


def calibrate(model_dir: Path, images: list[Path], vivid: float = 0.8) -> dict:
    from training.data import read_rgb
    from vidcolor.colorize import ImageColorizer
    from vidcolor.metrics import colourfulness, psnr
    from vidcolor.models import store
    from vidcolor.options import ImageOptions

    nets = store.load_keras_model(model_dir).nets
    combos = [(r, m, t, g) for r, m, t, g in itertools.product(RENDER_SIZES, MIXES, TEMPERATURES, GAINS)
              if m > 0 or t == TEMPERATURES[0]]  # the temperature is moot without classes
    scores = {c: [] for c in combos}
    truth_colour = []
    for n, path in enumerate(images):
        rgb = read_rgb(path)
        if rgb is None:
            continue
        truth_colour.append(colourfulness(rgb))
        for r in RENDER_SIZES:
            model = _ReadOut(nets, r)
            colorizer = ImageColorizer(model, ImageOptions(render_size=r, tile=0))
            for (_, mix, t, g) in (c for c in combos if c[0] == r):
                model.decode = {"temperature": t, "mix": mix, "gain": g}
                out = colorizer.colorize(rgb)  # what `vidcolor image` writes
                scores[(r, mix, t, g)].append((psnr(out, rgb), colourfulness(out)))
        print(f"\r{n + 1}/{len(images)} images", end="", file=sys.stderr)
    print(file=sys.stderr)
    table = [{"render_size": r, "mix": m, "temperature": t, "gain": g,
              "psnr": float(np.mean([s[0] for s in v])), "colourfulness": float(np.mean([s[1] for s in v]))}
             for (r, m, t, g), v in scores.items()]
    target = vivid * float(np.mean(truth_colour))
    vivid_enough = [row for row in table if row["colourfulness"] >= target]
    if vivid_enough:
        best = max(vivid_enough, key=lambda row: row["psnr"])
    else:
        top = max(row["psnr"] for row in table)
        best = max((row for row in table if row["psnr"] >= top - 0.3), key=lambda row: row["colourfulness"])
    return {"best": best, "target_colourfulness": target, "truth_colourfulness": float(np.mean(truth_colour)),
            "images": len(truth_colour), "table": table}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir")
    p.add_argument("--images", help="held-out images: a folder or a file listing paths")
    p.add_argument("--limit", type=int, default=120)
    p.add_argument("--vivid", type=float, default=0.8)
    p.add_argument("--write", action="store_true", help="store the chosen read-out in the model's config")
    args = p.parse_args(argv)
    model_dir = Path(args.model_dir)
    images = _read_list(Path(args.images) if args.images else model_dir / "holdout.txt")
    # A seeded shuffle: the sorted list would take every sample from the first folder.
    images = [images[i] for i in np.random.default_rng(0).permutation(len(images))[: args.limit]]
    result = calibrate(model_dir, images, args.vivid)
    for row in sorted(result["table"], key=lambda row: -row["psnr"])[:20]:
        print(f"render {row['render_size']:4d} mix {row['mix']:.2f} T {row['temperature']:.2f} "
              f"gain {row['gain']:.2f}: "
              f"PSNR {row['psnr']:.2f} dB, colourfulness {row['colourfulness']:.1f}")
    best = result["best"]
    print(f"chosen on {result['images']} held-out images (truth colourfulness "
          f"{result['truth_colourfulness']:.1f}, target {result['target_colourfulness']:.1f}): {best}")
    if args.write:
        config_path = model_dir / "config.json"
        config = json.loads(config_path.read_text())
        config["decode"] = {"mix": best["mix"], "temperature": best["temperature"], "gain": best["gain"]}
        config["render_size"] = best["render_size"]
        config["calibration"] = {k: result[k] for k in ("images", "truth_colourfulness")} | {
            "psnr": best["psnr"], "colourfulness": best["colourfulness"]}
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True))
        from vidcolor.models.store import write_ir

        write_ir(model_dir)  # the OpenVINO form bakes the read-out in
    print(json.dumps({k: v for k, v in result.items() if k != "table"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
