"""What every ``vidcolor`` command shares: progress bars, the log handler, argument types, the
--runtime option and loading the model it names."""

from __future__ import annotations

import argparse
import sys

from vidcolor.log import StderrHandler


# --- reporting: progress bars and the library's log lines -----------------------------------

class TqdmProgress:
    """A :class:`vidcolor.progress.Progress` shown as a tqdm bar (frames or pictures done,
    rate, ETA), on terminals only so logs and pipes stay clean; made on the first report."""

    def __init__(self, unit: str, desc: str | None = None, leave: bool = False,
                 disable: bool | None = None):
        self.kwargs = dict(unit=unit, desc=desc, leave=leave, disable=disable, file=sys.stderr,
                           dynamic_ncols=True)
        self.bar = None

    def __call__(self, done: int, total: int | None) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, initial=done, **self.kwargs)
        elif total != self.bar.total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _TqdmLogHandler(StderrHandler):
    """The library's notes and warnings, written above any progress bar instead of into it."""

    def emit(self, record) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


# --- argument types ----------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def _still_render_size_help() -> str:
    """The --render-size help of the picture commands (image, eval), with its bound."""
    from vidcolor.options import MAX_RENDER_SIZE

    return (f"network resolution, about N x N pixels, at most {MAX_RENDER_SIZE} (default: the "
            "model's); memory grows with N^2: a picture's six views measured 1.6 GB at 2048 "
            "besides the model's 0.7 GB (one network pass: 0.06 GB at 512, 0.18 at 1024, 0.64 "
            "at 2048)")


# --- runtime ---------------------------------------------------------------------------------

def _add_runtime(p) -> None:
    """The --runtime option of the commands that run the network."""
    p.add_argument("--runtime", choices=("auto", "keras", "openvino", "onnxruntime"),
                   default="auto",
                   help="what runs the network: openvino (CPU, no TensorFlow), keras "
                   "(TensorFlow, a GPU when there is one; the train or gpu extra), auto "
                   "(default: keras where an NVIDIA GPU and TensorFlow are present or the "
                   "model has a hint input, else openvino); an ONNX file: openvino or "
                   "onnxruntime (auto: onnxruntime on a CUDA GPU, else openvino)")


MODEL_HELP = ("a vidcolor model directory, or another network's ONNX file (FILE.onnx, or a "
              "folder holding one; see --model-kind) (default: the shipped model)")


def _add_model(p, several: bool = False) -> None:
    """--model (repeatable with ``several``: side by side) and --model-kind."""
    p.add_argument("--model", metavar="PATH", action="append" if several else "store",
                   help=MODEL_HELP + ("; repeat it to compare models side by side "
                                      "('shipped' names the shipped model there)"
                                      if several else ""))
    p.add_argument("--model-kind", choices=("ddcolor", "deoldify"),
                   help="an ONNX file's convention: ddcolor (RGB of the grey in [0, 1], a/b out) "
                   "or deoldify (ImageNet-normalized grey, RGB out); default: its sidecar "
                   "FILE.onnx.json")


def _model_loader(args):
    """A picklable function that loads the model of parsed arguments (--model run by
    --runtime, read as --model-kind says); cluster workers call it once each."""
    import functools

    from vidcolor.models.runtimes import load_color_model

    return functools.partial(load_color_model, args.model, args.runtime, args.model_kind)


def _model(args, deferred: bool = False):
    """The ColorModel of parsed arguments (:func:`_model_loader`); with ``deferred``,
    loaded only when the job first uses it (after its own checks of inputs and options)."""
    import functools

    load = _model_loader(args)
    # see vidcolor.models.runtimes.resolve_model; loaded once for every job
    return functools.cache(load) if deferred else load()
