"""The fusion decoder's bilinear upsampling, ``layers.UpSampling2D`` against
:class:`vidcolor.models.resample.BilinearUp`, on the shipped weights: how far apart their a/b
are on real pictures, and their Keras inference speed, interleaved in one process.

``python -m benchmarks.upsampling [--data DIR] [--batches 100]``

Both networks load the same weights (the layers have none); each runs as its code does (the old
one with a compiled function per shape, the new one with Keras's, generalized to open sizes).
Speed: ``--batches`` calls of ``predict_on_batch`` (the compiled function inference uses) on a
batch of 8 at 192x352 for each network, alternating batch by batch so that a machine shared with
other work slows both alike; the figure is the median of the pairwise time ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

SHAPE = (192, 352)


def _legacy_model():
    """The shipped model with the decoder's ``UpSampling2D(interpolation="bilinear")``, run as
    before: a compiled function per input shape, swapped in (it cannot trace open sizes)."""
    from keras import layers

    from vidcolor.models import nets, store

    new = nets.BilinearUp
    nets.BilinearUp = lambda factor, name: layers.UpSampling2D(
        factor, interpolation="bilinear", name=name)
    try:
        model = store.load_keras_model()
    finally:
        nets.BilinearUp = new
    compiled = {}

    def predict(net, inputs):
        parts = inputs if isinstance(inputs, list) else [inputs]
        key = (id(net), tuple(np.shape(x) for x in parts))
        if key not in compiled:
            net.make_predict_function(force=True)
            compiled[key] = net.predict_function
        net.predict_function = compiled[key]
        return net.predict_on_batch(inputs)

    model.nets._predict = predict
    return model


def _pictures(data: Path, count: int = 4) -> list[np.ndarray]:
    """Lightness (h, w) of the first CBSD68 photos at their own size."""
    import cv2

    from vidcolor import color

    paths = sorted((data / "val" / "cbsd68").glob("*.png"))[:count]
    return [color.rgb_to_l(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in paths]


def _film_batch(data: Path, n: int = 8, step: int = 30) -> np.ndarray:
    """Lightness (n, 192, 352) of every ``step``-th frame of the 480p clip."""
    import cv2

    from vidcolor import color
    from vidcolor.video.decode import decode_frames
    from vidcolor.video.probe import probe

    frames = []
    for i, f in enumerate(decode_frames(probe(data / "video" / "bbb_480p_30s_5.1.mp4"))):
        if i % step == 0:
            rgb = cv2.resize(f.rgb, SHAPE[::-1], interpolation=cv2.INTER_AREA)
            frames.append(color.rgb_to_l(rgb))
        if len(frames) == n:
            break
    return np.stack(frames).astype(np.float32)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get(
        "VIDCOLOR_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data")))
    parser.add_argument("--batches", type=int, default=100)
    args = parser.parse_args(argv)
    from vidcolor.models.store import load_keras_model

    models = {"UpSampling2D": _legacy_model(), "BilinearUp": load_keras_model()}
    film = _film_batch(args.data)
    diffs = []
    for L in [p[None] for p in _pictures(args.data)] + [film]:
        old, new = (m.predict_ab(L) for m in models.values())
        diffs.append(float(np.abs(old - new).max()))

    runs = {}
    for name, m in models.items():
        nets = m.nets
        runs[name] = (nets, nets.readout(nets.model))
        nets._predict(runs[name][1], film[..., None])  # compiled before the clock starts
    seconds = {name: [] for name in models}
    for i in range(args.batches):
        # One batch each, the order swapped every pair: load from other work hits both alike.
        for name in list(models)[:: 1 if i % 2 == 0 else -1]:
            nets, net = runs[name]
            t = time.perf_counter()
            nets._predict(net, film[..., None])
            seconds[name].append(time.perf_counter() - t)
    old, new = (np.array(seconds[k]) for k in models)
    result = {"max_ab_difference": max(diffs), "per_input_max_ab": diffs,
              "median_ms_per_batch": {k: round(1000 * float(np.median(v)), 1)
                                      for k, v in seconds.items()},
              "median_time_ratio_new_over_old": float(np.median(new / old)),
              "total_time_ratio_new_over_old": float(new.sum() / old.sum()),
              "batch": list(film.shape), "batches_each": len(old)}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
