"""``vidcolor export``: write the model for another runtime with :mod:`vidcolor.export`."""

from __future__ import annotations

import sys
from pathlib import Path

from vidcolor.log import one_line

_EXPORT_DESCRIPTION = (
    "Write the network (read-out included) as a self-contained file for another runtime, and "
    "PATH.json beside it with the input and output conventions: L in [0, 100] of shape "
    "(N, H, W, 1), H and W multiples of 32 -> a/b / 128 at 1/4 of H x W; one file for every "
    "size unless --size fixes it. onnx: ONNX Runtime (C++, web); openvino: Intel "
    "CPUs, GPUs, NPUs; tflite: phones; savedmodel: TensorFlow Serving.")


def _add_export(sub) -> None:
    from vidcolor.export import FORMATS

    p = sub.add_parser("export", description=_EXPORT_DESCRIPTION,
                       help="write the model as an ONNX, OpenVINO, TFLite or SavedModel file")
    p.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    p.add_argument("--format", required=True, choices=tuple(FORMATS))
    p.add_argument("--size", metavar="HxW",
                   help="input height x width, multiples of 32, fixed in the file (default: "
                   "open, any multiples of 32)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="weights' precision (fp16: half the file; inputs and outputs stay "
                   "float32; default fp32)")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="the file (.onnx, .xml, .tflite) or, for savedmodel, the folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from vidcolor.export import check_request, export_model, parse_size
    from vidcolor.models import require_keras, store

    size = parse_size(args.size) if args.size else None
    # Checked before the model loads (seconds): a wrong argument is told at once.
    check_request(args.format, Path(args.output), args.precision, args.overwrite)
    require_keras("vidcolor export")  # every format is converted from the Keras network
    meta = export_model(store.load_keras_model(args.model), args.format, args.output, size,
                        args.precision, args.overwrite)
    print(f"{one_line(args.output)}: {args.format} export, described in {one_line(meta)}",
          file=sys.stderr)
    return 0
