"""The shipped model's OpenVINO IR against its Keras network: file sizes, and how far the a/b
of the IR (float32 inference, as ``--runtime openvino`` runs the backbone) is from Keras's on
photos and video frames, with the IR's weights stored as float32 and as float16.

    python -m benchmarks.ir_drift [--photos 6] [--frames 4] [--write]

``--write`` (re)writes the shipped model's IR (``vidcolor/weights/default``) with the
project's setting (:data:`vidcolor.models.ir.COMPRESS_TO_FP16`). Needs Keras (the ``train``
extra) and the shared data folder for the photos and frames.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.quality import data_root
from vidcolor import color


def sample_lightness(photos: int, frames: int, side: int = 256) -> list[np.ndarray]:
    """L (1, h, w) of CBSD68 photos and of frames of the 480p clip, at about side² pixels,
    h and w not multiples of 32 (so the padding is part of what is compared)."""
    import cv2

    data = data_root()
    out = []
    for path in sorted((data / "val" / "cbsd68").glob("*.png"))[:photos]:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        out.append(rgb)
    clip = data / "video" / "bbb_480p_30s_5.1.mp4"
    if frames and clip.is_file():
        import av

        with av.open(str(clip)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % 150 == 75:
                    out.append(frame.to_ndarray(format="rgb24"))
                if len(out) >= photos + frames:
                    break
    Ls = []
    for rgb in out:
        h, w = rgb.shape[:2]
        scale = side / np.sqrt(h * w)
        size = (max(40, int(w * scale)) | 1, max(40, int(h * scale)) | 1)
        Ls.append(color.rgb_to_l(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))[None])
    return Ls


def drift(keras_model, files, Ls) -> dict:
    """Max and mean |a/b IR - a/b Keras| (Lab units) over the pictures, float32 inference."""
    from vidcolor.models.openvino_model import OpenVinoColorizer

    model = OpenVinoColorizer(files, bf16=False)
    worst, means = 0.0, []
    for L in Ls:
        d = np.abs(model.predict_ab(L) - keras_model.predict_ab(L))
        worst, means = max(worst, float(d.max())), means + [float(d.mean())]
    return {"max_ab": round(worst, 4), "mean_ab": round(float(np.mean(means)), 5)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=6)
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--write", action="store_true", help="rewrite the shipped model's IR")
    args = p.parse_args(argv)
    from vidcolor.models import ir, store

    keras_model = store.load_keras_model()
    Ls = sample_lightness(args.photos, args.frames)
    result = {"pictures": len(Ls)}
    for fp16 in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for name in ("config.json", "weights.npz"):
                (folder / name).write_bytes((store.DEFAULT_MODEL_DIR / name).read_bytes())
            ir.write(keras_model.nets, folder, keras_model.config, fp16=fp16)
            files = store.ModelFiles(store.read_config(folder), folder)
            sizes = {f.name: f.stat().st_size for f in folder.glob("*.bin")}
            result["fp16" if fp16 else "fp32"] = {"bin_bytes": sizes, **drift(keras_model, files, Ls)}
    print(json.dumps(result, indent=1))
    if args.write:
        ir.write(keras_model.nets, store.DEFAULT_MODEL_DIR, keras_model.config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
