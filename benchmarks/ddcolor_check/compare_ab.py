"""vidcolor's run of the exported file against DDColor's torch network: a/b at the network's
square (same pre-processing), and the pictures where DDColor's colour is inside sRGB."""
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color
from vidcolor.models.runtimes import load_color_model

for size in (256, 512):
    for runtime in ("openvino", "onnxruntime"):
        model = load_color_model(f"ddcolor-tiny-random-{size}.onnx", runtime, kind="ddcolor")
        for own in sorted(Path("out").glob(f"*_{size}_own{size}.npz")):
            ref = np.load(own)
            rgb = np.ascontiguousarray(cv2.imread(f"in/{own.stem.rsplit('_own', 1)[0]}.png")[..., ::-1])
            ab = model.predict_ab(color.rgb_to_l(rgb)[None])[0]
            d = np.abs(ab - ref["ab"])
            print(f"{size} {runtime:11} {own.stem:22} a/b: max |diff| {d.max():.3f}, mean {d.mean():.4f}"
                  f" (DDColor's a/b std {ref['ab'].std():.1f})")
    for own in sorted(Path("out").glob(f"*_own{size}.npz")):
        name = own.stem.rsplit("_own", 1)[0]
        ours = cv2.imread(f"out/{name}_vidcolor{size}.png").astype(int)
        theirs = cv2.imread(f"out/{name}_ddcolor{size}.png").astype(int)
        grey = np.ascontiguousarray(cv2.imread(f"in/{name}.png")[..., ::-1])
        L = color.rgb_to_l(grey)
        ab_full = np.load(own)["ab_full"]
        # Where DDColor's colour fits sRGB at the input's L (OpenCV clips the others, which
        # changes their L; vidcolor lowers their chroma, smoothly over a few pixels).
        inside = color.gamut_scale(L, ab_full) >= 0.999
        inside = cv2.erode(inside.astype(np.uint8), np.ones((9, 9), np.uint8),
                           borderType=cv2.BORDER_REPLICATE).astype(bool)
        d = np.abs(ours - theirs).max(axis=-1)
        print(f"{size} picture {name:18} {ours.shape[1]}x{ours.shape[0]}: fits sRGB (eroded) "
              f"{100 * inside.mean():5.1f}%; there max {d[inside].max()} levels, <=1 level "
              f"{100 * (d[inside] <= 1).mean():.2f}%, mean {d[inside].mean():.3f}; everywhere <=1 "
              f"{100 * (d <= 1).mean():.2f}%, max {d.max()}")
