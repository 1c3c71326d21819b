"""Average the weights of several trained models of one network (a "model soup").

    python -m training.average OUT MODEL_DIR MODEL_DIR [...] [--overwrite]

Checkpoints of one fine-tuning run, or of runs fine-tuned from the same model, lie close
together; their average is often better than any one of them, because each checkpoint's own
noise (the last few hundred batches it saw) partly cancels. Averaging is only meaningful for
models that share an architecture and a starting point; the first condition is checked here,
the second is the caller's.

The average gets the last model's config without its calibration: its read-out has to be
chosen again (``python -m training.calibrate OUT --write``). Its ``holdout.txt`` lists the
photos that every averaged model held out, so calibration never scores a photo any of them
trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from vidcolor.errors import VidcolorError


def average_weights(weights: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The element-wise mean of weight dictionaries with the same keys and shapes.

    Parameters
    ----------
    weights : list of dict of str -> ndarray
        At least one; any float dtypes (summed in float64). Models built from one ``build``
        config (what :func:`average_models` checks) always match.

    Returns
    -------
    dict of str -> ndarray of float32
    """
    return {key: (sum(w[key].astype(np.float64) for w in weights) / len(weights)).astype(np.float32)
            for key in weights[0]}


def _shared_holdout(model_dirs: list[Path]) -> list[str] | None:
    lists = []
    for d in model_dirs:
        path = d / "holdout.txt"
        if not path.is_file():
            return None
        lists.append(path.read_text().split())
    shared = set.intersection(*map(set, lists))
    return [p for p in lists[0] if p in shared]


def average_models(model_dirs: list[Path], out: Path) -> dict:
    """Write the average of ``model_dirs`` to the model directory ``out``.

    Parameters
    ----------
    model_dirs : list of Path
        Model directories of one network (same ``arch`` and ``build``).
    out : Path
        Written with :func:`vidcolor.models.store.save_model` (float16 where lossless), plus
        ``holdout.txt`` when every model has one.

    Returns
    -------
    dict
        The written config.
    """
    from vidcolor.models import nets as nets_module
    from vidcolor.models.store import load_keras_model, save_model

    models = [load_keras_model(d) for d in model_dirs]
    first = models[0].config
    for d, m in zip(model_dirs[1:], models[1:]):
        if (m.config["arch"], m.config.get("build")) != (first["arch"], first.get("build")):
            raise VidcolorError(f"{d}: not the same network as {model_dirs[0]} (arch or build differs)")
    averaged = average_weights([nets_module.own_weights(m.nets) for m in models])
    nets = models[-1].nets
    nets_module.set_own_weights(nets, averaged)
    config = {k: v for k, v in models[-1].config.items() if k not in ("format", "calibration")}
    config["averaged_from"] = [
        {"model": str(d), "step": m.config.get("train", {}).get("step")} for d, m in zip(model_dirs, models)]
    save_model(nets, out, config)
    holdout = _shared_holdout(model_dirs)
    if holdout is not None:
        (out / "holdout.txt").write_text("".join(f"{p}\n" for p in holdout))
    return config


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.average", description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="model directory to write")
    p.add_argument("models", nargs="+", help="model directories to average (two or more)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model directory")
    args = p.parse_args(argv)
    out, dirs = Path(args.out), [Path(d) for d in args.models]
    try:
        if len(dirs) < 2:
            raise VidcolorError("give at least two model directories to average")
        if (out / "config.json").exists() and not args.overwrite:
            raise VidcolorError(f"{out} already holds a model; use --overwrite to replace it")
        if out.resolve() in {d.resolve() for d in dirs}:
            raise VidcolorError(f"{out} is one of the models being averaged; write elsewhere")
        config = average_models(dirs, out)
    except VidcolorError as e:
        print(f"average: error: {e}", file=sys.stderr)
        return 2
    steps = ", ".join(str(a["step"]) for a in config["averaged_from"])
    print(f"wrote {out}: the average of {len(dirs)} models (steps {steps}); "
          f"choose its read-out with: python -m training.calibrate {out} --write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
