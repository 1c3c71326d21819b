"""Train the colour copy's restorer (:mod:`vidcolor.models.copy_nets`) and write its IR.

    python -m training.train_copy ../shared/data/train --val ../shared/data/val/cbsd68 \
        --out runs/copy
    python -m training.train_copy --out runs/copy --export vidcolor/weights/copy --int8

The shipped network is the end of a chain of such runs, each from the one before
(``--init``; every run also takes ``../shared/data/train --val ../shared/data/val/cbsd68``):
16,000 steps at width 16 (v2); 8,000 more at lr 3e-4, seed 1, ``--clean-share 0.25`` (v3);
24,000 more on pairs of 96 (``--size 96 --batch 8 --per-file 2``), lr 5e-4, seed 2 (v5);
widened to 22 (``--init-width 16 --width 22``), 16,000 more at lr 5e-4, seed 4 (v6b); 16,000
more at lr 3e-4, seed 5 (v6c, shipped); then exported with ``--int8``. Each step and what it
won is in benchmarks/RESULTS.md.

Pairs come from :mod:`training.copy_data`, made once into ``OUT/bank.npz`` (a pure function of
the seed) and drawn by a generator seeded by the step, so a run stopped and resumed (the
weights and the step are saved every ``--every`` steps) sees the batches an unbroken one would
(Adam's moments start afresh).
The loss is the squared error of the restored chroma relit under the master's lightness, i.e.
of a/b. Progress shows the validation set's gain over the worn copy itself, in dB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from training import copy_data
from training.copy_data import samples
from training.data import find_images
from vidcolor.copy_restore import WIDTH
from vidcolor.models.ov_tools import import_openvino
from vidcolor.video.colour_copy import LIGHT_ZERO, relit


def relit_mse(y_true, y_pred):
    """Mean squared a/b error: the chromaticity difference (y_pred x 100 against the target's
    first two channels) relit by the master's lightness (the target's third)."""
    from keras import ops

    light = (y_true[..., 2:3] + LIGHT_ZERO) / 100.0
    return ops.mean(ops.square((y_pred * 100.0 - y_true[..., :2]) * light))


def _mse(pred: np.ndarray, target: np.ndarray) -> float:
    """:func:`relit_mse` in numpy."""
    target = target.astype(np.float32)
    return float(np.mean(relit(pred * 100.0 - target[..., :2], target[..., 2]) ** 2))


def learning_rate(step: int, steps: int, peak: float) -> float:
    """Flat at ``peak`` for the first 60 % of the steps, then cosine down to 1 % of it."""
    knee = 0.6 * steps
    if step < knee:
        return peak
    t = min(1.0, (step - knee) / max(1.0, steps - knee))
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def _bank(out: Path, name: str, files, per_file: int, size: int, seed: int,
          clean_share: float):
    path = out / f"{name}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["x"], z["y"]
    t = time.time()
    x, y = samples(files, per_file, size, seed, clean_share)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".npz", dir=out)
    os.close(fd)
    np.savez(tmp, x=x, y=y)
    os.replace(tmp, path)
    print(f"{name}: {len(x)} pairs from {len(files)} photos in {time.time() - t:.0f} s",
          flush=True)
    return x, y


def _input_parts(layer) -> list[int]:
    """Channel counts of the parts a layer's input is joined from (one part unless it is a
    Concatenate's output)."""
    source = layer.input._keras_history[0]
    parts = source.input if type(source).__name__ == "Concatenate" else [layer.input]
    return [int(t.shape[-1]) for t in parts]


def widen_into(narrow, wide) -> None:
    """Set ``wide``'s weights so that it computes what ``narrow`` (the same architecture,
    fewer channels a layer) computes: each layer keeps its old weights on its old channels,
    its new output channels keep their fresh initialization, and weights from new channels
    into old ones are zero, so training can grow into the new channels from ``narrow``'s
    function."""
    for old in narrow.layers:
        if not old.weights:
            continue
        new = wide.get_layer(old.name)
        k_old, b_old = (np.asarray(v) for v in old.weights)
        kernel, bias = (np.array(v) for v in new.weights)
        rows, start = [], 0
        for n_old, n_new in zip(_input_parts(old), _input_parts(new)):
            rows += range(start, start + n_old)
            start += n_new
        cols = k_old.shape[-1]
        kernel[..., :cols] = 0.0
        kernel[:, :, rows, :cols] = k_old
        bias[:cols] = b_old
        new.kernel.assign(kernel)
        new.bias.assign(bias)


def evaluate(model, x: np.ndarray, y: np.ndarray, batch: int = 64) -> tuple[float, float]:
    """(mse of the restored chroma, mse of the worn copy's own) over a bank."""
    pred = np.concatenate([np.asarray(model(x[i:i + batch].astype(np.float32), training=False))
                           for i in range(0, len(x), batch)])
    return _mse(pred, y), _mse(x[..., 2:4].astype(np.float32), y)


def train(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x, y = _bank(out, "bank", find_images(args.data), args.per_file, args.size, args.seed,
                 args.clean_share)
    xv, yv = _bank(out, "val", find_images([args.val]), 4, args.size, args.seed + 1,
                   args.clean_share)
    import keras

    from vidcolor.models.copy_nets import copy_restorer

    model = copy_restorer(args.width)
    model.compile(optimizer=keras.optimizers.Adam(args.lr), loss=relit_mse)
    state_path, weights_path = out / "state.json", out / "restorer.weights.h5"
    step = 0
    if args.init and not weights_path.is_file():
        if args.init_width and args.init_width != args.width:
            narrow = copy_restorer(args.init_width)
            narrow.load_weights(args.init)
            widen_into(narrow, model)
        else:
            model.load_weights(args.init)
        print(f"started from {args.init}", flush=True)
    if state_path.is_file() and weights_path.is_file():
        model.load_weights(weights_path)
        step = json.loads(state_path.read_text())["step"]
        print(f"resumed at step {step}", flush=True)
    print(f"{model.count_params()} parameters; {len(x)} training pairs, {len(xv)} validation",
          flush=True)
    t0, losses = time.time(), []
    while step < args.steps:
        rng = np.random.default_rng([args.seed, step])
        idx = rng.integers(0, len(x), args.batch)
        model.optimizer.learning_rate.assign(learning_rate(step, args.steps, args.lr))
        losses.append(float(model.train_on_batch(x[idx].astype(np.float32),
                                                 y[idx].astype(np.float32))))
        step += 1
        if step % args.every == 0 or step == args.steps:
            model.save_weights(out / ".restorer.weights.h5")
            os.replace(out / ".restorer.weights.h5", weights_path)
            state_path.write_text(json.dumps({"step": step}))
            mse, worn = evaluate(model, xv, yv)
            rate = len(losses) / (time.time() - t0)
            print(f"step {step}/{args.steps}: train {np.mean(losses):.2f}, val {mse:.2f} "
                  f"(worn copy {worn:.2f}, {10 * math.log10(worn / mse):+.2f} dB), "
                  f"{rate:.2f} steps/s, ETA {(args.steps - step) / rate / 60:.0f} min",
                  flush=True)
            t0, losses = time.time(), []
    return 0


def write_ir(model, folder: Path, fp16: bool = True, int8: bool = False) -> Path:
    """``model`` (:func:`~vidcolor.models.copy_nets.copy_restorer`) as OpenVINO IR
    ``folder/restorer.xml`` and ``.bin`` (float16 weights unless ``fp16`` is False; with
    ``int8``, the convolutions' weights in 8 bits, per output channel, by NNCF: half the
    bytes, nothing measurable lost, benchmarks/RESULTS.md), both replaced atomically, the
    weights first."""
    ov = import_openvino()
    import tensorflow as tf

    fn = tf.function(lambda copy: model(copy, training=False)).get_concrete_function(
        tf.TensorSpec([None, None, None, 4], tf.float32, name="copy"))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ir.", dir=folder) as tmp:
        ir = ov.convert_model(fn)
        if int8:
            import nncf

            ir = nncf.compress_weights(ir, mode=nncf.CompressWeightsMode.INT8_ASYM)
        ov.save_model(ir, Path(tmp) / "restorer.xml", compress_to_fp16=fp16)
        for suffix in (".bin", ".xml"):
            os.chmod(Path(tmp) / f"restorer{suffix}", 0o644)
            os.replace(Path(tmp) / f"restorer{suffix}", folder / f"restorer{suffix}")
    return folder / "restorer.xml"


def export(args) -> int:
    """The trained weights as the restorer's IR, in ``--export``."""
    from vidcolor.models.copy_nets import copy_restorer

    model = copy_restorer(args.width)
    model.load_weights(Path(args.out) / "restorer.weights.h5")
    print(f"wrote {write_ir(model, Path(args.export), int8=args.int8)}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data", nargs="*", help="folders of colour photos")
    p.add_argument("--val", help="a folder of colour photos for validation (not trained on)")
    p.add_argument("--out", required=True, help="the run's folder (banks, weights, step)")
    p.add_argument("--steps", type=int, default=16000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=48, help="copy pixels a side of a pair")
    p.add_argument("--per-file", type=int, default=4)
    p.add_argument("--width", type=int, default=WIDTH)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", help="start from these weights (a run's restorer.weights.h5)")
    p.add_argument("--init-width", type=int,
                   help="the --init network's width, where narrower than --width (widened)")
    p.add_argument("--clean-share", type=float, default=copy_data.CLEAN_SHARE,
                   help="share of copies left unworn")
    p.add_argument("--export", help="write the IR into this folder instead of training")
    p.add_argument("--int8", action="store_true", help="with --export: 8-bit weights")
    args = p.parse_args(argv)
    if not args.export and (not args.data or not args.val):
        p.error("give the training folders and --val")
    if args.init_width and args.init_width > args.width:  # before the banks, minutes of work
        print(f"error: --init-width {args.init_width} is wider than --width {args.width}",
              file=sys.stderr)
        return 2
    try:
        return export(args) if args.export else train(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        print(f"error: training needs {e.name} (pip install 'vidcolor[train]')", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
