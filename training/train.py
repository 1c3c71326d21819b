"""`vidcolor train`: the training loop, with checkpoints, exact resume and progress.

    vidcolor train IMAGES_OR_DIRS... --out DIR --arch {alpha,beta,fusion} [--steps N | --epochs N]

DIR becomes a model directory (``config.json`` + ``weights.npz``, loadable by
``vidcolor image --model DIR``) and holds ``checkpoint/`` (all weights, optimizer state, step,
loss history) from which ``--resume`` continues exactly where the run stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ARCH_DEFAULTS = {
    # The article's alpha: one whole image, no augmentation, memorized.
    "alpha": {"size": 0, "batch_size": 1, "lr": 1e-3, "loss": "mse", "degrade": False},
    "beta": {"size": 224, "batch_size": 16, "lr": 1e-3, "loss": "mse", "degrade": True},
    "fusion": {"size": 224, "batch_size": 16, "lr": 1e-3, "loss": "huber+cls", "degrade": True},
}


class TrainError(Exception):
    """A bad command line or input: reported in one line."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vidcolor train", description="Train a colorization model.")
    p.add_argument("inputs", nargs="+", metavar="IMAGES_OR_DIRS", help="colour photos or folders of them")
    p.add_argument("--out", required=True, help="model directory to write (checkpoints go inside)")
    p.add_argument("--arch", choices=tuple(ARCH_DEFAULTS), default="fusion")
    p.add_argument("--backbone", default="efficientnet_lite0", help="fusion only")
    p.add_argument("--width", type=int, default=48, help="fusion decoder width")
    p.add_argument("--init", metavar="MODEL_DIR",
                   help="fusion only: start from a trained model ('default': the shipped one); "
                        "its backbone, width and classes are kept")
    p.add_argument("--hints", action="store_true",
                   help="fusion with --init only: add a hint input (user colours) and train only it, "
                        "on simulated hints; without hints the model stays the --init one")
    p.add_argument("--tune-from", type=int, metavar="BLOCK",
                   help="fusion with Lite0 only: also train the backbone from this block (0-15) on")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="training steps (default 3000)")
    length.add_argument("--epochs", type=float, help="passes over the images")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--size", type=int, help="crop size in pixels, multiple of 32 (0: whole images)")
    p.add_argument("--lr", type=float, help="peak learning rate (cosine decay to 10%%)")
    p.add_argument("--loss", choices=("mse", "huber", "huber+cls"))
    p.add_argument("--cls-weight", type=float, default=0.5, help="weight of the classification loss")
    p.add_argument("--folder-balance", type=float, default=1.0, metavar="POWER",
                   help="each folder's share of the batches is proportional to its image count to this "
                        "power: 1 (default) as many as it holds, 0 all folders equally")
    p.add_argument("--no-degrade", dest="degrade", action="store_false", default=None,
                   help="train on clean grey inputs instead of film-like degraded ones")
    p.add_argument("--val", help="folder of colour images to report PSNR/colourfulness on at checkpoints")
    p.add_argument("--holdout-every", type=int, default=40,
                   help="keep ~1/N of the images out of training to calibrate decoding (0: none)")
    p.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    p.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                   help="also keep the model of every N-th step as DIR/snapshots/stepN, to average "
                        "later with python -m training.average (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--render-size", type=int,
                   help="render size recorded in the model (default 256; whole-image training: the images' own)")
    p.add_argument("--name", help="model name for provenance marks (default: the folder name)")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start over even if DIR has a checkpoint")
    args = p.parse_args(argv)
    for key, value in ARCH_DEFAULTS[args.arch].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.size and args.size % 32:
        p.error("--size must be a multiple of 32 (or 0 for whole images)")
    if args.checkpoint_every < 1 or args.snapshot_every < 0:
        p.error("--checkpoint-every must be at least 1 and --snapshot-every at least 0")
    return args


def _training_config(args, n_train: int) -> dict:
    if args.steps is None:
        batch = 1 if args.size == 0 else args.batch_size
        args.steps = math.ceil(args.epochs * n_train / batch) if args.epochs else 3000
    keys = ("arch", "backbone", "width", "steps", "batch_size", "size", "lr", "loss", "cls_weight",
            "degrade", "seed", "holdout_every", "render_size", "init", "tune_from", "folder_balance", "hints")
    return {k: getattr(args, k) for k in keys}


def _build_config(cfg: dict, bins=None) -> dict:
    if cfg["arch"] != "fusion":
        return {}
    build = {"backbone": cfg["backbone"], "width": cfg["width"], "bins": np.asarray(bins).tolist()}
    if cfg.get("tune_from") is not None:
        build["tune_from"] = cfg["tune_from"]
    if cfg.get("hints"):
        build["hints"] = True
    return build


def _init_model(args):
    """The model named by ``--init``, loaded; the new run takes its backbone, width and classes."""
    from vidcolor.models import store

    if args.arch != "fusion":
        raise TrainError("--init works with --arch fusion only")
    init = store.load_keras_model(None if args.init == "default" else args.init)
    if init.nets.arch != "fusion":
        raise TrainError(f"{args.init}: not a fusion model")
    build = init.config["build"]
    args.backbone, args.width = build["backbone"], build["width"]
    if args.tune_from is None:
        args.tune_from = build.get("tune_from")
    if args.hints and (args.tune_from is not None or build.get("hints")):
        # A tuned backbone would change the automatic result; a hint model has its branch already.
        raise TrainError("--hints needs a model with a frozen backbone and no hint input yet")
    return init


def _copy_weights(source, nets) -> None:
    """Every stored weight of `source` into `nets`; weights only `nets` has keep their values."""
    from vidcolor.models.nets import own_weights, set_own_weights

    src, dst = own_weights(source), own_weights(nets)
    misfits = sorted(k for k in src if k not in dst or src[k].shape != dst[k].shape)
    if misfits:
        raise TrainError(f"--init model does not fit this network ({len(misfits)} weights, e.g. {misfits[0]})")
    set_own_weights(nets, dst | src)


def _native_render_size(files) -> int:
    """Whole-image training sees images at their own size: render them at it too."""
    from PIL import Image

    sides = []
    for f in files[:100]:
        try:
            with Image.open(f) as im:
                sides.append((im.width * im.height) ** 0.5)
        except OSError:
            continue
    return int(round(np.median(sides))) if sides else 256


def _sample_ab(files, count=200, seed=0) -> np.ndarray:
    from training.data import read_rgb
    from vidcolor import color

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(files), size=min(count, len(files)), replace=False)
    samples = []
    for i in picks:
        rgb = read_rgb(files[i])
        if rgb is None:
            continue
        _, ab = color.rgb_to_lab(rgb[::4, ::4])
        samples.append(ab.reshape(-1, 2))
    if not samples:
        raise TrainError("none of the sampled images could be read")
    return np.concatenate(samples)


def _compile(nets, cfg: dict, class_weights):
    import keras

    from training import losses

    schedule = keras.optimizers.schedules.CosineDecay(cfg["lr"], decay_steps=cfg["steps"], alpha=0.1)
    optimizer = keras.optimizers.Adam(schedule)
    regression = losses.mse if cfg["loss"] == "mse" else losses.huber()
    if cfg["arch"] == "fusion":
        cls_weight = cfg["cls_weight"] if cfg["loss"] == "huber+cls" else 0.0
        ce = losses.rebalanced_cross_entropy(nets.bins, class_weights)
        nets.model.compile(optimizer, loss=[regression, ce], loss_weights=[1.0, cls_weight], jit_compile=False)
    else:
        nets.model.compile(optimizer, loss=regression, jit_compile=False)
    optimizer.build(nets.model.trainable_variables)
    return optimizer


def save_checkpoint(ckpt: Path, nets, optimizer, state: dict) -> None:
    """All weights, optimizer variables and the run's state, swapped in atomically."""
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    nets.model.save_weights(tmp / "model.weights.h5")
    np.savez(tmp / "optimizer.npz", *[np.asarray(v.numpy()) for v in optimizer.variables])
    with open(tmp / "state.json", "w") as f:
        json.dump(state, f)
    old = ckpt.with_name(ckpt.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if ckpt.exists():
        os.replace(ckpt, old)
    os.replace(tmp, ckpt)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(ckpt: Path, nets, optimizer) -> None:
    nets.model.load_weights(ckpt / "model.weights.h5")
    with np.load(ckpt / "optimizer.npz") as data:
        values = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(values) != len(optimizer.variables):
        raise TrainError(f"{ckpt}: optimizer state does not match this network")
    for variable, value in zip(optimizer.variables, values):
        variable.assign(value)


def quick_val(nets, cfg: dict, files, limit: int = 16) -> dict:
    """Mean PSNR and colourfulness of the current network on up to `limit` validation images."""
    from training.data import read_rgb
    from vidcolor import color
    from vidcolor.colorize import colorize_image
    from vidcolor.metrics import colourfulness, psnr
    from vidcolor.models.store import Colorizer

    model = Colorizer({"arch": cfg["arch"], "render_size": cfg["render_size"]}, nets)
    scores = []
    for path in files[:limit]:
        rgb = read_rgb(path)
        if rgb is None:
            continue
        grey = color.l_to_grey_rgb(color.rgb_to_l(rgb))
        out = colorize_image(grey, model)
        scores.append((psnr(out, rgb), colourfulness(out)))
    return {"val_psnr": float(np.mean([s[0] for s in scores])),
            "val_colourfulness": float(np.mean([s[1] for s in scores]))}


def _model_config(out: Path, cfg: dict, build: dict, state: dict, name: str | None) -> dict:
    return {
        "name": name or out.resolve().name,
        "arch": cfg["arch"],
        "build": build,
        "render_size": cfg["render_size"],
        "decode": state.get("decode", {"temperature": 0.38, "mix": 0.0}),
        "train": {k: cfg[k] for k in ("steps", "batch_size", "size", "lr", "loss", "degrade")}
        | {"step": state["step"]},
    }


def run(args) -> int:
    from tqdm import tqdm

    from training.data import BatchStream, find_images, folder_weights, is_holdout
    from vidcolor.models import import_keras

    # Before anything imports Keras: TensorFlow's start-up lines kept off the terminal.
    import_keras()
    from training import losses
    from vidcolor.models import nets as nets_module
    from vidcolor.models.store import save_model

    out = Path(args.out)
    ckpt = out / "checkpoint"
    state_path = ckpt / "state.json"
    if args.resume and not state_path.is_file():
        raise TrainError(f"{out}: no checkpoint to resume from")
    if not args.resume and ckpt.exists() and not args.overwrite:
        raise TrainError(f"{out} already holds a training run; use --resume to continue or --overwrite")

    try:
        files = find_images(args.inputs)
    except FileNotFoundError as e:
        raise TrainError(str(e)) from None
    if not files:
        raise TrainError("no images found in " + ", ".join(args.inputs))
    if args.hints and not args.init and not args.resume:
        raise TrainError("--hints fine-tunes a trained model: give --init")
    init = _init_model(args) if args.init and not args.resume else None
    holdout = [f for f in files if len(files) > 100 and is_holdout(f, args.holdout_every)]
    train_files = [f for f in files if f not in set(holdout)]

    if args.resume:
        with open(state_path) as f:
            state = json.load(f)
        cfg = state["config"]
        if args.steps:  # extending a finished or running schedule is allowed
            cfg["steps"] = args.steps
        print(f"resuming {out} at step {state['step']} of {cfg['steps']}", file=sys.stderr)
    else:
        cfg = _training_config(args, len(train_files))
        if cfg["render_size"] is None:
            cfg["render_size"] = _native_render_size(train_files) if cfg["size"] == 0 else 256
        state = {"step": 0, "history": [], "config": cfg}
        if cfg.get("hints") and init:
            # The trunk stays the init's, frozen: so does its calibrated read-out.
            state["decode"] = dict(init.config.get("decode") or {})
        if cfg["arch"] == "fusion":
            bins = init.nets.bins if init else nets_module.ab_grid()
            prior, weights = losses.class_weights(_sample_ab(train_files, seed=cfg["seed"]), bins)
            state["bins"], state["class_weights"] = bins.tolist(), weights.tolist()

    build = _build_config(cfg, state.get("bins"))
    import keras

    keras.utils.set_random_seed(cfg["seed"])
    nets = nets_module.build(cfg["arch"], **build)
    if cfg.get("hints"):
        nets_module.train_hints_only(nets)
    optimizer = _compile(nets, cfg, np.asarray(state.get("class_weights", []), np.float32))
    if args.resume:
        load_checkpoint(ckpt, nets, optimizer)
    elif init:
        _copy_weights(init.nets, nets)
    val_files = find_images([args.val]) if args.val else []
    out.mkdir(parents=True, exist_ok=True)
    if holdout:
        (out / "holdout.txt").write_text("".join(f"{p.resolve()}\n" for p in holdout))

    balance = cfg.get("folder_balance", 1.0)
    stream = BatchStream(train_files, cfg["batch_size"], cfg["size"], seed=cfg["seed"],
                         start_step=state["step"], degrade=cfg["degrade"], target_stride=nets.stride,
                         weights=None if balance == 1.0 else folder_weights(train_files, balance),
                         hints=bool(cfg.get("hints")))
    print(f"training {cfg['arch']} on {len(train_files)} images ({len(holdout)} held out), "
          f"{cfg['steps']} steps of {stream.batch_size}", file=sys.stderr)

    def snapshot_due(step):
        return args.snapshot_every > 0 and step % args.snapshot_every == 0

    def checkpoint(final: bool = False):
        if val_files:
            state["history"][-1].update(quick_val(nets, cfg, val_files))
        state["unreadable"] = len(stream.unreadable)
        state["too_small"] = len(stream.too_small)
        save_checkpoint(ckpt, nets, optimizer, state)
        config = _model_config(out, cfg, build, state, args.name)
        # The OpenVINO form (seconds to convert) only for the finished model: checkpoints and
        # snapshots load through Keras, which training has (training.average writes it too).
        save_model(nets, out, config, openvino=final)
        if snapshot_due(state["step"]):
            snapshot = out / "snapshots" / f"step{state['step']}"
            save_model(nets, snapshot, config, openvino=False)
            if holdout:
                shutil.copyfile(out / "holdout.txt", snapshot / "holdout.txt")
        last = state["history"][-1] if state["history"] else {}
        tqdm.write(f"checkpoint at step {state['step']}: " + json.dumps(last), file=sys.stderr)

    bar = tqdm(total=cfg["steps"], initial=state["step"], unit="step", file=sys.stderr, dynamic_ncols=True)
    smoothed, t0, seen = None, time.perf_counter(), 0
    if state["history"]:
        smoothed = float(np.mean([h["loss"] for h in state["history"][-20:]]))
    try:
        while state["step"] < cfg["steps"]:
            inputs, ab = next(stream)
            targets = [ab, ab] if cfg["arch"] == "fusion" else ab
            loss = nets.model.train_on_batch(inputs, targets)
            loss = float(loss[0] if isinstance(loss, (list, tuple)) else loss)
            state["step"] += 1
            seen += len(ab)
            smoothed = loss if smoothed is None else 0.95 * smoothed + 0.05 * loss
            bar.update(1)
            bar.set_postfix(loss=f"{smoothed:.4f}", img_s=f"{seen / (time.perf_counter() - t0):.1f}")
            state["history"].append({"step": state["step"], "loss": loss})
            step = state["step"]
            if step % args.checkpoint_every == 0 or step == cfg["steps"] or snapshot_due(step):
                checkpoint(final=step == cfg["steps"])
    except KeyboardInterrupt:
        bar.close()
        if state["history"]:
            checkpoint()
        print(f"interrupted at step {state['step']}; continue with --resume", file=sys.stderr)
        return 130
    finally:
        stream.close()
    bar.close()
    if stream.unreadable or stream.too_small:
        print(f"skipped {len(stream.unreadable)} unreadable and {len(stream.too_small)} too-small images",
              file=sys.stderr)
    print(f"model written to {out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    from vidcolor.errors import VidcolorError

    try:
        return run(args)
    except (TrainError, VidcolorError) as e:
        print(f"vidcolor train: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
